"""The proxy when a part fails: upstream, queue, table, bucket. The caller is never the one who pays.

The usage message path: a brief retry of the SQS send, then the ingest's own idempotent write straight
to the table; S3 down loses the bodies (marked missing, counted) but never the record.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from botocore.exceptions import EndpointConnectionError
from fastapi.testclient import TestClient

from devstack.poller import LocalLambdaContext, lambda_event
from functions.api.app import create_app as create_api_app
from functions.proxy.publisher import UsagePublisher
from functions.usage_ingest.handler import handler
from shared import aws
from shared.resources import BODIES_BUCKET
from shared.settings import get_settings
from tests.conftest import free_port
from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.proxy_server import RunningProxy
from tests.proxy.support import MESSAGES, RecordingClient, incompressible
from tests.reliability.conftest import CapturedLogs
from tests.reliability.support import (
    ANTHROPIC_KEY,
    HEADERS,
    IngestLoop,
    aggregate_requests,
    api_key_for,
    usage_items,
    wait_for,
)

STREAM_BODY = (
    b'{"model":"claude-opus-4-6","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"Hi"}]}'
)


class FlakySqs:
    """The real SQS client (signing as the function that sends), failing the first `failures` sends
    as an unreachable endpoint does."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.attempts: list[str] = []  # every message body the proxy tried to send

    def send_message(self, **request: Any) -> Any:
        self.attempts.append(request["MessageBody"])
        if self.failures > 0:
            self.failures -= 1
            raise EndpointConnectionError(endpoint_url="http://sqs.invalid")
        return aws.sqs().send_message(**request)


def publisher(sqs: Any = None, **overrides: Any) -> UsagePublisher:
    settings = get_settings()
    options: dict[str, Any] = {
        "queue_url": settings.usage_queue_url,
        "bucket": settings.bodies_bucket,
        "prefix": BODIES_BUCKET.bodies_prefix,
        "inline_limit": settings.inline_body_limit,
        "table_name": settings.table_name,
        "sqs": sqs,
        **overrides,
    }
    return UsagePublisher(**options)


def stream_text(proxy: RunningProxy, **create: Any) -> str:
    client = RecordingClient(proxy)
    with client.sdk.messages.stream(max_tokens=64, messages=MESSAGES, **create) as stream:
        return stream.get_final_text()


def test_every_failed_call_reaches_the_table_with_its_status(
    start_proxy: Callable[..., RunningProxy], fake_upstream: FakeAnthropic
) -> None:
    """Refused connection (502), no head in time (504), broken stream, abandoned stream: all recorded."""
    unreachable = start_proxy(upstream_url=f"http://127.0.0.1:{free_port()}")
    slow = start_proxy(upstream_read_timeout=0.3)
    proxy = start_proxy()
    tenant = proxy.tenant_id
    with IngestLoop():
        refused = httpx.post(unreachable.base_url + "/v1/messages", content=STREAM_BODY, headers=HEADERS)
        assert (refused.status_code, refused.json()) == (502, {"error": "Upstream unreachable"})
        timed_out = httpx.post(
            slow.base_url + "/v1/messages",
            content=STREAM_BODY.replace(b"claude-opus-4-6", b"fake:hang"),
            headers=HEADERS,
        )
        assert (timed_out.status_code, timed_out.json()) == (504, {"error": "Upstream timed out"})
        assert fake_upstream.last_request.disconnected.wait(1), "the upstream request was left open"

        started = time.monotonic()
        with (
            pytest.raises(httpx.RemoteProtocolError),
            httpx.stream(
                "POST",
                proxy.base_url + "/v1/messages",
                content=STREAM_BODY.replace(b"claude-opus-4-6", b"fake:break"),
                headers=HEADERS,
                timeout=10,
            ) as broken,
        ):
            for _ in broken.iter_raw():
                pass
        assert time.monotonic() - started < 5, "the client's stream did not end with the upstream's"

        fake_upstream.hold_after_events = 2
        with httpx.stream(
            "POST", proxy.base_url + "/v1/messages", content=STREAM_BODY, headers=HEADERS, timeout=10
        ) as abandoned:
            next(abandoned.iter_raw())
        left_at = time.monotonic()
        assert fake_upstream.last_request.disconnected.wait(1), "the upstream request was left open"
        assert time.monotonic() - left_at < 1

        assert wait_for(lambda: len(usage_items(tenant)) == 4, timeout=20)
    records = {(int(item["status_code"]), bool(item["complete"])): item for item in usage_items(tenant)}
    assert set(records) == {(502, True), (504, True), (200, False)} and len(usage_items(tenant)) == 4
    for status in (502, 504):
        assert records[(status, True)]["input_tokens"] == records[(status, True)]["output_tokens"] == 0
    partial = [item for item in usage_items(tenant) if item["complete"] is False]
    assert all(item["input_tokens"] > 0 for item in partial), "the tokens seen before the break were lost"


