# ruff: noqa: E501 - markdown table rows read best unbroken
"""The results of one run as markdown: the table `make bench` prints and docs/benchmarks.md."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime

from bench import cost
from bench.coldstart import TARGETS_MS, ImportTime
from bench.dynamo import CLAUDE_CODE_REQUEST_BYTES, IngestResult, SummaryReads
from bench.latency import LatencyResult
from bench.memory import Leak, Peak
from bench.stats import median, mib, ms, percentile
from bench.throughput import ADDED_P99_LIMIT_MS, Step, best

# What was fixed while writing the bench, measured on this machine with the same harness (the "before"
# columns cannot be re-measured by later runs: the code they measured is gone).
FIXES = """\
| Fix | Measure | Before | After |
|---|---|---|---|
| Rate-limit background counts start after the first byte has gone to the client, both counts in one worker-thread hop (`functions/proxy/limits.py`) | added TTFB median, c=1 / c=16 | 7.8 ms / 60.6 ms | see the table above |
| `shared.aws.table()` cached per table name: every DynamoDB call rebuilt a boto3 `Table` resource from its model (~1 ms CPU) | proxy CPU per short call | 13.1 ms | 7.4 ms (then the counts change above) |
| (bench) moto served with HTTP/1.1 keep-alive: werkzeug's HTTP/1.0 made every boto3 call open a TCP connection, which AWS never makes it do | added TTFB median, c=1 | 11.9 ms | 7.8 ms |
| The X-Ray tracer made on first use (`shared/observability.py`); no function uses it today | proxy import | 590-740 ms | see the table above (no `aws_xray_sdk` at start) |
"""


# Why the targets that are missed are missed, from py-spy profiles (`py-spy record --gil`) of the proxy
# under this harness; the numbers above come from the run itself.
ANALYSIS = """\
- **Added TTFB at concurrency 1** (target < 2 ms). What is left is the proxy's own work before the first
  byte: uvicorn's request parsing, the slug cache and rate-limit views, then httpx building and sending
  the upstream request and parsing its response head (httpx is about a sixth of the proxy's CPU), then
  the response head and first chunk through uvicorn. The slug cache expires every 5 s, so about one
  call in four at this pace waits for a table read (the p99). Closing the gap needs a leaner upstream
  client than httpx (h11 or httptools over asyncio streams, with a connection pool): not done here.
- **Added TTFB at concurrency 16** (target < 20 ms median). The 16 calls of a round arrive together on
  one event loop: each waits for the ones ahead of it (about 2-3 ms of CPU each before their first
  byte), and the boto3 calls of the calls already streaming (rate-limit counts, usage messages, ~1.5-3
  ms of CPU each, in worker threads) take the GIL from the loop. Counting after the first byte (fixed
  below) took the counts out of each call's own path; the rest needs less CPU per call (see next).
- **Throughput** (target 300 calls/s on one worker). Against moto the run measures moto: it shares the
  two cores and spends more CPU per call than the proxy (see "moto CPU/call"), so a few dozen calls a
  second is the local stack's limit, not the proxy's. The proxy itself spends about 3 ms of CPU per
  short call without the AWS round trips (the AWS-in-process table: ~320 calls/s per core) and about
  9-12 ms with them: three boto3 calls per proxied call (two rate-limit `UpdateItem`s and the
  `SendMessage`) cost 1.5-3 ms of CPU each (request serialisation, SigV4 signing, urllib3, response
  parsing), about 45% of the proxy's CPU in the profile. Ways down, in order of effect: one
  `UpdateItem ADD n` per subject for all the calls in flight instead of one per call; the usage
  messages of concurrent calls sent with `SendMessageBatch` (up to 10 per request); the DynamoDB
  client without the resource layer. In Lambda each instance serves one call at a time, so none of
  this limits throughput there: it only shortens each call's billed time by a few milliseconds.
- **Cold start**. All three handlers still import boto3/botocore (~100 ms), pydantic (~50-90 ms: the
  usage message and settings models) and Powertools; they need them on the first request anyway, so
  importing them later would only move the time. The proxy could lose ~100 ms by not using pydantic
  (a dataclass for the usage message, `os.environ` for its few settings). httpx imports its command
  line (`rich`, `click`) in the dev environment only: the bundle has no `rich`. The API loads
  `genai_prices` at import (through `shared/pricing.py`); it needs it only for cost-without-cache
  figures. Bigger than any of these: the bundles ship no bytecode (`--no-compile`, and /var/task is
  read-only), so every Lambda cold start compiles every module from source (the 'from source' column,
  several times the cached figure). Compiling the bundles with the runtime's own Python 3.13
  (`python3.13 -m compileall -j0 --invalidation-mode unchecked-hash` in the build, e.g. in the
  `public.ecr.aws/lambda/python:3.13-arm64` image) would remove that.
- **DynamoDB**. The inline body item is nearly all of a record's write units (a 90 KB request costs
  ~200 WRU, 2 per KB because it is written in the transaction). Cheaper, in order: keep bodies above a
  few KB in S3 (two PUTs, $0.01 per 1,000 calls, against ~$0.12 per 1,000 in WRU), compress bodies
  (JSON compresses 5-10x), or write the body item outside the transaction (half the units).
