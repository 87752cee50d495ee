"""Proxy endpoints, the profile and the audit trail: shapes, paging and validation."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def test_proxy_endpoint_lifecycle(client: TestClient, alice: dict[str, str]) -> None:
    created = client.post("/api/proxy-endpoints", json={"name": "Claude Code @ laptop"}, headers=alice)
    assert created.status_code == 201
    endpoint = created.json()
    assert set(endpoint) == {"id", "name", "slug", "url", "created_at"} | {
        "monthly_budget_cents",
        "budget_action",
        "month_spend_cents",
        "budget_exceeded",
        "body_retention_days",
    }
    assert (endpoint["monthly_budget_cents"], endpoint["budget_action"]) == (None, None)
    assert endpoint["body_retention_days"] == 30
    assert (endpoint["month_spend_cents"], endpoint["budget_exceeded"]) == ("0.000000", False)
    assert re.fullmatch(r"claude-code-laptop-[a-z0-9]{16}", endpoint["slug"])
    assert endpoint["url"] == f"https://codecosts.test/proxy/{endpoint['slug']}"
    assert TIMESTAMP.match(endpoint["created_at"])

    page = client.get("/api/proxy-endpoints", headers=alice).json()
    assert page == {"items": [endpoint], "nextCursor": None, "hasMore": False}

    assert client.delete(f"/api/proxy-endpoints/{endpoint['id']}", headers=alice).json() == {"ok": True}
    assert client.get("/api/proxy-endpoints", headers=alice).json()["items"] == []
    again = client.delete(f"/api/proxy-endpoints/{endpoint['id']}", headers=alice)
    assert again.status_code == 404 and again.json() == {"error": "Proxy endpoint not found"}

    audit = client.get("/api/audit-logs", headers=alice).json()["items"]
    assert [entry["action"] for entry in audit] == ["proxy_endpoint.deleted", "proxy_endpoint.created"]
    assert audit[1]["resource_type"] == "proxy_endpoint" and audit[1]["resource_id"] == endpoint["id"]
    assert json.loads(audit[1]["metadata"]) == {"name": endpoint["name"], "slug": endpoint["slug"]}
    assert TIMESTAMP.match(audit[0]["created_at"])


def test_lists_page_newest_first_without_gaps(client: TestClient, alice: dict[str, str]) -> None:
    made = [
        client.post("/api/proxy-endpoints", json={"name": f"ep {n}"}, headers=alice).json()["id"]
        for n in range(7)
    ]
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/proxy-endpoints", params=params, headers=alice).json()
        seen += [item["id"] for item in page["items"]]
        pages += 1
        assert page["hasMore"] == (page["nextCursor"] is not None)
        if not page["hasMore"]:
            break
        cursor = page["nextCursor"]
    assert seen == list(reversed(made))
    assert pages == 3
    # A cursor of one list is no good for another.
    first = client.get("/api/proxy-endpoints", params={"limit": 3}, headers=alice).json()
    assert (
        client.get("/api/audit-logs", params={"cursor": first["nextCursor"]}, headers=alice).status_code
        == 400
    )


def test_profile_read_and_update(client: TestClient, as_user) -> None:
    headers = as_user("user_carol", email="carol@example.com")
    profile = client.get("/api/profile", headers=headers).json()
    assert set(profile) == {"id", "email", "name", "created_at", "updated_at"}
    assert profile["email"] == "carol@example.com" and profile["name"] is None
    updated = client.put("/api/profile", json={"name": "Carol"}, headers=headers)
    assert updated.status_code == 200
    assert updated.json()["name"] == "Carol"
    assert updated.json()["created_at"] == profile["created_at"]
    assert TIMESTAMP.match(updated.json()["updated_at"])
    assert client.get("/api/profile", headers=headers).json()["name"] == "Carol"
    [entry] = client.get("/api/audit-logs", headers=headers).json()["items"]
    assert entry["action"] == "profile.updated" and entry["resource_id"] == "user_carol"


BAD_BODIES: dict[str, dict[str, Any]] = {
    "missing name": {"json": {}},
    "empty name": {"json": {"name": ""}},
    "blank name": {"json": {"name": "   "}},
    "name too long": {"json": {"name": "x" * 101}},
    "name of the wrong type": {"json": {"name": 42}},
    "name null": {"json": {"name": None}},
    "not an object": {"json": ["name"]},
    "invalid JSON": {"content": b'{"name": ', "headers": {"content-type": "application/json"}},
    "no body": {},
    "not JSON": {"content": b"name=x", "headers": {"content-type": "application/x-www-form-urlencoded"}},
}


@pytest.mark.parametrize(
    ("method", "path"), [("POST", "/api/proxy-endpoints"), ("POST", "/api/api-keys"), ("PUT", "/api/profile")]
)
def test_bad_bodies_are_400_with_details_and_change_nothing(
    client: TestClient, alice: dict[str, str], method: str, path: str
) -> None:
    for case, request in BAD_BODIES.items():
        headers = {**alice, **request.get("headers", {})}
        response = client.request(
            method, path, json=request.get("json"), content=request.get("content"), headers=headers
        )
        assert response.status_code == 400, case
        body = response.json()
        assert body["error"] == "Invalid request", case
        assert isinstance(body["details"], list) and body["details"], case
        assert all({"field", "in", "message"} <= set(problem) for problem in body["details"]), case
    assert client.get("/api/proxy-endpoints", headers=alice).json()["items"] == []
    assert client.get("/api/api-keys", headers=alice).json()["items"] == []
    assert client.get("/api/audit-logs", headers=alice).json()["items"] == []


def test_validation_details_name_the_field(client: TestClient, alice: dict[str, str]) -> None:
    response = client.post("/api/proxy-endpoints", json={"name": "x" * 101}, headers=alice)
    [problem] = response.json()["details"]
    assert problem["field"] == "name" and problem["in"] == "body"
    assert client.post("/api/proxy-endpoints", json={"name": "x" * 100}, headers=alice).status_code == 201


def test_out_of_range_limits_are_400(client: TestClient, alice: dict[str, str]) -> None:
    for path in ("/api/proxy-endpoints", "/api/api-keys", "/api/audit-logs", "/api/usage"):
        for limit in ("0", "101", "-1", "abc", "1e3", "100000000000000000000"):
            response = client.get(path, params={"limit": limit}, headers=alice)
            assert response.status_code == 400, (path, limit)
            assert response.json()["details"][0]["field"] == "limit"


def test_limit_bounds_are_accepted(client: TestClient, alice: dict[str, str]) -> None:
    for limit in ("1", "100"):
        assert client.get("/api/audit-logs", params={"limit": limit}, headers=alice).status_code == 200


def test_unknown_query_parameters_are_ignored(client: TestClient, alice: dict[str, str]) -> None:
    assert client.get("/api/proxy-endpoints", params={"colour": "blue"}, headers=alice).status_code == 200
