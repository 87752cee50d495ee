"""Bad input at the proxy: refused clearly, passed on untouched, or ignored, and never a way to point
the proxy somewhere else (SSRF)."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator
from typing import Any

import anthropic
import httpx
import pytest
from fastapi.testclient import TestClient

from devstack.poller import LocalLambdaContext, lambda_event
from functions.api.app import create_app as create_api_app
from functions.usage_ingest.handler import handler
from shared.hosting import LAMBDA_REQUEST_PAYLOAD_BYTES
from shared.settings import get_settings
from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.proxy_server import RunningProxy, UsageMessage
from tests.fakes.servers import ServerThread
from tests.reliability.support import HEADERS, REQUEST, ScriptedUpstream, api_key_for


def ingest_and_show(proxy: RunningProxy, message: UsageMessage) -> dict[str, Any]:
    """Ingests one usage message and returns the record as the API shows it."""
    event = lambda_event([{"MessageId": "m", "ReceiptHandle": "r", "Body": message.raw}], "arn:aws:sqs:x:1:q")
    assert handler(event, LocalLambdaContext()) == {"batchItemFailures": []}
    with TestClient(create_api_app(get_settings()), raise_server_exceptions=False) as api:
        auth = {"Authorization": f"Bearer {api_key_for(proxy.tenant_id)}"}
        reply = api.get(f"/api/usage/{message.event.id}", headers=auth)
    assert reply.status_code == 200
    detail: dict[str, Any] = reply.json()
    return detail


def raw_exchange(url: str, request: bytes, timeout: float = 5) -> tuple[int, bytes]:
    """Sends `request` byte for byte over a new connection; the reply's status and body."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(request)
        reply = b""
        while b"\r\n\r\n" not in reply:
            chunk = sock.recv(65536)
            assert chunk, f"connection closed before a reply: {reply!r}"
            reply += chunk
        head, body = reply.split(b"\r\n\r\n", 1)
        lengths = [line for line in head.lower().split(b"\r\n") if line.startswith(b"content-length:")]
        length = int(lengths[0].split(b":", 1)[1]) if lengths else None
        # A relayed reply is chunked (no length): read it to its last chunk.
        while (len(body) < length) if length is not None else not body.endswith(b"0\r\n\r\n"):
            chunk = sock.recv(65536)
            assert chunk, "connection closed mid-reply"
            body += chunk
        return int(head.split(b" ", 2)[1]), body


TOO_LARGE = {
    "type": "error",
    "error": {
        "type": "request_too_large",
        "message": f"Request body exceeds {LAMBDA_REQUEST_PAYLOAD_BYTES} bytes, "
        "the most AWS Lambda accepts for a request to the proxy",
    },
}


def test_a_body_declared_over_the_lambda_limit_is_refused_before_it_is_sent(
    proxy_server: RunningProxy, fake_upstream: FakeAnthropic
) -> None:
    path = f"/proxy/{proxy_server.slug}/v1/messages"
    head = (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"x-api-key: k\r\nContent-Length: {LAMBDA_REQUEST_PAYLOAD_BYTES + 1}\r\n\r\n"
    ).encode()
    # Only the head and a few bytes go out: the answer must not wait for the other 6 MB.
    status, body = raw_exchange(proxy_server.url, head + b'{"model":', timeout=5)
    assert status == 413
    assert json.loads(body) == TOO_LARGE
    assert fake_upstream.requests == []
    assert proxy_server.queue.is_empty()


def test_the_sdk_sees_anthropics_413_for_a_message_over_the_limit(
    proxy_server: RunningProxy, fake_upstream: FakeAnthropic
) -> None:
    client = anthropic.Anthropic(api_key="sk-ant-test", base_url=proxy_server.base_url, max_retries=0)
    pasted = "x" * LAMBDA_REQUEST_PAYLOAD_BYTES  # with the JSON around it, one body just over the limit
    with pytest.raises(anthropic.ContentTooLargeError) as refused:
        client.messages.create(
            model="fake:text", max_tokens=64, messages=[{"role": "user", "content": pasted}]
        )
    assert refused.value.status_code == 413
    assert refused.value.body == TOO_LARGE
    assert fake_upstream.requests == []
    assert proxy_server.queue.is_empty()


