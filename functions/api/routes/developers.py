"""The tenant's Claude Code developers (shared/developers.py): listed, and named by the tenant.

Naming needs the `write` scope (deps.py gives it to any method but GET); a developer the proxy has
never seen is a 404: names are given to what was seen, never to a made-up id.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter

from functions.api.deps import Audit, CurrentPrincipal, Developers, PageParams, Services
from functions.api.errors import NotFound
from functions.api.pages import Page, PagedQuery
from functions.api.schemas import Developer, NameBody

router = APIRouter(prefix="/developers", tags=["developers"])

_DEVELOPER_ID = re.compile(r"^[0-9a-f]{16}$")


@router.get("", response_model=Page[Developer])
def list_developers(
    principal: CurrentPrincipal, page: PageParams, developers: Developers, services: Services
) -> dict[str, Any]:
    """Developers seen through the proxy, the most recently active first."""
    paged = PagedQuery(principal.tenant_id, {"list": "developers"}, services.secret)
    result = developers.list(principal.tenant_id, page.limit, paged.start_key(page))
    return paged.envelope(result, Developer.model_validate)


@router.put("/{developer_id}", response_model=Developer)
def name_developer(
    developer_id: str, body: NameBody, principal: CurrentPrincipal, developers: Developers, audit: Audit
) -> Developer:
    named = (
        developers.rename(principal.tenant_id, developer_id, body.name)
        if _DEVELOPER_ID.match(developer_id)
        else None
    )
    if named is None:
        raise NotFound("Developer")
    audit.record(principal, "developer.named", "developer", developer_id, {"name": body.name})
    return Developer.model_validate(named)
