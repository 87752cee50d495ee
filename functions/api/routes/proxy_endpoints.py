"""Proxy endpoints: the `<base>/proxy/<slug>` URLs people set as ANTHROPIC_BASE_URL."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError
from fastapi import APIRouter

from functions.api.deps import Audit, CurrentPrincipal, Endpoints, PageParams, Services, Usage
from functions.api.errors import NotFound, invalid
from functions.api.pages import Page, PagedQuery
from functions.api.schemas import NameBody, Ok, ProxyEndpoint, ProxyEndpointUpdate
from shared.ids import is_id
from shared.store.endpoints import EndpointStore
from shared.store.usage_records import UsageStore
from shared.timefmt import month_of, utc_now
from shared.usage_record import Cents

router = APIRouter(prefix="/proxy-endpoints", tags=["proxy endpoints"])

# Six random characters make a collision unlikely, not impossible: the store refuses a taken slug.
_SLUG_ATTEMPTS = 3


def _with_url(endpoint: dict[str, Any], base_url: str, spent: Decimal = Decimal(0)) -> ProxyEndpoint:
    budget = endpoint.get("monthly_budget_cents")
    return ProxyEndpoint(
        **endpoint,
        url=f"{base_url}/proxy/{endpoint['slug']}",
        month_spend_cents=str(Cents(spent)),
        budget_exceeded=budget is not None and spent >= budget,
    )


def _month_spend(usage: UsageStore, tenant_id: str, endpoint_ids: list[str]) -> dict[str, Decimal]:
    """This UTC month's spend per endpoint, from the day aggregates the ingest keeps (one Query each)."""
    return usage.month_spend(tenant_id, endpoint_ids, month_of(utc_now())) if endpoint_ids else {}


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
    principal: CurrentPrincipal, page: PageParams, endpoints: Endpoints, usage: Usage, services: Services
) -> dict[str, Any]:
    paged = PagedQuery(principal.tenant_id, {"list": "proxy_endpoints"}, services.secret)
    result = endpoints.list(principal.tenant_id, page.limit, paged.start_key(page))
    spend = _month_spend(usage, principal.tenant_id, [item["id"] for item in result.items])
    return paged.envelope(
        result,
        lambda item: _with_url(item, services.settings.base_url, spend.get(item["id"], Decimal(0))),
    )


@router.post("", status_code=201, response_model=ProxyEndpoint)
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


@router.patch("/{endpoint_id}", response_model=ProxyEndpoint)
def update_proxy_endpoint(
    endpoint_id: str,
    body: ProxyEndpointUpdate,
    principal: CurrentPrincipal,
    endpoints: Endpoints,
    usage: Usage,
    audit: Audit,
    services: Services,
) -> ProxyEndpoint:
    """Renames the endpoint, sets its monthly budget or its body retention. The proxy applies a change
    within `CODECOSTS_LOOKUP_CACHE_SECONDS` (it caches the endpoint with its slug)."""
    sent = body.model_fields_set & {"name", "monthly_budget_cents", "budget_action", "body_retention_days"}
    if not sent:
        raise invalid(
            "body",
            "body",
            "Nothing to change: send name, monthly_budget_cents, budget_action or body_retention_days",
        )
    if "body_retention_days" in sent and body.body_retention_days is None:
        raise invalid("body_retention_days", "body", "Send a number of days (0: bodies are never stored)")
    if "name" in sent and body.name is None:
        raise invalid("name", "body", "A name cannot be removed")
    if "budget_action" in sent and body.budget_action is None and "monthly_budget_cents" not in sent:
        raise invalid("budget_action", "body", "Remove a budget with monthly_budget_cents: null")
    current = endpoints.get(principal.tenant_id, endpoint_id) if is_id(endpoint_id) else None
    if current is None:
        raise NotFound("Proxy endpoint")
    if (
        "monthly_budget_cents" not in sent
        and "budget_action" in sent
        and current["monthly_budget_cents"] is None
    ):
        raise invalid(
            "budget_action", "body", "The endpoint has no budget: send monthly_budget_cents with it"
        )
    changes: dict[str, Any] = {
        "name": body.name,
        "budget_action": body.budget_action,
        "body_retention_days": body.body_retention_days,
    }
    if "monthly_budget_cents" in sent:
        changes["monthly_budget_cents"] = body.monthly_budget_cents
    updated = endpoints.update(principal.tenant_id, endpoint_id, **changes)
    if updated is None:
        raise NotFound("Proxy endpoint")
    changed: dict[str, Any] = {
        "name": updated["name"],
        "slug": updated["slug"],
        "changed": sorted(sent),
        "monthly_budget_cents": updated["monthly_budget_cents"],
        "budget_action": updated["budget_action"],
    }
    if "body_retention_days" in sent:
        changed["body_retention_days"] = updated["body_retention_days"]
    audit.record(principal, "proxy_endpoint.updated", "proxy_endpoint", endpoint_id, changed)
    spent = _month_spend(usage, principal.tenant_id, [endpoint_id]).get(endpoint_id, Decimal(0))
    return _with_url(updated, services.settings.base_url, spent)


@router.delete("/{endpoint_id}", response_model=Ok)
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
