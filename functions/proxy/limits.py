"""The proxy's rate limits, without a table round trip on most calls.

A conditional write per call would be exact but would add a DynamoDB round trip before every call
reaches Anthropic. So each instance keeps its last view of every shared counter: while that view is
well below the limit, a call goes through at once and is counted in the background (the count is
settled before the response ends, so nothing is left running after it). Near the limit (within
`headroom`), or with no view of the subject, a call is checked exactly with the conditional write.
Overshoot is therefore possible only if more than `headroom` calls reach other instances within one
round trip, and a sequence of calls is limited exactly.

A new minute starts every counter at zero, so a view that was well below the limit in the minute
that just ended becomes a view of zero for the new one (exact at the minute's start, as a fresh view
is); its first call is not made to wait for a table write. A subject that was near the limit, or
unseen for longer, gets the exact check.

The background counts of a call start only once its first byte has gone to the client: boto3 holds
the GIL for a millisecond or more per call, and started earlier the counts would slow the very
request they count (and everything else on the event loop) before its first byte. All of a call's
counts go in one worker-thread hop. A call that needs the exact check first sends this instance's
counts for that subject that have not landed yet, so a sequence of calls is still limited exactly.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field

from shared.store.rate_limits import CLIENT_IP, WINDOW_SECONDS, Decision, RateLimit, RateLimiter

_MAX_VIEWS = 10_000


@dataclass
class _View:
    window: int
    count: int  # the shared count as last reported by the table
    in_flight: int = 0  # calls let through here whose count the table has not reported yet
    counting: set[Counting] = field(default_factory=set)  # their counts, started or not


class SharedLimit:
    def __init__(self, limiter: RateLimiter, rule: RateLimit) -> None:
        self.limiter = limiter
        self.rule = rule
        self.headroom = max(10, rule.limit // 10)
        self._views: dict[str, _View] = {}

    async def admit(self, subject: str, counting: Counting) -> Decision:
        """The decision; a call let through without a table write is added to `counting`."""
        window = self.limiter.window()
        view = self._view(subject, window)
        if view is None or view.count + view.in_flight >= self.rule.limit - self.headroom:
            if view is not None and view.counting:
                # The exact check must see this instance's own calls: their counts go first, at once.
                pending = [counting.started() for counting in view.counting]
                await asyncio.gather(*pending, return_exceptions=True)
            decision = await asyncio.to_thread(self.limiter.hit, self.rule, subject)
            if decision.count is not None:
                self._see(subject, window, decision.count)
            return decision
        view.in_flight += 1
        view.counting.add(counting)
        counting.counts.append((self, subject, view))
        return Decision(True)

    def _view(self, subject: str, window: int) -> _View | None:
        """This instance's view of the subject's count in `window`, if it has one it may trust."""
        view = self._views.get(subject)
        if view is None or view.window == window:
            return view
        far = view.count + view.in_flight < self.rule.limit - self.headroom
        if view.window == window - WINDOW_SECONDS and far:
            fresh = self._views[subject] = _View(window, 0)
            return fresh
        return None

    def _see(self, subject: str, window: int, count: int) -> None:
        view = self._views.get(subject)
        if view is not None and view.window == window:
            view.count = max(view.count, count)
            return
        if len(self._views) >= _MAX_VIEWS:
            del self._views[next(iter(self._views))]
        self._views[subject] = _View(window, count)


@dataclass(eq=False)
class Counting:
    """The background counts of one call: started after its first byte, awaited before its handler returns."""

    counts: list[tuple[SharedLimit, str, _View]] = field(default_factory=list)
    _task: asyncio.Future[None] | None = None

    def start(self) -> None:
        if self._task is None and self.counts:
            self._task = asyncio.ensure_future(self._count())

    def started(self) -> asyncio.Future[None]:
        self.start()
        assert self._task is not None
        return self._task

    async def _count(self) -> None:
        try:
            # One table write per count, each in a worker thread of its own: the call's response ends
            # after them, so they take one round trip, not one each.
            counts = await asyncio.gather(
                *(
                    asyncio.to_thread(limit.limiter.add, limit.rule, subject, view.window)
                    for limit, subject, view in self.counts
                )
            )
        finally:
            for _, _, view in self.counts:
                view.in_flight -= 1
                view.counting.discard(self)
        for (limit, subject, view), count in zip(self.counts, counts, strict=True):
            if count is not None:
                limit._see(subject, view.window, count)

    async def settle(self) -> None:
        """Awaited before the call's handler returns: in Lambda nothing may outlive the call."""
        self.start()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)


class ProxyLimits:
    """The contract's limits on the proxy: per client IP (one counter with the API's), then per
    endpoint and route. The per-IP limit is admitted before the slug is looked up, so that trying
    made-up slugs is limited (and costs a table read) like any other call."""

    def __init__(self, limiter: RateLimiter, per_route: Mapping[bytes, RateLimit]) -> None:
        self.per_ip = SharedLimit(limiter, CLIENT_IP)
        self.per_endpoint = {path: SharedLimit(limiter, rule) for path, rule in per_route.items()}

    async def admit_client(self, client_ip: str, counting: Counting) -> Decision:
        return await self.per_ip.admit(client_ip, counting)

    async def admit_endpoint(self, path: bytes, endpoint_id: str, counting: Counting) -> Decision:
        return await self.per_endpoint[path].admit(endpoint_id, counting)
