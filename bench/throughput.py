"""Throughput of one proxy worker: closed loops of short streamed replies at rising concurrency.

At each step the same number of callers call the upstream directly for a few seconds, then through
the proxy; the added p99 is the proxied p99 minus the direct p99 of the whole reply. The ramp stops
once the added p99 passes 50 ms after having been within it. The proxy CPU time per call is from /proc.
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.load import SHORT_REPLY, Caller, Window, closed_loop
from bench.stack import Stack
from bench.stats import percentile

ADDED_P99_LIMIT_MS = 50.0


@dataclass
class Step:
    concurrency: int
    direct: Window
    proxied: Window
    moto_cpu_seconds: float = 0.0  # the local AWS's CPU during the proxied window

    def p(self, window: Window, q: float) -> float:
        return percentile([reply.total_ms for reply in window.ok], q)

    @property
    def added_p99(self) -> float:
        return self.p(self.proxied, 99) - self.p(self.direct, 99)

    @property
    def moto_cpu_ms_per_call(self) -> float:
        calls = len(self.proxied.replies)
        return self.moto_cpu_seconds * 1000 / calls if calls else 0.0

    @property
    def cpu_ms_per_call(self) -> float:
        calls = len(self.proxied.replies)
        return self.proxied.proxy_cpu_seconds * 1000 / calls if calls else 0.0


async def ramp(stack: Stack, levels: tuple[int, ...], seconds: float) -> list[Step]:
    assert stack.proxy is not None
    proxy = stack.proxy
    steps: list[Step] = []
    for concurrency in levels:
        direct_callers = [Caller(stack, proxied=False) for _ in range(concurrency)]
        proxied_callers = [Caller(stack, proxied=True) for _ in range(concurrency)]
        await closed_loop(proxied_callers, SHORT_REPLY, 0.5)  # warm-up: connections, slug cache
        direct = await closed_loop(direct_callers, SHORT_REPLY, seconds)
        moto_before = stack.moto.cpu_seconds()
        proxied = await closed_loop(proxied_callers, SHORT_REPLY, seconds, cpu=proxy.cpu_seconds)
        moto_cpu = stack.moto.cpu_seconds() - moto_before
        for caller in direct_callers + proxied_callers:
            await caller.close()
        step = Step(concurrency, direct, proxied, moto_cpu)
        steps.append(step)
        print(
            f"  c={concurrency:<3} proxied {proxied.per_second:6.0f}/s p99 {step.p(proxied, 99):7.1f} ms"
            f" (direct {direct.per_second:6.0f}/s p99 {step.p(direct, 99):6.1f} ms),"
            f" added p99 {step.added_p99:6.1f} ms, proxy CPU {step.cpu_ms_per_call:.2f} ms/call",
            flush=True,
        )
        if step.added_p99 > ADDED_P99_LIMIT_MS and (best(steps) is not None or step.added_p99 > 1000):
            break  # past the limit after being within it, or far past it: the ramp is done
    return steps


def best(steps: list[Step]) -> Step | None:
    """The step with the most proxied calls per second whose added p99 stayed within the limit."""
    within = [step for step in steps if step.added_p99 <= ADDED_P99_LIMIT_MS]
    return max(within, key=lambda step: step.proxied.per_second, default=None)
