"""The ingest handler's CPU per record, AWS calls answered in-process, batched against one at a time;
and from it what the deployed event source mapping can ingest.

Everything of the handler runs as in Lambda, boto3 included (each request built, signed and its
answer parsed): only the HTTP round trip is replaced, by botocore's `before-send` hook answering
`{}`. Messages are Claude Code-shaped (bench/devstack.py: a session header, bodies claim-checked in
S3, not read). Measured in a fresh interpreter (`python -m bench.ingest_cpu`), after a warm-up batch.

In AWS terms: a batch of B records takes B x (CPU per record) / (the vCPU share of the function's
memory) plus its DynamoDB round trips, one after another; the event source runs `max_concurrency`
batches at once. The round-trip times are stated assumptions (DynamoDB's typical in-region latency),
not measurements: `TRANSACT_MS` for a TransactWriteItems, `UPDATE_MS` for an UpdateItem.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.stack import ROOT

TRANSACT_MS = 30.0  # a TransactWriteItems of up to 100 items, in-region
UPDATE_MS = 8.0  # an UpdateItem, in-region
FULL_VCPU_MB = 1769  # Lambda gives one whole vCPU at this memory size, a share in proportion below
TARGET_RECORDS_PER_SECOND = 1000.0
SIZES = (1, 10, 25, 100)


@dataclass
class BatchCost:
    batch: int  # records per handler call; 1 is the one-at-a-time baseline
    cpu_ms_per_record: float
    transactions_per_record: float
    updates_per_record: float

    def batch_seconds(self, memory_mb: int) -> float:
        """One batch's time in Lambda: its CPU at the memory's share, then its round trips."""
        share = min(1.0, memory_mb / FULL_VCPU_MB)
        cpu = self.batch * self.cpu_ms_per_record / share
        trips = self.batch * (
            self.transactions_per_record * TRANSACT_MS + self.updates_per_record * UPDATE_MS
        )
        return (cpu + trips) / 1000

    def records_per_second(self, memory_mb: int, concurrency: int) -> float:
        return concurrency * self.batch / self.batch_seconds(memory_mb)


def _messages(count: int, first: datetime) -> list[dict[str, Any]]:
    from bench.devstack import claude_code_event

    return [
        {
            "MessageId": str(index),
            "ReceiptHandle": str(index),
            "Body": claude_code_event(
                index, first + timedelta(seconds=index), "tenant_bench", "ep_bench"
            ).model_dump_json(),
        }
        for index in range(count)
    ]


def _measure(records: int) -> list[BatchCost]:
    import botocore.awsrequest

    from devstack.poller import LocalLambdaContext, lambda_event
    from functions.usage_ingest.handler import handler
    from shared import aws
    from shared.ingest import UsageIngest
    from shared.settings import get_settings
    from shared.store.usage_records import UsageStore

    settings = get_settings()
    client = aws.table(settings.table_name).meta.client
    counts = {"TransactWriteItems": 0, "UpdateItem": 0}

    def answer(request: Any, **_: Any) -> botocore.awsrequest.AWSResponse:
        operation = request.headers["X-Amz-Target"].decode().split(".")[-1]
        counts[operation] = counts.get(operation, 0) + 1
        return botocore.awsrequest.AWSResponse(
            request.url, 200, botocore.awsrequest.HTTPHeaders(), _Raw(b"{}")
        )

    client.meta.events.register("before-send.dynamodb", answer)
    ingest = UsageIngest(UsageStore(settings.table_name, settings.bodies_bucket))
    queue = "arn:aws:sqs:us-east-1:000000000000:codecosts-usage"
    first = datetime.now(UTC) - timedelta(days=1)
    handler(
        lambda_event(_messages(100, first - timedelta(days=1)), queue), LocalLambdaContext(), ingest=ingest
    )
    costs = []
    for size in SIZES:
        messages = _messages(records, first)
        events = [lambda_event(messages[i : i + size], queue) for i in range(0, records, size)]
        counts.update(TransactWriteItems=0, UpdateItem=0)
        started = time.process_time()
        for event in events:
            result = handler(event, LocalLambdaContext(), ingest=ingest)
            assert not result["batchItemFailures"], result
        cpu = time.process_time() - started
        costs.append(
            BatchCost(
                size,
                cpu / records * 1000,
                counts["TransactWriteItems"] / records,
                counts["UpdateItem"] / records,
            )
        )
    return costs


class _Raw:
    """A body botocore reads as the HTTP answer's."""

    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any) -> Any:
        yield self.body

    def read(self, *_: Any) -> bytes:
        body, self.body = self.body, b""
        return body


