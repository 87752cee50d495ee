"""The query parameters that select usage: a time range, an endpoint, a model, a credential, a
session. Checked here, so a bad one is an ordinary 400 on every route that takes it."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Query

from functions.api.deps import CurrentPrincipal
from functions.api.errors import invalid
from shared.ids import is_id
from shared.sessions import ID_PATTERN
from shared.store.usage_records import UsageQuery
from shared.timefmt import parse_date_or_datetime

# `api_key_id` and `developer_id`: HMACs cut to 16 hex characters.
_FINGERPRINT = re.compile(r"^[0-9a-f]{16}$")

From = Annotated[
    str | None,
    Query(alias="from", max_length=40, description="ISO date or datetime (UTC when no zone), inclusive"),
]
To = Annotated[str | None, Query(alias="to", max_length=40, description="ISO date or datetime, exclusive")]
EndpointFilter = Annotated[str | None, Query(max_length=40, description="Only this proxy endpoint")]
ModelFilter = Annotated[
    str | None,
    Query(max_length=200, description="Model name prefix: `claude-opus` matches `claude-opus-4-6`"),
]
CredentialFilter = Annotated[
    str | None, Query(description="Fingerprint of the Anthropic credential (`api_key_id` of a record)")
]
DeveloperFilter = Annotated[
    str | None, Query(description="Fingerprint of the Claude Code developer (`developer_id` of a record)")
]
SessionFilter = Annotated[
    str | None, Query(max_length=128, description="Only this Claude Code session (`session_id` of a record)")
]


def _bound(text: str | None, name: str) -> datetime | None:
    if text is None:
        return None
    try:
        return parse_date_or_datetime(text)
    except ValueError as error:
        raise invalid(name, "query", "Expected an ISO 8601 date (2026-03-17) or datetime") from error


def time_range(start_text: str | None, end_text: str | None) -> tuple[datetime | None, datetime | None]:
    start, end = _bound(start_text, "from"), _bound(end_text, "to")
    if start and end and start >= end:
        raise invalid("to", "query", "`to` must be later than `from` (`from` is inclusive, `to` exclusive)")
    return start, end


def endpoint_filter(endpoint_id: str | None) -> str | None:
    if endpoint_id is not None and not is_id(endpoint_id):
        raise invalid("proxy_endpoint_id", "query", "Not a proxy endpoint id")
    return endpoint_id


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
    developer_id: DeveloperFilter = None,
) -> UsageQuery:
    """The filters of `/api/usage` (and of its CSV export), checked: a bad one is a 400."""
    first, last = time_range(start, end)
    for name, fingerprint in (("api_key_id", api_key_id), ("developer_id", developer_id)):
        if fingerprint is not None and not _FINGERPRINT.match(fingerprint):
            raise invalid(name, "query", "Expected 16 lowercase hex characters")
    return UsageQuery(
        tenant_id=principal.tenant_id,
        start=first,
        end=last,
        model_prefix=model or None,
        proxy_endpoint_id=endpoint_filter(proxy_endpoint_id),
        api_key_id=api_key_id,
        session_id=session_filter(session_id),
        developer_id=developer_id,
    )


# The list's filters as one dependency: the list and the CSV export take the same query parameters.
UsageFilters = Annotated[UsageQuery, Depends(usage_query)]
