"""The first user of an installation, with an API key and a proxy endpoint to start from.

`make dev` seeds its local stack with it and `codecosts admin bootstrap` the deployed one. A second
run finds what the first one made (the user, its endpoint, its key) and makes nothing more, unless a
new key is asked for. What it creates goes to the audit trail, as if done through the API.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.models import Principal
from shared.store.api_keys import ApiKeyStore
from shared.store.audit import AuditStore
from shared.store.endpoints import EndpointStore
from shared.store.users import UserStore

# Tenants this concerns have a handful of keys and endpoints: one page holds them all.
_PAGE = 100


def _named(store: EndpointStore | ApiKeyStore, tenant_id: str, name: str) -> list[dict[str, Any]]:
    """The tenant's endpoints or keys of that name, newest first."""
    return [item for item in store.list(tenant_id, _PAGE, None).items if item["name"] == name]


@dataclass(frozen=True)
class FirstUser:
    user_id: str
    email: str | None
    name: str | None
    endpoint_name: str
    key_name: str
    via: str  # what ran the bootstrap, for the audit trail


@dataclass(frozen=True)
class Bootstrapped:
    user: dict[str, Any]
    endpoint: dict[str, Any]  # as the store shows it: id, name, slug, ...
    # The key's secret when the caller may show it: minted by this run, or held by the caller and
    # still valid. None when the tenant's keys were left alone (their prefixes are in `kept_keys`).
    api_key: str | None
    minted_key: bool
    kept_keys: list[dict[str, Any]]  # the tenant's keys named `key_name`, when none was minted
    created_user: bool
    created_endpoint: bool


def bootstrap(
    table_name: str,
    pepper: bytes,
    first: FirstUser,
    *,
    held_key: str | None = None,
    endpoint_id: str | None = None,
    new_key: bool = False,
) -> Bootstrapped:
    """The user, its proxy endpoint (`endpoint_id` when it still exists, else the one named
    `endpoint_name`, else a new one) and its key (`held_key` when it still authenticates as this
    user; a new key when the user has no key named `key_name` yet, or when `new_key`)."""
    principal = Principal(user_id=first.user_id, tenant_id=first.user_id, scope="admin")
    users = UserStore(table_name)
    endpoints = EndpointStore(table_name)
    keys = ApiKeyStore(table_name, pepper)
    audit = AuditStore(table_name)

    user = users.get(first.user_id)
    created_user = user is None
    if user is None:
        user = users.ensure(first.user_id, first.email, first.name)
        audit.record(principal, "user.bootstrapped", "user", first.user_id, {"via": first.via})

    endpoint = endpoints.get(first.user_id, endpoint_id) if endpoint_id else None
    if endpoint is None:
        named = _named(endpoints, first.user_id, first.endpoint_name)
        endpoint = named[-1] if named else None  # the oldest
    created_endpoint = endpoint is None
    if endpoint is None:
        endpoint = endpoints.create(first.user_id, first.endpoint_name)
        audit.record(
            principal,
            "proxy_endpoint.created",
            "proxy_endpoint",
            endpoint["id"],
            {"name": endpoint["name"], "slug": endpoint["slug"], "via": first.via},
        )

    holder = keys.principal_for(held_key) if held_key else None
    if holder is not None and holder.tenant_id == first.user_id and holder.scope != "admin":
        # Kept from before keys had scopes (stored without one, they count as `read`): the first
        # user's key is the admin one, so it is registered again, same secret, as admin.
        assert holder.api_key_id is not None
        keys.delete(holder.tenant_id, holder.api_key_id)
        holder = None
    if holder is not None and holder.tenant_id == first.user_id:
        return Bootstrapped(user, endpoint, held_key, False, [], created_user, created_endpoint)
    named_keys = _named(keys, first.user_id, first.key_name)
    if named_keys and not new_key:
        return Bootstrapped(user, endpoint, None, False, named_keys, created_user, created_endpoint)
    # A held key that no one holds in this table is registered as it is; one of another user is not.
    # The first key can do everything, minting the installation's other keys included.
    record, secret = keys.create(
        principal, first.key_name, key=held_key if holder is None else None, scope="admin"
    )
    audit.record(
        principal,
        "api_key.created",
        "api_key",
        record["id"],
        {"name": record["name"], "key_prefix": record["key_prefix"], "via": first.via},
    )
    return Bootstrapped(user, endpoint, secret, True, [], created_user, created_endpoint)
