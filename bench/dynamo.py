"""DynamoDB units per usage record, records per second through the ingest handler, and the read
units of the usage summary, from real records: the usage messages the proxy sent during the run.

Units are computed from the items as stored (read back from moto after each write), with DynamoDB's
own rules: a write costs ceil(item size / 1 KB) units (an update: of the larger of the item before
and after, here the after), twice that inside a transaction, plus ceil(size / 1 KB) per global
secondary index the item is written to; a Query costs ceil(sum of the sizes of the items it read
/ 4 KB) units, half that when eventually consistent (the default).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from bench.stack import TENANT_ID, Stack

_GSI_KEYS = ("gsi1pk", "gsi2pk", "gsi3pk", "gsi4pk")
# DynamoDB bills storage as each item's size plus 100 bytes, in the table and in each index entry.
DYNAMODB_ITEM_OVERHEAD = 100
CLAUDE_CODE_REQUEST_BYTES = 90_000  # a Claude Code request body, as DESIGN.md reports it


def _number_size(value: Decimal | int | float) -> int:
    digits = "".join(map(str, Decimal(str(value)).as_tuple().digits)).strip("0") or "0"
    return min(21, math.ceil(len(digits) / 2) + 1)


def _value_size(value: Any) -> int:
    """Bytes DynamoDB counts for a value: its documented rules (leading and trailing zeros of a number
    trimmed; 3 bytes for a list or map and 1 per element; a set as its elements)."""
    if value is None or isinstance(value, bool):
        return 1
    if isinstance(value, str):
        return len(value.encode())
    if isinstance(value, int | float | Decimal):
        return _number_size(value)
    if isinstance(value, bytes | bytearray):
        return len(value)
    if isinstance(value, dict):
        return 3 + sum(len(str(k).encode()) + 1 + _value_size(v) for k, v in value.items())
    if isinstance(value, set | frozenset):
        return sum(_value_size(v) for v in value)
    if isinstance(value, list | tuple):
        return 3 + sum(1 + _value_size(v) for v in value)
    raise TypeError(type(value))


def item_size(item: dict[str, Any]) -> int:
    """DynamoDB's size of an item: attribute names plus values (AWS's published rules)."""
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


@dataclass
class WriteUnits:
    items: list[tuple[str, int, int]] = field(default_factory=list)  # (kind, size, units)

    @property
    def total(self) -> int:
        return sum(units for _, _, units in self.items)


class WriteRecorder:
    """Wraps the DynamoDB client's write calls to price every item they wrote."""

    def __init__(self, client: Any, table: Any) -> None:
        self.client = client
        self.table = table
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self._originals: dict[str, Callable[..., Any]] = {}

    def __enter__(self) -> WriteRecorder:
        for name in ("transact_write_items", "put_item", "update_item"):
            original = getattr(self.client, name)
            self._originals[name] = original

            def wrapper(*args: Any, _name: str = name, _original: Any = original, **kwargs: Any) -> Any:
                result = _original(*args, **kwargs)
                self.calls.append((_name, kwargs))
                return result

            setattr(self.client, name, wrapper)
        return self

    def __exit__(self, *exc: object) -> None:
        for name in self._originals:
            delattr(self.client, name)

    def units(self) -> WriteUnits:
        result = WriteUnits()
        for name, request in self.calls:
            if name == "transact_write_items":
                for action in request["TransactItems"]:
                    kind, body = next(iter(action.items()))
                    self._price(result, kind, body, transactional=True)
            else:
                self._price(result, "Put" if name == "put_item" else "Update", request, transactional=False)
        return result

    def _price(self, result: WriteUnits, kind: str, body: dict[str, Any], transactional: bool) -> None:
        if kind == "Put":
            item = body["Item"]
        else:
            item = self.table.get_item(Key=body["Key"]).get("Item") or dict(body["Key"])
        size = item_size(item)
        units = math.ceil(size / 1024) * (2 if transactional else 1)
        label = str(item.get("type") or str(item.get("sk", "")).split("#")[0])
        result.items.append((f"{label} ({kind.lower()})", size, units))
        for key in _GSI_KEYS:
            if key in item:
                result.items.append((f"{label} in {key[:4]}", size, math.ceil(size / 1024)))


@dataclass
class IngestResult:
    records: int
    seconds: float
    cpu_seconds: float
    bench_units: WriteUnits
    claude_code_units: WriteUnits


@dataclass
class SummaryReads:
    label: str
    records: int
    rows: int
    bytes_read: int

    @property
    def units(self) -> float:
        return math.ceil(self.bytes_read / 4096) / 2


def _messages(stack: Stack, wanted: int) -> list[dict[str, Any]]:
    from shared import aws

    messages: list[dict[str, Any]] = []
    while len(messages) < wanted:
        batch = (
            aws.sqs().receive_message(QueueUrl=stack.queue_url, MaxNumberOfMessages=10).get("Messages", [])
        )
        if not batch:
            break
        messages += batch
    return messages


def _event(bodies: list[str]) -> dict[str, Any]:
    from devstack.poller import lambda_event

    messages = [
        {"MessageId": str(index), "ReceiptHandle": str(index), "Body": body}
        for index, body in enumerate(bodies)
    ]
    return lambda_event(messages, "arn:aws:sqs:us-east-1:000000000000:codecosts-usage")