def test_a_chunked_body_over_the_limit_is_refused_and_one_under_it_goes_through(
    proxy_server: RunningProxy, fake_upstream: FakeAnthropic
) -> None:
    def chunked(size: int) -> Iterator[bytes]:
        """A JSON body of `size` bytes, sent without a length (transfer-encoding: chunked)."""
        opening, closing = REQUEST[:-1] + b',"metadata":{"user_id":"', b'"}}'
        filler = size - len(opening) - len(closing)
        yield opening
        for start in range(0, filler, 1 << 20):
            yield b"x" * min(1 << 20, filler - start)
        yield closing

    refused = httpx.post(
        proxy_server.base_url + "/v1/messages",
        content=chunked(LAMBDA_REQUEST_PAYLOAD_BYTES + 1),
        headers=HEADERS,
    )
    assert refused.status_code == 413
    assert refused.json() == TOO_LARGE
    assert fake_upstream.requests == []
    assert proxy_server.queue.is_empty()

    accepted = httpx.post(
        proxy_server.base_url + "/v1/messages", content=chunked(LAMBDA_REQUEST_PAYLOAD_BYTES), headers=HEADERS
    )
    assert accepted.status_code == 200
    assert len(fake_upstream.last_request.body) == LAMBDA_REQUEST_PAYLOAD_BYTES
    assert proxy_server.queue.receive_one().event.status_code == 200


async def test_a_chunked_body_is_read_only_up_to_the_limit(proxy_server: RunningProxy) -> None:
    """No length declared: the proxy stops reading at the limit instead of holding the whole body."""
    httpx.post(proxy_server.base_url + "/v1/messages", content=REQUEST, headers=HEADERS)  # warm the app
    proxy_server.queue.receive_one()
    chunk = b"x" * (1024 * 1024)
    offered = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal offered
        offered += 1
        return {"type": "http.request", "body": chunk, "more_body": offered < 100}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": f"/proxy/{proxy_server.slug}/v1/messages",
        "raw_path": f"/proxy/{proxy_server.slug}/v1/messages".encode(),
        "query_string": b"",
        "headers": [(b"content-type", b"application/json"), (b"transfer-encoding", b"chunked")],
        "client": ("127.0.0.1", 5000),
    }
    await proxy_server.app(scope, receive, send)
    assert sent[0]["status"] == 413
    assert offered == LAMBDA_REQUEST_PAYLOAD_BYTES // len(chunk) + 1  # 7 chunks read, not 100


def test_a_body_that_is_not_json_is_still_forwarded_and_recorded_without_usage(
    proxy_server: RunningProxy, fake_upstream: FakeAnthropic
) -> None:
    body = b"this is not JSON {"
    reply = httpx.post(proxy_server.base_url + "/v1/messages", content=body, headers=HEADERS)
    # The upstream decides: the fake answers as Anthropic does, with its 400.
    assert reply.status_code == 400
    assert reply.json()["error"]["type"] == "invalid_request_error"
    assert fake_upstream.last_request.body == body

    message = proxy_server.queue.receive_one()
    assert message.event.request_body.content() == body
    shown = ingest_and_show(proxy_server, message)
    assert shown["status_code"] == 400 and shown["model"] is None
    assert shown["usage_known"] is False
    assert (shown["input_tokens"], shown["output_tokens"], shown["cost_cents"]) == (0, 0, "0.000000")
    assert shown["request_body"] == body.decode()


@pytest.mark.parametrize(
    "slug",
    [
        "UPPER-abc123",
        "caf%C3%A9-abc123",
        "dots..abc123",
        "%2e%2e",
        "a%00b",
        "semi;colon",
        "space%20d",
        "x" * 300,
        "-leading-dash",
    ],
)
def test_a_slug_with_characters_a_slug_cannot_have_is_a_404(
    proxy_server: RunningProxy, fake_upstream: FakeAnthropic, slug: str
) -> None:
    reply = httpx.post(f"{proxy_server.url}/proxy/{slug}/v1/messages", content=REQUEST, headers=HEADERS)
    assert reply.status_code == 404
    assert reply.json() == {"error": "Proxy endpoint not found"}
    assert fake_upstream.requests == []


