"""Domain objects as the store returns them and the API shows them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from shared.bodies.retention import DEFAULT_RETENTION_DAYS

# What a caller of the management API may do; each scope includes the ones before it.
Scope = Literal["read", "write", "admin"]
SCOPES: tuple[Scope, ...] = get_args(Scope)


def scope_covers(held: Scope, needed: Scope) -> bool:
    return SCOPES.index(held) >= SCOPES.index(needed)


@dataclass(frozen=True)
class Principal:
    """Who is calling the management API, for which tenant, and what they may do there."""

    user_id: str
    tenant_id: str
    org_id: str | None = None
    api_key_id: str | None = None  # set when authenticated by a Codecosts API key
    api_key_name: str | None = None
    scope: Scope = "read"


@dataclass(frozen=True)
class SlugTarget:
    """What a proxy slug resolves to."""

    tenant_id: str
    proxy_endpoint_id: str
    # The endpoint's monthly budget, carried by the slug item so the proxy needs no other read.
    monthly_budget_cents: int | None = None
    budget_action: str | None = None  # "notify" or "block"
    body_retention_days: int = DEFAULT_RETENTION_DAYS  # 0: the endpoint's bodies are never stored
