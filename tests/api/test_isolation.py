"""Two tenants: nothing of one is visible to, or changeable by, the other (404, never 403)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

T0 = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


@pytest.fixture
def alices_things(
    client: TestClient, alice: dict[str, str], write_usage: Callable[..., dict[str, Any]]
) -> dict[str, str]:
    endpoint = client.post("/api/proxy-endpoints", json={"name": "alice"}, headers=alice).json()
    key = client.post("/api/api-keys", json={"name": "alice"}, headers=alice).json()
    record = write_usage("user_alice", endpoint["id"], T0, api_key_id="a11ce00000000000")
    return {"endpoint": endpoint["id"], "key_id": key["id"], "key": key["key"], "usage": record["id"]}


@pytest.fixture(params=["session", "api key"])
def intruder(request: pytest.FixtureRequest, client: TestClient, bob: dict[str, str]) -> dict[str, str]:
    """Bob, by session or by his own `admin` API key (scopes are not the point here: a scope that
    allows the call still finds nothing of another tenant's); he has an endpoint of his own."""
    client.post("/api/proxy-endpoints", json={"name": "bob"}, headers=bob)
    if request.param == "session":
        return bob
    key = client.post("/api/api-keys", json={"name": "bob", "scope": "admin"}, headers=bob).json()["key"]
    return {"Authorization": f"Bearer {key}"}


def test_another_tenants_ids_are_not_found(
    client: TestClient, alice: dict[str, str], alices_things: dict[str, str], intruder: dict[str, str]
) -> None:
    attempts = [
        ("GET", f"/api/usage/{alices_things['usage']}"),
        ("DELETE", f"/api/proxy-endpoints/{alices_things['endpoint']}"),
        ("DELETE", f"/api/api-keys/{alices_things['key_id']}"),
    ]
    for method, path in attempts:
        response = client.request(method, path, headers=intruder)
        assert response.status_code == 404, (method, path)
        assert alices_things["usage"] not in response.text

    # Nothing of Alice's shows in any of Bob's lists or filters.
    for path, params in [
        ("/api/usage", {}),
        ("/api/usage", {"proxy_endpoint_id": alices_things["endpoint"]}),
        ("/api/usage", {"api_key_id": "a11ce00000000000"}),
        ("/api/usage", {"model": "claude"}),
        ("/api/proxy-endpoints", {}),
        ("/api/api-keys", {}),
        ("/api/audit-logs", {}),
    ]:
        body = client.get(path, params=params, headers=intruder).json()
        text = str(body)
        for secret in alices_things.values():
            assert secret not in text, (path, params)
    assert client.get("/api/usage", headers=intruder).json()["items"] == []
    summary = client.get("/api/usage/summary", headers=intruder).json()
    assert summary["totalRequests"] == 0
    by_endpoint = client.get(
        "/api/usage/summary", params={"proxy_endpoint_id": alices_things["endpoint"]}, headers=intruder
    ).json()
    assert by_endpoint["totalRequests"] == 0

    # Alice's things survived the attempts, and her key still works.
    assert [item["id"] for item in client.get("/api/proxy-endpoints", headers=alice).json()["items"]] == [
        alices_things["endpoint"]
    ]
    assert client.get(f"/api/usage/{alices_things['usage']}", headers=alice).status_code == 200
    own_key = {"Authorization": f"Bearer {alices_things['key']}"}
    assert client.get("/api/usage/summary", headers=own_key).json()["totalRequests"] == 1
    assert [entry["action"] for entry in client.get("/api/audit-logs", headers=alice).json()["items"]] == [
        "api_key.created",
        "proxy_endpoint.created",
    ]


def test_profiles_are_per_person(client: TestClient, alice: dict[str, str], bob: dict[str, str]) -> None:
    client.put("/api/profile", json={"name": "Alice"}, headers=alice)
    assert client.get("/api/profile", headers=bob).json()["name"] is None
    assert client.get("/api/profile", headers=alice).json()["name"] == "Alice"