def test_a_failed_queue_send_is_retried_and_sent_once(start_proxy: Callable[..., RunningProxy]) -> None:
    sqs = FlakySqs(failures=2)
    proxy = start_proxy(publisher=publisher(sqs))
    assert stream_text(proxy, model="fake:cache-1h") == "Hello! How can I help you today?"
    message = proxy.queue.receive_one()
    assert len(sqs.attempts) == 3 and set(sqs.attempts) == {message.raw}
    assert usage_items(proxy.tenant_id) == []  # the queue took it: the proxy wrote nothing itself
    assert proxy.queue.is_empty()


def test_when_the_queue_stays_down_the_record_goes_straight_to_the_table_once(
    start_proxy: Callable[..., RunningProxy], captured_logs: CapturedLogs, capsys: pytest.CaptureFixture[str]
) -> None:
    sqs = FlakySqs(failures=1_000)
    proxy = start_proxy(publisher=publisher(sqs))
    started = time.monotonic()
    assert stream_text(proxy, model="fake:cache-1h") == "Hello! How can I help you today?"
    assert time.monotonic() - started < 5

    (item,) = usage_items(proxy.tenant_id)
    assert (item["input_tokens"], item["cache_read_input_tokens"]) == (12, 21033)
    assert item["cost_cents"] is not None and item["status_code"] == 200
    assert aggregate_requests(proxy.tenant_id) == 1
    assert len(sqs.attempts) == 3
    (warning,) = captured_logs.lines("WARNING")
    assert "Usage queue unavailable; writing the record to the table" in warning
    assert "EndpointConnectionError" in warning and ANTHROPIC_KEY not in captured_logs.text
    assert "UsageQueueFallbacks" in capsys.readouterr().out

    # Had the message got through after all (SQS said no, but took it), its ingest counts nothing twice.
    event = lambda_event(
        [{"MessageId": "late", "ReceiptHandle": "r", "Body": sqs.attempts[-1]}],
        "arn:aws:sqs:us-east-1:123456789012:codecosts-usage",
    )
    assert handler(event, LocalLambdaContext()) == {"batchItemFailures": []}
    assert len(usage_items(proxy.tenant_id)) == 1
    assert aggregate_requests(proxy.tenant_id) == 1


def test_when_queue_and_table_are_both_down_the_loss_is_logged_and_counted(
    start_proxy: Callable[..., RunningProxy], captured_logs: CapturedLogs, capsys: pytest.CaptureFixture[str]
) -> None:
    proxy = start_proxy(publisher=publisher(FlakySqs(failures=1_000), table_name="no-such-table"))
    assert stream_text(proxy, model="fake:cache-1h") == "Hello! How can I help you today?"
    reply = httpx.post(
        proxy.base_url + "/v1/messages", content=STREAM_BODY.replace(b',"stream":true', b""), headers=HEADERS
    )
    assert reply.status_code == 200 and reply.json()["type"] == "message"

    assert wait_for(lambda: len(captured_logs.lines("ERROR")) == 2, timeout=10)
    for line in captured_logs.lines("ERROR"):
        assert '"message":"Usage record lost"' in line
        assert proxy.endpoint["id"] in line and '"status_code":200' in line
    assert ANTHROPIC_KEY not in captured_logs.text and "Hello" not in captured_logs.text
    assert capsys.readouterr().out.count('"UsagePublishFailures"') >= 2


def test_when_s3_is_down_a_large_call_is_recorded_without_its_bodies(
    start_proxy: Callable[..., RunningProxy], captured_logs: CapturedLogs, capsys: pytest.CaptureFixture[str]
) -> None:
    proxy = start_proxy(publisher=publisher(bucket="no-such-bucket", inline_limit=2_000))
    client = RecordingClient(proxy)
    with client.sdk.messages.stream(
        model="fake:web-search", max_tokens=64, messages=[{"role": "user", "content": incompressible(5_000)}]
    ) as stream:
        stream.get_final_message()

    message = proxy.queue.receive_one()
    assert not message.event.bodies_claim_checked and message.event.request_body.zstd is None
    assert message.event.request_body.size == len(client.last_body)
    assert "UsageBodyStoreFailures" in capsys.readouterr().out
    assert any('"message":"Bodies not stored"' in line for line in captured_logs.lines("WARNING"))

    event = lambda_event([{"MessageId": "m", "ReceiptHandle": "r", "Body": message.raw}], "arn:aws:sqs:x:1:q")
    assert handler(event, LocalLambdaContext()) == {"batchItemFailures": []}
    with TestClient(create_api_app(get_settings()), raise_server_exceptions=False) as api:
        auth = {"Authorization": f"Bearer {api_key_for(proxy.tenant_id)}"}
        detail = api.get(f"/api/usage/{message.event.id}", headers=auth).json()
    assert detail["bodies_missing"] is True
    assert detail["request_body"] is None and detail["response_body"] is None
    assert detail["server_tool_use"] == {"web_search_requests": 1}
    assert detail["input_tokens"] > 0 and detail["cost_cents"] is not None
