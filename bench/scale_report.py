# ruff: noqa: E501 - markdown table rows read best unbroken
"""Issue 15's figures as markdown: one tenant at 200 calls/s, cost per million Claude Code calls
(default and high-volume), the proxy's cold start at its memory. Rows for the results table, and
sections of their own."""

from __future__ import annotations

import statistics
from typing import TYPE_CHECKING

from bench import partitions, prices, scale_cost
from bench.stats import median
from infra.constructs.functions import PROXY_MEMORY_MB
from infra.constructs.high_volume import (
    ENVIRONMENT_MEMORY_MB,
    MIN_INSTANCES,
    STREAMS_PER_ENVIRONMENT,
    environments_for,
)
from infra.stack import context_defaults

if TYPE_CHECKING:
    from bench.report import Results

MIB = 1024 * 1024


def measured(results: Results) -> scale_cost.Measured | None:
    """The counts the cost model takes, from this run's phases; None if a phase did not run."""
    if not (
        results.partitions
        and results.ingest
        and results.peaks
        and results.leak
        and results.cold_cpu_ms
        and results.restored_cpu_ms
        and results.bodies
    ):
        return None
    cpu = [step.cpu_ms_per_call for step in results.throughput if step.proxied.replies]
    most = max(results.peaks, key=lambda peak: peak.calls)
    return scale_cost.Measured(
        record_wru=results.partitions.wru_per_call,
        body_wru=0,  # bodies are kept in S3 only (bench/bodies.py): no body item in the table
        # The bodies phase's count of the write path's S3 requests, by price class.
        s3_puts=statistics.mean(results.bodies.s3_puts),
        s3_gets=statistics.mean(results.bodies.s3_requests) - statistics.mean(results.bodies.s3_puts),
        # The session's calls grow from 76 to 571 KB: its message and publish figures are read at
        # the cost model's 90 KB, not averaged over calls several times its size.
        message_bytes=round(
            results.bodies.at_request_bytes(results.bodies.message_bytes, scale_cost.REQUEST_BYTES)
        ),
        # A Lambda environment serves one call at a time: its memory holds the largest single call.
        proxy_peak_rss_mib=max(peak.peak for peak in results.peaks if peak.calls == 1) / MIB,
        proxy_rss_per_stream_mib=min(
            (peak.peak - peak.before) / MIB / peak.in_flight_mib for peak in results.peaks
        ),
        proxy_rest_rss_mib=results.leak.rss[-1] / MIB,
        proxy_files_per_stream=most.files_peak / most.calls,
        proxy_cpu_ms=median(cpu),
        ingest_cpu_ms=results.ingest.cpu_seconds / results.ingest.records * 1000,
        cold_cpu_ms=median(results.cold_cpu_ms),
        restored_cpu_ms=median(results.restored_cpu_ms),
        publish_cpu_ms=results.bodies.at_request_bytes(results.bodies.proxy_ms, scale_cost.REQUEST_BYTES),
        table_bytes=results.bodies.table_bytes / results.bodies.turns,
        index_bytes=results.bodies.index_bytes / results.bodies.turns,
        s3_bytes=results.bodies.stored_bytes / results.bodies.turns,
    )


def _verdict(value: float, target: float) -> str:
    return "met" if value <= target else f"missed by {value - target:,.1f}"


