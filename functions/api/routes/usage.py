"""Usage records (one per call through the proxy), their bodies, and the cost summary."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from fastapi import APIRouter

from functions.api.deps import Audit, CurrentPrincipal, Developers, PageParams, Services, Usage
from functions.api.errors import NotFound
from functions.api.filters import (
    EndpointFilter,
    From,
    To,
    UsageFilters,
    endpoint_filter,
    time_range,
    usage_query,
)
from functions.api.pages import PagedQuery, page_of
from functions.api.schemas import (
    BodiesDeleted,
    Ok,
    UsageBodiesFilter,
    UsageDetail,
    UsageRecord,
    UsageSummary,
)
from shared.ids import is_id
from shared.summaries import developer_spend
from shared.summaries import usage_summary as summed_usage
from shared.usage_record import record_view

router = APIRouter(prefix="/usage", tags=["usage"])


@router.get("", response_model=page_of(UsageRecord))
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
    # Only when set: earlier cursors stay valid.
    for name in ("session_id", "developer_id"):
        if getattr(query, name):
            binding[name] = getattr(query, name)
    paged = PagedQuery(principal.tenant_id, binding, services.secret)
    result = usage.list(query, page.limit, paged.start_key(page))
    return paged.envelope(result, record_view)


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
    developers: Developers,
    start: From = None,
    end: To = None,
    proxy_endpoint_id: EndpointFilter = None,
) -> dict[str, Any]:
    first_day, last_day = _days(*time_range(start, end))
    endpoint_id = endpoint_filter(proxy_endpoint_id)
    spent = [
        row
        for row in developers.day_aggregates(principal.tenant_id, first_day, last_day)
        if not endpoint_id or row.get("proxy_endpoint_id") == endpoint_id
    ]
    names = developers.names(principal.tenant_id) if spent else {}
    return {
        **summed_usage(usage.aggregates(principal.tenant_id, first_day, last_day, endpoint_id)),
        "byDeveloper": developer_spend(spent, names),
    }


@router.get("/{usage_id}", response_model=UsageDetail)
def get_usage(usage_id: str, principal: CurrentPrincipal, usage: Usage) -> dict[str, Any]:
    record = usage.get(principal.tenant_id, usage_id) if is_id(usage_id) else None
    if record is None:
        raise NotFound("Usage record")
    bodies = usage.bodies(record)
    return {
        **record_view(record),
        **record_view(record, "detail"),
        "request_body": bodies.request_body,
        "response_body": bodies.response_body,
    }


@router.delete("/{usage_id}/bodies", response_model=Ok)
def delete_usage_bodies(usage_id: str, principal: CurrentPrincipal, usage: Usage, audit: Audit) -> Ok:
    """Deletes the call's request and response bodies from every store; the record stays."""
    record = usage.get(principal.tenant_id, usage_id) if is_id(usage_id) else None
    if record is None:
        raise NotFound("Usage record")
    deleted = usage.delete_bodies([record])
    audit.record(principal, "usage.bodies_deleted", "usage", usage_id, {"deleted": deleted})
    return Ok()


@router.post("/bodies/delete", response_model=BodiesDeleted)
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
        developer_id=body.developer_id,
    )
    deleted = usage.delete_bodies(usage.iterate(query))
    filters = body.model_dump(by_alias=True, exclude_none=True)
    audit.record(
        principal, "usage.bodies_deleted", "usage", "filter", {"filters": filters, "deleted": deleted}
    )
    return BodiesDeleted(deleted=deleted)
