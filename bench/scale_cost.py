"""Cost per million Claude Code calls (20 s stream, 90 KB request), default deployment and the
high-volume mode, from measured counts and bench/prices.py; and the proxy's cold start at its memory.

Every figure below is a measured count times a list price. The counts come in through `Measured`
(filled by `make bench` from its phases): the write units of the partitions replay, the S3 requests
and usage message size of the bodies phase (bench/bodies.py), the proxy's RSS and CPU.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bench import prices
from bench.cost import (
    CLAUDE_CODE_STREAM_S,
    INGEST_BATCH,
    PUBLISH_S,
    TRANSACTION_ROUND_TRIP_S,
)
from infra.constructs.high_volume import (
    AVAILABILITY_ZONES,
    ENVIRONMENT_MEMORY_MB,
    INSTANCE_MIB,
    INSTANCE_VCPUS,
    MIN_INSTANCES,
)
from shared.bodies.retention import DEFAULT_RETENTION_DAYS, LIFECYCLE_GRACE_DAYS
from shared.resources import INGEST_MEMORY_MB

DEFAULT_TARGET = 90.0  # $ per million calls
HIGH_VOLUME_TARGET = 20.0  # $ per million calls at HIGH_VOLUME_CALLS a month
HIGH_VOLUME_CALLS = 10_000_000
COLD_START_TARGET_MS = 700.0
# The Web Adapter extension shares the function's memory: an allowance for its own process (assumed,
# not measured here: it is a small Rust binary that holds no bodies).
ADAPTER_RSS_MIB = 16
# Lambda takes any memory size from 128 MB in 1 MB steps; the proxy's is chosen in steps of this.
MEMORY_STEP_MB = 32
RSS_HEADROOM = 1.25  # the memory size must hold the largest measured peak RSS with this margin
LMI_CPU_UTILISATION = 0.5  # the capacity provider's target (AverageCPUUtilization) the fleet runs at
LMI_GIB_PER_VCPU = 2  # Managed Instances' default memory per vCPU of an environment (2 to 8 allowed)
LMI_MAX_CONCURRENCY = 1600  # the most PerExecutionEnvironmentMaxConcurrency accepts
# Lambda's quota of file descriptors (per process, as `ulimit -n`; Lambda quotas page). Assumed to hold
# on Managed Instances too: their documentation gives no other figure.
LAMBDA_FILE_DESCRIPTORS = 1024
PEAK_CALLS_PER_SECOND = 200  # the busy organisation at its peak
REQUEST_BYTES = 90_000  # the Claude Code call: its request as the client sends it
REPLY_BYTES = 10_000  # a Claude Code reply's SSE bytes (input of the egress line)
# Assumed, not measured: one call in a hundred starts a new environment (a restore). Its charge is
# small either way: the restore line of the default table.
RESTORES_PER_MILLION = 10_000
DAYS_PER_MONTH = 365 / 12


@dataclass(frozen=True)
class Measured:
    record_wru: float  # per call: record, indexes, aggregates, session rows, rate counters (partitions)
    body_wru: float  # per call: the body's writes (today: the inline body item of a 90 KB request)
    s3_puts: float  # per call, on the write path
    s3_gets: float  # per call, on the write path (a session's base, read to compress against)
    message_bytes: int  # the usage message of a call of `request_bytes`
    proxy_peak_rss_mib: float  # the largest peak of one call in flight (a 20 MB reply): Lambda's case
    proxy_rss_per_stream_mib: float  # growth per stream in flight (50 x 1 MB)
    proxy_rest_rss_mib: float
    # Open file descriptors at the 50 x 1 MB peak, divided by the 50: the process's own share
    # included (conservative, and steady: at rest the count depends on the connections pooled so far).
    proxy_files_per_stream: float
    proxy_cpu_ms: float  # per call, whole path (its AWS SDK work included), at a full core
    ingest_cpu_ms: float  # per record
    cold_cpu_ms: float  # interpreter + imports + the first request's clients
    restored_cpu_ms: float  # SnapStart: the after-restore hook and the first call (bench/restored_probe.py)
    publish_cpu_ms: float  # after the stream: redaction and compression of that call's bodies
    # Storage a call leaves (the bodies phase: everything its 100-turn session left, per call), as
    # billed: DynamoDB items and index entries with their 100 bytes each; S3 objects.
    table_bytes: float
    index_bytes: float
    s3_bytes: float
    request_bytes: int = REQUEST_BYTES


@dataclass
class Line:
    item: str
    dollars: float
    note: str


def proxy_memory_mb(measured: Measured) -> int:
    """The smallest Lambda memory size that holds the proxy's largest measured peak with headroom."""
    needed = measured.proxy_peak_rss_mib * RSS_HEADROOM + ADAPTER_RSS_MIB
    return max(128, math.ceil(needed / MEMORY_STEP_MB) * MEMORY_STEP_MB)


