"""Usage records (one per call through the proxy), their bodies, and the cost summary."""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from functions.api.deps import Audit, CurrentPrincipal, PageParams, Services, Usage
from functions.api.errors import NotFound, error_responses, invalid
from functions.api.pages import Page, PagedQuery
from functions.api.schemas import (
    BodiesDeleted,
    DayModelSummary,
    DaySummary,
    EndpointSummary,
    ModelSummary,
    Ok,
    UsageBodiesFilter,
    UsageDetail,
    UsageRecord,
    UsageSummary,
)
from shared.ids import is_id
from shared.sessions import ID_PATTERN
from shared.store.usage_records import TOKEN_FIELDS, UsageQuery, public_record
from shared.timefmt import format_timestamp, parse_date_or_datetime, parse_timestamp

router = APIRouter(prefix="/usage", tags=["usage"], responses=error_responses(400, 401, 500))

_CREDENTIAL_FINGERPRINT = re.compile(r"^[0-9a-f]{16}$")
_SUMMED_TOKENS = ("input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
_AGGREGATED = ("requests", "cost_cents", "cost_without_cache_cents", "cost_unknown_requests", *TOKEN_FIELDS)
Sums = dict[str, Decimal]

From = Annotated[
    str | None,
    Query(alias="from", max_length=40, description="ISO date or datetime (UTC when no zone), inclusive"),
]
To = Annotated[str | None, Query(alias="to", max_length=40, description="ISO date or datetime, exclusive")]
EndpointFilter = Annotated[str | None, Query(max_length=40, description="Only this proxy endpoint")]


def _bound(text: str | None, name: str) -> datetime | None:
    if text is None:
        return None
    try:
        return parse_date_or_datetime(text)
    except ValueError as error:
        raise invalid(name, "query", "Expected an ISO 8601 date (2026-03-17) or datetime") from error


def _range(start_text: str | None, end_text: str | None) -> tuple[datetime | None, datetime | None]:
    start, end = _bound(start_text, "from"), _bound(end_text, "to")
    if start and end and start >= end:
        raise invalid("to", "query", "`to` must be later than `from` (`from` is inclusive, `to` exclusive)")
    return start, end


def _endpoint_filter(endpoint_id: str | None) -> str | None:
    if endpoint_id is not None and not is_id(endpoint_id):
        raise invalid("proxy_endpoint_id", "query", "Not a proxy endpoint id")
    return endpoint_id


def _cents(value: Any) -> str | None:
    return None if value is None else f"{Decimal(str(value)):.6f}"


def usage_view(item: dict[str, Any]) -> dict[str, Any]:
    """A stored record as the API shows it: contract types, whatever the stored representation."""
    record = public_record(item)
    for name in TOKEN_FIELDS:
        record[name] = int(record[name] or 0)
    record["cost_cents"] = _cents(record["cost_cents"])
    record["cost_without_cache_cents"] = _cents(record["cost_without_cache_cents"])
    record["usage_known"] = record["usage_known"] is not False
    record["requested_at"] = format_timestamp(parse_timestamp(str(record["requested_at"])))
    record["stream"] = bool(record["stream"])
    record["cost_unknown"] = bool(record["cost_unknown"])
    record["complete"] = record["complete"] is not False
    record["output_tokens_estimated"] = record["output_tokens_estimated"] is True
    record["agent"] = record["agent"] if record["agent"] in ("main", "subagent") else None
    return record


ModelFilter = Annotated[
    str | None,
    Query(max_length=200, description="Model name prefix: `claude-opus` matches `claude-opus-4-6`"),
]
CredentialFilter = Annotated[
    str | None, Query(description="Fingerprint of the Anthropic credential (`api_key_id` of a record)")
]
SessionFilter = Annotated[
    str | None, Query(max_length=128, description="Only this Claude Code session (`session_id` of a record)")
]


def session_filter(session_id: str | None) -> str | None:
    if session_id is not None and not ID_PATTERN.match(session_id):
        raise invalid("session_id", "query", "Not a session id")
    return session_id


def usage_query(
    principal: CurrentPrincipal,
    model: ModelFilter = None,
    start: From = None,
    end: To = None,
    proxy_endpoint_id: EndpointFilter = None,
    api_key_id: CredentialFilter = None,
    session_id: SessionFilter = None,
) -> UsageQuery:
    """The filters of `/api/usage` (and of its CSV export), checked: a bad one is a 400."""
    first, last = _range(start, end)
    if api_key_id is not None and not _CREDENTIAL_FINGERPRINT.match(api_key_id):
        raise invalid("api_key_id", "query", "Expected 16 lowercase hex characters")
    return UsageQuery(
        tenant_id=principal.tenant_id,
        start=first,
        end=last,
        model_prefix=model or None,
        proxy_endpoint_id=_endpoint_filter(proxy_endpoint_id),
        api_key_id=api_key_id,
        session_id=session_filter(session_id),
    )


# The list's filters as one dependency: the list and the CSV export take the same query parameters.
UsageFilters = Annotated[UsageQuery, Depends(usage_query)]


@router.get("", response_model=Page[UsageRecord])
def list_usage(
    principal: CurrentPrincipal,
    page: PageParams,
    usage: Usage,
    services: Services,
    query: UsageFilters,
) -> dict[str, Any]:
    binding: dict[str, Any] = {
        "list": "usage",
        "model": query.model_prefix,
        "from": query.start.isoformat() if query.start else None,
        "to": query.end.isoformat() if query.end else None,
        "proxy_endpoint_id": query.proxy_endpoint_id,
        "api_key_id": query.api_key_id,
    }
    if query.session_id:
        binding["session_id"] = query.session_id  # only when set: earlier cursors stay valid
    paged = PagedQuery(principal.tenant_id, binding, services.secret)
    result = usage.list(query, page.limit, paged.start_key(page))
    return paged.envelope(result, usage_view)


def _days(first: datetime | None, last: datetime | None) -> tuple[date | None, date | None]:
    """Aggregates are per UTC day: a range selects every day it touches, whole."""
    return (
        first.date() if first else None,
        (last - timedelta(microseconds=1)).date() if last else None,
    )


@router.get("/summary", response_model=UsageSummary)
def usage_summary(
    principal: CurrentPrincipal,
    usage: Usage,
    start: From = None,
    end: To = None,
    proxy_endpoint_id: EndpointFilter = None,
) -> UsageSummary:
    first_day, last_day = _days(*_range(start, end))
    rows = usage.aggregates(principal.tenant_id, first_day, last_day, _endpoint_filter(proxy_endpoint_id))
    totals: Sums = defaultdict(Decimal)
    by_model: dict[str, Sums] = defaultdict(lambda: defaultdict(Decimal))
    by_day: dict[str, Sums] = defaultdict(lambda: defaultdict(Decimal))
    by_day_model: dict[tuple[str, str], Sums] = defaultdict(lambda: defaultdict(Decimal))
    by_endpoint: dict[str, Sums] = defaultdict(lambda: defaultdict(Decimal))
    for row in rows:
        values = {name: Decimal(str(row.get(name) or 0)) for name in _AGGREGATED}
        values["tokens"] = sum((values[name] for name in _SUMMED_TOKENS), Decimal(0))
        day, model = str(row["day"]), str(row["model"])
        for bucket in (
            totals,
            by_model[model],
            by_day[day],
            by_day_model[(day, model)],
            by_endpoint[str(row.get("proxy_endpoint_id") or "")],
        ):
            for name, value in values.items():
                bucket[name] += value
    all_input = sum((totals[name] for name in _SUMMED_TOKENS if name != "output_tokens"), Decimal(0))
    return UsageSummary(
        totalCostCents=_json_cents(totals["cost_cents"]),
        totalRequests=int(totals["requests"]),
        totalInputTokens=int(totals["input_tokens"]),
        totalOutputTokens=int(totals["output_tokens"]),
        totalCacheCreationInputTokens=int(totals["cache_creation_input_tokens"]),
        totalCacheReadInputTokens=int(totals["cache_read_input_tokens"]),
        totalCacheCreation5mInputTokens=int(totals["cache_creation_5m_input_tokens"]),
        totalCacheCreation1hInputTokens=int(totals["cache_creation_1h_input_tokens"]),
        totalCostWithoutCacheCents=_json_cents(totals["cost_without_cache_cents"]),
        cacheSavingsCents=_json_cents(totals["cost_without_cache_cents"] - totals["cost_cents"]),
        cacheHitRatio=float(round(totals["cache_read_input_tokens"] / all_input, 6)) if all_input else 0.0,
        costUnknownRequests=int(totals["cost_unknown_requests"]),
        byModel=sorted(
            (ModelSummary(model=model, **_entry(sums)) for model, sums in by_model.items()),
            key=lambda entry: (-entry.cost, entry.model),
        ),
        byDay=[DaySummary(date=day, **_entry(sums)) for day, sums in sorted(by_day.items())],
        byDayModel=[
            DayModelSummary(date=day, model=model, **_entry(sums))
            for (day, model), sums in sorted(by_day_model.items())
        ],
        byEndpoint=sorted(
            (
                EndpointSummary(proxy_endpoint_id=endpoint, **_entry(sums))
                for endpoint, sums in by_endpoint.items()
            ),
            key=lambda entry: (-entry.cost, entry.proxy_endpoint_id),
        ),
    )


def _entry(sums: Sums) -> dict[str, Any]:
    return {
        "cost": _json_cents(sums["cost_cents"]),
        "requests": int(sums["requests"]),
        "tokens": int(sums["tokens"]),
    }


def _json_cents(value: Decimal) -> float:
    """Summed exactly as Decimal; a JSON number only at the end, rounded to the records' 6 decimals."""
    return float(round(value, 6))


@router.get("/{usage_id}", response_model=UsageDetail, responses=error_responses(404))
def get_usage(usage_id: str, principal: CurrentPrincipal, usage: Usage) -> dict[str, Any]:
    item = usage.get(principal.tenant_id, usage_id) if is_id(usage_id) else None
    if item is None:
        raise NotFound("Usage record")
    bodies = usage.bodies(item)
    return {
        **usage_view(item),
        "request_body": bodies.request_body,
        "response_body": bodies.response_body,
        "bodies_missing": bool(item.get("bodies_missing")),
    }


@router.delete("/{usage_id}/bodies", response_model=Ok, responses=error_responses(403, 404))
def delete_usage_bodies(usage_id: str, principal: CurrentPrincipal, usage: Usage, audit: Audit) -> Ok:
    """Deletes the call's request and response bodies from every store; the record stays."""
    item = usage.get(principal.tenant_id, usage_id) if is_id(usage_id) else None
    if item is None:
        raise NotFound("Usage record")
    deleted = usage.delete_bodies([item])
    audit.record(principal, "usage.bodies_deleted", "usage", usage_id, {"deleted": deleted})
    return Ok()


@router.post("/bodies/delete", response_model=BodiesDeleted, responses=error_responses(403))
def delete_bodies_by_filter(
    body: UsageBodiesFilter, principal: CurrentPrincipal, usage: Usage, audit: Audit
) -> BodiesDeleted:
    """Deletes the bodies of every call the filters select (those of `GET /api/usage`); records stay."""
    query = usage_query(
        principal,
        model=body.model,
        start=body.from_,
        end=body.to,
        proxy_endpoint_id=body.proxy_endpoint_id,
        api_key_id=body.api_key_id,
        session_id=body.session_id,
    )
    deleted = usage.delete_bodies(usage.iterate(query))
    filters = body.model_dump(by_alias=True, exclude_none=True)
    audit.record(
        principal, "usage.bodies_deleted", "usage", "filter", {"filters": filters, "deleted": deleted}
    )
    return BodiesDeleted(deleted=deleted)
