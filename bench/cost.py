"""AWS cost per million proxied calls, from the measured numbers and list prices.

Prices: bench/prices.py. Memory sizes are those infra/constructs/functions.py deploys.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from bench.prices import (
    DYNAMODB_RRU,
    DYNAMODB_WRU,
    FARGATE_ARM_GB_HOUR,
    FARGATE_ARM_VCPU_HOUR,
    LAMBDA_ARM_GB_SECOND,
    LAMBDA_REQUEST,
    S3_PUT,
    SQS_CHUNK,
    SQS_REQUEST,
)

PROXY_MEMORY_MB = 1024
INGEST_MEMORY_MB = 512
INGEST_BATCH = 25
CLAUDE_CODE_STREAM_S = 20  # the Claude Code call: a 20 s stream
# A DynamoDB transaction's round trip in AWS (the local one is moto's, on this machine's CPUs).
TRANSACTION_ROUND_TRIP_S = 0.015
# What the proxy does after the last event: the usage message (SQS round trip), then the last chunk.
PUBLISH_S = 0.020
RATE_LIMIT_WRU_PER_CALL = 2  # the per-IP and per-endpoint counters, 1 unit each


@dataclass(frozen=True)
class CallShape:
    label: str
    stream_seconds: float
    message_bytes: int  # the usage message
    record_wru: int  # measured: the ingest's writes for one record
    s3_puts: int = 0


@dataclass
class CostLine:
    item: str
    per_million: float
    note: str


def per_million(
    shape: CallShape, ingest_cpu_s_per_record: float, proxy_memory_mb: int = PROXY_MEMORY_MB
) -> list[CostLine]:
    chunks = math.ceil(shape.message_bytes / SQS_CHUNK)
    proxy_seconds = shape.stream_seconds + PUBLISH_S
    ingest_seconds = ingest_cpu_s_per_record + TRANSACTION_ROUND_TRIP_S
    million = 1e6
    return [
        CostLine(
            "Lambda proxy duration",
            proxy_memory_mb / 1024 * proxy_seconds * LAMBDA_ARM_GB_SECOND * million,
            f"{proxy_memory_mb} MB x {proxy_seconds:.2f} s: billed for the whole stream",
        ),
        CostLine("Lambda proxy requests", LAMBDA_REQUEST * million, "function URL: no extra charge"),
        CostLine(
            "Lambda ingest",
            (INGEST_MEMORY_MB / 1024 * ingest_seconds * LAMBDA_ARM_GB_SECOND + LAMBDA_REQUEST / INGEST_BATCH)
            * million,
            f"{INGEST_MEMORY_MB} MB x {ingest_seconds * 1000:.0f} ms per record, batches of {INGEST_BATCH}",
        ),
        CostLine(
            "SQS",
            (2 * chunks + 2 / INGEST_BATCH) * SQS_REQUEST * million,
            f"send + receive of {chunks} x 64 KB, batched delete",
        ),
        CostLine(
            "DynamoDB writes",
            (shape.record_wru + RATE_LIMIT_WRU_PER_CALL) * DYNAMODB_WRU * million,
            f"{shape.record_wru} WRU per record + {RATE_LIMIT_WRU_PER_CALL} for the rate limit counters",
        ),
        CostLine(
            "DynamoDB reads", 0.5 * DYNAMODB_RRU * million, "slug lookup, at most one per 5 s per instance"
        ),
        CostLine("S3", shape.s3_puts * S3_PUT * million, f"{shape.s3_puts} PUTs (claim-check)"),
    ]


def fargate_per_million(cpu_ms_per_call: float, utilisation: float = 0.5) -> float:
    """The same proxy as one always-on container: billed for CPU it uses, not for streams it waits on."""
    vcpu_hours = cpu_ms_per_call / 1000 * 1e6 / 3600 / utilisation
    return vcpu_hours * (FARGATE_ARM_VCPU_HOUR + 2 * FARGATE_ARM_GB_HOUR)
