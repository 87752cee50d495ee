"""What the proxy keeps of a call's bodies: redacted copies for the record, never the bytes relayed,
and nothing at all for an endpoint whose retention is 0."""

from __future__ import annotations

import json
from collections.abc import Callable

import boto3
import httpx

from devstack.poller import LocalLambdaContext, lambda_event
from functions.usage_ingest.handler import handler
from shared.store.endpoints import EndpointStore
from shared.store.usage_records import UsageStore
from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.proxy_server import RunningProxy
from tests.proxy.support import API_KEY

HEADERS = {"x-api-key": API_KEY, "content-type": "application/json", "anthropic-version": "2023-06-01"}
PASTED_KEY = "sk-ant-api03-" + "Zq9" * 14 + "-PstD"


def prompt(content: str) -> bytes:
    return json.dumps(
        {"model": "claude-haiku-4-5", "max_tokens": 9, "messages": [{"role": "user", "content": content}]}
    ).encode()


def test_a_secret_in_a_prompt_reaches_anthropic_as_sent_and_is_kept_redacted(
    proxy_server: RunningProxy, fake_upstream: FakeAnthropic
) -> None:
    body = prompt(f"deploy with ANTHROPIC_API_KEY={PASTED_KEY} please")
    reply = httpx.post(f"{proxy_server.base_url}/v1/messages", content=body, headers=HEADERS)
    assert reply.status_code == 200
    assert fake_upstream.last_request.body == body  # relayed untouched

    message = proxy_server.queue.receive_one()
    kept = message.event.request_body.content() or b""
    assert kept == body.replace(PASTED_KEY.encode(), b"[REDACTED:anthropic]")
    assert message.event.request_body.size == len(body)
    assert message.event.body_retention_days == 30
    assert PASTED_KEY not in message.raw


def test_an_endpoint_that_keeps_no_bodies_sends_and_stores_none(
    start_proxy: Callable[..., RunningProxy], fake_upstream: FakeAnthropic
) -> None:
    proxy = start_proxy()
    EndpointStore(proxy.settings.table_name).update(
        proxy.tenant_id, proxy.endpoint["id"], body_retention_days=0
    )
    body = prompt("nothing of this is kept")
    assert httpx.post(f"{proxy.base_url}/v1/messages", content=body, headers=HEADERS).status_code == 200

    message = proxy.queue.receive_one()
    event = message.event
    assert event.body_retention_days == 0 and not event.bodies_claim_checked
    assert event.request_body.zstd is None and event.response_body.zstd is None
    assert event.request_body.size == len(body) and event.response_body.size > 0
    assert "nothing of this" not in message.raw

    batch = lambda_event([{"MessageId": "m", "ReceiptHandle": "r", "Body": message.raw}], "arn:aws:sqs:x:1:q")
    assert handler(batch, LocalLambdaContext()) == {"batchItemFailures": []}
    store = UsageStore(proxy.settings.table_name, proxy.settings.bodies_bucket)
    record = store.get(proxy.tenant_id, event.id)
    assert record is not None
    assert record.bodies_missing is False and record.bodies_expire_at is None
    assert store.bodies(record).request_body is None
    listed = boto3.client("s3").list_objects_v2(Bucket=proxy.settings.bodies_bucket, Prefix="bodies/")
    assert not [entry for entry in listed.get("Contents", []) if event.id in entry["Key"]]