def vcpu_share(memory_mb: int) -> float:
    return min(1.0, memory_mb / prices.LAMBDA_VCPU_MB)


def cold_start_ms(measured: Measured, memory_mb: int) -> float:
    """The proxy's cold start CPU stretched by the vCPU share Lambda gives `memory_mb`."""
    return measured.cold_cpu_ms / vcpu_share(memory_mb)


def publish_seconds(measured: Measured, memory_mb: int) -> float:
    """After the last byte: the bodies' redaction and compression at the memory's vCPU share, and the
    usage message's round trip (PUBLISH_S)."""
    return measured.publish_cpu_ms / 1000 / vcpu_share(memory_mb) + PUBLISH_S


def restored_start_ms(measured: Measured, memory_mb: int) -> float:
    """The same under SnapStart, as deployed: what a restored environment still runs for its first
    call, stretched the same way (AWS's restore itself comes on top: not measurable here)."""
    return measured.restored_cpu_ms / vcpu_share(memory_mb)


def platform_log_bytes(duration_ms: float, memory_mb: int, used_mb: float) -> int:
    """Bytes of the three lines Lambda logs for every invocation (its documented text format: START,
    END, REPORT), with this model's figures in them."""
    request_id = "8f5b3e1c-6f4a-4c1e-9a57-0d2b7c1e4f90"
    lines = (
        f"START RequestId: {request_id} Version: 12\n",
        f"END RequestId: {request_id}\n",
        f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\tBilled Duration: "
        f"{math.ceil(duration_ms)} ms\tMemory Size: {memory_mb} MB\tMax Memory Used: {used_mb:.0f} MB\t\n",
    )
    return sum(len(line.encode()) for line in lines)


def record_storage_monthly(measured: Measured) -> float:
    """Per million calls, what their DynamoDB items cost each month they are kept (no expiry: the
    usage history), point-in-time recovery's backup of the table's own items included."""
    stored_gb = (measured.table_bytes + measured.index_bytes) / 1e9 * 1e6
    backed_up_gb = measured.table_bytes / 1e9 * 1e6
    return stored_gb * prices.DYNAMODB_STORAGE_GB_MONTH + backed_up_gb * prices.DYNAMODB_PITR_GB_MONTH


