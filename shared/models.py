"""Domain objects as the store returns them and the API shows them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Principal:
    """Who is calling the management API, and for which tenant."""

    user_id: str
    tenant_id: str
    org_id: str | None = None
    api_key_id: str | None = None  # set when authenticated by a Codecosts API key


@dataclass(frozen=True)
class SlugTarget:
    """What a proxy slug resolves to."""

    tenant_id: str
    proxy_endpoint_id: str
    # The endpoint's monthly budget, carried by the slug item so the proxy needs no other read.
    monthly_budget_cents: int | None = None
    budget_action: str | None = None  # "notify" or "block"
    endpoint_name: str | None = None