def measure(records: int = 1000) -> list[BatchCost]:
    """In a fresh interpreter with nothing of AWS reachable (every call is answered in-process)."""
    env = dict(os.environ)
    env.update(
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",  # noqa: S106 (no AWS is reached)
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ENDPOINT_URL="https://dynamodb.invalid",
        POWERTOOLS_METRICS_DISABLED="true",
        POWERTOOLS_LOG_LEVEL="ERROR",
    )
    run = subprocess.run(  # noqa: S603 (this interpreter, this module)
        [sys.executable, "-m", "bench.ingest_cpu", str(records)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=True,
    )
    return [BatchCost(**cost) for cost in json.loads(run.stdout.splitlines()[-1])]


def headline(costs: list[BatchCost]) -> list[str]:
    """The results table's rows: CPU per record, batched against one at a time, and the event source's
    records/s in AWS terms."""
    from devstack.poller import deployed_event_source
    from shared.resources import INGEST_MEMORY_MB

    if not costs:
        return []
    source_mapping = deployed_event_source()
    single = next(cost for cost in costs if cost.batch == 1)
    deployed = next(cost for cost in costs if cost.batch == source_mapping.batch_size)
    rate = deployed.records_per_second(INGEST_MEMORY_MB, source_mapping.max_concurrency)
    status = (
        "met" if rate >= TARGET_RECORDS_PER_SECOND else f"missed by {TARGET_RECORDS_PER_SECOND - rate:.0f}/s"
    )
    source = (
        f"batches of {source_mapping.batch_size}, {source_mapping.max_concurrency} at once, "
        f"{INGEST_MEMORY_MB} MB"
    )
    return [
        f"| Ingest handler CPU per record, AWS in-process: batch of {deployed.batch} / one at a time | "
        f"{deployed.cpu_ms_per_record:.2f} / {single.cpu_ms_per_record:.2f} ms | | |",
        f"| Ingest in AWS terms ({source}) | {rate:,.0f} records/s "
        f"| >= {TARGET_RECORDS_PER_SECOND:,.0f}/s | {status} |",
    ]


def detail(costs: list[BatchCost]) -> list[str]:
    """The section: every batch size measured, and what the event source would ingest with it."""
    from devstack.poller import deployed_event_source
    from shared.resources import INGEST_MEMORY_MB

    source_mapping = deployed_event_source()
    lines = [
        f"Handler CPU per record with DynamoDB answered in-process (`bench/ingest_cpu.py`), "
        f"{source_mapping.max_concurrency} batches at once at {INGEST_MEMORY_MB} MB "
        f"({min(1.0, INGEST_MEMORY_MB / FULL_VCPU_MB):.2f} vCPU); round trips assumed "
        f"{TRANSACT_MS:g} ms a TransactWriteItems, {UPDATE_MS:g} ms an UpdateItem. Batch 1 is the "
        "one-record-at-a-time baseline (a transaction and a session update per record).",
        "",
        "| batch | CPU per record | TransactWriteItems per record | UpdateItem per record "
        "| one batch in Lambda | records/s |",
        "|---|---|---|---|---|---|",
    ]
    for cost in costs:
        lines.append(
            f"| {cost.batch} | {cost.cpu_ms_per_record:.2f} ms | {cost.transactions_per_record:.3f} | "
            f"{cost.updates_per_record:.3f} | {cost.batch_seconds(INGEST_MEMORY_MB) * 1000:.0f} ms | "
            f"{cost.records_per_second(INGEST_MEMORY_MB, source_mapping.max_concurrency):,.0f} |"
        )
    return lines


if __name__ == "__main__":
    print(json.dumps([asdict(cost) for cost in _measure(int(sys.argv[1]))]))
