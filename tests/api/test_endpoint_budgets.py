"""`PATCH /api/proxy-endpoints/:id`: a monthly budget and its action, this month's spend and whether
it is exceeded on the endpoint resource, and the audit trail."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from shared.timefmt import utc_now

WriteUsage = Callable[..., dict[str, Any]]


def _endpoint(client: TestClient, headers: dict[str, str], name: str = "laptop") -> dict[str, Any]:
    response = client.post("/api/proxy-endpoints", json={"name": name}, headers=headers)
    assert response.status_code == 201
    return dict(response.json())


def test_budget_set_flagged_changed_and_removed(
    client: TestClient, alice: dict[str, str], write_usage: WriteUsage
) -> None:
    endpoint = _endpoint(client, alice)
    other = _endpoint(client, alice, "desktop")
    now = utc_now()
    write_usage("user_alice", endpoint["id"], now, cost_cents="30.5")
    write_usage("user_alice", endpoint["id"], now - timedelta(milliseconds=1), cost_cents="20")
    last_month = now.replace(day=1) - timedelta(days=1)
    write_usage("user_alice", endpoint["id"], last_month, cost_cents="1000")  # another month

    patched = client.patch(
        f"/api/proxy-endpoints/{endpoint['id']}",
        json={"monthly_budget_cents": 50, "budget_action": "block"},
        headers=alice,
    )
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert (body["monthly_budget_cents"], body["budget_action"]) == (50, "block")
    assert (body["month_spend_cents"], body["budget_exceeded"]) == ("50.500000", True)
    assert {key: body[key] for key in ("id", "name", "slug", "url", "created_at")} == {
        key: endpoint[key] for key in ("id", "name", "slug", "url", "created_at")
    }

    listed = {item["id"]: item for item in client.get("/api/proxy-endpoints", headers=alice).json()["items"]}
    assert listed[endpoint["id"]] == body
    assert (listed[other["id"]]["month_spend_cents"], listed[other["id"]]["budget_exceeded"]) == (
        "0.000000",
        False,
    )

    # The action alone, then the amount alone; a budget without an action notifies.
    raised = client.patch(
        f"/api/proxy-endpoints/{endpoint['id']}", json={"monthly_budget_cents": 100}, headers=alice
    )
    assert (raised.json()["budget_action"], raised.json()["budget_exceeded"]) == ("block", False)
    notify = client.patch(
        f"/api/proxy-endpoints/{endpoint['id']}", json={"budget_action": "notify"}, headers=alice
    )
    assert notify.json()["budget_action"] == "notify"
    fresh = client.patch(
        f"/api/proxy-endpoints/{other['id']}", json={"monthly_budget_cents": 0}, headers=alice
    )
    assert (fresh.json()["budget_action"], fresh.json()["budget_exceeded"]) == ("notify", True)
    renamed = client.patch(f"/api/proxy-endpoints/{endpoint['id']}", json={"name": "  work  "}, headers=alice)
    assert renamed.json()["name"] == "work" and renamed.json()["monthly_budget_cents"] == 100

    removed = client.patch(
        f"/api/proxy-endpoints/{endpoint['id']}", json={"monthly_budget_cents": None}, headers=alice
    ).json()
    assert (removed["monthly_budget_cents"], removed["budget_action"], removed["budget_exceeded"]) == (
        None,
        None,
        False,
    )

    audit = client.get("/api/audit-logs", headers=alice).json()["items"]
    updates = [entry for entry in audit if entry["action"] == "proxy_endpoint.updated"]
    assert len(updates) == 6
    first = json.loads(updates[-1]["metadata"])
    assert first == {
        "name": "laptop",
        "slug": endpoint["slug"],
        "changed": ["budget_action", "monthly_budget_cents"],
        "monthly_budget_cents": 50,
        "budget_action": "block",
    }
    assert updates[-1]["resource_id"] == endpoint["id"]


def test_budget_validation_and_isolation(
    client: TestClient, alice: dict[str, str], bob: dict[str, str]
) -> None:
    endpoint = _endpoint(client, alice)
    path = f"/api/proxy-endpoints/{endpoint['id']}"
    for body, field in (
        ({"monthly_budget_cents": -1}, "monthly_budget_cents"),
        ({"monthly_budget_cents": "lots"}, "monthly_budget_cents"),
        ({"monthly_budget_cents": 1.5}, "monthly_budget_cents"),
        ({"budget_action": "explode"}, "budget_action"),
        ({"budget_action": None}, "budget_action"),
        ({"name": None}, "name"),
        ({"name": "   "}, "name"),
        ({}, "body"),
        ({"colour": "blue"}, "colour"),
        ({"name": "renamed", "monthly_budget_cents": 5, "colour": "blue"}, "colour"),
        ({"budget_action": "block"}, "budget_action"),  # no budget to act on yet
    ):
        response = client.patch(path, json=body, headers=alice)
        assert response.status_code == 400, (body, response.text)
        assert response.json()["details"][0]["field"] == field, body
    # None of the refused bodies changed anything.
    (unchanged,) = client.get("/api/proxy-endpoints", headers=alice).json()["items"]
    assert unchanged["name"] == endpoint["name"] and unchanged["monthly_budget_cents"] is None
    assert client.patch(path, json={"monthly_budget_cents": 5}, headers=bob).status_code == 404
    missing = client.patch(
        "/api/proxy-endpoints/01JP0000000000000000000009", json={"name": "x"}, headers=alice
    )
    assert missing.status_code == 404 and missing.json() == {"error": "Proxy endpoint not found"}
    assert client.patch(path, json={"name": "x"}).status_code == 401
    not_json = client.patch(
        path, content=b"name=x", headers={**alice, "content-type": "application/x-www-form-urlencoded"}
    )
    assert not_json.status_code == 400
