"""The ingest function against moto: costs, idempotency, partial batch failures, claim-checked bodies."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import genai_prices
import pytest
from botocore.exceptions import ClientError

from devstack.poller import LocalLambdaContext, lambda_event
from functions.usage_ingest.handler import handler
from shared.bodies.codec import pack
from shared.bodies.store import BodyStore
from shared.ids import new_id
from shared.ingest import UsageIngest
from shared.resources import BODIES_BUCKET
from shared.settings import get_settings
from shared.store import layout
from shared.store.usage_records import UsageStore, usage_record
from shared.usage import read_json_usage, read_stream_usage
from shared.usage_event import BodyRef, UsageEvent
from shared.usage_record import TOKEN_KINDS, record_view
from tests.proxy.support import EXPECTED_USAGE

FIXTURES = Path(__file__).parent.parent / "fixtures" / "anthropic"
EXPECTED = EXPECTED_USAGE
REQUESTED_AT = datetime(2026, 11, 20, 9, 30, 15, 250000, tzinfo=UTC)


def usage_event(
    fixture: str, *, tenant: str = "user_a", endpoint: str = "EP1", **overrides: Any
) -> UsageEvent:
    raw = (FIXTURES / fixture).read_bytes()
    stream = fixture.endswith(".sse")
    usage = read_stream_usage(raw) if stream else read_json_usage(raw)
    request_body = json.dumps({"model": usage.model, "max_tokens": 100, "messages": []})
    fields: dict[str, Any] = {
        "id": new_id(REQUESTED_AT),
        "tenant_id": tenant,
        "proxy_endpoint_id": endpoint,
        "requested_at": REQUESTED_AT,
        "path": "/v1/messages",
        "status_code": 200,
        "stream": stream,
        "ttfb_ms": 120,
        "duration_ms": 900,
        "request_id": "req_011CTest",
        "api_key_id": "0123456789abcdef",
        "api_key_hint": "sk-ant-api03-...Wxyz",
        "usage": usage,
        "request_body": BodyRef.of(request_body.encode()),
        "response_body": BodyRef.of(raw),
    }
    fields.update(overrides)
    return UsageEvent(**fields)


def sqs_batch(*bodies: str) -> dict[str, Any]:
    messages = [
        {"MessageId": f"m{i}", "ReceiptHandle": f"r{i}", "Body": body, "Attributes": {}}
        for i, body in enumerate(bodies)
    ]
    return lambda_event(messages, "arn:aws:sqs:us-east-1:123456789012:codecosts-usage")


def expected_cost_cents(fixture: str) -> Decimal:
    expected = EXPECTED[fixture]
    usage = genai_prices.Usage(
        input_tokens=expected["input_tokens"]
        + expected["cache_creation_input_tokens"]
        + expected["cache_read_input_tokens"],
        output_tokens=expected["output_tokens"],
        cache_write_5m_tokens=expected["cache_creation_5m_input_tokens"],
        cache_write_1h_tokens=expected["cache_creation_1h_input_tokens"],
        cache_write_tokens=expected["cache_creation_input_tokens"],
        cache_read_tokens=expected["cache_read_input_tokens"],
        web_searches=expected["web_search_requests"],
    )
    price = genai_prices.calc_price(
        usage, expected["model"], provider_id="anthropic", genai_request_timestamp=REQUESTED_AT
    )
    return (price.total_price * 100).quantize(Decimal("0.000001"))


def table() -> Any:
    return boto3.resource("dynamodb").Table(get_settings().table_name)


def stored(tenant: str, usage_id: str) -> dict[str, Any]:
    """The record's item, with every field (those at their default are not stored)."""
    item = (
        table()
        .get_item(Key={"pk": layout.usage_pk(tenant, usage_id), "sk": layout.usage_sk(usage_id)})
        .get("Item")
    )
    assert item is not None
    return {**item, **record_view(usage_record(item), None)}


def aggregate(tenant: str, day: str, model: str, endpoint: str = "EP1") -> dict[str, Any]:
    key = {"pk": layout.aggregate_pk(tenant, endpoint), "sk": layout.day_aggregate_sk(day, endpoint, model)}
    return table().get_item(Key=key).get("Item") or {}


@pytest.mark.parametrize("fixture", sorted(EXPECTED))
def test_each_reply_is_stored_with_its_tokens_and_genai_prices_cost(aws, fixture):
    event = usage_event(fixture)
    result = handler(sqs_batch(event.model_dump_json()), LocalLambdaContext())
    assert result == {"batchItemFailures": []}

    item = stored("user_a", event.id)
    expected = EXPECTED[fixture]
    for name in ("model", *TOKEN_KINDS, "stop_reason"):
        assert item[name] == expected[name], name
    assert Decimal(item["cost_cents"]) == expected_cost_cents(fixture)
    assert item["cost_unknown"] is False
    assert item["price_snapshot"].startswith("genai-prices ")
    assert item["requested_at"] == "2026-11-20T09:30:15.250Z"
    if "stream_error" in expected:
        assert item["error_type"] == expected["stream_error"]

    bodies = UsageStore(get_settings().table_name, get_settings().bodies_bucket).bodies(usage_record(item))
    assert bodies.response_body == (FIXTURES / fixture).read_text()


