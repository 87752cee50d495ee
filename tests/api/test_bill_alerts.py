"""Drift and unrecorded-spend alerts after a bill sync, against the fake Anthropic that bills what it
served: sent by the refresh (as the API), not again by the daily sync (as the reconcile function)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from devstack.poller import LocalLambdaContext
from devstack.rehearsal import Rehearsal
from functions.api.app import create_app
from functions.reconcile.handler import handler as reconcile_handler
from shared.alerts import Alerts, bill_alerts
from shared.bill_check import BillCheck
from shared.settings import Settings
from shared.store.alerts import AlertSettings
from tests.api.test_bill_check import BYPASS_KEY, _billed_cents
from tests.fakes.anthropic_billing import FAKE_ADMIN_KEY, key_id, partial_key_hint
from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.fixtures import PROXY_TENANT_ID
from tests.fakes.webhook_receiver import WebhookReceiver
from tests.ingest.test_budget_alerts import emails, subscribed_queue

SERVED_REPLY = (Path(__file__).parent.parent / "fixtures" / "anthropic" / "text-1h-cache.sse").read_bytes()


@pytest.fixture
def alert_settings(aws: Rehearsal, api_settings: Settings, fake_upstream: FakeAnthropic) -> Settings:
    """As the stack configures the API and the reconcile function; loopback webhooks allowed (a test)."""
    return api_settings.model_copy(
        update={
            "anthropic_admin_url": fake_upstream.url,
            "alerts_topic_arn": aws.functions["api"].environment["CODECOSTS_ALERTS_TOPIC_ARN"],
            "alert_webhook_allow_loopback": True,
        }
    )


@pytest.fixture
def tenant_client(alert_settings: Settings, as_user: Callable[..., dict[str, str]]) -> TestClient:
    client = TestClient(create_app(alert_settings), raise_server_exceptions=False)
    client.headers.update(as_user("user_alice", org_id=PROXY_TENANT_ID))
    return client


def test_a_sync_that_finds_spend_around_the_proxy_alerts_drift_and_unrecorded_once(
    aws: Rehearsal,
    alert_settings: Settings,
    tenant_client: TestClient,
    fake_upstream: FakeAnthropic,
    webhook: WebhookReceiver,
) -> None:
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    fake_upstream.billing.serve(BYPASS_KEY, SERVED_REPLY, stream=True, day=yesterday)
    email = subscribed_queue(alert_settings.alerts_topic_arn or "", PROXY_TENANT_ID)
    settings = {"webhook_url": webhook.url, "budget_thresholds_pct": [80, 100], "drift_threshold_pct": 5}
    assert tenant_client.put("/api/alerts", json={**settings, "notify_unrecorded": True}).status_code == 200
    tenant_client.put("/api/anthropic-admin-key", json={"admin_key": FAKE_ADMIN_KEY})

    assert tenant_client.post("/api/reconciliation/refresh").status_code == 200

    billed = float(_billed_cents(fake_upstream, BYPASS_KEY))
    by_kind = {alert["kind"]: alert for alert in webhook.received}
    assert sorted(by_kind) == ["drift", "unrecorded"]
    assert by_kind["drift"]["details"] == {
        "date": yesterday.isoformat(),
        "billed_cents": billed,
        "recorded_cents": 0.0,
        "drift_cents": billed,
        "drift_pct": 100.0,
        "threshold_pct": 5.0,
    }
    unrecorded = by_kind["unrecorded"]
    assert unrecorded["tenant"] == PROXY_TENANT_ID
    assert unrecorded["details"]["anthropic_api_key_id"] == key_id(BYPASS_KEY)
    assert unrecorded["details"]["partial_key_hint"] == partial_key_hint(BYPASS_KEY)
    assert unrecorded["details"]["billed_cents"] == billed
    sent = json.dumps(webhook.received)
    assert BYPASS_KEY not in sent and FAKE_ADMIN_KEY not in sent

    # The daily sync, as the reconcile function with its own role, finds the same: nothing new.
    result = reconcile_handler(
        {},
        LocalLambdaContext(function_name="codecosts-reconcile-local"),
        bill_check=BillCheck.from_settings(alert_settings),
        alerts=Alerts.from_settings(alert_settings),
    )
    assert result == {"synced": 1, "failed": 0}
    assert len(webhook.received) == 2
    mails = emails(email)
    assert sorted(mail["MessageAttributes"]["kind"]["Value"] for mail in mails) == ["drift", "unrecorded"]


REPORT: dict[str, Any] = {
    "from": "2026-11-01",
    "to": "2026-11-04",
    "byDay": [
        {"date": "2026-11-01", "billedCostCents": 100.0, "recordedCostCents": 95.0, "driftCostCents": 5.0},
        {"date": "2026-11-02", "billedCostCents": 100.0, "recordedCostCents": 94.0, "driftCostCents": 6.0},
        {"date": "2026-11-03", "billedCostCents": 0.0, "recordedCostCents": 50.0, "driftCostCents": -50.0},
        {"date": "2026-11-04", "billedCostCents": 100.0, "recordedCostCents": 10.0, "driftCostCents": 90.0},
    ],
    "byKey": [
        {
            "anthropic_api_key_id": "apikey_1",
            "partial_key_hint": "sk-ant-api03-R2D...igAA",
            "billedCostCents": 7.0,
            "unrecorded": True,
        },
        {
            "anthropic_api_key_id": "apikey_2",
            "partial_key_hint": "sk-ant-api03-C3P...0000",
            "billedCostCents": 9.0,
            "unrecorded": False,
        },
    ],
}


def test_drift_alerts_only_full_days_past_the_threshold_and_unrecorded_only_when_asked() -> None:
    today = date(2026, 11, 4)  # still being billed: its drift says nothing yet

    alerts = bill_alerts(REPORT, AlertSettings(), today)

    assert [alert.key for alert in alerts] == ["drift#2026-11-02", "unrecorded#apikey_1#2026-11"]
    quiet = AlertSettings(drift_threshold_pct=Decimal(10), notify_unrecorded=False)
    assert bill_alerts(REPORT, quiet, today) == []
