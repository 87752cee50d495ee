"""Scoped keys: `read` reads, `write` also changes endpoints and the profile, `admin` also manages keys.

A refusal is a 403 naming the scope needed, and is audited with the caller as actor.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from shared.models import Principal
from shared.settings import Settings
from shared.store import layout
from shared.store.api_keys import ApiKeyStore

Headers = dict[str, str]


def _bearer(key: str) -> Headers:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def key_of(client: TestClient, alice: Headers) -> Callable[[str], tuple[str, dict[str, Any]]]:
    """A new key of Alice's tenant with the given scope: (its headers, its record)."""

    def create(scope: str) -> tuple[str, dict[str, Any]]:
        created = client.post("/api/api-keys", json={"name": f"{scope} key", "scope": scope}, headers=alice)
        assert created.status_code == 201
        return created.json()["key"], created.json()

    return create


def _forbidden(response: Any, scope: str) -> None:
    assert response.status_code == 403, response.text
    assert response.json() == {"error": "Forbidden", "details": f"needs scope {scope}"}


def test_a_new_key_is_read_unless_asked_and_the_list_shows_scopes(client: TestClient, alice: Headers) -> None:
    plain = client.post("/api/api-keys", json={"name": "dashboard"}, headers=alice).json()
    assert plain["scope"] == "read"
    for scope in ("write", "admin"):
        client.post("/api/api-keys", json={"name": scope, "scope": scope}, headers=alice)
    listed = client.get("/api/api-keys", headers=alice).json()["items"]
    assert {item["name"]: item["scope"] for item in listed} == {
        "dashboard": "read",
        "write": "write",
        "admin": "admin",
    }
    bad = client.post("/api/api-keys", json={"name": "x", "scope": "root"}, headers=alice)
    assert bad.status_code == 400 and bad.json()["details"][0]["field"] == "scope"


def test_a_read_key_reads_but_cannot_create_an_endpoint_or_a_key_and_its_attempts_are_audited(
    client: TestClient, alice: Headers, key_of: Callable[[str], tuple[str, dict[str, Any]]]
) -> None:
    key, record = key_of("read")
    reader = _bearer(key)
    for path in (
        "/api/usage",
        "/api/usage/summary",
        "/api/proxy-endpoints",
        "/api/profile",
        "/api/audit-logs",
    ):
        assert client.get(path, headers=reader).status_code == 200, path

    _forbidden(client.post("/api/proxy-endpoints", json={"name": "sneaky"}, headers=reader), "write")
    _forbidden(client.post("/api/api-keys", json={"name": "sneaky"}, headers=reader), "admin")
    _forbidden(client.get("/api/api-keys", headers=reader), "admin")
    _forbidden(client.put("/api/profile", json={"name": "Mallory"}, headers=reader), "write")
    assert client.get("/api/proxy-endpoints", headers=alice).json()["items"] == []  # nothing was made

    audit = client.get("/api/audit-logs", headers=alice).json()["items"]
    denied = [entry for entry in audit if entry["action"] == "access.denied"]
    assert [(entry["resource_id"], json.loads(entry["metadata"])["needs"]) for entry in denied] == [
        ("PUT /api/profile", "write"),
        ("GET /api/api-keys", "admin"),
        ("POST /api/api-keys", "admin"),
        ("POST /api/proxy-endpoints", "write"),
    ]
    for entry in denied:
        assert entry["actor"] == {
            "type": "api_key",
            "user_id": "user_alice",
            "api_key_id": record["id"],
            "api_key_name": "read key",
        }


def test_a_write_key_manages_endpoints_but_cannot_mint_an_admin_key(
    client: TestClient, key_of: Callable[[str], tuple[str, dict[str, Any]]]
) -> None:
    writer = _bearer(key_of("write")[0])
    created = client.post("/api/proxy-endpoints", json={"name": "team"}, headers=writer)
    assert created.status_code == 201
    assert client.put("/api/profile", json={"name": "Alice"}, headers=writer).status_code == 200
    _forbidden(
        client.post("/api/api-keys", json={"name": "escalate", "scope": "admin"}, headers=writer), "admin"
    )
    _forbidden(
        client.post("/api/api-keys", json={"name": "reader", "scope": "read"}, headers=writer), "admin"
    )
    assert client.delete(f"/api/proxy-endpoints/{created.json()['id']}", headers=writer).status_code == 200


