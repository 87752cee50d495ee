"""Codecosts API keys: created once, usable at once, listed without the secret, dead when deleted."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from functions.api.app import create_app
from functions.api.auth.api_keys import ApiKeyAuthenticator
from shared.credentials import generate_api_key, is_well_formed_api_key
from shared.models import Principal
from shared.settings import Settings
from shared.store.api_keys import ApiKeyStore


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_key_lifecycle(client: TestClient, alice: dict[str, str]) -> None:
    created = client.post("/api/api-keys", json={"name": "  laptop cli  ", "scope": "admin"}, headers=alice)
    assert created.status_code == 201
    body = created.json()
    assert set(body) == {"id", "name", "key", "key_prefix", "scope", "created_at"}
    assert body["name"] == "laptop cli" and body["scope"] == "admin"
    key = body["key"]
    assert is_well_formed_api_key(key)
    assert body["key_prefix"] == key[:8] + "..."
    assert body["created_at"].endswith("Z") and len(body["created_at"]) == len("2026-03-17T01:19:55.123Z")

    # The key acts for the tenant that made it.
    profile = client.get("/api/profile", headers=_bearer(key))
    assert profile.status_code == 200 and profile.json()["id"] == "user_alice"

    listed = client.get("/api/api-keys", headers=_bearer(key)).json()
    assert listed["hasMore"] is False and listed["nextCursor"] is None
    [entry] = listed["items"]
    assert set(entry) == {"id", "name", "key_prefix", "scope", "last_used_at", "created_at"}
    assert entry["id"] == body["id"] and entry["scope"] == "admin"
    assert entry["last_used_at"] is not None and entry["last_used_at"].endswith("Z")
    assert key not in client.get("/api/api-keys", headers=alice).text

    deleted = client.delete(f"/api/api-keys/{body['id']}", headers=alice)
    assert deleted.status_code == 200 and deleted.json() == {"ok": True}
    refused = client.get("/api/profile", headers=_bearer(key))
    assert refused.status_code == 401 and refused.json() == {"error": "Not authenticated"}
    assert client.delete(f"/api/api-keys/{body['id']}", headers=alice).status_code == 404

    actions = [entry["action"] for entry in client.get("/api/audit-logs", headers=alice).json()["items"]]
    assert actions == ["api_key.deleted", "api_key.created"]
    assert key not in client.get("/api/audit-logs", headers=alice).text


def test_a_key_deleted_through_this_instance_fails_at_once_even_after_use(
    client: TestClient, alice: dict[str, str]
) -> None:
    created = client.post("/api/api-keys", json={"name": "ci", "scope": "admin"}, headers=alice).json()
    for _ in range(3):  # cached by now
        assert client.get("/api/proxy-endpoints", headers=_bearer(created["key"])).status_code == 200
    # Deleted with the key itself.
    assert client.delete(f"/api/api-keys/{created['id']}", headers=_bearer(created["key"])).status_code == 200
    assert client.get("/api/proxy-endpoints", headers=_bearer(created["key"])).status_code == 401


def test_a_key_deleted_on_another_instance_fails_once_the_cache_expires(
    api_settings: Settings, alice: dict[str, str]
) -> None:
    settings = api_settings.model_copy(update={"lookup_cache_seconds": 0.3})
    with TestClient(create_app(settings)) as this, TestClient(create_app(settings)) as other:
        created = this.post("/api/api-keys", json={"name": "ci"}, headers=alice).json()
        assert this.get("/api/profile", headers=_bearer(created["key"])).status_code == 200
        assert other.delete(f"/api/api-keys/{created['id']}", headers=alice).status_code == 200
        assert other.get("/api/profile", headers=_bearer(created["key"])).status_code == 401
        time.sleep(0.35)
        assert this.get("/api/profile", headers=_bearer(created["key"])).status_code == 401


@pytest.mark.parametrize(
    "credential",
    [
        "sk_" + "A" * 38,  # right length and alphabet, wrong checksum
        "sk_short",
        "sk_" + "!" * 38,
    ],
)
def test_a_mistyped_key_is_refused_without_reading_the_table(api_settings: Settings, credential: str) -> None:
    # With no table behind it, any read would be a 500: a 401 proves the key never reached the table.
    app = create_app(api_settings.model_copy(update={"table_name": "no-such-table"}))
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.get("/api/proxy-endpoints", headers=_bearer(credential)).status_code == 401
        # A well-formed key does go to the table (here: the missing one), which the 500 shows.
        assert client.get("/api/proxy-endpoints", headers=_bearer(generate_api_key())).status_code == 500


def test_a_mistyped_copy_of_a_real_key_is_refused(client: TestClient, alice: dict[str, str]) -> None:
    key = client.post("/api/api-keys", json={"name": "cli"}, headers=alice).json()["key"]
    typo = key[:10] + ("b" if key[10] != "b" else "c") + key[11:]
    assert client.get("/api/profile", headers=_bearer(typo)).status_code == 401


def test_last_used_is_written_at_most_once_a_minute_per_key(api_settings: Settings) -> None:
    store = ApiKeyStore(api_settings.table_name, api_settings.secret_bytes())
    touches: list[str] = []

    class CountingStore(ApiKeyStore):
        def touch(self, tenant_id: str, key_id: str) -> None:
            touches.append(key_id)
            super().touch(tenant_id, key_id)

    counting = CountingStore(store.table_name, store.pepper)
    now = [0.0]
    authenticator = ApiKeyAuthenticator(counting, cache_seconds=5, clock=lambda: now[0])
    record, key = store.create(Principal(user_id="user_alice", tenant_id="user_alice"), "cli")
    for _ in range(10):
        assert authenticator.principal_for(key) is not None
    assert touches == [record["id"]]
    now[0] += 61
    assert authenticator.principal_for(key) is not None
    assert touches == [record["id"], record["id"]]
    assert store.list("user_alice", 10, None).items[0]["last_used_at"] is not None
