"""Slug lookups: remembered for the TTL (both answers), one table read per slug at a time."""

from __future__ import annotations

import asyncio
import threading

from functions.proxy.slugs import SlugCache
from shared.models import SlugTarget

TARGET = SlugTarget(tenant_id="t1", proxy_endpoint_id="EP1")


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class CountingEndpoints:
    def __init__(self, known: dict[str, SlugTarget], gate: threading.Event | None = None) -> None:
        self.known = known
        self.gate = gate
        self.reads: list[str] = []

    def resolve_slug(self, slug: str) -> SlugTarget | None:
        self.reads.append(slug)
        if self.gate is not None:
            self.gate.wait(5)
        return self.known.get(slug)


async def test_answers_are_remembered_for_the_ttl() -> None:
    clock = Clock()
    endpoints = CountingEndpoints({"laptop-abc123": TARGET})
    cache = SlugCache(endpoints, ttl_seconds=5, clock=clock)
    assert await cache.resolve("laptop-abc123") == TARGET
    assert await cache.resolve("missing-zzz999") is None
    clock.now += 4.9
    assert await cache.resolve("laptop-abc123") == TARGET
    assert await cache.resolve("missing-zzz999") is None
    assert endpoints.reads == ["laptop-abc123", "missing-zzz999"]

    clock.now += 0.2
    assert await cache.resolve("missing-zzz999") is None  # "not found" is read again after the TTL
    assert endpoints.reads[-1] == "missing-zzz999"


async def test_a_slug_past_its_ttl_is_served_while_it_is_read_again() -> None:
    """A slug in use never waits for the table; a deleted one still stops within the contract's 10 s."""
    clock = Clock()
    endpoints = CountingEndpoints({"laptop-abc123": TARGET})
    cache = SlugCache(endpoints, ttl_seconds=5, clock=clock)
    assert cache.stale_seconds == 5
    assert await cache.resolve("laptop-abc123") == TARGET
    assert cache.refresh("laptop-abc123") is None  # not due within the TTL
    del endpoints.known["laptop-abc123"]  # deleted elsewhere

    clock.now += 7
    assert await cache.resolve("laptop-abc123") == TARGET  # served, no wait
    assert endpoints.reads == ["laptop-abc123"]
    refresh = cache.refresh("laptop-abc123")
    assert refresh is not None
    assert cache.refresh("laptop-abc123") is refresh  # one read for every caller
    assert await refresh is None
    assert await cache.resolve("laptop-abc123") is None
    assert endpoints.reads == ["laptop-abc123"] * 2

    endpoints.known["laptop-abc123"] = TARGET
    clock.now += 5
    assert await cache.resolve("laptop-abc123") == TARGET
    clock.now += 10  # past TTL + stale: read before answering
    del endpoints.known["laptop-abc123"]
    assert await cache.resolve("laptop-abc123") is None
    assert endpoints.reads == ["laptop-abc123"] * 4


def test_the_stale_period_keeps_within_the_contract() -> None:
    endpoints = CountingEndpoints({})
    assert SlugCache(endpoints, ttl_seconds=8).stale_seconds == 2
    assert SlugCache(endpoints, ttl_seconds=10).stale_seconds == 0
    assert SlugCache(endpoints, ttl_seconds=0.3).stale_seconds == 0.3


async def test_malformed_slugs_never_reach_the_table() -> None:
    endpoints = CountingEndpoints({})
    cache = SlugCache(endpoints, ttl_seconds=5)
    for slug in ("", "UPPER", "has space", "-leading", "x" * 90, "slug\n", "a/b"):
        assert await cache.resolve(slug) is None
    assert endpoints.reads == []


async def test_concurrent_misses_share_one_read() -> None:
    gate = threading.Event()
    endpoints = CountingEndpoints({"laptop-abc123": TARGET}, gate)
    cache = SlugCache(endpoints, ttl_seconds=5)
    lookups = [asyncio.ensure_future(cache.resolve("laptop-abc123")) for _ in range(5)]
    await asyncio.sleep(0.05)
    gate.set()
    assert await asyncio.gather(*lookups) == [TARGET] * 5
    assert endpoints.reads == ["laptop-abc123"]
