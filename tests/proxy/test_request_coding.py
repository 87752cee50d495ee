"""Compressed request bodies (`Content-Encoding`): Anthropic's API reads gzip, deflate and zstd, so a
client may send them to save upload time. The proxy forwards such a body as sent, header and bytes,
and records it decoded: priced, attributed to its developer and redacted like any other."""

from __future__ import annotations

import gzip
import json
import zlib

import anthropic
import httpx
import httpx2
import pytest
import zstandard

from functions.proxy.content_coding import MAX_DECODED_BYTES, Unreadable, codings, decode
from shared.developers import DEVICE_MARKER
from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.proxy_server import RunningProxy
from tests.proxy.support import API_KEY

HEADERS = {"x-api-key": API_KEY, "content-type": "application/json", "anthropic-version": "2023-06-01"}
PASTED_KEY = "sk-ant-api03-" + "Rq7" * 14 + "-CmpD"
DEVICE_ID = "d" * 64


def claude_code_request(stream: bool) -> bytes:
    """A Claude Code-shaped request: its developer in `metadata.user_id`, a pasted key in the prompt."""
    user_id = json.dumps(
        {"device_id": DEVICE_ID, "account_uuid": "", "session_id": "0" * 8 + "-1111-2222-3333-" + "4" * 12}
    )
    return json.dumps(
        {
            "model": "claude-sonnet-4-6",
            "max_tokens": 64,
            "stream": stream,
            "metadata": {"user_id": user_id},
            "messages": [
                {"role": "user", "content": f"use {PASTED_KEY} for the deploy. " + "context " * 2000}
            ],
        }
    ).encode()


COMPRESSORS = {
    "gzip": gzip.compress,
    "deflate": zlib.compress,
    "zstd": lambda body: zstandard.ZstdCompressor().compress(body),
}


@pytest.mark.parametrize(("coding", "stream"), [("gzip", True), ("zstd", False), ("deflate", True)])
def test_a_compressed_request_reaches_anthropic_as_sent_and_is_recorded_decoded(
    proxy_server: RunningProxy, fake_upstream: FakeAnthropic, coding: str, stream: bool
) -> None:
    body = claude_code_request(stream)
    sent = COMPRESSORS[coding](body)
    reply = httpx.post(
        f"{proxy_server.base_url}/v1/messages", content=sent, headers={**HEADERS, "content-encoding": coding}
    )
    assert reply.status_code == 200

    received = fake_upstream.last_request
    assert received.body == sent  # byte for byte, still compressed
    assert received.header("content-encoding") == coding
    assert received.json()["model"] == "claude-sonnet-4-6"

    message = proxy_server.queue.receive_one()
    event = message.event
    assert event.usage.model == "claude-sonnet-4-6" and event.usage.input_tokens > 0
    kept = event.request_body.content() or b""
    assert kept.startswith(b'{"model": "claude-sonnet-4-6"')
    assert b"[REDACTED:anthropic]" in kept and PASTED_KEY.encode() not in kept
    assert event.developer_id is not None
    assert DEVICE_ID.encode() not in kept and DEVICE_MARKER in kept
    assert event.request_body.size == len(body)  # the body Anthropic reads, not the bytes on the wire
    assert PASTED_KEY not in message.raw and DEVICE_ID not in message.raw


class GzipRequests(httpx2.HTTPTransport):
    """How an SDK user compresses uploads: the transport gzips each request body on its way out."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[bytes] = []

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        compressed = gzip.compress(request.read())
        self.sent.append(compressed)
        headers = {**request.headers, "content-encoding": "gzip", "content-length": str(len(compressed))}
        return super().handle_request(
            httpx2.Request(request.method, request.url, headers=headers, content=compressed)
        )


def test_the_sdk_uploading_gzip_gets_its_reply_and_the_call_is_recorded(
    proxy_server: RunningProxy, fake_upstream: FakeAnthropic
) -> None:
    transport = GzipRequests()
    sdk = anthropic.Anthropic(
        base_url=proxy_server.base_url,
        api_key=API_KEY,
        max_retries=0,
        http_client=httpx2.Client(transport=transport, timeout=20),
    )
    with sdk.messages.stream(
        model="claude-sonnet-4-6", max_tokens=64, messages=[{"role": "user", "content": "hello " * 500}]
    ) as stream:
        final = stream.get_final_message()

    assert fake_upstream.last_request.body == transport.sent[-1]
    event = proxy_server.queue.receive_one().event
    assert event.usage.input_tokens == final.usage.input_tokens
    assert event.usage.output_tokens == final.usage.output_tokens
    assert json.loads(event.request_body.content() or b"")["messages"][0]["content"] == "hello " * 500


@pytest.mark.parametrize(
    ("coding", "sent"),
    [
        ("br", b"\x1b\x10\x00\xf8\xa5\x8b\x0c\x18\xff"),  # a coding Codecosts does not read
        ("gzip", gzip.compress(b'{"model": "claude-sonnet-4-6"}')[:12]),  # cut short
    ],
)
def test_a_request_body_the_proxy_cannot_read_is_forwarded_as_sent_and_recorded_with_a_note(
    proxy_server: RunningProxy, fake_upstream: FakeAnthropic, coding: str, sent: bytes
) -> None:
    reply = httpx.post(
        f"{proxy_server.base_url}/v1/messages", content=sent, headers={**HEADERS, "content-encoding": coding}
    )
    # Anthropic's answer, whatever it is, reaches the client (the fake refuses both bodies).
    assert reply.status_code == 400
    received = fake_upstream.last_request
    assert received.body == sent and received.header("content-encoding") == coding

    event = proxy_server.queue.receive_one().event
    assert event.status_code == 400
    kept = (event.request_body.content() or b"").decode()
    assert kept.startswith(f"[NOT RECORDED: a request body sent with Content-Encoding: {coding} ")
    assert event.request_body.size == len(sent)


def test_codings_are_undone_last_first_and_identity_is_nothing() -> None:
    body = b'{"messages": []}' * 1000
    twice = zstandard.ZstdCompressor().compress(gzip.compress(body))
    assert decode(twice, codings(b"GZIP, identity, zstd")) == body
    assert codings(b"identity") == [] and codings(None) == []
    assert decode(body, codings(b"identity")) == body


def test_deflate_takes_zlib_and_raw_data_and_gzip_takes_several_members() -> None:
    body = b"x" * 5000
    raw = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    assert decode(raw.compress(body) + raw.flush(), ["deflate"]) == body
    assert decode(zlib.compress(body), ["deflate"]) == body
    assert decode(gzip.compress(body) + gzip.compress(body), ["gzip"]) == body * 2


@pytest.mark.parametrize("coding", ["gzip", "zstd"])
def test_a_body_that_inflates_past_the_cap_is_refused_without_inflating_it_all(coding: str) -> None:
    bomb = COMPRESSORS[coding](b"\0" * (MAX_DECODED_BYTES + 1))
    assert len(bomb) < 2_000_000
    with pytest.raises(Unreadable, match="past the limit"):
        decode(bomb, [coding])


@pytest.mark.parametrize("coding", ["gzip", "zstd"])
def test_truncated_or_corrupt_data_is_unreadable(coding: str) -> None:
    whole = COMPRESSORS[coding](b'{"model": "claude-sonnet-4-6"}' * 100)
    with pytest.raises(Unreadable):
        decode(whole[: len(whole) // 2], [coding])
    with pytest.raises(Unreadable):
        decode(b"not compressed at all", [coding])