def _shared_lines(measured: Measured) -> list[Line]:
    """Per million calls, what both modes pay: the ingest, SQS, DynamoDB, S3 and data out."""
    million = 1e6
    body_months = (DEFAULT_RETENTION_DAYS + LIFECYCLE_GRACE_DAYS) / DAYS_PER_MONTH
    batch_ms = (measured.ingest_cpu_ms / 1000 + TRANSACTION_ROUND_TRIP_S) * INGEST_BATCH * 1000
    ingest_log_bytes = platform_log_bytes(batch_ms, INGEST_MEMORY_MB, 100)
    chunks = math.ceil(measured.message_bytes / prices.SQS_CHUNK)
    ingest_s = measured.ingest_cpu_ms / 1000 + TRANSACTION_ROUND_TRIP_S
    wru = measured.record_wru + measured.body_wru
    out_gb = (measured.request_bytes + REPLY_BYTES) / 1e9
    return [
        Line(
            "Lambda ingest",
            (
                INGEST_MEMORY_MB / 1024 * ingest_s * prices.LAMBDA_ARM_GB_SECOND
                + prices.LAMBDA_REQUEST / INGEST_BATCH
            )
            * million,
            f"{INGEST_MEMORY_MB} MB x {ingest_s * 1000:.0f} ms a record, batches of {INGEST_BATCH}",
        ),
        Line(
            "SQS",
            (2 * chunks + 2 / INGEST_BATCH) * prices.SQS_REQUEST * million,
            f"send + receive of {chunks} x 64 KB ({measured.message_bytes:,} bytes), batched delete",
        ),
        Line(
            "DynamoDB writes",
            wru * prices.DYNAMODB_WRU * million,
            f"{measured.record_wru:.1f} WRU (record, indexes, aggregates, session, rate counters) "
            f"+ {measured.body_wru:.0f} for the body",
        ),
        Line("DynamoDB reads", 0.5 * prices.DYNAMODB_RRU * million, "slug lookup, at most one a call"),
        Line(
            "S3",
            (measured.s3_puts * prices.S3_PUT + measured.s3_gets * prices.S3_GET) * million,
            f"{measured.s3_puts:.2f} PUTs and {measured.s3_gets:.2f} GETs a call",
        ),
        Line(
            "S3 storage",
            measured.s3_bytes / 1e9 * million * body_months * prices.S3_STANDARD_GB_MONTH,
            f"{measured.s3_bytes / 1000:.1f} KB of bodies a call, kept "
            f"{DEFAULT_RETENTION_DAYS + LIFECYCLE_GRACE_DAYS} days (the default retention and the "
            "lifecycle rule's day)",
        ),
        Line(
            "DynamoDB storage, the first month",
            record_storage_monthly(measured),
            f"{measured.table_bytes + measured.index_bytes:,.0f} bytes a call (record, its index entries, "
            f"its share of the aggregates, session and developer), {measured.table_bytes:,.0f} of them "
            "backed up (point-in-time recovery); kept with no expiry: **the same again every month after**",
        ),
        Line(
            "Ingest logs",
            ingest_log_bytes / INGEST_BATCH / 1e9 * million * prices.LAMBDA_LOGS_GB,
            f"Lambda's {ingest_log_bytes} bytes an invocation, a batch of {INGEST_BATCH}",
        ),
        Line(
            "Data out to the internet",
            out_gb * prices.DATA_OUT_GB * million,
            f"{measured.request_bytes // 1000} KB to Anthropic, {REPLY_BYTES // 1000} KB reply back",
        ),
    ]


def default_lines(measured: Measured, memory_mb: int) -> list[Line]:
    """Per million calls: the proxy on Lambda (one stream per environment, billed for the stream)."""
    seconds = publish_seconds(measured, memory_mb) + CLAUDE_CODE_STREAM_S
    return [
        Line(
            "Lambda proxy duration",
            memory_mb / 1024 * seconds * prices.LAMBDA_ARM_GB_SECOND * 1e6,
            f"{memory_mb} MB x {seconds:.2f} s: billed for the whole stream",
        ),
        Line("Lambda proxy requests", prices.LAMBDA_REQUEST * 1e6, "function URL: no extra charge"),
        _proxy_log_line(measured, seconds * 1000, memory_mb, 1e6),
        Line(
            "SnapStart",
            snapstart_monthly(memory_mb, RESTORES_PER_MILLION),
            f"the snapshot cached for a month of a million calls, {RESTORES_PER_MILLION:,} restores",
        ),
        *_shared_lines(measured),
    ]


def _proxy_log_line(measured: Measured, duration_ms: float, memory_mb: int, calls: float) -> Line:
    """The proxy writes no line of its own for a call that succeeds: Lambda's three are its logs."""
    size = platform_log_bytes(duration_ms, memory_mb, measured.proxy_peak_rss_mib)
    return Line("Proxy logs", size / 1e9 * calls * prices.LAMBDA_LOGS_GB, f"Lambda's {size} bytes a call")


