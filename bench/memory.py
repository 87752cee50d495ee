"""The proxy's resident memory: peaks while big replies are in flight, and at rest over 10,000 calls.

The peak comes from the kernel's high-water mark (VmHWM), reset before each scenario (clear_refs),
or from sampling VmRSS every 5 ms where the reset is refused.
"""

from __future__ import annotations

import asyncio
import gc
from dataclasses import dataclass, field
from typing import Any

from bench.client import REQUEST_BODY
from bench.load import SHORT_REPLY, Caller, ReplyShape, closed_loop
from bench.stack import Process, Stack

MB_REPLY = ReplyShape(events=64, gap_ms=10, delta_bytes=16_250)  # ~1.0 MiB, 0.64 s
BIG_REPLY = ReplyShape(events=320, gap_ms=2, delta_bytes=65_300)  # ~20 MiB


@dataclass
class Peak:
    label: str
    in_flight_mib: float
    before: int
    peak: int
    calls: int = 1  # in flight at once
    files_before: int = 0  # open file descriptors
    files_peak: int = 0


@dataclass
class Leak:
    calls: list[int] = field(default_factory=list)
    rss: list[int] = field(default_factory=list)


async def _sampled_peak(proxy: Process, work: asyncio.Future[Any]) -> tuple[int, int]:
    """The largest RSS and number of open files seen while `work` runs, sampled every 5 ms."""
    peak, files = proxy.rss(), proxy.open_files()
    while not work.done():
        peak, files = max(peak, proxy.rss()), max(files, proxy.open_files())
        await asyncio.sleep(0.005)
    return max(peak, proxy.rss()), files


async def peaks(stack: Stack) -> list[Peak]:
    assert stack.proxy is not None
    proxy = stack.proxy
    results = []
    for label, count, shape, size in (
        # One call at a time first, as a Lambda environment serves them (what sizes the default
        # deployment's memory); then many at once (one managed instance's environment).
        ("1 x 1 MB", 1, MB_REPLY, 1.0),
        ("1 x 20 MB", 1, BIG_REPLY, 20.0),
        ("10 x 1 MB", 10, MB_REPLY, 1.0),
        ("50 x 1 MB", 50, MB_REPLY, 1.0),
    ):
        callers = [Caller(stack, proxied=True, slug=stack.slugs[index]) for index in range(count)]
        await asyncio.sleep(0.5)  # let the last scenario's memory go back
        before, files_before = proxy.rss(), proxy.open_files()
        reset = proxy.reset_peak_rss()
        work = asyncio.ensure_future(
            asyncio.gather(*(caller.call(shape, REQUEST_BODY, keep_events=False) for caller in callers))
        )
        sampled, files_peak = await _sampled_peak(proxy, work)
        replies = await work
        assert all(reply.status == 200 for reply in replies), [reply.status for reply in replies]
        peak = proxy.peak_rss() if reset else sampled
        results.append(Peak(label, count * size, before, peak, count, files_before, files_peak))
        for caller in callers:
            await caller.close()
    return results


async def leak(stack: Stack, calls: int, concurrency: int = 16) -> Leak:
    """RSS at rest after every tenth of `calls` short calls, on a proxy whose AWS calls are answered
    in-process (bench/proxy_apps.py): against moto, 10,000 calls would take minutes here."""
    stack.start_proxy("bench.proxy_apps:without_aws")
    assert stack.proxy is not None
    result = Leak()
    callers = [Caller(stack, proxied=True) for _ in range(concurrency)]
    step = calls // 10
    for done in range(step, calls + 1, step):
        await closed_loop(callers, SHORT_REPLY, seconds=600, limit=step)
        gc.collect()
        result.calls.append(done)
        result.rss.append(stack.proxy.rss())
    for caller in callers:
        await caller.close()
    return result
