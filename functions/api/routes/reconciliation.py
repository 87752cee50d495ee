"""The bill check: recorded versus billed per UTC day, model and Anthropic key (shape in shared/API.md)."""

from __future__ import annotations

import time
from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from functions.api.deps import CurrentPrincipal, Services
from functions.api.errors import ApiError, invalid
from shared.bill_check import NoAdminKey, default_range
from shared.store.rate_limits import rate_limited_body
from shared.timefmt import utc_now

router = APIRouter(prefix="/reconciliation", tags=["bill check"])

# A refresh reads three Admin API reports with the tenant's key: once a minute per tenant at most.
REFRESH_SCOPE, REFRESH_SECONDS = "reconciliation_refresh", 60
# How long a refresh may spend sending the alerts it reveals.
ALERTS_SECONDS = 10
# A year of days is plenty for a bill check, and bounds what one request reads.
MAX_DAYS = 366


class TokenKinds(BaseModel):
    uncached_input_tokens: int
    cache_creation_5m_input_tokens: int
    cache_creation_1h_input_tokens: int
    cache_read_input_tokens: int
    output_tokens: int
    web_search_requests: int


class Totals(BaseModel):
    recordedCostCents: float
    billedCostCents: float
    driftCostCents: float = Field(description="billed - recorded")
    unrecordedCostCents: float = Field(description="billed on keys that never went through the proxy")


class Line(BaseModel):
    recordedCostCents: float
    billedCostCents: float
    driftCostCents: float
    recorded: TokenKinds
    billed: TokenKinds


class DayLine(Line):
    date: str


class ModelLine(Line):
    model: str


class KeyLine(BaseModel):
    anthropic_api_key_id: str | None
    partial_key_hint: str | None
    api_key_id: str | None = Field(description="the proxy's fingerprint of the credential, when it saw it")
    recordedCostCents: float
    billedCostCents: float
    unrecorded: bool = Field(description="billed by Anthropic, never seen through the proxy")


class Reconciliation(BaseModel):
    start: str = Field(alias="from")
    end: str = Field(alias="to")
    asOf: str | None = Field(description="when Anthropic's reports were last synced")
    stale: bool = Field(description="the last sync failed: this is the last good data")
    error: str | None
    totals: Totals
    byDay: list[DayLine]
    byModel: list[ModelLine]
    byKey: list[KeyLine]


Day = Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}-\d{2}$", description="UTC day, `YYYY-MM-DD`")]
NO_ADMIN_KEY = ApiError(409, "No Anthropic admin key")


def _day(value: str | None, name: str) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        raise invalid(name, "query", "Not a date") from None


def _days(start: str | None, end: str | None) -> tuple[date, date]:
    """`from` inclusive, `to` exclusive. Default `to`: tomorrow (today included); default `from`:
    8 days before `to` (so with neither: the last 7 full UTC days and today)."""
    default_start, default_end = default_range(utc_now().date())
    last = _day(end, "to") or default_end
    first = _day(start, "from") or last - (default_end - default_start)
    if last <= first:
        raise invalid("to", "query", "`to` must be after `from`")
    if last - first > timedelta(days=MAX_DAYS):
        raise invalid("to", "query", f"At most {MAX_DAYS} days at a time")
    return first, last


@router.get(
    "", response_model=Reconciliation, responses={409: {"description": "No Anthropic admin key is set"}}
)
def get_reconciliation(
    principal: CurrentPrincipal,
    services: Services,
    start: Annotated[Day, Query(alias="from")] = None,
    end: Annotated[Day, Query(alias="to")] = None,
) -> dict[str, Any]:
    first, last = _days(start, end)
    try:
        return services.bill_check.report(principal.tenant_id, first, last)
    except NoAdminKey:
        raise NO_ADMIN_KEY from None


@router.post(
    "/refresh",
    response_model=Reconciliation,
    responses={
        409: {"description": "No Anthropic admin key is set"},
        429: {"description": "Refreshed in the last minute"},
    },
)
def refresh_reconciliation(
    principal: CurrentPrincipal,
    services: Services,
    start: Annotated[Day, Query(alias="from")] = None,
    end: Annotated[Day, Query(alias="to")] = None,
) -> Any:
    """Syncs Anthropic's reports for the days asked (default as for GET) now, then answers as GET does.
    A failed sync keeps the last good data and answers it with `stale: true` and the error. A good one
    sends the drift and unrecorded-spend alerts it reveals (shared/alerts.py)."""
    first, last = _days(start, end)
    if not services.admin_keys.status(principal.tenant_id)["configured"]:
        raise NO_ADMIN_KEY
    decision = services.rate_limiter.once_per(REFRESH_SCOPE, principal.tenant_id, REFRESH_SECONDS)
    if not decision.allowed:
        return JSONResponse(
            rate_limited_body(decision.retry_after),
            status_code=429,
            headers={"Retry-After": str(decision.retry_after)},
        )
    try:
        synced = services.bill_check.sync(principal.tenant_id, first, last)
        report = services.bill_check.report(principal.tenant_id, first, last)
    except NoAdminKey:
        raise NO_ADMIN_KEY from None
    if synced:  # fresh data: a drifting day or an unrecorded key is news to tell (once)
        # Within API Gateway's 29 s: what a slow webhook leaves unsent goes with the next sync.
        services.alerts.check_bill(principal.tenant_id, report, time.monotonic() + ALERTS_SECONDS)
    return report