def headline(results: Results) -> list[str]:
    rows = []
    if results.partitions:
        key, write = results.partitions.write_rates()[0]
        read_key, read = results.partitions.read_rates()[0]
        rows += [
            f"| One tenant at {partitions.CALLS_PER_SECOND} calls/s: hottest partition key, write units/s (`{key}`) | {write:,.0f} | <= {partitions.WRITE_LIMIT} | {_verdict(write, partitions.WRITE_LIMIT)} |",
            f"| One tenant, every query {partitions.QUERIES_PER_SECOND}/s: hottest partition key, read units/s (`{read_key}`) | {read:,.0f} | <= {partitions.READ_LIMIT} | {_verdict(read, partitions.READ_LIMIT)} |",
            f"| DynamoDB write units per Claude Code call at {partitions.CALLS_PER_SECOND} calls/s (batches of {results.partitions.batch}): record, indexes, aggregates, session, developer; bodies in S3 (the rate counters' {results.partitions.wru_per_call - results.partitions.record_wru_per_call:.1f} not included) | {results.partitions.record_wru_per_call:.1f} | <= 12 | {_verdict(results.partitions.record_wru_per_call, 12)} |",
            f"| The same with the proxy's rate limit counters (every write a call makes) | {results.partitions.wru_per_call:.1f} | <= 12 | {_verdict(results.partitions.wru_per_call, 12)} |",
        ]
    counts = measured(results)
    if counts is None:
        return rows
    memory = scale_cost.proxy_memory_mb(counts)
    default = sum(line.dollars for line in scale_cost.default_lines(counts, memory))
    high = scale_cost.high_volume(counts, scale_cost.HIGH_VOLUME_CALLS, _standing())
    cold = scale_cost.cold_start_ms(counts, memory)
    restored = scale_cost.restored_start_ms(counts, memory)
    rows += [
        f"| Cost per million Claude Code calls, default deployment (proxy at {memory} MB) | ${default:,.2f} | <= ${scale_cost.DEFAULT_TARGET:.0f} | {_verdict(default, scale_cost.DEFAULT_TARGET)} |",
        f"| Cost per million Claude Code calls, high-volume mode at {scale_cost.HIGH_VOLUME_CALLS / 1e6:.0f} M calls a month | ${high.per_million:,.2f} | <= ${scale_cost.HIGH_VOLUME_TARGET:.0f} | {_verdict(high.per_million, scale_cost.HIGH_VOLUME_TARGET)} |",
        f"| Proxy cold start at {memory} MB under SnapStart, as deployed: restore hook + first call {counts.restored_cpu_ms:.1f} ms CPU / {scale_cost.vcpu_share(memory):.3f} vCPU (AWS's restore not included) | {restored:,.0f} ms | <= {scale_cost.COLD_START_TARGET_MS:.0f} ms | {_verdict(restored, scale_cost.COLD_START_TARGET_MS)} |",
        f"| Proxy cold start at {memory} MB without SnapStart: {counts.cold_cpu_ms:.0f} ms CPU / {scale_cost.vcpu_share(memory):.3f} vCPU | {cold:,.0f} ms | | |",
    ]
    return rows


def _partitions(result: partitions.PartitionResult) -> list[str]:
    lines = [
        "## One tenant at 200 calls/s",
        "",
        f"`bench/partitions.py`: {result.calls} Claude Code calls of one organisation ({partitions.ENDPOINTS} endpoints, "
        f"{partitions.API_KEYS} Anthropic keys, sessions of {partitions.CALLS_PER_SESSION} calls, half of them a subagent's, "
        f"three models) through the ingest handler in batches of {result.batch}, each call's rate limit counters "
        f"through the proxy's store; every DynamoDB request captured and priced by partition key. "
        f"{result.wru_per_call:.1f} write units a call (bodies not included: this replay sends none). Records, bodies, "
        f"session rows and aggregates are spread over {result.shards} shard keys per tenant.",
        "",
        f"Write units a second at {partitions.CALLS_PER_SECOND} calls/s, the ten hottest partition keys:",
        "",
        "| Partition key (table or index) | WCU/s | target |",
        "|---|---|---|",
    ]
    lines += [
        f"| `{key}` | {rate:,.0f} | {_verdict(rate, partitions.WRITE_LIMIT)} |"
        for key, rate in result.write_rates()[:10]
    ]
    lines += [
        "",
        "Read units of each query the API makes, after the replay (eventually consistent, a filter's skipped items counted):",
        "",
        "| Query | RRU | partition keys read | most on one key |",
        "|---|---|---|---|",
    ]
    for name, by_key in result.read_units.items():
        top = max(by_key.values()) if by_key else 0.0
        lines.append(f"| {name} | {sum(by_key.values()):.1f} | {len(by_key)} | {top:.1f} |")
    lines += [
        "",
        f"With every query {partitions.QUERIES_PER_SECOND} times a second (plus the proxies' slug re-reads, "
        f"{result.slug_reads_per_second:.1f}/s per endpoint), the hottest keys read:",
        "",
        "| Partition key | RCU/s | target |",
        "|---|---|---|",
    ]
    lines += [
        f"| `{key}` | {rate:,.1f} | {_verdict(rate, partitions.READ_LIMIT)} |"
        for key, rate in result.read_rates()[:5]
    ]
    return [*lines, ""]


def _table(lines: list[scale_cost.Line]) -> list[str]:
    rows = ["| Item | $ | how |", "|---|---|---|"]
    rows += [f"| {line.item} | ${line.dollars:,.2f} | {line.note} |" for line in lines]
    rows.append(f"| **Total** | **${sum(line.dollars for line in lines):,.2f}** | |")
    return rows


