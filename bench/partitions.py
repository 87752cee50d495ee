"""One tenant at 200 calls a second: write and read units per partition key, from the items the real
code writes and reads.

A day of one organisation's Claude Code calls (sessions of a main agent and its subagents, many
proxy endpoints, a few Anthropic keys and models) goes through the ingest handler in batches, and
each call counts its rate limit counters through the proxy's store, against moto in this process.
Every DynamoDB request is captured (botocore's before-call / after-call events) and priced with
DynamoDB's rules (bench/dynamo.py's item sizes): a write costs ceil(size / 1 KB) units of the larger
of the item before and after it, twice in a transaction, the same when its condition fails; each
index the item is in costs ceil(size / 1 KB) per write of its entry, a changed index key a delete
and a put. A Query costs ceil(bytes read / 4 KB) / 2 (eventually consistent), a filter's skipped
items included. Units per call and key, times 200 calls a second, are each key's rate.

Run alone: `python -m bench.partitions [--calls N]` (prints JSON; `make bench` runs it in its own
process, so moto's in-process mock touches nothing else).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

CALLS_PER_SECOND = 200
WRITE_LIMIT = 500  # units per second and partition key: the targets (AWS's hard limit is 1,000 / 3,000)
READ_LIMIT = 1500
# The read load the targets are checked at: every query below this many times a second (a busy
# organisation's dashboards and CLI); an input of the check, not a measurement.
QUERIES_PER_SECOND = 10
TENANT = "tenant_busy"
ENDPOINTS = 60  # one per team: an endpoint's rate limit (300 calls a minute) needs >= 40 at 200/s
API_KEYS = 3
DEVELOPERS = 100  # Claude Code users (metadata.user_id), each with several sessions a day
CALLS_PER_SESSION = 5  # short, so a sample of a few hundred calls spreads over many sessions as a day does
DAY = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
_INDEXES = ("gsi1", "gsi2", "gsi3", "gsi4")
_WRITES = ("PutItem", "UpdateItem", "TransactWriteItems", "DeleteItem")


@dataclass
class PartitionResult:
    calls: int
    batch: int
    shards: int
    write_units: dict[str, float] = field(default_factory=dict)  # per call, by "index key"
    read_units: dict[str, dict[str, float]] = field(default_factory=dict)  # per query, by key
    slug_reads_per_second: float = 0.0

    @property
    def wru_per_call(self) -> float:
        return sum(self.write_units.values()) / self.calls

    @property
    def record_wru_per_call(self) -> float:
        """The ingest's part: record, indexes, aggregates, sessions, developers (no rate counters)."""
        return sum(units for key, units in self.write_units.items() if "RATE#" not in key) / self.calls

    def write_rates(self) -> list[tuple[str, float]]:
        """(key, write units a second at 200 calls a second), highest first."""
        rates = [(key, units / self.calls * CALLS_PER_SECOND) for key, units in self.write_units.items()]
        return sorted(rates, key=lambda pair: -pair[1])

    def read_rates(self) -> list[tuple[str, float]]:
        """(key, read units a second with every query at QUERIES_PER_SECOND), highest first."""
        totals: dict[str, float] = defaultdict(float)
        for by_key in self.read_units.values():
            for key, units in by_key.items():
                totals[key] += units * QUERIES_PER_SECOND
        totals["pk SLUG#<slug> (proxy lookups)"] += self.slug_reads_per_second * 0.5
        return sorted(totals.items(), key=lambda pair: -pair[1])


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    from boto3.dynamodb.types import TypeDeserializer

    deserialize = TypeDeserializer().deserialize
    return {name: deserialize(value) for name, value in item.items()}


def _label(item: dict[str, Any], index: str | None) -> str:
    """The partition key an item (or its index entry) lives under, the tenant's id shortened."""
    name = f"{index}pk" if index else "pk"
    value = str(item[name]).replace(TENANT, "<t>")
    return f"{index or 'table'} {value}"


