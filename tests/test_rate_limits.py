"""Shared per-minute counters: the limit holds across instances, windows reset, failures fail open."""

from __future__ import annotations

from shared.settings import get_settings
from shared.store.rate_limits import RateLimit, RateLimiter

PROXY = RateLimit("proxy", 300)


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_the_301st_call_in_a_minute_is_refused_with_the_seconds_left(aws):
    clock = Clock(1_800_000_000.0 + 15)  # 15 s into a window
    # Two instances share one counter, as two Lambda environments would.
    first, second = (
        RateLimiter(get_settings().table_name, clock),
        RateLimiter(get_settings().table_name, clock),
    )
    results = [(first if i % 2 else second).hit(PROXY, "EP1") for i in range(300)]
    assert all(decision.allowed for decision in results)
    refused = first.hit(PROXY, "EP1")
    assert not refused.allowed
    assert refused.retry_after == 45
    assert first.hit(PROXY, "EP2").allowed  # another endpoint has its own counter

    clock.now += 45  # the next window
    assert first.hit(PROXY, "EP1").allowed


def test_a_broken_counter_store_serves_the_request(aws):
    limiter = RateLimiter("no-such-table")
    assert limiter.hit(PROXY, "EP1").allowed


def test_once_a_minute_holds_across_the_clock_s_minute(aws):
    clock = Clock(1_800_000_000.0 + 59.5)  # half a second before a fixed window would reset
    first, second = (
        RateLimiter(get_settings().table_name, clock),
        RateLimiter(get_settings().table_name, clock),
    )
    assert first.once_per("refresh", "tenant", 60).allowed
    clock.now += 1  # another minute on the clock, one second later
    refused = second.once_per("refresh", "tenant", 60)
    assert (refused.allowed, refused.retry_after) == (False, 59)
    assert second.once_per("refresh", "other", 60).allowed
    clock.now += 59
    assert first.once_per("refresh", "tenant", 60).allowed
    assert RateLimiter("no-such-table").once_per("refresh", "tenant", 60).allowed  # fails open
