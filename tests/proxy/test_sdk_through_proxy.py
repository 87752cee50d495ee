"""The official Anthropic SDK talking to the fake Anthropic API through the proxy."""

from __future__ import annotations

import anthropic
import httpx
import pytest

from shared.ids import time_prefix
from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.proxy_server import RunningProxy
from tests.proxy.support import (
    API_KEY,
    EXPECTED_USAGE,
    FIXTURES,
    MESSAGES,
    RecordingClient,
    assert_usage,
    key_hint,
    key_id,
)

STREAMED_FIXTURES = ["text-1h-cache.sse", "thinking-tool-use-5m-cache.sse", "web-search-cumulative.sse"]

# The contract's request rules, written out independently of the implementation.
FORWARDED_NAMES = {
    "x-api-key",
    "authorization",
    "x-app",
    "user-agent",
    "accept",
    "accept-language",
    "content-type",
}
FORWARDED_PREFIXES = ("anthropic-", "x-stainless-", "x-claude-code-")
CALLER_EXTRAS = {
    "cookie": "session=do-not-forward",
    "x-forwarded-for": "203.0.113.9",
    "x-forwarded-host": "evil.example",
    "forwarded": "for=203.0.113.9",
    "te": "trailers",
    "x-app": "cli",
    "x-claude-code-session-id": "5f0c9a55-4d0a-4a43-9b0e-7a0e4f1f2f10",
    "anthropic-beta": "context-management-2025-06-27,interleaved-thinking-2025-05-14",
    "accept-language": "fr-FR",
    "x-unrelated": "dropped",
}


@pytest.mark.parametrize("fixture", STREAMED_FIXTURES)
def test_streamed_reply_reaches_the_sdk_and_is_recorded(
    proxy_server: RunningProxy, fake_upstream: FakeAnthropic, fixture: str
) -> None:
    client = RecordingClient(proxy_server)
    expected = EXPECTED_USAGE[fixture]
    with client.sdk.messages.stream(
        model=f"fake:fixture/{fixture}", max_tokens=1024, messages=MESSAGES
    ) as stream:
        final = stream.get_final_message()

    assert final.model == expected["model"]
    assert final.stop_reason == expected["stop_reason"]
    assert final.usage.output_tokens == expected["output_tokens"]
    assert fake_upstream.last_request.body == client.last_body

    record = proxy_server.queue.receive_one().event
    assert_usage(record.usage, expected)
    assert record.status_code == 200
    assert record.stream is True
    assert record.complete is True
    assert record.path == "/v1/messages"
    assert record.request_id is not None and record.request_id.startswith("req_fake")
    assert record.request_body.content() == client.last_body
    assert record.response_body.content() == (FIXTURES / fixture).read_bytes()
    assert record.tenant_id == proxy_server.tenant_id
    assert record.proxy_endpoint_id == proxy_server.endpoint["id"]
    assert record.id[:10] == time_prefix(record.requested_at)
    assert record.ttfb_ms is not None and 0 <= record.ttfb_ms <= record.duration_ms


def test_thinking_signature_and_tool_input_arrive_intact(proxy_server: RunningProxy) -> None:
    client = RecordingClient(proxy_server)
    with client.sdk.messages.stream(model="fake:thinking", max_tokens=1024, messages=MESSAGES) as stream:
        final = stream.get_final_message()
    thinking, tool_use = final.content
    assert thinking.type == "thinking"
    assert thinking.signature == "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds"
    assert tool_use.type == "tool_use"
    assert tool_use.input == {"location": "Paris, France"}
    proxy_server.queue.receive_one()


def test_error_event_mid_stream_reaches_the_sdk_and_tokens_so_far_count(
    proxy_server: RunningProxy,
) -> None:
    client = RecordingClient(proxy_server)
    with (
        pytest.raises(anthropic.APIStatusError, match="overloaded_error"),
        client.sdk.messages.stream(model="fake:error-mid-stream", max_tokens=64, messages=MESSAGES) as stream,
    ):
        for _ in stream:
            pass

    record = proxy_server.queue.receive_one().event
    # Anthropic's final count never came: the relayed "Once upon" (9 characters / 3.5) counts instead
    # of the placeholder 1 of message_start; every other field is as the fixture expects.
    expected = {**EXPECTED_USAGE["error-mid-stream.sse"], "output_tokens": 3}
    assert_usage(record.usage, expected)
    assert record.usage.output_tokens_estimated is True
    assert record.status_code == 200
    assert b"event: error" in (record.response_body.content() or b"")


