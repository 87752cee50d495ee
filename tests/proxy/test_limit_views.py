"""The proxy's views of the shared rate-limit counters (functions/proxy/limits.py) and when its side
work runs (functions/proxy/side_work.py)."""

from __future__ import annotations

import asyncio

from functions.proxy.limits import Counting, SharedLimit
from functions.proxy.side_work import FirstByteGate
from shared.store.rate_limits import WINDOW_SECONDS, Decision, RateLimit, RateLimiter

RULE = RateLimit("messages", 100)  # headroom 10: exact checks from 90 on
MINUTE = 1_800_000_000 // WINDOW_SECONDS * WINDOW_SECONDS


class Counters(RateLimiter):
    """The shared counters in memory, with a settable clock; remembers which calls were exact."""

    def __init__(self) -> None:
        super().__init__("unused", clock=lambda: self.now)
        self.now = float(MINUTE)
        self.counts: dict[tuple[str, int], int] = {}
        self.exact = 0

    def hit(self, rule: RateLimit, subject: str) -> Decision:
        self.exact += 1
        key = (subject, self.window())
        if self.counts.get(key, 0) >= rule.limit:
            return Decision(False, 1)
        self.counts[key] = self.counts.get(key, 0) + 1
        return Decision(True, count=self.counts[key])

    def add(self, rule: RateLimit, subject: str, window: int) -> int | None:
        self.counts[(subject, window)] = self.counts.get((subject, window), 0) + 1
        return self.counts[(subject, window)]


async def _calls(limit: SharedLimit, subject: str, calls: int) -> list[bool]:
    allowed = []
    for _ in range(calls):
        counting = Counting()
        allowed.append((await limit.admit(subject, counting)).allowed)
        await counting.settle()
    return allowed


async def test_a_new_minute_starts_from_zero_when_the_last_one_was_far_from_the_limit() -> None:
    counters = Counters()
    limit = SharedLimit(counters, RULE)
    assert await _calls(limit, "ep", 20) == [True] * 20
    assert counters.exact == 1  # the first call of a subject is checked exactly, the rest counted after
    counters.now += WINDOW_SECONDS
    assert await _calls(limit, "ep", 5) == [True] * 5
    assert counters.exact == 1  # no exact check for the new minute
    assert counters.counts[("ep", MINUTE + WINDOW_SECONDS)] == 5

    counters.now += 2 * WINDOW_SECONDS  # a minute with no call in between: exact again
    assert await _calls(limit, "ep", 1) == [True]
    assert counters.exact == 2


async def test_near_the_limit_every_call_is_exact_and_the_next_minute_starts_exact() -> None:
    counters = Counters()
    limit = SharedLimit(counters, RULE)
    assert await _calls(limit, "ep", 105) == [True] * 100 + [False] * 5
    assert counters.exact == 1 + 15  # 91st call on: exact
    counters.now += WINDOW_SECONDS
    assert await _calls(limit, "ep", 1) == [True]
    assert counters.exact == 17  # the minute after a busy one starts with an exact check


async def test_side_work_waits_for_calls_waiting_for_their_first_byte() -> None:
    gate = FirstByteGate(max_delay=10)
    started: list[str] = []
    gate.arrived()
    gate.arrived()
    gate.answered()  # the first call's first byte went out, the second still waits for its own
    gate.when_quiet(lambda: started.append("first"))
    assert started == []
    gate.answered()
    assert started == ["first"]
    gate.when_quiet(lambda: started.append("now"))  # nobody waiting: at once
    assert started == ["first", "now"]


async def test_side_work_waits_no_longer_than_its_limit() -> None:
    gate = FirstByteGate(max_delay=0.05)
    started: list[str] = []
    gate.arrived()
    gate.when_quiet(lambda: started.append("late"))
    await asyncio.sleep(0.1)
    assert started == ["late"]
    gate.answered()
    assert started == ["late"]
