"""What the caller and the usage record see when something goes wrong, on either side of the proxy."""

from __future__ import annotations

from collections.abc import Callable

import anthropic
import boto3
import httpx
import httpx2
import pytest

from shared.bodies import codec
from shared.store.endpoints import EndpointStore
from tests.conftest import free_port
from tests.fakes.anthropic_upstream import ERRORS, RETRY_AFTER, FakeAnthropic, split_events
from tests.fakes.proxy_server import RunningProxy
from tests.proxy.support import API_KEY, FIXTURES, MESSAGES, RecordingClient, incompressible

BODY = (
    b'{"model":"claude-opus-4-6","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"Hi"}]}'
)
HEADERS = {"x-api-key": API_KEY, "content-type": "application/json", "anthropic-version": "2023-06-01"}


@pytest.mark.parametrize(
    ("status", "error_class"),
    [
        (400, anthropic.BadRequestError),
        (401, anthropic.AuthenticationError),
        (429, anthropic.RateLimitError),
        (529, anthropic.APIStatusError),
    ],
)
def test_upstream_errors_pass_through_verbatim(
    proxy_server: RunningProxy,
    fake_upstream: FakeAnthropic,
    status: int,
    error_class: type[anthropic.APIStatusError],
) -> None:
    client = RecordingClient(proxy_server)
    with pytest.raises(error_class) as raised:
        client.sdk.messages.create(model=f"fake:error/{status}", max_tokens=64, messages=MESSAGES)

    error = raised.value
    kind, text = ERRORS[status]
    assert error.status_code == status
    assert error.body == {
        "type": "error",
        "error": {"type": kind, "message": text},
        "request_id": error.request_id,
    }
    assert error.request_id is not None and error.request_id.startswith("req_fake")
    if status in (429, 529):
        assert error.response.headers["retry-after"] == RETRY_AFTER
    assert len(fake_upstream.requests) == 1

    record = proxy_server.queue.receive_one().event
    assert record.status_code == status
    assert record.request_id == error.request_id
    assert record.usage.error_type == kind
    assert record.usage.input_tokens == record.usage.output_tokens == 0
    assert record.response_body.content() == error.response.content


@pytest.mark.parametrize(
    ("path", "error"),
    [
        ("/proxy/no-such-endpoint-abc123/v1/messages", "Proxy endpoint not found"),
        ("/proxy/Not_A_Slug/v1/messages", "Proxy endpoint not found"),
        ("/proxy/{slug}/v1/models", "Not found"),
        ("/proxy/{slug}/v1/messages/", "Not found"),
        ("/proxy/{slug}", "Not found"),
        ("/", "Not found"),
    ],
)
def test_unknown_endpoints_are_404_and_never_reach_the_upstream(
    proxy_server: RunningProxy, fake_upstream: FakeAnthropic, path: str, error: str
) -> None:
    reply = httpx.post(proxy_server.url + path.format(slug=proxy_server.slug), content=BODY, headers=HEADERS)
    assert reply.status_code == 404
    assert reply.json() == {"error": error}
    assert fake_upstream.requests == []
    assert proxy_server.queue.is_empty()


def test_a_deleted_endpoint_is_404(proxy_server: RunningProxy, fake_upstream: FakeAnthropic) -> None:
    store = EndpointStore(proxy_server.settings.table_name)
    endpoint = store.create(proxy_server.tenant_id, "Gone soon")
    store.delete(proxy_server.tenant_id, endpoint["id"])
    reply = httpx.post(
        f"{proxy_server.url}/proxy/{endpoint['slug']}/v1/messages", content=BODY, headers=HEADERS
    )
    assert reply.status_code == 404
    assert reply.json() == {"error": "Proxy endpoint not found"}
    assert fake_upstream.requests == []


def test_other_methods_are_404(proxy_server: RunningProxy, fake_upstream: FakeAnthropic) -> None:
    reply = httpx.get(proxy_server.base_url + "/v1/messages", headers=HEADERS)
    assert reply.status_code == 404
    assert reply.json() == {"error": "Not found"}
    assert fake_upstream.requests == []


def test_a_client_that_leaves_mid_stream_closes_the_upstream_and_is_recorded(
    proxy_server: RunningProxy, fake_upstream: FakeAnthropic
) -> None:
    fake_upstream.hold_after_events = 2
    client = RecordingClient(proxy_server)
    with client.sdk.messages.stream(model="fake:cache-1h", max_tokens=64, messages=MESSAGES) as stream:
        assert next(iter(stream)).type == "message_start"
    # Leaving the block closed the connection while the upstream was still mid-stream.
    upstream = fake_upstream.last_request
    assert upstream.disconnected.wait(1), "the proxy kept the upstream request open for over a second"
    assert not upstream.finished.is_set()

    record = proxy_server.queue.receive_one().event
    assert record.complete is False
    assert record.status_code == 200
    assert record.stream is True
    assert record.usage.input_tokens == 12
    assert record.usage.cache_read_input_tokens == 21033
    events = split_events((FIXTURES / "text-1h-cache.sse").read_bytes())
    assert record.response_body.content() in (events[0], events[0] + events[1])


