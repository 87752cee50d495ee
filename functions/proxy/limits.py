"""The proxy's rate limits, without a table round trip on most calls.

A conditional write per call would be exact but would add a DynamoDB round trip before every call
reaches Anthropic. So each instance keeps its last view of every shared counter: while that view is
well below the limit, a call goes through at once and is counted in the background (the count is
settled before the response ends, so nothing is left running after it). Near the limit (within
`headroom`), with no view yet (a new minute), or when the view is stale, a call is checked exactly
with the conditional write. Overshoot is therefore possible only if more than `headroom` calls reach
other instances within one round trip, and a sequence of calls is limited exactly.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass

from shared.store.rate_limits import CLIENT_IP, Decision, RateLimit, RateLimiter

_MAX_VIEWS = 10_000


@dataclass
class _View:
    window: int
    count: int  # the shared count as last reported by the table
    in_flight: int = 0  # calls let through here whose count the table has not reported yet


class SharedLimit:
    def __init__(self, limiter: RateLimiter, rule: RateLimit) -> None:
        self.limiter = limiter
        self.rule = rule
        self.headroom = max(10, rule.limit // 10)
        self._views: dict[str, _View] = {}

    async def admit(self, subject: str) -> tuple[Decision, Awaitable[None] | None]:
        """The decision, and (when counted in the background) what to await before the response ends."""
        window = self.limiter.window()
        view = self._views.get(subject)
        if (
            view is None
            or view.window != window
            or view.count + view.in_flight >= self.rule.limit - self.headroom
        ):
            decision = await asyncio.to_thread(self.limiter.hit, self.rule, subject)
            if decision.count is not None:
                self._see(subject, window, decision.count)
            return decision, None
        view.in_flight += 1
        # Started now, awaited before the response ends: in Lambda nothing may outlive the response.
        return Decision(True), asyncio.ensure_future(self._count(subject, view))

    async def _count(self, subject: str, view: _View) -> None:
        try:
            count = await asyncio.to_thread(self.limiter.add, self.rule, subject, view.window)
        finally:
            view.in_flight -= 1
        if count is not None:
            self._see(subject, view.window, count)

    def _see(self, subject: str, window: int, count: int) -> None:
        view = self._views.get(subject)
        if view is not None and view.window == window:
            view.count = max(view.count, count)
            return
        if len(self._views) >= _MAX_VIEWS:
            del self._views[next(iter(self._views))]
        self._views[subject] = _View(window, count)


class ProxyLimits:
    """The contract's limits for one proxy route: per client IP (shared with the API) and per endpoint."""

    def __init__(self, limiter: RateLimiter, per_endpoint: RateLimit) -> None:
        self.per_ip = SharedLimit(limiter, CLIENT_IP)
        self.per_endpoint = SharedLimit(limiter, per_endpoint)

    async def admit(self, client_ip: str, endpoint_id: str) -> tuple[Decision, list[Awaitable[None]]]:
        pending: list[Awaitable[None]] = []
        for limit, subject in ((self.per_ip, client_ip), (self.per_endpoint, endpoint_id)):
            decision, settle = await limit.admit(subject)
            if settle is not None:
                pending.append(settle)
            if not decision.allowed:
                return decision, pending
        return Decision(True), pending
