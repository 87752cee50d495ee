"""`make dev` tells people: a budget crossed by a call through the proxy reaches a real webhook, sent by
the ingest's own processes with the grants and the topic the template gives them."""

from __future__ import annotations

import time
from typing import Any

import anthropic
import httpx

from tests.e2e.conftest import DevStack, Upstream
from tests.fakes.webhook_receiver import WebhookReceiver


def wait_for_alerts(webhook: WebhookReceiver, count: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 30
    while len(webhook.received) < count and time.monotonic() < deadline:
        time.sleep(0.25)
    return webhook.received


def test_make_dev_sends_budget_alerts_to_a_webhook_on_the_laptop(
    tmp_path: Any, upstream: Upstream, webhook: WebhookReceiver
) -> None:
    stack = DevStack(tmp_path, upstream.url)
    stack.env["CODECOSTS_ALERT_WEBHOOK_ALLOW_LOOPBACK"] = "true"  # the receiver is on loopback
    dev = stack.start()
    try:
        api = httpx.Client(base_url=stack.url, headers={"Authorization": f"Bearer {dev['api_key']}"})
        settings = {"webhook_url": webhook.url, "budget_thresholds_pct": [80, 100], "drift_threshold_pct": 5}
        assert api.put("/api/alerts", json={**settings, "notify_unrecorded": True}).status_code == 200
        endpoint = dev["proxy_endpoint"]
        budget = {"monthly_budget_cents": 100, "budget_action": "notify"}
        assert api.patch(f"/api/proxy-endpoints/{endpoint['id']}", json=budget).status_code == 200
        client = anthropic.Anthropic(api_key="sk-ant-api03-alerts-0000Wxyz", base_url=endpoint["url"])

        # About $1.50: past both thresholds of a $1 budget at once.
        client.messages.create(
            model="fake:long-context", max_tokens=50, messages=[{"role": "user", "content": "Hi"}]
        )

        alerts = wait_for_alerts(webhook, 2)
        assert sorted(alert["details"]["threshold_pct"] for alert in alerts) == [80, 100]
        assert {alert["details"]["proxy_endpoint_id"] for alert in alerts} == {endpoint["id"]}
    finally:
        assert stack.stop() == 0, stack.output
