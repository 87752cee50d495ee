"""Claude Code sessions: what each one cost, what caching saved, and what its 1-hour writes wasted.

Mounted before `routes/usage.py`, whose `/usage/{usage_id}` would otherwise take `/usage/sessions`.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from functions.api.deps import CurrentPrincipal, PageParams, Services, Usage
from functions.api.errors import NotFound
from functions.api.filters import EndpointFilter, From, To, endpoint_filter, time_range
from functions.api.pages import PagedQuery, page_of
from functions.api.schemas import SessionDetail, SessionSummary
from shared.sessions import ID_PATTERN
from shared.store.usage_records import SessionQuery, UsageQuery
from shared.summaries import session_detail, session_view
from shared.timefmt import utc_now

router = APIRouter(prefix="/usage/sessions", tags=["sessions"])


@router.get("", response_model=page_of(SessionSummary))
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
    first, last = time_range(start, end)
    query = SessionQuery(principal.tenant_id, first, last, endpoint_filter(proxy_endpoint_id))
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
    return session_detail(item, records, utc_now())
