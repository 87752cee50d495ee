"""Sending load: the same client and the same replies, direct to the upstream or through the proxy.

Proxied calls are spread over many proxy endpoints and client IPs (loopback source addresses), as
calls from many people would be: the contract's rate limits (per endpoint and per IP, per minute)
must not turn a throughput test into a test of 429s. A connection moves to the next source IP after
`_CALLS_PER_CONNECTION` calls; both sides do the same, so the reconnects cost both the same.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from bench.client import REQUEST_BODY, Connection, Reply
from bench.stack import Stack

_CALLS_PER_CONNECTION = 40
_SOURCE_IPS = itertools.cycle(f"127.0.{third}.{fourth}" for third in (3, 4, 5) for fourth in range(1, 251))
_SLUG_TURN = itertools.count()


@dataclass(frozen=True)
class ReplyShape:
    events: int
    gap_ms: float
    delta_bytes: int = 40

    @property
    def query(self) -> str:
        return f"events={self.events}&gap_ms={self.gap_ms:g}&delta_bytes={self.delta_bytes}"


CLAUDE_REPLY = ReplyShape(events=64, gap_ms=20)
SHORT_REPLY = ReplyShape(events=8, gap_ms=0)


@dataclass
class Caller:
    """One simulated client: a keep-alive connection to one side."""

    stack: Stack
    proxied: bool
    slug: str | None = None  # one endpoint, as one person's calls; None: the next of many, in turn
    connection: Connection | None = None
    calls: int = 0

    def _connect(self) -> Connection:
        port = self.stack.proxy.port if self.proxied and self.stack.proxy else self.stack.upstream.port
        return Connection("127.0.0.1", port, next(_SOURCE_IPS))

    def path(self, shape: ReplyShape) -> str:
        if not self.proxied:
            return f"/v1/messages?{shape.query}"
        slug = self.slug or self.stack.slugs[next(_SLUG_TURN) % len(self.stack.slugs)]
        return f"/proxy/{slug}/v1/messages?{shape.query}"

    async def call(self, shape: ReplyShape, body: bytes = REQUEST_BODY, keep_events: bool = True) -> Reply:
        if self.connection is None or self.calls >= _CALLS_PER_CONNECTION:
            if self.connection is not None:
                await self.connection.close()
            self.connection = self._connect()
            self.calls = 0
        self.calls += 1
        try:
            return await self.connection.post(self.path(shape), body, keep_events)
        except (asyncio.IncompleteReadError, ConnectionError):
            # The server dropped the connection (a reply it could not finish): a failed call.
            await self.close()
            return Reply(status=0, started=time.monotonic_ns())

    async def close(self) -> None:
        if self.connection is not None:
            await self.connection.close()
            self.connection = None


@dataclass
class Window:
    """What a closed loop of callers did in a fixed time."""

    replies: list[Reply] = field(default_factory=list)
    seconds: float = 0.0
    proxy_cpu_seconds: float = 0.0

    @property
    def ok(self) -> list[Reply]:
        return [reply for reply in self.replies if reply.status == 200]

    @property
    def failed(self) -> int:
        return len(self.replies) - len(self.ok)

    @property
    def per_second(self) -> float:
        return len(self.ok) / self.seconds if self.seconds else 0.0


async def closed_loop(
    callers: list[Caller],
    shape: ReplyShape,
    seconds: float,
    cpu: Callable[[], float] | None = None,
    limit: int | None = None,
) -> Window:
    """Every caller calls again as soon as its reply ends, for `seconds` (or `limit` calls in all)."""
    window = Window()
    deadline = time.monotonic() + seconds
    budget = itertools.count()

    async def run(caller: Caller) -> None:
        while time.monotonic() < deadline and (limit is None or next(budget) < limit):
            window.replies.append(await caller.call(shape, keep_events=False))

    cpu_before = cpu() if cpu else 0.0
    started = time.monotonic()
    await asyncio.gather(*(run(caller) for caller in callers))
    window.seconds = time.monotonic() - started
    window.proxy_cpu_seconds = (cpu() - cpu_before) if cpu else 0.0
    return window
