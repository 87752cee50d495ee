"""Slug -> proxy endpoint, remembered for a few seconds so most calls skip the table read.

Both answers are remembered: a deleted or made-up slug must not cost a table read per call either.
A deleted endpoint therefore keeps working on this instance for at most the TTL (contract: 10 s).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Protocol

from shared.models import SlugTarget
from shared.store.endpoints import SLUG_PATTERN

# Bounds memory when callers try many made-up slugs; the oldest entries go first.
_MAX_ENTRIES = 10_000


class SlugResolver(Protocol):
    def resolve_slug(self, slug: str) -> SlugTarget | None: ...


class SlugCache:
    def __init__(
        self,
        endpoints: SlugResolver,
        ttl_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._endpoints = endpoints
        self._ttl = ttl_seconds
        self._clock = clock
        self._entries: dict[str, tuple[float, SlugTarget | None]] = {}
        self._pending: dict[str, asyncio.Future[SlugTarget | None]] = {}

    async def resolve(self, slug: str) -> SlugTarget | None:
        if not SLUG_PATTERN.fullmatch(slug):
            return None
        entry = self._entries.get(slug)
        if entry is not None and entry[0] > self._clock():
            return entry[1]
        lookup = self._pending.get(slug)
        if lookup is None:
            # boto3 blocks: the read runs in a worker thread, never on the event loop. Concurrent
            # misses for one slug share it, and a caller that goes away does not cancel it.
            lookup = asyncio.ensure_future(asyncio.to_thread(self._endpoints.resolve_slug, slug))
            self._pending[slug] = lookup
            lookup.add_done_callback(lambda done: self._settle(slug, done))
        return await asyncio.shield(lookup)

    def _settle(self, slug: str, lookup: asyncio.Future[SlugTarget | None]) -> None:
        del self._pending[slug]
        if not lookup.cancelled() and lookup.exception() is None:
            self._remember(slug, lookup.result())

    def _remember(self, slug: str, target: SlugTarget | None) -> None:
        self._entries.pop(slug, None)
        if len(self._entries) >= _MAX_ENTRIES:
            del self._entries[next(iter(self._entries))]
        self._entries[slug] = (self._clock() + self._ttl, target)
