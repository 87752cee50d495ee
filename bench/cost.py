"""What the cost model (bench/scale_cost.py) assumes of a call beyond what the bench measures, and the
proxy as an always-on container for comparison. Prices: bench/prices.py.
"""

from __future__ import annotations

from bench.prices import FARGATE_ARM_GB_HOUR, FARGATE_ARM_VCPU_HOUR

# Records per ingest invocation at the 200 calls/s (the mapping takes up to 100; the partitions
# replay and the cost model both use this).
INGEST_BATCH = 25
CLAUDE_CODE_STREAM_S = 20  # the Claude Code call: a 20 s stream
# A DynamoDB transaction's round trip in AWS (the local one is moto's, on this machine's CPUs).
TRANSACTION_ROUND_TRIP_S = 0.015
# What the proxy does after the last event: the usage message (SQS round trip), then the last chunk.
PUBLISH_S = 0.020


def fargate_per_million(cpu_ms_per_call: float, utilisation: float = 0.5) -> float:
    """The same proxy as one always-on container: billed for CPU it uses, not for streams it waits on."""
    vcpu_hours = cpu_ms_per_call / 1000 * 1e6 / 3600 / utilisation
    return vcpu_hours * (FARGATE_ARM_VCPU_HOUR + 2 * FARGATE_ARM_GB_HOUR)