def _cost(counts: scale_cost.Measured) -> list[str]:
    memory = scale_cost.proxy_memory_mb(counts)
    standing = _standing()
    high = scale_cost.high_volume(counts, scale_cost.HIGH_VOLUME_CALLS, standing)
    fixed = scale_cost.high_volume(counts, 0).monthly
    floor_per_call = scale_cost.per_call_floor(counts)
    fit = scale_cost.environment_fit(counts)
    peak_streams = scale_cost.PEAK_CALLS_PER_SECOND * scale_cost.CLAUDE_CODE_STREAM_S
    default_streams = int(context_defaults()["proxyMaxConcurrency"])
    lines = [
        "## Cost per million Claude Code calls (issue 15)",
        "",
        f"A Claude Code call: a {counts.request_bytes // 1000} KB request and a 20 s stream. Prices: `bench/prices.py` "
        "(us-east-1 list prices, each with its source and date). Counts measured by this run: "
        f"{counts.record_wru:.1f} + {counts.body_wru:.0f} write units a call (partitions replay; bodies in S3), "
        f"{counts.s3_puts:.2f} S3 PUTs and {counts.s3_gets:.2f} GETs, a {counts.message_bytes:,}-byte usage message and {counts.publish_cpu_ms:.1f} ms of the proxy's CPU "
        "to redact and compress its bodies (both fitted to the bodies phase's calls at this request size), proxy peak RSS "
        f"{counts.proxy_peak_rss_mib:.0f} MiB (1 x 20 MB reply) and {counts.proxy_rest_rss_mib:.0f} MiB at rest, "
        f"{counts.proxy_cpu_ms:.2f} ms proxy CPU a call (whole path), {counts.ingest_cpu_ms:.2f} ms ingest CPU a record.",
        "",
        f"Proxy memory: the smallest Lambda size (in {scale_cost.MEMORY_STEP_MB} MB steps) holding the peak RSS x {scale_cost.RSS_HEADROOM} "
        f"and {scale_cost.ADAPTER_RSS_MIB} MiB for the Web Adapter: **{memory} MB**; "
        f"the stack deploys {PROXY_MEMORY_MB} MB ({'the same' if memory == PROXY_MEMORY_MB else 'NOT the recommended size'}). "
        f"Its CPU per call at that size: {counts.proxy_cpu_ms / scale_cost.vcpu_share(memory):.1f} ms.",
        "",
        f"Default deployment, per million calls (proxy at {memory} MB):",
        "",
        *_table(scale_cost.default_lines(counts, memory)),
        "",
        "Not in the figure per million: what every deployment pays each month whatever its calls, counted in the "
        f"synthesized template, ${sum(line.dollars for line in standing):,.2f} "
        f"({'; '.join(f'{line.item}: {line.note}, ${line.dollars:,.2f}' for line in standing)}); and the usage "
        f"records kept after their first month: **${scale_cost.record_storage_monthly(counts):,.2f} a month per million calls "
        "kept**, for as long as the history is kept (a year of history at a million calls a month: "
        f"${12 * scale_cost.record_storage_monthly(counts):,.2f} a month by its end). Most of it is the four indexes, "
        f"each a full copy of the record ({counts.index_bytes:,.0f} of the {counts.table_bytes + counts.index_bytes:,.0f} "
        "bytes): indexes of keys only would store far less, and make every list read the records a second time.",
        "",
        f"High-volume mode (`-c highVolume=true`), a month of {scale_cost.HIGH_VOLUME_CALLS:,} calls "
        f"(${high.per_million:,.2f} per million):",
        "",
        *_table(high.lines),
        "",
        f"Its own fixed cost (no calls; the standing charges above come on top in either mode): ${fixed:,.2f} a month; it costs less than the default deployment above "
        f"{scale_cost.break_even_calls(counts, memory):,.0f} calls a month.",
        "",
        f"Why its target is out of reach: the lines every deployment pays per call (data out, DynamoDB, S3, "
        f"SQS, the ingest, their storage and logs) come to **${floor_per_call:,.2f} per million** before any compute "
        f"(target ${scale_cost.HIGH_VOLUME_TARGET:.0f}); the three instances Lambda keeps add "
        f"${MIN_INSTANCES * scale_cost.INSTANCE_MONTH / (scale_cost.HIGH_VOLUME_CALLS / 1e6):,.2f} per million at "
        f"{scale_cost.HIGH_VOLUME_CALLS / 1e6:.0f} M calls.",
        "",
        f"One environment ({ENVIRONMENT_MEMORY_MB} MB, Managed Instances' smallest) takes **{fit.streams:,} streams** at once, "
        f"bound by {fit.bound} (memory: {fit.by_memory:,}, CPU at {scale_cost.LMI_CPU_UTILISATION:.0%}: {fit.by_cpu:,}, "
        f"file descriptors ({counts.proxy_files_per_stream:.2f} a stream at the 50 x 1 MB peak, the "
        f"process's own included; {scale_cost.LAMBDA_FILE_DESCRIPTORS:,} allowed): {fit.by_files:,}, Lambda's maximum "
        f"{scale_cost.LMI_MAX_CONCURRENCY:,}); the stack sets {STREAMS_PER_ENVIRONMENT:,} "
        f"({'the same' if fit.streams == STREAMS_PER_ENVIRONMENT else 'NOT the recommended figure'}). At the issue's "
        f"peak of {scale_cost.PEAK_CALLS_PER_SECOND} calls/s ({peak_streams:,} streams) that is "
        f"{scale_cost.environments(counts, peak_streams)} environments.",
        "",
        f"Its ceiling: the stack lets the proxy run only the environments `proxyMaxConcurrency` streams need, one "
        f"instance each (plus room for a new version's first {MIN_INSTANCES} during a deploy), so a flood on the "
        f"public URL is throttled instead of scaling to Lambda's default of 400 vCPUs. cdk.json's "
        f"{_ceiling(default_streams)}; set to the issue's peak, {_ceiling(peak_streams)}.",
        "",
        "Levers:",
        "",
        "| Lever | Measured | Effect |",
        "|---|---|---|",
    ]
    for size in sorted({1024, 512, 256, memory, 128}, reverse=True):
        seconds = scale_cost.CLAUDE_CODE_STREAM_S + scale_cost.publish_seconds(counts, size)
        duration = size / 1024 * seconds * prices.LAMBDA_ARM_GB_SECOND * 1e6
        needed = counts.proxy_peak_rss_mib * scale_cost.RSS_HEADROOM + scale_cost.ADAPTER_RSS_MIB
        fits = "holds" if size >= needed else "does not hold"
        lines.append(
            f"| Proxy at {size} MB | {fits} the {counts.proxy_peak_rss_mib:.0f} MiB peak; cold start "
            f"{scale_cost.cold_start_ms(counts, size):,.0f} ms without SnapStart, {scale_cost.restored_start_ms(counts, size):,.0f} ms restored; "
            f"publish {scale_cost.publish_seconds(counts, size) * 1000:,.0f} ms after the last byte | duration ${duration:,.2f} per million |"
        )
    lines += [
        f"| SnapStart (Python) at {memory} MB | snapshot cache + 10,000 restores a month: "
        f"${scale_cost.snapstart_monthly(memory, scale_cost.RESTORES_PER_MILLION):,.2f} | deployed: the {counts.cold_cpu_ms:.0f} ms of start-up CPU "
        f"and the warm-up run when a version is published; a restored environment's first call takes {counts.restored_cpu_ms:.1f} ms of CPU; "
        "restore latency is not measurable here |",
        "| Lambda Managed Instances | function URLs and RESPONSE_STREAM supported (Web Adapter's LMI example); "
        "Python runs one process per concurrent request in the runtime, the Web Adapter forwards concurrent "
        "requests to one uvicorn; its smallest environment is 2 GB | duration no longer billed per stream second; three instances at least |",
        "| Lambda Web Functions (announced 2026-10) | many requests per environment, billed for requests, active CPU and the "
        "environment's memory over its life, scales to zero, streams (timeout up to 900 s); Node.js only (`nodejs24.x`, AWS's "
        "Web Function runtimes page) | not open to the Python proxy: it would take a Node port of the proxy; not priced here |",
    ]
    return [*lines, ""]


def _standing() -> list[scale_cost.Line]:
    from devstack.rehearsal import load_template

    return scale_cost.standing_lines(load_template())


def sections(results: Results) -> list[str]:
    lines = _partitions(results.partitions) if results.partitions else []
    counts = measured(results)
    if counts is not None:
        lines += _cost(counts)
    return lines


def _ceiling(streams: int) -> str:
    """What the high-volume mode may cost at most a month in instances, capped at `streams` at once."""
    environments = environments_for(streams)
    return (
        f"{streams:,} streams: {environments} environments, at most "
        f"${environments * scale_cost.INSTANCE_MONTH:,.2f} a month of instances"
    )