def test_a_client_that_leaves_before_any_reply_is_recorded(
    proxy_server: RunningProxy, fake_upstream: FakeAnthropic
) -> None:
    hang = BODY.replace(b"claude-opus-4-6", b"fake:hang")
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            proxy_server.base_url + "/v1/messages",
            content=hang,
            headers=HEADERS,
            timeout=httpx.Timeout(5, read=0.3),
        )
    assert fake_upstream.last_request.disconnected.wait(1), "the upstream request outlived the client by 1 s"

    record = proxy_server.queue.receive_one().event
    assert record.complete is False
    assert record.status_code == 499
    assert record.ttfb_ms is None
    assert record.response_body.content() == b""
    assert record.request_body.content() == hang


def test_an_upstream_that_breaks_mid_stream_ends_the_client_stream(
    proxy_server: RunningProxy, fake_upstream: FakeAnthropic
) -> None:
    client = RecordingClient(proxy_server)
    # The connection drops as the upstream's did: the client sees a broken reply, not a finished one.
    with (
        pytest.raises(httpx2.RemoteProtocolError),
        client.sdk.messages.stream(model="fake:break", max_tokens=64, messages=MESSAGES) as stream,
    ):
        for _ in stream:
            pass

    record = proxy_server.queue.receive_one().event
    assert record.complete is False
    assert record.status_code == 200
    assert record.usage.input_tokens > 0
    assert (record.response_body.content() or b"").startswith(b"event: message_start")


def test_an_unreachable_upstream_is_a_502(start_proxy: Callable[..., RunningProxy]) -> None:
    proxy = start_proxy(upstream_url=f"http://127.0.0.1:{free_port()}")
    reply = httpx.post(proxy.base_url + "/v1/messages", content=BODY, headers=HEADERS)
    assert reply.status_code == 502
    assert reply.json() == {"error": "Upstream unreachable"}

    record = proxy.queue.receive_one().event
    assert record.status_code == 502
    assert record.response_body.content() == reply.content
    assert record.ttfb_ms is None


def test_an_upstream_that_sends_no_headers_in_time_is_a_504(
    start_proxy: Callable[..., RunningProxy], fake_upstream: FakeAnthropic
) -> None:
    proxy = start_proxy(upstream_read_timeout=0.3)
    reply = httpx.post(
        proxy.base_url + "/v1/messages",
        content=BODY.replace(b"claude-opus-4-6", b"fake:hang"),
        headers=HEADERS,
    )
    assert reply.status_code == 504
    assert reply.json() == {"error": "Upstream timed out"}
    assert fake_upstream.last_request.disconnected.wait(1), "the timed-out upstream request was left open"
    assert proxy.queue.receive_one().event.status_code == 504


def test_bodies_too_large_for_the_message_go_to_s3_compressed_first(
    start_proxy: Callable[..., RunningProxy], fake_upstream: FakeAnthropic
) -> None:
    proxy = start_proxy(inline_body_limit=2_000)
    client = RecordingClient(proxy)
    content = 'Ünïcode and quotes " ' + incompressible(3_000)
    with client.sdk.messages.stream(
        model="fake:web-search", max_tokens=64, messages=[{"role": "user", "content": content}]
    ) as stream:
        stream.get_final_message()

    message = proxy.queue.receive_one()
    record = message.event
    assert record.bodies_claim_checked
    assert record.request_body.zstd is None and record.response_body.zstd is None
    s3 = boto3.client("s3")
    key = f"bodies/{proxy.tenant_id}/calls/{record.id}"
    stored = s3.get_object(Bucket=proxy.settings.bodies_bucket, Key=key)["Body"].read()
    stored_request, stored_response = codec.unpack(stored)
    assert stored_request == client.last_body == fake_upstream.last_request.body
    assert stored_response == (FIXTURES / "web-search-cumulative.sse").read_bytes()
    assert record.request_body.size == len(stored_request)
    assert record.response_body.size == len(stored_response)
    assert len(stored) < len(stored_request) + len(stored_response)  # compressed
    assert len(message.raw) < 2_000
    assert (
        record.usage.web_search_requests
        if False
        else record.usage.server_tool_use == {"web_search_requests": 1}
    )


def test_a_failed_usage_message_does_not_affect_the_caller(
    start_proxy: Callable[..., RunningProxy], moto_endpoint: str
) -> None:
    proxy = start_proxy(usage_queue_url=f"{moto_endpoint}/123456789012/no-such-queue")
    client = RecordingClient(proxy)
    with client.sdk.messages.stream(model="fake:cache-1h", max_tokens=64, messages=MESSAGES) as stream:
        assert stream.get_final_text() == "Hello! How can I help you today?"
    reply = client.sdk.messages.create(model="claude-opus-4-6", max_tokens=64, messages=MESSAGES)
    assert reply.content[0].type == "text"
    assert proxy.queue.is_empty()
