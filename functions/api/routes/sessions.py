"""Claude Code sessions: what each one cost, what caching saved, and what its 1-hour writes wasted.

Mounted before `routes/usage.py`, whose `/usage/{usage_id}` would otherwise take `/usage/sessions`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi import APIRouter

from functions.api.deps import CurrentPrincipal, PageParams, Services, Usage
from functions.api.errors import NotFound
from functions.api.pages import Page, PagedQuery
from functions.api.routes.usage import EndpointFilter, From, To, _endpoint_filter, _range
from functions.api.schemas import SessionDetail, SessionSummary
from shared.cache_economics import unread_1h_cache_writes
from shared.sessions import ID_PATTERN
from shared.store.usage_records import TOKEN_FIELDS, SessionQuery, UsageQuery
from shared.timefmt import utc_now

router = APIRouter(prefix="/usage/sessions", tags=["sessions"])

_INPUT_TOKENS = ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")


def _decimal(value: Any) -> Decimal:
    return Decimal(str(value or 0))


def _cents(value: Decimal) -> str:
    return f"{value:.6f}"


def session_view(item: dict[str, Any]) -> dict[str, Any]:
    """A session aggregate item as the API shows it."""
    tokens = {name: int(item.get(name) or 0) for name in TOKEN_FIELDS}
    cost = _decimal(item.get("cost_cents"))
    uncached = _decimal(item.get("cost_without_cache_cents"))
    all_input = sum(tokens[name] for name in _INPUT_TOKENS)
    return {
        "session_id": item["session_id"],
        "first_at": item["first_at"],
        "last_at": item["last_at"],
        "requests": int(item.get("requests") or 0),
        **tokens,
        "tokens": all_input + tokens["output_tokens"],
        "cost_cents": _cents(cost),
        "cost_unknown_requests": int(item.get("cost_unknown_requests") or 0),
        "cost_without_cache_cents": _cents(uncached),
        "cache_savings_cents": _cents(uncached - cost),
        "cache_hit_ratio": round(tokens["cache_read_input_tokens"] / all_input, 6) if all_input else 0.0,
        "models": sorted(item.get("models") or ()),
        "proxy_endpoint_ids": sorted(item.get("proxy_endpoint_ids") or ()),
        "subagent_requests": int(item.get("subagent_requests") or 0),
        "subagent_cost_cents": _cents(_decimal(item.get("subagent_cost_cents"))),
        "subagent_runs": len(item.get("agent_ids") or ()),
    }


@router.get("", response_model=Page[SessionSummary])
def list_sessions(
    principal: CurrentPrincipal,
    page: PageParams,
    usage: Usage,
    services: Services,
    start: From = None,
    end: To = None,
    proxy_endpoint_id: EndpointFilter = None,
) -> dict[str, Any]:
    """Sessions, the most recently active first; `from`/`to` select by the session's latest call."""
    first, last = _range(start, end)
    query = SessionQuery(principal.tenant_id, first, last, _endpoint_filter(proxy_endpoint_id))
    paged = PagedQuery(
        principal.tenant_id,
        {
            "list": "sessions",
            "from": first.isoformat() if first else None,
            "to": last.isoformat() if last else None,
            "proxy_endpoint_id": query.proxy_endpoint_id,
        },
        services.secret,
    )
    result = usage.sessions(query, page.limit, paged.start_key(page))
    return paged.envelope(result, session_view)


@router.get("/{session_id}", response_model=SessionDetail)
def get_session(session_id: str, principal: CurrentPrincipal, usage: Usage) -> dict[str, Any]:
    """One session, with its 1-hour cache writes never read back (reads the session's records)."""
    item = usage.session(principal.tenant_id, session_id) if ID_PATTERN.match(session_id) else None
    if item is None:
        raise NotFound("Session")
    records = usage.iterate(UsageQuery(principal.tenant_id, session_id=session_id), oldest_first=True)
    unread = unread_1h_cache_writes(records, utc_now())
    return {
        **session_view(item),
        "unread_1h_cache_writes": unread.writes,
        "unread_1h_cache_write_tokens": unread.tokens,
        "unread_1h_cache_write_extra_cents": _cents(unread.extra_cents),
        "pending_1h_cache_write_tokens": unread.pending_tokens,
    }