def standing_lines(template: dict[str, Any]) -> list[Line]:
    """What a deployment pays each month whatever its calls, counted in its synthesized template:
    alarms (by the metrics each reads), dashboards, customer managed keys and secrets."""
    from devstack.rehearsal import resources_of_type

    def of_type(kind: str) -> list[dict[str, Any]]:
        return list(resources_of_type(template, kind).values())

    alarm_metrics = sum(
        sum("MetricStat" in metric for metric in alarm["Properties"].get("Metrics", [])) or 1
        for alarm in of_type("AWS::CloudWatch::Alarm")
    )
    kinds = ("AWS::CloudWatch::Dashboard", "AWS::KMS::Key", "AWS::SecretsManager::Secret")
    dashboards, keys, secrets = (len(of_type(kind)) for kind in kinds)
    return [
        Line("Alarms", alarm_metrics * prices.ALARM_METRIC_MONTH, f"{alarm_metrics} metrics in the alarms"),
        Line("Dashboards", dashboards * prices.DASHBOARD_MONTH, f"{dashboards} (free within an account's 3)"),
        Line("KMS keys", keys * prices.KMS_KEY_MONTH, f"{keys} customer managed"),
        Line("Secrets", secrets * prices.SECRET_MONTH, f"{secrets} in Secrets Manager"),
    ]


# One c7g.large for a month: the EC2 on-demand price and Lambda's management fee.
INSTANCE_MONTH = prices.EC2_C7G_LARGE_HOUR * (1 + prices.LMI_MANAGEMENT_FEE) * prices.HOURS_PER_MONTH


@dataclass
class HighVolume:
    calls_per_month: int
    instances: int
    lines: list[Line]  # for the month

    @property
    def monthly(self) -> float:
        return sum(line.dollars for line in self.lines)

    @property
    def per_million(self) -> float:
        return self.monthly / (self.calls_per_month / 1e6)


@dataclass(frozen=True)
class EnvironmentFit:
    """How many streams one Managed Instances environment takes at once, and what bounds it."""

    streams: int
    by_memory: int
    by_cpu: int
    by_files: int

    @property
    def bound(self) -> str:
        limits = {
            "memory": self.by_memory,
            "CPU": self.by_cpu,
            "file descriptors": self.by_files,
            "Lambda's maximum": LMI_MAX_CONCURRENCY,
        }
        return min(limits, key=lambda name: limits[name])


def environment_fit(measured: Measured) -> EnvironmentFit:
    """Streams per environment (ENVIRONMENT_MEMORY_MB, LMI_GIB_PER_VCPU): what its memory holds with
    the default's headroom and one 20 MB reply's peak, what its vCPU serves at the capacity provider's
    target, and what the file descriptor quota leaves; the smallest, within Lambda's maximum, rounded
    down to hundreds (a setting: a few descriptors more or less in a run must not move it)."""
    usable_mib = ENVIRONMENT_MEMORY_MB / RSS_HEADROOM - ADAPTER_RSS_MIB - measured.proxy_peak_rss_mib
    by_memory = int(usable_mib / measured.proxy_rss_per_stream_mib)
    vcpus = ENVIRONMENT_MEMORY_MB / 1024 / LMI_GIB_PER_VCPU
    calls_per_second = vcpus * LMI_CPU_UTILISATION / (measured.proxy_cpu_ms / 1000)
    by_cpu = int(calls_per_second * CLAUDE_CODE_STREAM_S)
    by_files = int(LAMBDA_FILE_DESCRIPTORS / measured.proxy_files_per_stream)
    least = min(by_memory, by_cpu, by_files, LMI_MAX_CONCURRENCY)
    streams = least // 100 * 100 if least >= 100 else max(1, least)
    return EnvironmentFit(streams, by_memory, by_cpu, by_files)


def environments(measured: Measured, streams: float) -> int:
    """Environments that `streams` in flight need; each takes a c7g.large (its 2 GB and one vCPU fit
    once in the instance's 4 GiB and two, beside the instance's own processes)."""
    return max(1, math.ceil(streams / environment_fit(measured).streams))


