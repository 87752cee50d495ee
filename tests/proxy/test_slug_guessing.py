"""Guessing slugs costs the guesser: the per-IP limit is counted before a slug is looked up, and new
slugs carry too many random bits to guess; slugs made before keep working."""

from __future__ import annotations

import re
import secrets

import httpx
import pytest

from shared.models import SlugTarget
from shared.settings import get_settings
from shared.store import endpoints as endpoint_store
from shared.store.endpoints import EndpointStore
from shared.store.rate_limits import WINDOW_SECONDS, RateLimiter
from tests.proxy.test_proxy_rate_limits import REQUEST, Clock

WINDOW = 1_800_000_000 // WINDOW_SECONDS * WINDOW_SECONDS


class CountedLookups(EndpointStore):
    """The real slug lookup, counted."""

    lookups = 0

    def resolve_slug(self, slug: str) -> SlugTarget | None:
        self.lookups += 1
        return super().resolve_slug(slug)


def test_700_guesses_from_one_ip_are_refused_after_the_per_ip_limit(start_proxy, fake_upstream):
    clock = Clock(WINDOW + 10)
    table = get_settings().table_name
    lookups = CountedLookups(table)
    proxy = start_proxy(endpoints=lookups, limiter=RateLimiter(table, clock))
    with httpx.Client(base_url=proxy.url) as client:
        statuses = [
            client.post(f"/proxy/guess-{secrets.token_hex(8)}/v1/messages", content=REQUEST).status_code
            for _ in range(700)
        ]
        assert statuses == [404] * 600 + [429] * 100
        assert lookups.lookups == 600  # past the limit a guess costs no table read

        # The real endpoint from that IP is refused too, until the minute ends.
        refused = client.post(f"/proxy/{proxy.slug}/v1/messages", content=REQUEST)
        assert refused.status_code == 429
        assert refused.json()["code"] == "RATE_LIMITED"
        assert fake_upstream.requests == []

        clock.now = WINDOW + WINDOW_SECONDS
        assert client.post(f"/proxy/{proxy.slug}/v1/messages", content=REQUEST).status_code == 200


def test_new_slugs_carry_16_random_characters() -> None:
    slugs = {endpoint_store.new_slug("Claude Code laptop") for _ in range(50)}
    assert len(slugs) == 50
    for slug in slugs:
        assert re.fullmatch(r"claude-code-laptop-[a-z0-9]{16}", slug)


def test_a_slug_made_with_six_characters_keeps_working(
    start_proxy, fake_upstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(endpoint_store, "new_slug", lambda name: "test-laptop-a1b2c3")
    proxy = start_proxy()
    assert proxy.slug == "test-laptop-a1b2c3"
    reply = httpx.post(
        f"{proxy.base_url}/v1/messages", content=REQUEST, headers={"x-api-key": "sk-ant-api03-old-slug"}
    )
    assert reply.status_code == 200
    assert len(fake_upstream.requests) == 1