def test_an_admin_key_mints_keys_of_any_scope_and_the_audit_names_it(
    client: TestClient, alice: Headers, key_of: Callable[[str], tuple[str, dict[str, Any]]]
) -> None:
    key, record = key_of("admin")
    admin = _bearer(key)
    minted = client.post("/api/api-keys", json={"name": "second admin", "scope": "admin"}, headers=admin)
    assert minted.status_code == 201 and minted.json()["scope"] == "admin"
    assert client.get("/api/api-keys", headers=_bearer(minted.json()["key"])).status_code == 200

    [latest, *older] = client.get("/api/audit-logs", headers=alice).json()["items"]
    assert latest["action"] == "api_key.created" and json.loads(latest["metadata"])["scope"] == "admin"
    assert latest["actor"] == {
        "type": "api_key",
        "user_id": "user_alice",
        "api_key_id": record["id"],
        "api_key_name": "admin key",
    }
    # The key Alice made from her session: a session acts as a user.
    assert older[0]["actor"] == {
        "type": "user",
        "user_id": "user_alice",
        "api_key_id": None,
        "api_key_name": None,
    }


@pytest.mark.parametrize(
    ("claims", "scope"),
    [
        ({}, "admin"),  # a personal account administers its own tenant
        ({"org_id": "org_acme", "org_role": "org:admin"}, "admin"),
        ({"o": {"id": "org_acme", "rol": "admin"}, "v": 2}, "admin"),
        ({"org_id": "org_acme", "org_role": "org:member"}, "write"),
        ({"o": {"id": "org_acme", "rol": "member"}, "v": 2}, "write"),
        ({"org_id": "org_acme"}, "write"),  # no role said: not an admin
    ],
)
def test_a_clerk_sessions_scope_follows_its_organization_role(
    client: TestClient, as_user: Callable[..., Headers], claims: dict[str, Any], scope: str
) -> None:
    session = as_user("user_carol", **claims)
    assert client.post("/api/proxy-endpoints", json={"name": "ok"}, headers=session).status_code == 201
    keys = client.get("/api/api-keys", headers=session)
    if scope == "admin":
        assert keys.status_code == 200
    else:
        _forbidden(keys, "admin")


def _as_stored_before_scopes(store: ApiKeyStore, tenant_id: str, key_id: str) -> None:
    """Makes a key look as keys were stored before scopes: no scope, no name on the hash item."""
    table = store.table
    table.update_item(
        Key={"pk": layout.tenant_pk(tenant_id), "sk": layout.api_key_sk(key_id)},
        UpdateExpression="REMOVE #scope",
        ExpressionAttributeNames={"#scope": "scope"},
    )
    [hashed] = [
        item
        for item in table.scan()["Items"]
        if item.get("type") == "api_key_hash" and item["key_id"] == key_id
    ]
    table.update_item(
        Key={"pk": hashed["pk"], "sk": hashed["sk"]},
        UpdateExpression="REMOVE #scope, #name",
        ExpressionAttributeNames={"#scope": "scope", "#name": "name"},
    )


def test_a_key_stored_before_scopes_is_a_read_key(api_settings: Settings, client: TestClient) -> None:
    store = ApiKeyStore(api_settings.table_name, api_settings.secret_bytes())
    owner = Principal(user_id="user_old", tenant_id="user_old")
    record, key = store.create(owner, "from 2025", scope="admin")
    _as_stored_before_scopes(store, "user_old", record["id"])

    old = _bearer(key)
    assert client.get("/api/usage", headers=old).status_code == 200
    _forbidden(client.post("/api/proxy-endpoints", json={"name": "x"}, headers=old), "write")
    principal = store.principal_for(key)
    assert principal is not None and principal.scope == "read" and principal.api_key_name == "from 2025"


def test_make_devs_key_from_before_scopes_becomes_admin(
    api_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from devstack.__main__ import DEV_USER_ID, _bootstrap

    monkeypatch.chdir(tmp_path)
    (tmp_path / ".codecosts").mkdir()
    store = ApiKeyStore(api_settings.table_name, api_settings.secret_bytes())
    record, key = store.create(Principal(user_id=DEV_USER_ID, tenant_id=DEV_USER_ID), "make dev")
    _as_stored_before_scopes(store, DEV_USER_ID, record["id"])

    dev = _bootstrap(api_settings.model_copy(update={"dev_api_key": SecretStr(key)}))
    assert dev["api_key"] == key  # the same key, as the developer's scripts know it
    principal = store.principal_for(key)
    assert principal is not None and principal.scope == "admin"


def test_every_operation_a_scope_can_refuse_documents_its_403(client: TestClient) -> None:
    paths = client.get("/api/openapi.json").json()["paths"]
    for path, operations in paths.items():
        for method, operation in operations.items():
            refusable = path.startswith("/api/api-keys") or method not in ("get", "head")
            assert ("403" in operation["responses"]) == refusable, (method, path)