def test_non_streaming_reply_is_recorded(proxy_server: RunningProxy, fake_upstream: FakeAnthropic) -> None:
    client = RecordingClient(proxy_server)
    raw = client.sdk.messages.with_raw_response.create(
        model="fake:long-context", max_tokens=1024, messages=MESSAGES
    )
    message = raw.parse()
    assert message.usage.input_tokens == 250_300
    assert raw.http_response.content == (FIXTURES / "non-streaming-long-context.json").read_bytes()

    record = proxy_server.queue.receive_one().event
    assert_usage(record.usage, EXPECTED_USAGE["non-streaming-long-context.json"])
    assert record.stream is False
    assert record.usage.service_tier == "standard"
    assert record.response_body.content() == (FIXTURES / "non-streaming-long-context.json").read_bytes()
    assert record.request_body.content() == client.last_body


def test_headers_follow_the_forwarding_rules(
    proxy_server: RunningProxy, fake_upstream: FakeAnthropic
) -> None:
    client = RecordingClient(proxy_server)
    raw = client.sdk.messages.with_raw_response.create(
        model="claude-opus-4-6", max_tokens=64, messages=MESSAGES, extra_headers=CALLER_EXTRAS
    )

    sent = client.sent[-1].headers
    received = fake_upstream.last_request
    for name, value in sent.multi_items():
        if name in FORWARDED_NAMES or name.startswith(FORWARDED_PREFIXES):
            assert received.header(name) == value, name
        elif name not in ("host", "content-length", "accept-encoding"):
            assert name not in received.header_names, name
    # This SDK sends its key as a bearer token; either way the credential arrives unchanged.
    assert received.header("authorization") == f"Bearer {API_KEY}"
    assert received.header("accept-encoding") == "identity"
    assert received.header("host") == fake_upstream.url.removeprefix("http://")
    assert {"cookie", "x-forwarded-for", "x-forwarded-host", "forwarded", "te", "x-unrelated"}.isdisjoint(
        received.header_names
    )
    assert received.header("x-claude-code-session-id") == CALLER_EXTRAS["x-claude-code-session-id"]
    assert any(name.startswith("x-stainless-") for name in received.header_names)

    # Back to the caller: what describes the body and the caller's limits, nothing of the upstream hop.
    headers = raw.http_response.headers
    assert headers["request-id"].startswith("req_fake")
    assert headers["content-type"] == "application/json"
    assert headers["anthropic-ratelimit-requests-limit"] == "4000"
    assert headers["anthropic-ratelimit-tokens-limit"] == "2000000"
    for name in ("set-cookie", "cf-ray", "via", "anthropic-organization-id", "content-encoding"):
        assert name not in headers, name
    proxy_server.queue.receive_one()


def test_beta_query_is_kept(proxy_server: RunningProxy, fake_upstream: FakeAnthropic) -> None:
    client = RecordingClient(proxy_server)
    # As Claude Code sends it.
    with client.sdk.beta.messages.stream(
        model="claude-opus-4-6",
        max_tokens=64,
        messages=[{"role": "user", "content": "Hello, Claude"}],
        extra_query={"beta": "true"},
    ) as stream:
        assert stream.get_final_text() == "Hello from the fake"
    assert str(client.sent[-1].url).endswith("/v1/messages?beta=true")
    assert fake_upstream.last_request.path == "/v1/messages?beta=true"
    assert proxy_server.queue.receive_one().event.path == "/v1/messages"