def high_volume(measured: Measured, calls_per_month: int, standing: Sequence[Line] = ()) -> HighVolume:
    """A month of the proxy on Lambda Managed Instances: c7g.large instances (three at least, Lambda's
    default for AZ resiliency) behind the same function URL, in a VPC whose NAT gateway carries the
    Anthropic traffic; DynamoDB and S3 go through free gateway endpoints, SQS through an interface
    endpoint in each availability zone (cheaper than the NAT's per-GB charge at these volumes)."""
    per_second = calls_per_month / (prices.HOURS_PER_MONTH * 3600)
    streams = per_second * CLAUDE_CODE_STREAM_S
    vcpus = per_second * measured.proxy_cpu_ms / 1000 / LMI_CPU_UTILISATION
    mib = measured.proxy_rest_rss_mib + streams * measured.proxy_rss_per_stream_mib
    instances = max(
        MIN_INSTANCES,
        environments(measured, streams),
        math.ceil(vcpus / INSTANCE_VCPUS),
        math.ceil(mib / INSTANCE_MIB),
    )
    millions = calls_per_month / 1e6
    nat_gb = calls_per_month * (measured.request_bytes + REPLY_BYTES) / 1e9
    sqs_gb = calls_per_month * measured.message_bytes / 1e9
    lines = [
        Line(
            "Managed instances",
            instances * INSTANCE_MONTH,
            f"{instances} x c7g.large, on-demand + {prices.LMI_MANAGEMENT_FEE:.0%} management fee "
            f"({streams:.0f} streams, {vcpus:.2f} vCPU busy on average)",
        ),
        Line("Lambda requests", prices.LAMBDA_REQUEST * calls_per_month, "the same request charge"),
        _proxy_log_line(measured, CLAUDE_CODE_STREAM_S * 1000, ENVIRONMENT_MEMORY_MB, calls_per_month),
        Line("NAT gateway hours", prices.NAT_GATEWAY_HOUR * prices.HOURS_PER_MONTH, "one gateway"),
        Line("NAT gateway data", nat_gb * prices.NAT_GATEWAY_GB, f"{nat_gb:,.0f} GB: Anthropic both ways"),
        Line(
            "Between availability zones",
            nat_gb * (AVAILABILITY_ZONES - 1) / AVAILABILITY_ZONES * 2 * prices.INTER_AZ_GB,
            f"the Anthropic traffic of the instances in the {AVAILABILITY_ZONES - 1} zones without the NAT "
            "gateway, charged on both sides",
        ),
        Line(
            "SQS interface endpoint hours",
            AVAILABILITY_ZONES * prices.INTERFACE_ENDPOINT_AZ_HOUR * prices.HOURS_PER_MONTH,
            f"one in each of {AVAILABILITY_ZONES} availability zones",
        ),
        Line(
            "SQS interface endpoint data",
            sqs_gb * prices.INTERFACE_ENDPOINT_GB,
            f"{sqs_gb:,.0f} GB of usage messages (through the NAT: ${sqs_gb * prices.NAT_GATEWAY_GB:,.2f})",
        ),
        *(Line(line.item, line.dollars * millions, line.note) for line in _shared_lines(measured)),
        *standing,
    ]
    return HighVolume(calls_per_month, instances, lines)


def per_call_floor(measured: Measured) -> float:
    """Per million calls, what the high-volume mode pays however cheap its compute: the lines every
    deployment pays per call (data out, DynamoDB, S3, SQS, the ingest)."""
    return sum(line.dollars for line in _shared_lines(measured))


def break_even_calls(measured: Measured, memory_mb: int) -> float:
    """Calls a month above which the high-volume mode costs less than the default deployment."""
    default = sum(line.dollars for line in default_lines(measured, memory_mb)) / 1e6
    fixed = high_volume(measured, 0).monthly
    variable = (high_volume(measured, 10_000_000).monthly - fixed) / 10_000_000
    return fixed / (default - variable) if default > variable else math.inf


def snapstart_monthly(memory_mb: int, restores: int) -> float:
    """SnapStart for Python: the snapshot cached all month, and `restores` cold starts from it."""
    gb = memory_mb / 1024
    cache = gb * prices.HOURS_PER_MONTH * 3600 * prices.SNAPSTART_CACHE_GB_SECOND
    return cache + restores * gb * prices.SNAPSTART_RESTORE_GB