- **Cost**. The proxy Lambda's duration is almost all of it: a streaming Lambda is billed for the whole
  stream while it waits on Anthropic. Lower the proxy to 256 MB (its RSS stays under ~150 MB even
  with a 20 MB reply; CPU per call is a few ms) for 4x less, keep arm64, or run the proxy as one
  always-on container (Fargate, App Runner), where a waiting stream costs nothing and a million calls
  cost their CPU time.
"""


@dataclass
class Results:
    machine: dict[str, str]
    command: str
    imports: list[ImportTime] = field(default_factory=list)
    bundles: dict[str, int] = field(default_factory=dict)
    latency: list[LatencyResult] = field(default_factory=list)
    throughput: list[Step] = field(default_factory=list)
    throughput_stubbed: list[Step] = field(default_factory=list)  # AWS calls answered in-process
    peaks: list[Peak] = field(default_factory=list)
    leak: Leak | None = None
    ingest: IngestResult | None = None
    summary: list[SummaryReads] = field(default_factory=list)
    message_bytes: int = 0
    seconds: dict[str, float] = field(default_factory=dict)


def _status(value: float, target: float) -> str:
    return "n/a" if math.isnan(value) else ("met" if value <= target else f"missed by {value - target:.1f}")


def _headline(results: Results) -> list[str]:
    lines = ["| Measure | Result | Target | |", "|---|---|---|---|"]
    targets = {1: 2.0, 16: 20.0}
    for result in results.latency:
        added = result.added("ttfb_ms", 50)
        lines.append(
            f"| Added TTFB, c={result.concurrency}: median / p99 | {ms(added)} / "
            f"{ms(result.added('ttfb_ms', 99))} ms | median < {targets[result.concurrency]:g} ms "
            f"| {_status(added, targets[result.concurrency])} |"
        )
    for result in results.latency:
        gap = result.added("gaps_ms", 50)
        lines.append(
            f"| Added gap between events, c={result.concurrency}: median / p99 | {ms(gap, 3)} / "
            f"{ms(result.added('gaps_ms', 99), 3)} ms | median < 0.5 ms | {_status(gap, 0.5)} |"
        )
        lines.append(
            f"| Added delay of each event, c={result.concurrency}: median / p99 | "
            f"{ms(result.added('transit_ms', 50), 3)} / {ms(result.added('transit_ms', 99), 3)} ms | | |"
        )
    for label, steps in (
        ("whole path, moto", results.throughput),
        ("AWS in-process", results.throughput_stubbed),
    ):
        if not steps:
            continue
        top = best(steps)
        if top is None:
            fastest = max(steps, key=lambda step: step.proxied.per_second)
            lines.append(
                f"| Throughput, one worker ({label}), added p99 <= {ADDED_P99_LIMIT_MS:g} ms | none within the limit; "
                f"at most {fastest.proxied.per_second:.0f} calls/s (c={fastest.concurrency}, added p99 "
                f"{fastest.added_p99:.0f} ms) | >= 300/s | missed |"
            )
        else:
            verdict = (
                "met" if top.proxied.per_second >= 300 else f"missed by {300 - top.proxied.per_second:.0f}/s"
            )
            lines.append(
                f"| Throughput, one worker ({label}), added p99 <= {ADDED_P99_LIMIT_MS:g} ms | "
                f"{top.proxied.per_second:.0f} calls/s (c={top.concurrency}) | >= 300/s | {verdict} |"
            )
        cpu = [step.cpu_ms_per_call for step in steps if step.proxied.replies]
        lines.append(
            f"| Proxy CPU per call ({label}) | {median(cpu):.2f} ms (= {1000 / median(cpu):.0f} calls/s per core) | | |"
        )
    for peak in results.peaks:
        lines.append(
            f"| Peak RSS, {peak.label} in flight | {mib(peak.peak)} MiB (+{mib(peak.peak - peak.before)}) | | |"
        )
    if results.leak and results.leak.rss:
        lines.append(
            f"| RSS at rest after {results.leak.calls[0]:,} / {results.leak.calls[-1]:,} calls | "
            f"{mib(results.leak.rss[0])} / {mib(results.leak.rss[-1])} MiB | flat | "
            f"{'met' if results.leak.rss[-1] - results.leak.rss[0] < 8 * 1_048_576 else 'grows'} |"
        )
    for item in results.imports:
        lines.append(
            f"| Import `{item.module}` (median of {len(item.runs_ms)}) | {item.median_ms:.0f} ms "
            f"(from source: {item.cold_median_ms:.0f} ms) | < {TARGETS_MS[item.function]:g} ms | "
            f"{_status(item.median_ms, TARGETS_MS[item.function])} |"
        )
    for function, size in results.bundles.items():
        lines.append(f"| Bundle `{function}` (arm64) | {mib(size)} MiB | | |")
    if results.ingest:
        ingest = results.ingest
        lines.append(
            f"| DynamoDB WRU per usage record (bench call / {CLAUDE_CODE_REQUEST_BYTES // 1000} KB request) | "
            f"{ingest.bench_units.total} / {ingest.claude_code_units.total} | | |"
        )
        lines.append(
            f"| Ingest handler, records/s against moto (CPU per record) | "
            f"{ingest.records / ingest.seconds:.0f}/s ({ingest.cpu_seconds / ingest.records * 1000:.1f} ms) | | |"
        )
    for reads in results.summary:
        lines.append(
            f"| Summary, 30 days, RRU ({reads.label}) | {reads.units:g} ({reads.rows} rows, "
            f"{reads.bytes_read:,} bytes) | independent of records | |"
        )
    return lines


def _latency_detail(results: Results) -> list[str]:
    lines = [
        "| c | side | TTFB p50 | TTFB p99 | gap p50 | gap p99 | event delay p50 | event delay p99 | replies |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for result in results.latency:
        for name, side in (("direct", result.direct), ("proxied", result.proxied)):
            lines.append(
                f"| {result.concurrency} | {name} | {ms(median(side.ttfb_ms))} | {ms(percentile(side.ttfb_ms, 99))} "
                f"| {ms(median(side.gaps_ms), 3)} | {ms(percentile(side.gaps_ms, 99), 3)} "
                f"| {ms(median(side.transit_ms), 3)} | {ms(percentile(side.transit_ms, 99), 3)} "
                f"| {len(side.ttfb_ms)} ({side.failed} failed) |"
            )
    return lines


def _throughput_detail(steps: list[Step]) -> list[str]:
    lines = [
        "| c | direct calls/s | direct p50 / p99 | proxied calls/s | proxied p50 / p99 | added p99 | proxy CPU/call | moto CPU/call | failed |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for step in steps:
        lines.append(
            f"| {step.concurrency} | {step.direct.per_second:.0f} | {ms(step.p(step.direct, 50), 1)} / "
            f"{ms(step.p(step.direct, 99), 1)} | {step.proxied.per_second:.0f} | {ms(step.p(step.proxied, 50), 1)} / "
            f"{ms(step.p(step.proxied, 99), 1)} | {ms(step.added_p99, 1)} | {step.cpu_ms_per_call:.2f} ms "
            f"| {step.moto_cpu_ms_per_call:.2f} ms | {step.proxied.failed} |"
        )
    return lines


def _memory_detail(results: Results) -> list[str]:
    lines = [
        "| In flight | RSS before | peak RSS | growth | growth per MB in flight |",
        "|---|---|---|---|---|",
    ]
    for peak in results.peaks:
        growth = peak.peak - peak.before
        lines.append(
            f"| {peak.label} | {mib(peak.before)} MiB | {mib(peak.peak)} MiB | {mib(growth)} MiB "
            f"| {growth / 1_048_576 / peak.in_flight_mib:.1f} |"
        )
    if results.leak:
        lines += ["", "| Calls so far | " + " | ".join(f"{calls:,}" for calls in results.leak.calls) + " |"]
        lines += ["|---" * (len(results.leak.calls) + 1) + "|"]
        lines += ["| RSS at rest (MiB) | " + " | ".join(mib(rss) for rss in results.leak.rss) + " |"]
    return lines


def _imports_detail(results: Results) -> list[str]:
    lines = [
        "| Handler | median | runs (ms) | most own time (ms) | loaded but not needed |",
        "|---|---|---|---|---|",
    ]
    for item in results.imports:
        packages = ", ".join(f"{name} {value:.0f}" for name, value in item.by_package_ms.items())
        runs = ", ".join(f"{value:.0f}" for value in item.runs_ms)
        lines.append(
            f"| `{item.module}` | {item.median_ms:.0f} ms | {runs} | {packages} | {', '.join(item.unneeded) or 'none'} |"
        )
    return lines


def _dynamo_detail(results: Results) -> list[str]:
    if results.ingest is None:
        return []
    lines = []
    for label, units in (
        ("a bench call (2 KB request, 10 KB reply, bodies inline)", results.ingest.bench_units),
        (
            f"a Claude Code call ({CLAUDE_CODE_REQUEST_BYTES // 1000} KB request, inline)",
            results.ingest.claude_code_units,
        ),
    ):
        lines += [f"Writes for {label}:", "", "| Item (how written) | size (bytes) | WRU |", "|---|---|---|"]
        lines += [f"| {kind} | {size:,} | {wru} |" for kind, size, wru in units.items]
        lines += [f"| **total** | | **{units.total}** |", ""]
    return lines


def _cost(results: Results) -> list[str]:
    if results.ingest is None:
        return []
    ingest_cpu = results.ingest.cpu_seconds / results.ingest.records
    shapes = [
        cost.CallShape(
            "bench-sized call, 20 s stream", 20, results.message_bytes, results.ingest.bench_units.total
        ),
        cost.CallShape(
            "Claude Code call, 90 KB request inline, 20 s stream",
            20,
            CLAUDE_CODE_REQUEST_BYTES + results.message_bytes,
            results.ingest.claude_code_units.total,
        ),
    ]
    lines = ["| Per million calls | " + " | ".join(shape.label for shape in shapes) + " |"]
    lines.append("|---" * (len(shapes) + 1) + "|")
    tables = [cost.per_million(shape, ingest_cpu) for shape in shapes]
    for index, line in enumerate(tables[0]):
        cells = " | ".join(f"${table[index].per_million:,.2f}" for table in tables)
        lines.append(f"| {line.item} ({line.note}) | {cells} |")
    totals = " | ".join(f"**${sum(line.per_million for line in table):,.2f}**" for table in tables)
    lines.append(f"| **Total** | {totals} |")
    cpu = [step.cpu_ms_per_call for step in results.throughput if step.proxied.replies]
    lines.append("")
    lines.append("Proxy duration at other stream lengths and memory sizes (per million calls):")
    lines.append("")
    lines.append("| Stream | 1024 MB | 512 MB | 256 MB | 128 MB |")
    lines.append("|---|---|---|---|---|")
    for seconds in (5, 20, 60):
        cells = " | ".join(
            f"${memory / 1024 * (seconds + cost.PUBLISH_S) * cost.LAMBDA_ARM_GB_SECOND * 1e6:,.0f}"
            for memory in (1024, 512, 256, 128)
        )
        lines.append(f"| {seconds} s | {cells} |")
    if cpu:
        lines.append("")
        lines.append(
            f"For scale: the proxy's measured CPU per call ({median(cpu):.1f} ms) on always-on arm64 Fargate at "
            f"50% utilisation would cost about ${cost.fargate_per_million(median(cpu)):,.2f} per million calls "
            "(plus a load balancer): a stream that waits on Anthropic costs a container almost nothing, and "
            "costs a Lambda its whole duration."
        )
    return lines


def render(results: Results) -> str:
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    seconds = ", ".join(f"{name} {value:.0f} s" for name, value in results.seconds.items())
    parts = [
        "# Benchmarks",
        "",
        f"Generated by `{results.command}` on {now}. Phases: {seconds}.",
        "",
        f"- Machine: {results.machine['machine']}",
        f"- Python: {results.machine['python']}; {results.machine['packages']}",
        f"- Load average (1 min): {results.machine['load']}; other work on the machine slows both sides, and",
        "  the proxy's side more (it has more to do): compare runs made at similar loads.",
        "- Processes: moto (the local AWS: slug lookup, rate limit counters, usage queue, bodies bucket), the",
        "  bench upstream (`bench/upstream.py`, bare asyncio), the proxy as `functions/proxy/run.sh` starts it",
        "  (uvicorn, one worker, uvloop + httptools), and the client (`bench/client.py`, bare asyncio, the",
        "  same for direct and proxied calls). All four share the machine's cores.",
        "- Added = proxied minus direct, for the same percentile, measured in alternating rounds so a noisy",
        "  neighbour hits both sides alike. Replies: 64 events 20 ms apart (Claude-shaped) for latency, 8",
        "  events without pauses for throughput.",
        "",
        "## Results",
        "",
        *_headline(results),
        "",
        "## Time to first byte and between events",
        "",
        "Gap: time between two events arriving at the client. Event delay: from the upstream writing an event",
        "(its monotonic clock stamp in the event) to the client reading it.",
        "",
        *_latency_detail(results),
        "",
        "## Throughput of one proxy worker",
        "",
        "Whole path (moto answers the slug lookups, rate limit counters and usage messages):",
        "",
        *_throughput_detail(results.throughput),
        "",
        "AWS calls answered in-process (`bench/proxy_apps.py`: everything else as in production, the usage",
        "message included):",
        "",
        *_throughput_detail(results.throughput_stubbed),
        "",
        "## Memory",
        "",
        *_memory_detail(results),
        "",
        "## Cold start",
        "",
        "`python -X importtime -c 'import <handler>'` in fresh interpreters, with bytecode cached as a",
        "developer's machine has it; 'from source' compiles every module (the standard library included, so",
        "an upper bound), as Lambda does for these bundles.",
        "",
        *_imports_detail(results),
        "",
        "## DynamoDB",
        "",
        *_dynamo_detail(results),
        "## Cost per million proxied calls (us-east-1 list prices)",
        "",
        *_cost(results),
        "",
        "## Why targets are missed, and what would meet them",
        "",
        ANALYSIS,
        "## Fixed while measuring",
        "",
        FIXES,
    ]
    return "\n".join(parts) + "\n"
