"""`make bench` (`python -m bench [--quick] [--only devstack]`): every measurement in one run, printed
as a table and written to docs/benchmarks.md."""

from __future__ import annotations

import argparse
import contextlib
import io
import platform
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

from bench import bodies, coldstart, devstack, dynamo, ingest_cpu, latency, memory, partitions, throughput
from bench.report import Results, render
from bench.stack import ROOT, start_stack

_PACKAGES = ("uvicorn", "uvloop", "httptools", "httpx", "boto3", "pydantic", "aws-lambda-powertools", "moto")


def _machine() -> dict[str, str]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    cores = subprocess.run(["nproc"], capture_output=True, text=True, check=False).stdout.strip()  # noqa: S607
    memory_kb = int(Path("/proc/meminfo").read_text().split()[1])
    versions = ", ".join(f"{name} {metadata.version(name)}" for name in _PACKAGES)
    return {
        "load": Path("/proc/loadavg").read_text().split()[0],
        "machine": f"{cores} cores, {cpu}, {memory_kb / 1_048_576:.0f} GiB, {platform.platform()}",
        "python": sys.version.split()[0],
        "packages": versions,
    }


def _step(name: str) -> float:
    print(f"== {name}", flush=True)
    return time.monotonic()


async def _load(results: Results, quick: bool) -> None:
    stack = start_stack(endpoints=100)
    try:
        stack.start_proxy()
        started = _step("time to first byte and between events, concurrency 1")
        results.latency.append(await latency.measure(stack, 1, rounds=8 if quick else 40))
        results.seconds["latency c1"] = time.monotonic() - started
        started = _step("time to first byte and between events, concurrency 16")
        results.latency.append(await latency.measure(stack, 16, rounds=2 if quick else 6))
        results.seconds["latency c16"] = time.monotonic() - started
        started = _step("ingest and summary")
        with contextlib.redirect_stdout(io.StringIO()):  # the ingest's metrics (EMF lines on stdout)
            results.ingest, bodies = dynamo.ingest(stack, records=50 if quick else 200)
            results.summary = dynamo.summary(bodies)
        results.message_bytes = max(len(body.encode()) for body in bodies)
        stack.purge_queue()
        results.seconds["ingest"] = time.monotonic() - started
        started = _step("throughput of one proxy worker")
        levels = (1, 4, 16) if quick else (1, 2, 4, 8, 16, 32, 64)
        results.throughput = await throughput.ramp(stack, levels, seconds=1.5 if quick else 3.0)
        results.seconds["throughput"] = time.monotonic() - started
        started = _step("memory")
        stack.purge_queue()
        results.peaks = await memory.peaks(stack)
        results.leak = await memory.leak(stack, calls=2_000 if quick else 10_000)
        results.seconds["memory"] = time.monotonic() - started
        started = _step("throughput of one proxy worker, AWS calls answered in-process")
        results.throughput_stubbed = await throughput.ramp(stack, levels, seconds=1.5 if quick else 3.0)
        results.seconds["throughput, AWS in-process"] = time.monotonic() - started
    finally:
        stack.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer samples: a smoke run, not for the doc")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    parser.add_argument("--only", choices=["devstack"], help="one phase, printed only: for working on it")
    args = parser.parse_args()
    began = time.monotonic()
    if args.only == "devstack":
        print("\n".join(devstack.render(devstack.run(args.quick))))
        return
    results = Results(machine=_machine(), command="make bench" + (" (--quick)" if args.quick else ""))
    started = _step("cold start: handler imports in fresh interpreters")
    results.imports = coldstart.measure(runs=3 if args.quick else 9, venv_runs=1 if args.quick else 3)
    results.cold_cpu_ms = coldstart.proxy_cold_cpu_ms(runs=3 if args.quick else 9)
    results.restored_cpu_ms = coldstart.proxy_restored_cpu_ms(runs=3 if args.quick else 9)
    results.seconds["imports"] = time.monotonic() - started
    started = _step("one tenant at 200 calls/s: units per partition key")
    results.partitions = partitions.run(args.quick)
    results.seconds["partitions"] = time.monotonic() - started
    started = _step("bundles (make bundles)")
    results.bundles = coldstart.bundle_sizes()
    results.seconds["bundles"] = time.monotonic() - started
    started = _step("ingest handler CPU per record, AWS calls answered in-process")
    results.ingest_cpu = ingest_cpu.measure(records=300 if args.quick else 2_000)
    results.seconds["ingest CPU"] = time.monotonic() - started
    import uvloop

    uvloop.run(_load(results, args.quick))
    started = _step("bodies: a 100-turn Claude Code session, stored and read back")
    results.bodies = bodies.measure(turns=30 if args.quick else bodies.TURNS)
    results.seconds["bodies"] = time.monotonic() - started
    started = _step("make dev: start, added time to first byte, 100,000 records stored, ingest")
    results.devstack = devstack.run(args.quick)
    results.seconds["make dev"] = time.monotonic() - started
    results.seconds["total"] = time.monotonic() - began
    results.machine["load"] += f" at the start, {Path('/proc/loadavg').read_text().split()[0]} at the end"
    text = render(results)
    print(text)
    if not args.quick:
        args.out.write_text(text)
        print(f"written to {args.out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