def test_a_redelivered_batch_changes_nothing(aws):
    events = [usage_event("text-1h-cache.sse"), usage_event("web-search-cumulative.sse")]
    batch = sqs_batch(*(event.model_dump_json() for event in events))
    handler(batch, LocalLambdaContext())
    before = aggregate("user_a", "2026-11-20", "claude-sonnet-4-5-20250929")
    assert before["requests"] == 2

    assert handler(batch, LocalLambdaContext()) == {"batchItemFailures": []}
    assert aggregate("user_a", "2026-11-20", "claude-sonnet-4-5-20250929") == before


def test_a_poison_message_fails_alone_while_the_rest_commit(aws):
    good = usage_event("text-1h-cache.sse")
    result = handler(sqs_batch("not json at all", good.model_dump_json(), '{"v": 99}'), LocalLambdaContext())
    assert result == {"batchItemFailures": [{"itemIdentifier": "m0"}, {"itemIdentifier": "m2"}]}
    assert stored("user_a", good.id)["output_tokens"] == 15


class RefusingStore(UsageStore):
    """A table that refuses one record (as DynamoDB refuses an item it cannot store), with the
    others of its transaction: no retry fixes that."""

    def __init__(self, refused_id: str) -> None:
        super().__init__(get_settings().table_name, get_settings().bodies_bucket)
        self.refused_id = refused_id

    def _transact(self, actions):
        refused = layout.usage_sk(self.refused_id)
        if any(action.get("Put", {}).get("Item", {}).get("sk") == refused for action in actions):
            raise ClientError(
                {"Error": {"Code": "ValidationException", "Message": "Item size has exceeded the limit"}},
                "TransactWriteItems",
            )
        super()._transact(actions)


def test_a_record_the_table_refuses_fails_alone_and_its_retry_counts_once(aws):
    first, second = usage_event("text-1h-cache.sse"), usage_event("text-1h-cache.sse")
    batch = sqs_batch(first.model_dump_json(), second.model_dump_json())
    result = handler(batch, LocalLambdaContext(), ingest=UsageIngest(RefusingStore(second.id)))
    assert result == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
    assert aggregate("user_a", "2026-11-20", "claude-sonnet-4-5-20250929")["requests"] == 1

    # SQS redelivers the whole batch's failures (here: both, as after a timeout): counted once each.
    handler(batch, LocalLambdaContext())
    assert aggregate("user_a", "2026-11-20", "claude-sonnet-4-5-20250929")["requests"] == 2


def test_an_unknown_model_keeps_its_record_flagged(aws):
    event = usage_event("text-1h-cache.sse")
    event.usage.model = "claude-imaginary-9"
    handler(sqs_batch(event.model_dump_json()), LocalLambdaContext())
    item = stored("user_a", event.id)
    assert item["cost_cents"] is None
    assert item["cost_unknown"] is True
    assert aggregate("user_a", "2026-11-20", "claude-imaginary-9")["cost_unknown_requests"] == 1


def test_an_error_reply_takes_its_model_from_a_claim_checked_request_body(aws):
    settings = get_settings()
    request_body = json.dumps({"model": "claude-opus-4-1-20250805", "messages": [], "pad": "x" * 300_000})
    error_body = '{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}'
    event = usage_event(
        "text-1h-cache.sse",
        status_code=529,
        stream=False,
        usage=read_json_usage(error_body.encode()),
        request_body=BodyRef(size=len(request_body)),
        response_body=BodyRef(size=len(error_body)),
        bodies_claim_checked=True,
    )
    # Too large for the message: the proxy put the bodies in S3 first, in their stored form.
    BodyStore(settings.bodies_bucket, BODIES_BUCKET.bodies_prefix).put_call(
        "user_a", event.id, pack(request_body.encode(), error_body.encode()), 30
    )
    handler(sqs_batch(event.model_dump_json()), LocalLambdaContext())
    item = stored("user_a", event.id)
    assert item["model"] == "claude-opus-4-1-20250805"
    assert item["status_code"] == 529
    assert item["error_type"] == "overloaded_error"
    assert (item["input_tokens"], item["output_tokens"], item["cost_cents"]) == (0, 0, "0.000000")
    bodies = UsageStore(settings.table_name, settings.bodies_bucket).bodies(usage_record(item))
    assert bodies.request_body == request_body
    assert bodies.response_body == error_body


def test_cache_economics_on_hand_checked_numbers(aws):
    # Sonnet 4.5: $3/MTok input, $6/MTok 1-hour cache writes, $0.30/MTok cache reads, $15/MTok output.
    event = usage_event("text-1h-cache.sse")  # 12 input, 10,408 1h writes, 21,033 reads, 15 output
    handler(sqs_batch(event.model_dump_json()), LocalLambdaContext())
    item = stored("user_a", event.id)
    # (12 x 3 + 10,408 x 6 + 21,033 x 0.3 + 15 x 15) / 1e6 dollars = 6.901890 cents
    assert item["cost_cents"] == "6.901890"
    # Without caching all 31,453 input tokens are plain input: (31,453 x 3 + 15 x 15) / 1e6 = 9.458400 cents
    assert item["cost_without_cache_cents"] == "9.458400"
    row = aggregate("user_a", "2026-11-20", "claude-sonnet-4-5-20250929")
    assert row["cost_without_cache_cents"] - row["cost_cents"] == Decimal("2.556510")
