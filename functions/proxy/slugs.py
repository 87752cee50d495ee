"""Slug -> proxy endpoint, remembered for a few seconds so most calls skip the table read.

Both answers are remembered: a deleted or made-up slug must not cost a table read per call either.

A slug in use never makes its calls wait for the table: once its entry is older than the TTL, it is
still served for a while (`stale_seconds`: the TTL again, within the contract's 10 s) and re-read
in the background (`refresh`, which the proxy starts after the call's first byte and awaits before
the call ends). A slug used at least once per `ttl + stale` therefore costs one read per TTL and no
wait; one idle for longer is read before its next call, as before. An entry's age counts from the
moment its read began, so a deleted endpoint stops working on every instance within `ttl + stale`
(contract: 10 s). A made-up slug's "not found" is never served past the TTL.
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
# API.md: a deleted endpoint's slug stops working within 10 seconds on every instance.
DELETED_SLUG_SECONDS = 10.0


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
        self.stale_seconds = max(0.0, min(ttl_seconds, DELETED_SLUG_SECONDS - ttl_seconds))
        self._clock = clock
        # slug -> (when the read that answered began, the answer)
        self._entries: dict[str, tuple[float, SlugTarget | None]] = {}
        self._pending: dict[str, asyncio.Future[SlugTarget | None]] = {}

    async def resolve(self, slug: str) -> SlugTarget | None:
        if not SLUG_PATTERN.fullmatch(slug):
            return None
        entry = self._entries.get(slug)
        if entry is not None:
            age = self._clock() - entry[0]
            if age < self._ttl or (entry[1] is not None and age < self._ttl + self.stale_seconds):
                return entry[1]
        return await asyncio.shield(self._read(slug))

    def refresh(self, slug: str) -> asyncio.Future[SlugTarget | None] | None:
        """Re-reads a slug served past its TTL (one read for all its callers); None if not due."""
        entry = self._entries.get(slug)
        if entry is None or self._clock() - entry[0] < self._ttl:
            return None
        return self._read(slug)

    def _read(self, slug: str) -> asyncio.Future[SlugTarget | None]:
        lookup = self._pending.get(slug)
        if lookup is None:
            # boto3 blocks: the read runs in a worker thread, never on the event loop. Concurrent
            # reads of one slug share it, and a caller that goes away does not cancel it.
            began = self._clock()
            lookup = asyncio.ensure_future(asyncio.to_thread(self._endpoints.resolve_slug, slug))
            self._pending[slug] = lookup
            lookup.add_done_callback(lambda done: self._settle(slug, began, done))
        return lookup

    def _settle(self, slug: str, began: float, lookup: asyncio.Future[SlugTarget | None]) -> None:
        del self._pending[slug]
        if not lookup.cancelled() and lookup.exception() is None:
            self._remember(slug, began, lookup.result())

    def _remember(self, slug: str, began: float, target: SlugTarget | None) -> None:
        self._entries.pop(slug, None)
        if len(self._entries) >= _MAX_ENTRIES:
            del self._entries[next(iter(self._entries))]
        self._entries[slug] = (began, target)
