"""Monthly budgets that block: refuse a call before it reaches Anthropic once the month's spend is in.

The budget itself comes with the slug (the slug item carries it, cached like the slug). The month's
spend is the sum of the endpoint's day aggregates in the month, which the ingest ADDs to with every
record; it is read at most once per `ttl_seconds` per endpoint and instance (concurrent misses share
one read), so a call costs no table read of its own. Nothing already admitted is cut off: a stream
that crosses the budget runs to its end. The overshoot this allows is bounded and explained in
docs/budgets.md.

A failing read lets the call through (logged): a budget guards against runaway cost, and refusing
every call because the table hiccuped would be the worse failure.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Protocol

from shared.models import SlugTarget
from shared.observability import logger
from shared.timefmt import format_timestamp, month_of, utc_now

_MAX_ENTRIES = 10_000


class MonthSpendSource(Protocol):
    def month_spend(self, tenant_id: str, endpoint_ids: Sequence[str], month: str) -> dict[str, Decimal]: ...


def next_month(moment: datetime) -> datetime:
    """The first instant of the UTC month after `moment`'s."""
    moment = moment.astimezone(UTC)
    year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
    return datetime(year, month, 1, tzinfo=UTC)


def seconds_to_next_month(moment: datetime) -> int:
    return max(1, int((next_month(moment) - moment.astimezone(UTC)).total_seconds()))


class BudgetGuard:
    def __init__(
        self,
        spend: MonthSpendSource,
        ttl_seconds: float,
        clock: Callable[[], datetime] = utc_now,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._spend = spend
        self._ttl = ttl_seconds
        self._clock = clock
        self._monotonic = monotonic
        self._entries: dict[tuple[str, str, str], tuple[float, Decimal]] = {}
        self._pending: dict[tuple[str, str, str], asyncio.Future[Decimal]] = {}

    async def refusal(self, target: SlugTarget) -> tuple[str, int] | None:
        """(message, seconds until the month ends) when the call must be refused, else None."""
        if target.budget_action != "block" or target.monthly_budget_cents is None:
            return None
        now = self._clock()
        month = month_of(now)
        try:
            spent = await self._spent(target, month)
        except Exception as error:
            logger.error(
                "Budget check failed; call let through",
                extra={"proxy_endpoint_id": target.proxy_endpoint_id, "error": type(error).__name__},
            )
            return None
        budget = Decimal(target.monthly_budget_cents)
        if spent < budget:
            return None
        # Whoever holds the slug reads this: nothing about the endpoint beyond the fact of the budget.
        message = (
            "This Codecosts proxy endpoint is over its monthly budget. Calls are refused until the "
            f"budget resets at {format_timestamp(next_month(now))} (UTC, the first of next month), "
            "or until its owner raises the budget."
        )
        return message, seconds_to_next_month(now)

    async def _spent(self, target: SlugTarget, month: str) -> Decimal:
        key = (target.tenant_id, target.proxy_endpoint_id, month)
        entry = self._entries.get(key)
        if entry is not None and entry[0] > self._monotonic():
            return entry[1]
        lookup = self._pending.get(key)
        if lookup is None:
            # boto3 blocks: the read runs in a worker thread; concurrent misses share it.
            lookup = asyncio.ensure_future(self._read(key))
            self._pending[key] = lookup
            lookup.add_done_callback(lambda done: self._settle(key, done))
        return await asyncio.shield(lookup)

    async def _read(self, key: tuple[str, str, str]) -> Decimal:
        spend = await asyncio.to_thread(self._spend.month_spend, key[0], [key[1]], key[2])
        return spend.get(key[1], Decimal(0))

    def _settle(self, key: tuple[str, str, str], lookup: asyncio.Future[Decimal]) -> None:
        del self._pending[key]
        if lookup.cancelled() or lookup.exception() is not None:
            return
        self._entries.pop(key, None)
        if len(self._entries) >= _MAX_ENTRIES:
            del self._entries[next(iter(self._entries))]
        self._entries[key] = (self._monotonic() + self._ttl, lookup.result())
