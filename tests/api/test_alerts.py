"""GET/PUT /api/alerts: the contract's shape, validation (public HTTPS webhooks only), scope, audit."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

DEFAULTS = {
    "webhook_url": None,
    "budget_thresholds_pct": [80, 100],
    "drift_threshold_pct": 5,
    "notify_unrecorded": True,
}
# An address literal: public, and checked without a DNS lookup.
WEBHOOK = "https://93.184.215.14/services/T0/B0/secretpart"
SETTINGS = {
    "webhook_url": WEBHOOK,
    "budget_thresholds_pct": [100, 50],
    "drift_threshold_pct": 2.5,
    "notify_unrecorded": False,
}


def test_a_tenant_without_settings_gets_the_defaults(client: TestClient, alice: dict[str, str]) -> None:
    response = client.get("/api/alerts", headers=alice)
    assert response.status_code == 200
    assert response.json() == DEFAULTS


def test_settings_are_stored_per_tenant_answered_and_audited_without_the_url(
    client: TestClient, alice: dict[str, str], bob: dict[str, str]
) -> None:
    response = client.put("/api/alerts", json=SETTINGS, headers=alice)

    assert response.status_code == 200, response.text
    expected = {**SETTINGS, "budget_thresholds_pct": [50, 100]}
    assert response.json() == expected
    assert client.get("/api/alerts", headers=alice).json() == expected
    assert client.get("/api/alerts", headers=bob).json() == DEFAULTS
    [entry] = [
        e
        for e in client.get("/api/audit-logs", headers=alice).json()["items"]
        if e["resource_type"] == "alerts"
    ]
    assert entry["action"] == "alerts.updated"
    assert json.loads(entry["metadata"])["webhook_host"] == "93.184.215.14"
    assert "secretpart" not in json.dumps(entry)  # a webhook URL is often its own credential


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"webhook_url": "http://93.184.215.14/x"}, "webhook_url"),
        ({"webhook_url": "https://10.0.0.8/x"}, "webhook_url"),
        ({"webhook_url": "https://169.254.169.254/latest"}, "webhook_url"),
        ({"webhook_url": "https://localhost/x"}, "webhook_url"),
        ({"webhook_url": "https://[::1]/x"}, "webhook_url"),
        ({"budget_thresholds_pct": [80, 80]}, "budget_thresholds_pct"),
        ({"budget_thresholds_pct": []}, "budget_thresholds_pct"),
        ({"budget_thresholds_pct": [0]}, "budget_thresholds_pct.0"),
        ({"drift_threshold_pct": 0}, "drift_threshold_pct"),
        ({"notify_unrecorded": "sometimes"}, "notify_unrecorded"),
        ({"email": "ops@example.com"}, "email"),
    ],
)
def test_bad_settings_are_a_400_naming_the_field_and_change_nothing(
    client: TestClient, alice: dict[str, str], change: dict[str, Any], field: str
) -> None:
    response = client.put("/api/alerts", json={**SETTINGS, **change}, headers=alice)

    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "Invalid request"
    assert [problem["field"] for problem in body["details"]] == [field]
    assert client.get("/api/alerts", headers=alice).json() == DEFAULTS


def test_a_missing_field_is_a_400(client: TestClient, alice: dict[str, str]) -> None:
    response = client.put("/api/alerts", json={"webhook_url": None}, headers=alice)
    assert response.status_code == 400
    assert {problem["field"] for problem in response.json()["details"]} == {
        "budget_thresholds_pct",
        "drift_threshold_pct",
        "notify_unrecorded",
    }


def test_a_read_key_sees_the_settings_but_cannot_change_them(
    client: TestClient, as_user: Callable[..., dict[str, str]]
) -> None:
    admin = as_user("user_alice")  # a personal account: admin
    created = client.post("/api/api-keys", json={"name": "reader", "scope": "read"}, headers=admin)
    reader = {"Authorization": f"Bearer {created.json()['key']}"}

    assert client.get("/api/alerts", headers=reader).json() == DEFAULTS
    refused = client.put("/api/alerts", json=SETTINGS, headers=reader)

    assert refused.status_code == 403
    assert refused.json() == {"error": "Forbidden", "details": "needs scope write"}
    assert client.get("/api/alerts", headers=admin).json() == DEFAULTS


def test_the_webhook_can_be_removed(client: TestClient, alice: dict[str, str]) -> None:
    client.put("/api/alerts", json=SETTINGS, headers=alice)
    response = client.put("/api/alerts", json={**SETTINGS, "webhook_url": None}, headers=alice)
    assert response.json()["webhook_url"] is None
