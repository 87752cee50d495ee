"""The tenant's audit trail, newest first."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from functions.api.deps import Audit, CurrentPrincipal, PageParams, Services
from functions.api.pages import Page, PagedQuery
from functions.api.schemas import AuditLogEntry

router = APIRouter(prefix="/audit-logs", tags=["audit logs"])


@router.get("", response_model=Page[AuditLogEntry])
def list_audit_logs(
    principal: CurrentPrincipal, page: PageParams, audit: Audit, services: Services
) -> dict[str, Any]:
    paged = PagedQuery(principal.tenant_id, {"list": "audit_logs"}, services.secret)
    result = audit.list(principal.tenant_id, page.limit, paged.start_key(page))
    return paged.envelope(result, AuditLogEntry.model_validate)