class Meter:
    """Prices every DynamoDB request of the process by partition key."""

    def __init__(self, table_name: str) -> None:
        import boto3

        self.table_name = table_name
        # An unhooked client, to read items before and after a write without being counted.
        self.reader = boto3.Session().client("dynamodb")
        self.writes: dict[str, float] = defaultdict(float)
        self.reads: dict[str, float] = defaultdict(float)
        self._before: list[tuple[dict[str, Any], dict[str, Any] | None, bool]] = []
        self._request: dict[str, Any] = {}

    def _current(self, key: dict[str, Any]) -> dict[str, Any] | None:
        item = self.reader.get_item(TableName=self.table_name, Key=key, ConsistentRead=True).get("Item")
        return _plain(item) if item else None

    def before_call(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        # The request as sent (typed values, whatever layer made it), kept for its response.
        params = self._request = json.loads(params["body"])
        if model.name not in _WRITES:
            return
        actions: list[tuple[dict[str, Any], bool]] = []
        if model.name == "TransactWriteItems":
            for action in params["TransactItems"]:
                body = next(iter(action.values()))
                actions.append((body, True))
        else:
            actions.append((params, False))
        self._before = []
        for body, transactional in actions:
            key = body.get("Key") or {name: body["Item"][name] for name in ("pk", "sk")}
            self._before.append((key, self._current(key), transactional))

    def after_call(self, model: Any, http_response: Any, **_: Any) -> None:
        from bench.dynamo import item_size

        params = self._request
        parsed = json.loads(http_response.content) if http_response.status_code == 200 else {}
        if model.name in _WRITES:
            for key, before, transactional in self._before:
                after = self._current(key)
                self._price_write(before, after, _plain(key), transactional)
            self._before = []
        elif model.name == "Query":
            self._price_query(params, parsed)
        elif model.name == "GetItem" and parsed.get("Item"):
            item = _plain(parsed["Item"])
            self.reads[_label(item, None)] += math.ceil(item_size(item) / 4096) / 2
        elif model.name == "BatchGetItem":
            for items in parsed.get("Responses", {}).values():
                for raw in items:
                    item = _plain(raw)
                    self.reads[_label(item, None)] += math.ceil(item_size(item) / 4096) / 2

    def _price_write(
        self,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
        key: dict[str, Any],
        transactional: bool,
    ) -> None:
        from bench.dynamo import item_size

        size = max(item_size(before) if before else 0, item_size(after) if after else 0, item_size(key))
        self.writes[_label(after or before or key, None)] += math.ceil(size / 1024) * (
            2 if transactional else 1
        )
        for index in _INDEXES:
            names = (f"{index}pk", f"{index}sk")
            old = tuple(before.get(name) for name in names) if before else (None, None)
            new = tuple(after.get(name) for name in names) if after else (None, None)
            if old[0] is not None and old != new and before is not None:
                self.writes[_label(before, index)] += math.ceil(
                    item_size(before) / 1024
                )  # the old entry goes
            if new[0] is not None and after is not None and (old != new or before != after):
                self.writes[_label(after, index)] += math.ceil(item_size(after) / 1024)

    def _price_query(self, params: dict[str, Any], parsed: dict[str, Any]) -> None:
        from bench.dynamo import item_size

        items = parsed.get("Items", [])
        if "FilterExpression" in params and parsed.get("ScannedCount", 0) > len(items):
            # What DynamoDB read: the same page without the filter.
            plain = {
                name: value
                for name, value in params.items()
                if name not in ("FilterExpression",) and not name.startswith("ExpressionAttribute")
            }
            plain["Limit"] = parsed["ScannedCount"]
            names = params.get("ExpressionAttributeNames") or {}
            values = params.get("ExpressionAttributeValues") or {}
            used = plain["KeyConditionExpression"]
            plain["ExpressionAttributeNames"] = {k: v for k, v in names.items() if k in used}
            plain["ExpressionAttributeValues"] = {k: v for k, v in values.items() if k in used}
            plain = {name: value for name, value in plain.items() if value != {}}
            items = self.reader.query(**plain).get("Items", [])
        if not items:
            return
        plain_items = [_plain(item) for item in items]
        label = _label(plain_items[0], params.get("IndexName"))
        self.reads[label] += math.ceil(sum(item_size(item) for item in plain_items) / 4096) / 2

    @contextmanager
    def reading(self) -> Iterator[dict[str, float]]:
        """The read units of what runs inside, by key."""
        self.reads = defaultdict(float)
        yield self.reads


_REPLY = b'event: message_stop\ndata: {"type":"message_stop"}\n\n'


def _request_of(session: int, turn: int) -> bytes:
    turns = ",".join(f'{{"role":"user","content":"turn {n} of session {session}"}}' for n in range(turn + 1))
    return f'{{"model":"claude-sonnet-4-5","max_tokens":32000,"messages":[{turns}]}}'.encode()


def _messages(calls: int, rng: random.Random) -> list[str]:
    """A working day's calls of one organisation, in the order they end (sessions interleaved)."""
    from shared.ids import new_id
    from shared.usage import Usage
    from shared.usage_event import BodyRef, UsageEvent

    sessions = max(1, calls // CALLS_PER_SESSION)
    starts = [DAY + timedelta(seconds=rng.uniform(0, 8 * 3600)) for _ in range(sessions)]
    calls_of: list[tuple[datetime, int, int]] = []
    for session, start in enumerate(starts):
        for turn in range(CALLS_PER_SESSION):
            calls_of.append((start + timedelta(seconds=20 * turn), session, turn))
    calls_of.sort()
    messages = []
    for at, session, turn in calls_of[:calls]:
        subagent = turn % 4 in (2, 3)  # two of the main agent, then two of a subagent
        model = (
            "claude-haiku-4-5-20251001"
            if subagent
            else rng.choice(
                ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5-20250929", "claude-opus-4-1-20250805")
            )
        )
        usage = Usage(
            model=model,
            input_tokens=rng.randint(3, 400),
            output_tokens=rng.randint(50, 2000),
            cache_creation_input_tokens=rng.randint(0, 4000),
            cache_read_input_tokens=rng.randint(20_000, 90_000),
            stop_reason="end_turn",
            seen=True,
            final_count=True,
        )
        event = UsageEvent(
            id=new_id(at),
            tenant_id=TENANT,
            proxy_endpoint_id=f"ep_{session % ENDPOINTS:03d}",
            requested_at=at,
            path="/v1/messages",
            status_code=200,
            stream=True,
            ttfb_ms=rng.randint(300, 2000),
            duration_ms=20_000,
            request_id=f"req_{rng.getrandbits(64):016x}",
            api_key_id=f"key_{session % API_KEYS}",
            api_key_hint="sk-ant-...abcd",
            developer_id=f"{session % DEVELOPERS:016x}",
            session_header=f"{session:08d}-0000-4000-8000-000000000000",
            agent_header=f"agent{session:04d}{turn // 4:04d}" if subagent else None,
            usage=usage,
            # Small bodies, inline as the proxy sends them: the ingest keeps them in S3 and the record
            # carries their fields (sizes, expiry, the session's base), as a real call's does.
            request_body=BodyRef.of(request := _request_of(session, turn), len(request) * 40),
            response_body=BodyRef.of(_REPLY, 8_000),
        )
        messages.append(event.model_dump_json())
    return messages


def _table() -> None:
    import boto3

    from shared import resources
    from shared.settings import get_settings

    boto3.client("dynamodb").create_table(**resources.TABLE.create_table_arguments(get_settings().table_name))


def _reads(meter: Meter) -> dict[str, dict[str, float]]:
    """Read units by key of each query the API makes, over the replayed day."""
    from shared.settings import get_settings
    from shared.store.usage_records import SessionQuery, UsageQuery, UsageStore

    settings = get_settings()
    store = UsageStore(settings.table_name, settings.bodies_bucket)
    endpoints = [f"ep_{index:03d}" for index in range(ENDPOINTS)]
    queries: dict[str, Any] = {
        "usage list, tenant (page of 50)": lambda: store.list(UsageQuery(TENANT), 50, None),
        "usage list, one endpoint (page of 50)": lambda: store.list(
            UsageQuery(TENANT, proxy_endpoint_id=endpoints[0]), 50, None
        ),
        "usage list, one key, model filter (page of 50)": lambda: store.list(
            UsageQuery(TENANT, api_key_id="key_0", model_prefix="claude-opus"), 50, None
        ),
        "usage list, one session": lambda: store.list(
            UsageQuery(TENANT, session_id="00000001-0000-4000-8000-000000000000"), 50, None
        ),
        "sessions list (page of 20)": lambda: store.sessions(SessionQuery(TENANT), 20, None),
        "summary, 30 days": lambda: store.aggregates(TENANT, date(2026, 2, 1), date(2026, 3, 2), None),
        "summary, one endpoint, 30 days": lambda: store.aggregates(
            TENANT, date(2026, 2, 1), date(2026, 3, 2), endpoints[0]
        ),
        "budgets (month spend of every endpoint)": lambda: store.month_spend(TENANT, endpoints, "2026-03"),
    }
    result = {}
    for name, query in queries.items():
        with meter.reading() as reads:
            query()
        result[name] = dict(reads)
    return result


def measure(calls: int) -> PartitionResult:
    import boto3
    from moto import mock_aws

    from bench import cost
    from bench.dynamo import _event
    from devstack.poller import LocalLambdaContext
    from shared.settings import get_settings
    from shared.store import layout
    from shared.store.rate_limits import CLIENT_IP, PROXY_MESSAGES, RateLimiter

    rng = random.Random(15)  # noqa: S311 - a repeatable workload, not a secret
    with mock_aws():
        _table()
        boto3.client("s3").create_bucket(Bucket=get_settings().bodies_bucket)
        from functions.usage_ingest.handler import handler

        messages = _messages(calls, rng)
        meter = Meter(get_settings().table_name)
        limiter = RateLimiter(get_settings().table_name)
        events = boto3.DEFAULT_SESSION.events if boto3.DEFAULT_SESSION else None
        if events is None:
            boto3.setup_default_session()
            events = boto3.DEFAULT_SESSION.events  # type: ignore[union-attr]
        events.register("before-call.dynamodb", meter.before_call)
        events.register("after-call.dynamodb", meter.after_call)
        for first in range(0, len(messages), cost.INGEST_BATCH):
            batch = messages[first : first + cost.INGEST_BATCH]
            response = handler(_event(batch), LocalLambdaContext())
            assert not response.get("batchItemFailures"), response
            for body in batch:
                message = json.loads(body)
                window = limiter.window()
                limiter.add(PROXY_MESSAGES, message["proxy_endpoint_id"], window)
                limiter.add(CLIENT_IP, f"10.0.{int(message['api_key_id'][-1])}.{rng.randint(1, 250)}", window)
        result = PartitionResult(calls, cost.INGEST_BATCH, layout.USAGE_SHARDS, dict(meter.writes))
        result.read_units = _reads(meter)
        # Each proxy instance re-reads its endpoint's slug at most once per lookup_cache_seconds; at
        # 200 calls/s of 20 s streams 4,000 instances are busy, spread over the endpoints.
        instances = CALLS_PER_SECOND * cost.CLAUDE_CODE_STREAM_S
        result.slug_reads_per_second = instances / ENDPOINTS / get_settings().lookup_cache_seconds
    return result


def run(quick: bool) -> PartitionResult:
    """Measures in a process of its own (moto's in-process mock must not meet the bench's stack)."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CODECOSTS_"))},
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "POWERTOOLS_METRICS_NAMESPACE": "bench",
        "POWERTOOLS_LOG_LEVEL": "ERROR",
    }
    output = subprocess.run(  # noqa: S603 - our own interpreter, a fixed module name
        [sys.executable, "-m", "bench.partitions", "--calls", "100" if quick else "300"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    data = json.loads(output.strip().splitlines()[-1])
    return PartitionResult(**data)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=300)
    result = measure(parser.parse_args().calls)
    print(json.dumps(asdict(result)))


if __name__ == "__main__":
    main()
