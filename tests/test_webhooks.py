"""Alert webhooks: public HTTPS only (SSRF), checked again at each send (DNS rebinding), bounded time,
retries with backoff. Sends go to a real HTTP receiver on loopback, allowed only where a test says so."""

from __future__ import annotations

import time
from collections.abc import Sequence
from urllib.parse import urlsplit

import pytest

from shared.webhooks import Resolver, WebhookFailed, WebhookPolicy, WebhookRefused, WebhookSender
from tests.fakes.webhook_receiver import WebhookReceiver

PAYLOAD = {"text": "Proxy endpoint reached 80%", "kind": "budget", "tenant": "t1", "details": {}}


def resolver(*answers_in_turn: Sequence[str]) -> Resolver:
    """A DNS stand-in: each lookup gets the next answer (the last one repeats)."""
    remaining = list(answers_in_turn)

    def resolve(host: str, port: int) -> Sequence[str]:
        return remaining.pop(0) if len(remaining) > 1 else remaining[0]

    return resolve


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.com/x",  # not https
        "ftp://hooks.example.com/x",
        "https://10.0.0.5/x",
        "https://172.16.3.4/x",
        "https://192.168.1.1/x",
        "https://127.0.0.1/x",
        "https://[::1]/x",
        "https://169.254.169.254/latest/meta-data",  # the instance metadata service
        "https://[fe80::1]/x",
        "https://100.64.0.1/x",  # carrier-grade NAT
        "https://224.0.0.1/x",  # multicast
        "https://240.0.0.1/x",  # reserved
        "https://0.0.0.0/x",
        "https://[::ffff:127.0.0.1]/x",  # loopback spelled as IPv6
        "https://user:pass@hooks.example.com/x",
        "https://localhost/x",
        "not a url",
    ],
)
def test_a_webhook_that_is_not_public_https_is_refused(url: str) -> None:
    # example.com resolves to a public address here: what is refused is the scheme or the password.
    policy = WebhookPolicy(resolver=resolver(["93.184.215.14"])) if "example.com" in url else WebhookPolicy()
    with pytest.raises(WebhookRefused):
        policy.check(url)


def test_a_name_with_any_private_address_is_refused() -> None:
    policy = WebhookPolicy(resolver=resolver(["93.184.215.14", "10.1.2.3"]))
    with pytest.raises(WebhookRefused, match="private or reserved"):
        policy.check("https://hooks.example.com/x")


def test_a_public_https_name_is_accepted_and_pinned_to_the_address_checked() -> None:
    target = WebhookPolicy(resolver=resolver(["93.184.215.14"])).check("https://hooks.example.com/a/b?c=1")
    assert target.host == "hooks.example.com"
    assert target.pinned_url() == "https://93.184.215.14:443/a/b?c=1"


def test_loopback_is_refused_unless_explicitly_allowed(webhook: WebhookReceiver) -> None:
    with pytest.raises(WebhookRefused):
        WebhookPolicy().check(webhook.url)
    WebhookPolicy(allow_loopback=True).check(webhook.url)
    # Allowing loopback allows nothing else: private addresses and plain http elsewhere stay refused.
    for url in ("https://10.0.0.5/x", "http://93.184.215.14/x"):
        with pytest.raises(WebhookRefused):
            WebhookPolicy(allow_loopback=True).check(url)


def test_a_name_that_turns_private_after_it_was_checked_is_not_called(webhook: WebhookReceiver) -> None:
    """DNS rebinding: public when the tenant set it, loopback (a service of ours) when the alert goes."""
    port = urlsplit(webhook.url).port
    rebinding = resolver(["93.184.215.14"], ["127.0.0.1"])
    policy = WebhookPolicy(resolver=rebinding)
    policy.check(f"https://hooks.example.com:{port}/x")  # as at PUT

    with pytest.raises(WebhookRefused):
        WebhookSender(policy, timeout=1, attempts=1).send(f"https://hooks.example.com:{port}/x", PAYLOAD)
    assert webhook.attempts == 0


def test_a_failing_webhook_is_retried_with_backoff_until_it_answers(webhook: WebhookReceiver) -> None:
    webhook.fail_next = 2
    pauses: list[float] = []
    sender = WebhookSender(WebhookPolicy(allow_loopback=True), timeout=2, attempts=3, sleep=pauses.append)

    sender.send(webhook.url, PAYLOAD)

    assert webhook.attempts == 3
    assert webhook.received == [PAYLOAD]
    assert pauses == [0.5, 1.0]


def test_a_webhook_that_keeps_failing_fails_after_the_last_attempt(webhook: WebhookReceiver) -> None:
    webhook.fail_next = 5
    sender = WebhookSender(WebhookPolicy(allow_loopback=True), timeout=2, attempts=3, sleep=lambda _: None)
    with pytest.raises(WebhookFailed, match="HTTP 503"):
        sender.send(webhook.url, PAYLOAD)
    assert webhook.attempts == 3


def test_a_refusal_by_the_receiver_is_not_retried(webhook: WebhookReceiver) -> None:
    webhook.fail_next, webhook.fail_status = 1, 404
    sender = WebhookSender(WebhookPolicy(allow_loopback=True), timeout=2, attempts=3, sleep=lambda _: None)
    with pytest.raises(WebhookFailed, match="HTTP 404"):
        sender.send(webhook.url, PAYLOAD)
    assert webhook.attempts == 1


def test_a_slow_webhook_holds_the_sender_no_longer_than_its_timeouts(webhook: WebhookReceiver) -> None:
    webhook.delay_seconds = 3
    sender = WebhookSender(WebhookPolicy(allow_loopback=True), timeout=0.3, attempts=2, sleep=lambda _: None)
    started = time.monotonic()
    with pytest.raises(WebhookFailed, match="Timeout"):
        sender.send(webhook.url, PAYLOAD)
    assert time.monotonic() - started < 1.5


def test_the_send_connects_to_the_address_it_checked_not_to_a_second_lookup(webhook: WebhookReceiver) -> None:
    """`.invalid` never resolves in real DNS: the call arrives only because it went to the checked address."""
    port = urlsplit(webhook.url).port
    policy = WebhookPolicy(allow_loopback=True, resolver=resolver(["127.0.0.1"]))
    WebhookSender(policy, timeout=2, attempts=1).send(f"http://hooks.invalid:{port}/x", PAYLOAD)
    assert webhook.received == [PAYLOAD]


def test_no_attempt_starts_that_could_not_end_by_the_callers_deadline(webhook: WebhookReceiver) -> None:
    webhook.fail_next = 5
    sender = WebhookSender(WebhookPolicy(allow_loopback=True), timeout=1, attempts=3, sleep=lambda _: None)
    with pytest.raises(WebhookFailed):
        # The first attempt fits; a second (0.5 s of backoff, then up to 1 s) would not.
        sender.send(webhook.url, PAYLOAD, deadline=time.monotonic() + 1.2)
    assert webhook.attempts == 1