def _rewrite(body: str, moment: datetime, model: str | None = None, request_text: str | None = None) -> str:
    from shared.ids import new_id

    message = json.loads(body)
    message["id"] = new_id(moment)
    message["requested_at"] = moment.isoformat().replace("+00:00", "Z")
    if model is not None:
        message["usage"]["model"] = model
    if request_text is not None:
        message["request_body"] = {"text": request_text, "key": None, "size": len(request_text)}
    return json.dumps(message)


def ingest(stack: Stack, records: int = 200) -> tuple[IngestResult, list[str]]:
    """Feeds real usage messages through the ingest handler, in the event source's batches; returns the
    result and the messages."""
    from devstack.poller import LocalLambdaContext, deployed_event_source
    from functions.usage_ingest.handler import handler
    from shared import aws
    from shared.settings import get_settings

    bodies = [message["Body"] for message in _messages(stack, records)]
    if not bodies:
        raise RuntimeError("the proxy sent no usage messages")
    table = aws.table(get_settings().table_name)
    client = table.meta.client
    now = datetime.now(UTC)
    # One message alone first, to price it; it also brings in what the handler loads on first use.
    with WriteRecorder(client, table) as recorder:
        handler(_event([_rewrite(bodies[0], now)]), LocalLambdaContext())
    bench_units = recorder.units()
    big = (
        '{"model":"claude-sonnet-4-5","messages":[{"role":"user","content":"'
        + "x" * CLAUDE_CODE_REQUEST_BYTES
        + '"}]}'
    )
    with WriteRecorder(client, table) as recorder:
        handler(_event([_rewrite(bodies[0], now, request_text=big)]), LocalLambdaContext())
    claude_code_units = recorder.units()
    stream = [_rewrite(bodies[index % len(bodies)], now) for index in range(records)]
    started, cpu = time.perf_counter(), time.process_time()
    batch = deployed_event_source().batch_size
    for first in range(0, len(stream), batch):
        response = handler(_event(stream[first : first + batch]), LocalLambdaContext())
        assert not response.get("batchItemFailures"), response
    result = IngestResult(
        records, time.perf_counter() - started, time.process_time() - cpu, bench_units, claude_code_units
    )
    return result, bodies


def _summary_reads(label: str, records: int, days: int) -> SummaryReads:
    from shared import aws
    from shared.settings import get_settings
    from shared.store.usage_records import UsageStore

    settings = get_settings()
    table = aws.table(settings.table_name)
    read: list[int] = []
    original = table.meta.client.query

    def query(*args: Any, **kwargs: Any) -> Any:
        response = original(*args, **kwargs)
        read.extend(item_size(item) for item in response.get("Items", []))
        return response

    table.meta.client.query = query
    try:
        today = datetime.now(UTC).date()
        rows = UsageStore(settings.table_name, settings.bodies_bucket).aggregates(
            TENANT_ID, today - timedelta(days=days - 1), today, None
        )
    finally:
        del table.meta.client.query
    return SummaryReads(label, records, len(rows), sum(read))


def summary(
    bodies: list[str],
    days: int = 30,
    models: tuple[str, ...] = (
        "claude-sonnet-4-5-20250929",
        "claude-opus-4-1-20250805",
        "claude-haiku-4-5-20251001",
    ),
) -> list[SummaryReads]:
    """Read units of the summary over `days` days, after a few records per day and model, then after
    the aggregates were grown to 100,000 records' worth (same rows, bigger numbers)."""
    from devstack.poller import LocalLambdaContext
    from functions.usage_ingest.handler import handler
    from shared import aws
    from shared.settings import get_settings

    now = datetime.now(UTC).replace(hour=12)
    stream = [
        _rewrite(bodies[(day * len(models) + index) % len(bodies)], now - timedelta(days=day), model)
        for day in range(days)
        for index, model in enumerate(models)
    ]
    for first in range(0, len(stream), 25):
        handler(_event(stream[first : first + 25]), LocalLambdaContext())
    results = [_summary_reads("after the bench run's records", 0, days)]
    # Grow every aggregate row of the tenant to its share of 100,000 records, as ingest would.
    table = aws.table(get_settings().table_name)
    from boto3.dynamodb.conditions import Key

    from shared.store import layout

    items = [
        item
        for pk in layout.aggregate_pks(TENANT_ID)
        for item in table.query(KeyConditionExpression=Key("pk").eq(pk) & Key("sk").begins_with("AGG#"))[
            "Items"
        ]
    ]
    per_row = 100_000 // max(1, results[0].rows)
    for item in items:
        values = {
            ":requests": per_row,
            ":input": per_row * 1_200,
            ":output": per_row * 400,
            ":read": per_row * 30_000,
            ":cost": Decimal(per_row) * Decimal("1.234567"),
        }
        table.update_item(
            Key={"pk": item["pk"], "sk": item["sk"]},
            UpdateExpression="ADD requests :requests, input_tokens :input, output_tokens :output,"
            " cache_read_input_tokens :read, cost_cents :cost",
            ExpressionAttributeValues=values,
        )
    results.append(_summary_reads("aggregates grown to 100,000 records", 100_000, days))
    return results