@pytest.mark.parametrize(
    ("content_type", "body", "stream"),
    [
        (b"application/json", b"<html><body>502 Bad Gateway</body></html>\n", False),
        (b"application/json", b'{"type":"message","usage":', False),
        (b"text/event-stream", b"event: message_start\ndata: {not json\n\ngarbage\xff\xfe\n\n", True),
    ],
)
def test_a_reply_that_is_not_valid_json_or_sse_reaches_the_client_unchanged_with_usage_unknown(
    start_proxy: Callable[..., RunningProxy], content_type: bytes, body: bytes, stream: bool
) -> None:
    upstream = ScriptedUpstream(headers=[(b"content-type", content_type)], body=body)
    with ServerThread(upstream) as server:
        proxy = start_proxy(upstream_url=server.url)
        reply = httpx.post(proxy.base_url + "/v1/messages", content=REQUEST, headers=HEADERS)
    assert reply.status_code == 200
    assert reply.content == body
    message = proxy.queue.receive_one()
    assert message.event.stream is stream
    shown = ingest_and_show(proxy, message)
    assert shown["usage_known"] is False
    assert shown["cost_unknown"] is True and shown["cost_cents"] is None
    assert shown["model"] == "claude-sonnet-4-5"  # from the request, since the reply names none


def test_nothing_in_a_request_can_send_it_to_another_host(
    proxy_server: RunningProxy, fake_upstream: FakeAnthropic
) -> None:
    elsewhere = ScriptedUpstream()
    with ServerThread(elsewhere) as other:
        other_host = other.url.removeprefix("http://")
        naming_it = {
            "host": other_host,
            "x-forwarded-host": other_host,
            "x-forwarded-proto": "http",
            "x-forwarded-port": other_host.split(":")[1],
            "forwarded": f"host={other_host};proto=http",
            "x-original-url": other.url + "/v1/messages",
            "x-rewrite-url": other.url + "/v1/messages",
        }
        body = json.loads(REQUEST) | {"url": other.url, "base_url": other.url, "host": other_host}
        query = f"url={other.url}&host={other_host}&base_url={other.url}/&redirect={other.url}"
        reply = httpx.post(
            f"{proxy_server.base_url}/v1/messages?{query}",
            content=json.dumps(body).encode(),
            headers={**HEADERS, **naming_it},
        )
        assert reply.status_code == 200
        # An absolute-form request target naming the other host.
        target = f"{other.url}/proxy/{proxy_server.slug}/v1/messages"
        status, _ = raw_exchange(
            proxy_server.url,
            (
                f"POST {target} HTTP/1.1\r\nHost: {other_host}\r\nContent-Type: application/json\r\n"
                f"x-api-key: k\r\nContent-Length: {len(REQUEST)}\r\n\r\n"
            ).encode()
            + REQUEST,
        )
        assert status in (200, 404)  # served as the path it names, or not at all: never forwarded there
    assert elsewhere.requests == []
    upstream_host = fake_upstream.url.removeprefix("http://")
    for request in fake_upstream.requests:
        assert request.header("host") == upstream_host
        assert request.path.startswith("/v1/messages")
        assert not request.header_names & {"x-forwarded-host", "forwarded", "x-original-url", "x-rewrite-url"}


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_from_the_upstream_is_passed_back_not_followed(
    start_proxy: Callable[..., RunningProxy], status: int
) -> None:
    elsewhere = ScriptedUpstream()
    with ServerThread(elsewhere) as other:
        redirecting = ScriptedUpstream(
            status=status,
            headers=[
                (b"content-type", b"application/json"),
                (b"location", f"{other.url}/v1/messages".encode()),
            ],
            body=b'{"type":"error","error":{"type":"moved","message":"elsewhere"}}',
        )
        with ServerThread(redirecting) as server:
            proxy = start_proxy(upstream_url=server.url)
            reply = httpx.post(proxy.base_url + "/v1/messages", content=REQUEST, headers=HEADERS)
    assert reply.status_code == status
    assert reply.json()["error"]["type"] == "moved"
    assert len(redirecting.requests) == 1
    assert elsewhere.requests == []
    assert proxy.queue.receive_one().event.status_code == status