def test_the_credential_is_fingerprinted_never_stored(proxy_server: RunningProxy) -> None:
    client = RecordingClient(proxy_server)
    client.sdk.messages.create(model="claude-haiku-4-5", max_tokens=16, messages=MESSAGES)
    message = proxy_server.queue.receive_one()
    assert message.event.api_key_id == key_id(API_KEY)
    assert message.event.api_key_hint == "sk-ant-api03-...Wxyz" == key_hint(API_KEY)
    assert API_KEY not in message.raw
    assert API_KEY[13:-5] not in message.raw


def test_an_x_api_key_is_forwarded_and_fingerprinted(
    proxy_server: RunningProxy, fake_upstream: FakeAnthropic
) -> None:
    body = b'{"model":"claude-haiku-4-5","max_tokens":16,"messages":[{"role":"user","content":"Hi"}]}'
    reply = httpx.post(
        proxy_server.base_url + "/v1/messages",
        content=body,
        headers={"x-api-key": API_KEY, "anthropic-version": "2023-06-01", "content-type": "application/json"},
    )
    assert reply.status_code == 200
    assert fake_upstream.last_request.header("x-api-key") == API_KEY
    assert "authorization" not in fake_upstream.last_request.header_names
    message = proxy_server.queue.receive_one()
    assert message.event.api_key_id == key_id(API_KEY)
    assert message.event.api_key_hint == "sk-ant-api03-...Wxyz"
    assert API_KEY not in message.raw


def test_a_bearer_token_is_forwarded_and_fingerprinted(
    proxy_server: RunningProxy, fake_upstream: FakeAnthropic
) -> None:
    token = "sk-ant-oat01-" + "Zz9" * 20 + "Qrst"
    client = RecordingClient(proxy_server, api_key=None, auth_token=token)
    client.sdk.messages.create(model="claude-haiku-4-5", max_tokens=16, messages=MESSAGES)
    assert fake_upstream.last_request.header("authorization") == f"Bearer {token}"
    assert "x-api-key" not in fake_upstream.last_request.header_names
    message = proxy_server.queue.receive_one()
    assert message.event.api_key_id == key_id(token)
    assert message.event.api_key_hint == "sk-ant-oat01-...Qrst"
    assert token not in message.raw


def test_count_tokens_passes_through_and_is_not_logged(
    proxy_server: RunningProxy, fake_upstream: FakeAnthropic
) -> None:
    client = RecordingClient(proxy_server)
    counted = client.sdk.messages.count_tokens(model="claude-opus-4-6", messages=MESSAGES)
    assert counted.input_tokens > 0
    assert fake_upstream.last_request.path == "/v1/messages/count_tokens"
    assert fake_upstream.last_request.body == client.last_body
    # A logged call's message is sent before its response ends, so an empty queue now means none.
    assert proxy_server.queue.is_empty()


def test_the_stream_is_not_held_back(proxy_server: RunningProxy, fake_upstream: FakeAnthropic) -> None:
    """The upstream stops after its first event until the client has seen it."""
    fake_upstream.hold_after_events = 1
    client = RecordingClient(proxy_server)
    with client.sdk.messages.stream(model="fake:cache-1h", max_tokens=64, messages=MESSAGES) as stream:
        events = iter(stream)
        first = next(events)
        upstream = fake_upstream.last_request
        assert first.type == "message_start"
        assert upstream.holding.wait(5)
        assert not upstream.finished.is_set()
        upstream.resume.set()
        for _ in events:
            pass
        assert stream.get_final_text() == "Hello! How can I help you today?"
    assert upstream.finished.is_set()
    proxy_server.queue.receive_one()


def test_each_event_is_relayed_while_the_upstream_pauses(
    proxy_server: RunningProxy, fake_upstream: FakeAnthropic
) -> None:
    fake_upstream.pause = 0.1
    fake_upstream.text_deltas = 2
    client = RecordingClient(proxy_server)
    with client.sdk.messages.stream(model="claude-opus-4-6", max_tokens=64, messages=MESSAGES) as stream:
        first = next(iter(stream))
        assert first.type == "message_start"
        assert not fake_upstream.last_request.finished.is_set()
        assert stream.get_final_text() == "Hello from"
    proxy_server.queue.receive_one()
