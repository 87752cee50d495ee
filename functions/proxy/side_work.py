"""A call's work besides relaying (its rate-limit counts, a due slug re-read), kept out of the way.

It starts only after the call's first byte has gone to the client, and then only once no other call
is waiting for its own first byte (or after `max_delay`): each piece is a boto3 call in a worker
thread, which holds the GIL for a millisecond or more, so started earlier it would delay the very
first bytes the proxy is judged by (16 calls arriving together would each wait for the counts of the
ones ahead). It ends before the response does (awaited alongside the usage message, app.py): in
Lambda nothing may outlive the response.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from functions.proxy.limits import Counting


class FirstByteGate:
    """Counts the calls waiting for their first byte; side work queued meanwhile starts when none is."""

    def __init__(self, max_delay: float = 0.05) -> None:
        self.waiting = 0
        self.max_delay = max_delay
        self._queued: list[Callable[[], None]] = []
        self._timer: asyncio.TimerHandle | None = None

    def arrived(self) -> None:
        self.waiting += 1

    def answered(self) -> None:
        """The call's first byte went out, or the call ended without one."""
        self.waiting -= 1
        if self.waiting == 0:
            self._release()

    def when_quiet(self, start: Callable[[], None]) -> None:
        if self.waiting == 0:
            start()
            return
        self._queued.append(start)
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self.max_delay, self._release)

    def _release(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        queued, self._queued = self._queued, []
        for start in queued:
            start()


class SideWork:
    """One call's side work: its background counts and, when due, a re-read of its slug."""

    def __init__(self, counting: Counting, refresh: Callable[[], asyncio.Future[Any] | None]) -> None:
        self.counting = counting
        self._refresh: Callable[[], asyncio.Future[Any] | None] | None = refresh
        self._refreshing: asyncio.Future[Any] | None = None

    def start(self) -> None:
        """Idempotent."""
        self.counting.start()
        if self._refresh is not None:
            self._refreshing = self._refresh()
            self._refresh = None

    async def settle(self) -> None:
        """Awaited before the call's handler returns; starts whatever has not started yet."""
        self.start()
        await self.counting.settle()
        if self._refreshing is not None:
            # Shared with other calls of the slug: waited for, never cancelled from here.
            await asyncio.wait((self._refreshing,))
