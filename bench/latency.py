"""Added time to first byte and added delay per event, direct and proxied side by side.

Rounds alternate: `concurrency` callers call the upstream directly, then `concurrency` callers call
it through the proxy, then the other way round, so a noisy neighbour hits both sides alike. Every
reply is a Claude-shaped stream (64 events, 20 ms apart).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from bench.load import CLAUDE_REPLY, Caller
from bench.stack import Stack
from bench.stats import median, percentile


@dataclass
class Side:
    ttfb_ms: list[float] = field(default_factory=list)
    gaps_ms: list[float] = field(default_factory=list)
    transit_ms: list[float] = field(default_factory=list)  # upstream write -> client read, per event
    failed: int = 0


@dataclass
class LatencyResult:
    concurrency: int
    direct: Side
    proxied: Side

    def added(self, metric: str, q: float) -> float:
        return percentile(getattr(self.proxied, metric), q) - percentile(getattr(self.direct, metric), q)

    def row(self) -> dict[str, float]:
        return {
            "direct_p50": median(self.direct.ttfb_ms),
            "direct_p99": percentile(self.direct.ttfb_ms, 99),
            "proxied_p50": median(self.proxied.ttfb_ms),
            "proxied_p99": percentile(self.proxied.ttfb_ms, 99),
            "added_p50": self.added("ttfb_ms", 50),
            "added_p99": self.added("ttfb_ms", 99),
        }


async def _round(callers: list[Caller], side: Side) -> None:
    replies = await asyncio.gather(*(caller.call(CLAUDE_REPLY) for caller in callers))
    for reply in replies:
        if reply.status != 200:
            side.failed += 1
            continue
        side.ttfb_ms.append(reply.ttfb_ms)
        side.gaps_ms.extend(reply.gaps_ms())
        side.transit_ms.extend(value / 1e6 for value in reply.transits)


async def measure(stack: Stack, concurrency: int, rounds: int) -> LatencyResult:
    direct = [Caller(stack, proxied=False) for _ in range(concurrency)]
    proxied = [Caller(stack, proxied=True, slug=stack.slugs[index]) for index in range(concurrency)]
    result = LatencyResult(concurrency, Side(), Side())
    # Warm-up, not counted: connections, the slug cache, the rate limit views, the pooled upstream client.
    await _round(direct, Side())
    await _round(proxied, Side())
    for index in range(rounds):
        order = ((direct, result.direct), (proxied, result.proxied))
        for callers, side in order if index % 2 == 0 else reversed(order):
            await _round(callers, side)
    for caller in direct + proxied:
        await caller.close()
    return result
