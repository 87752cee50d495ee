"""Proxy endpoints: the `<base>/proxy/<slug>` URLs people set as ANTHROPIC_BASE_URL."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError
from fastapi import APIRouter

from functions.api.deps import Audit, CurrentPrincipal, Endpoints, PageParams, Services
from functions.api.errors import NotFound, error_responses
from functions.api.pages import Page, PagedQuery
from functions.api.schemas import NameBody, Ok, ProxyEndpoint
from shared.ids import is_id
from shared.store.endpoints import EndpointStore

router = APIRouter(
    prefix="/proxy-endpoints", tags=["proxy endpoints"], responses=error_responses(400, 401, 500)
)

# Six random characters make a collision unlikely, not impossible: the store refuses a taken slug.
_SLUG_ATTEMPTS = 3


def _with_url(endpoint: dict[str, Any], base_url: str) -> ProxyEndpoint:
    return ProxyEndpoint(**endpoint, url=f"{base_url}/proxy/{endpoint['slug']}")


def _create_with_free_slug(endpoints: EndpointStore, tenant_id: str, name: str) -> dict[str, Any]:
    attempts_left = _SLUG_ATTEMPTS
    while True:
        try:
            return endpoints.create(tenant_id, name)
        except ClientError as error:
            attempts_left -= 1
            if (
                error.response.get("Error", {}).get("Code") != "TransactionCanceledException"
                or not attempts_left
            ):
                raise


@router.get("", response_model=Page[ProxyEndpoint])
def list_proxy_endpoints(
    principal: CurrentPrincipal, page: PageParams, endpoints: Endpoints, services: Services
) -> dict[str, Any]:
    paged = PagedQuery(principal.tenant_id, {"list": "proxy_endpoints"}, services.secret)
    result = endpoints.list(principal.tenant_id, page.limit, paged.start_key(page))
    return paged.envelope(result, lambda item: _with_url(item, services.settings.base_url))


@router.post("", status_code=201, response_model=ProxyEndpoint, responses=error_responses(413))
def create_proxy_endpoint(
    body: NameBody, principal: CurrentPrincipal, endpoints: Endpoints, audit: Audit, services: Services
) -> ProxyEndpoint:
    endpoint = _create_with_free_slug(endpoints, principal.tenant_id, body.name)
    audit.record(
        principal,
        "proxy_endpoint.created",
        "proxy_endpoint",
        endpoint["id"],
        {"name": endpoint["name"], "slug": endpoint["slug"]},
    )
    return _with_url(endpoint, services.settings.base_url)


@router.delete("/{endpoint_id}", response_model=Ok, responses=error_responses(404))
def delete_proxy_endpoint(
    endpoint_id: str, principal: CurrentPrincipal, endpoints: Endpoints, audit: Audit
) -> Ok:
    deleted = endpoints.delete(principal.tenant_id, endpoint_id) if is_id(endpoint_id) else None
    if deleted is None:
        raise NotFound("Proxy endpoint")
    audit.record(
        principal,
        "proxy_endpoint.deleted",
        "proxy_endpoint",
        endpoint_id,
        {"name": deleted["name"], "slug": deleted["slug"]},
    )
    return Ok()
