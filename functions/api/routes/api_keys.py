"""Codecosts API keys: the secret is returned once, at creation; lists show only its prefix.

Every route here needs the `admin` scope: a key that can manage keys can outlive its own revocation
by minting another, so only the widest scope may; and so no key ever creates a key wider than its own.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from functions.api.deps import AdminPrincipal, ApiKeys, Audit, PageParams, Services
from functions.api.errors import NotFound
from functions.api.pages import Page, PagedQuery
from functions.api.schemas import ApiKey, CreatedApiKey, NewApiKey, Ok
from shared.ids import is_id

router = APIRouter(prefix="/api-keys", tags=["api keys"])


@router.get("", response_model=Page[ApiKey])
def list_api_keys(
    principal: AdminPrincipal, page: PageParams, api_keys: ApiKeys, services: Services
) -> dict[str, Any]:
    paged = PagedQuery(principal.tenant_id, {"list": "api_keys"}, services.secret)
    result = api_keys.list(principal.tenant_id, page.limit, paged.start_key(page))
    return paged.envelope(result, ApiKey.model_validate)


@router.post("", status_code=201, response_model=CreatedApiKey)
def create_api_key(
    body: NewApiKey, principal: AdminPrincipal, api_keys: ApiKeys, audit: Audit
) -> CreatedApiKey:
    record, key = api_keys.create(principal, body.name, scope=body.scope)
    # The prefix is shown in every list anyway; the key itself never reaches the audit trail.
    audit.record(
        principal,
        "api_key.created",
        "api_key",
        record["id"],
        {"name": record["name"], "key_prefix": record["key_prefix"], "scope": record["scope"]},
    )
    return CreatedApiKey(
        id=record["id"],
        name=record["name"],
        key=key,
        key_prefix=record["key_prefix"],
        scope=record["scope"],
        created_at=record["created_at"],
    )


@router.delete("/{key_id}", response_model=Ok)
def delete_api_key(
    key_id: str, principal: AdminPrincipal, api_keys: ApiKeys, audit: Audit, services: Services
) -> Ok:
    deleted = api_keys.delete(principal.tenant_id, key_id) if is_id(key_id) else None
    if deleted is None:
        raise NotFound("API key")
    services.api_key_auth.forget(key_id)
    audit.record(
        principal,
        "api_key.deleted",
        "api_key",
        key_id,
        {"name": deleted["name"], "key_prefix": deleted["key_prefix"]},
    )
    return Ok()
