"""The tenant's Anthropic admin key, which lets the bill check read Anthropic's usage and cost reports.

It is checked with Anthropic before it is stored, stored encrypted, and never shown again: only
whether one is set, its hint and when it was set.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from functions.api.deps import Audit, CurrentPrincipal, Services
from functions.api.errors import ApiError, ErrorBody
from functions.api.schemas import Ok
from shared.anthropic_admin import AdminApiError

router = APIRouter(prefix="/anthropic-admin-key", tags=["bill check"])


class AdminKeyBody(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"admin_key": "sk-ant-admin01-..."}]}
    )

    # Visible ASCII only: it travels as an HTTP header value to Anthropic.
    admin_key: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500, pattern=r"^[\x21-\x7e]+$")
    ]


class AdminKeyStatus(BaseModel):
    configured: bool
    hint: str | None = Field(description="Kind and last four characters: `sk-ant-admin01-...Wxyz`")
    updated_at: str | None


@router.get("", response_model=AdminKeyStatus)
def get_admin_key(principal: CurrentPrincipal, services: Services) -> AdminKeyStatus:
    return AdminKeyStatus(**services.admin_keys.status(principal.tenant_id))


@router.put(
    "",
    response_model=AdminKeyStatus,
    responses={
        502: {"model": ErrorBody, "description": "Anthropic's Admin API could not be reached or failed"},
    },
)
def set_admin_key(
    body: AdminKeyBody, principal: CurrentPrincipal, services: Services, audit: Audit
) -> AdminKeyStatus:
    """Anthropic is asked once (the key list, the smallest admin read) before the key is kept."""
    try:
        services.bill_check.admin_client(body.admin_key).verify()
    except AdminApiError as error:
        if error.status_code is not None and 400 <= error.status_code < 500 and error.status_code != 429:
            raise ApiError(400, "Anthropic refused the admin key", error.message) from None
        raise ApiError(502, "Anthropic's Admin API could not check the key", error.message) from None
    status = services.admin_keys.put(principal.tenant_id, body.admin_key)
    audit.record(
        principal,
        "anthropic_admin_key.set",
        "anthropic_admin_key",
        principal.tenant_id,
        {"hint": status["hint"]},
    )
    return AdminKeyStatus(**status)


@router.delete("", response_model=Ok)
def delete_admin_key(principal: CurrentPrincipal, services: Services, audit: Audit) -> Ok:
    if services.admin_keys.delete(principal.tenant_id):
        audit.record(principal, "anthropic_admin_key.deleted", "anthropic_admin_key", principal.tenant_id)
    return Ok()
