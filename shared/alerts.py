"""Alerts that reach people: a budget's thresholds, a day's drift, spend that went around the proxy.

Each alert has a key naming its threshold and period (`budget#<endpoint>#2026-11#80`, `drift#<day>`,
`unrecorded#<Anthropic key>#2026-11`) and goes out at most once per channel: the tenant's webhook
(Slack-compatible JSON) and the stack's SNS topic (email; a `tenant` message attribute routes it, see
docs/operations.md). A channel's marker is claimed before sending and marked failed when the send fails,
so a later check tries again. Payloads name endpoints, amounts and key hints, never a key or the URL.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from shared import aws
from shared.observability import logger
from shared.settings import Settings
from shared.store.alerts import AlertSettings, AlertStore
from shared.store.endpoints import EndpointStore
from shared.store.usage_records import UsageStore
from shared.timefmt import month_of, utc_now
from shared.webhooks import WebhookFailed, WebhookPolicy, WebhookRefused, WebhookSender

_SUBJECT_LIMIT = 100  # SNS's most for an email subject


@dataclass(frozen=True)
class Alert:
    kind: str  # "budget" | "drift" | "unrecorded"
    key: str  # the threshold and period: one alert per key and channel
    text: str
    details: dict[str, Any]

    def payload(self, tenant_id: str) -> dict[str, Any]:
        return {"text": self.text, "kind": self.kind, "tenant": tenant_id, "details": self.details}


def _dollars(cents: Decimal) -> str:
    return f"${cents / 100:,.2f}"


def budget_alerts(
    endpoint: Mapping[str, Any], spent_cents: Decimal, month: str, thresholds_pct: Iterable[int]
) -> list[Alert]:
    """One alert per threshold the endpoint's month spend has reached (none without a budget)."""
    budget = endpoint.get("monthly_budget_cents")
    if not budget:
        return []
    budget_cents = Decimal(budget)
    return [
        Alert(
            kind="budget",
            key=f"budget#{endpoint['id']}#{month}#{pct}",
            text=(
                f'Proxy endpoint "{endpoint["name"]}" has used {pct}% of its monthly budget: '
                f"{_dollars(spent_cents)} of {_dollars(budget_cents)} in {month} (UTC)."
            ),
            details={
                "proxy_endpoint_id": endpoint["id"],
                "proxy_endpoint_name": endpoint["name"],
                "month": month,
                "threshold_pct": pct,
                "spent_cents": float(spent_cents),
                "budget_cents": int(budget_cents),
                "budget_action": endpoint.get("budget_action"),
            },
        )
        for pct in sorted(set(thresholds_pct))
        if spent_cents * 100 >= budget_cents * pct
    ]


def bill_alerts(report: Mapping[str, Any], settings: AlertSettings, today: date) -> list[Alert]:
    """From a reconciliation (shared/API.md's shape): each full UTC day whose drift passes the
    threshold (relative to what Anthropic billed that day) and, when asked for, each Anthropic key
    billed without ever going through the proxy (once per key and month)."""
    alerts = []
    threshold = settings.drift_threshold_pct
    for day in report["byDay"]:
        billed = Decimal(str(day["billedCostCents"]))
        drift = Decimal(str(day["driftCostCents"]))
        # Today is still being billed; a day Anthropic has billed nothing for has no share to speak of.
        if day["date"] >= today.isoformat() or billed <= 0 or abs(drift) * 100 <= billed * threshold:
            continue
        pct = (abs(drift) * 100 / billed).quantize(Decimal("0.1"))
        alerts.append(
            Alert(
                kind="drift",
                key=f"drift#{day['date']}",
                text=(
                    f"Bill check {day['date']}: Anthropic billed {_dollars(billed)}, Codecosts recorded "
                    f"{_dollars(Decimal(str(day['recordedCostCents'])))} "
                    f"({pct}% apart, threshold {threshold}%)."
                ),
                details={
                    "date": day["date"],
                    "billed_cents": day["billedCostCents"],
                    "recorded_cents": day["recordedCostCents"],
                    "drift_cents": day["driftCostCents"],
                    "drift_pct": float(pct),
                    "threshold_pct": float(threshold),
                },
            )
        )
    if settings.notify_unrecorded:
        month = today.isoformat()[:7]
        for key in report["byKey"]:
            if not key["unrecorded"] or key["billedCostCents"] <= 0:
                continue
            hint = key["partial_key_hint"] or "an unnamed key"
            alerts.append(
                Alert(
                    kind="unrecorded",
                    key=f"unrecorded#{key['anthropic_api_key_id'] or '-'}#{month}",
                    text=(
                        f"Anthropic billed {_dollars(Decimal(str(key['billedCostCents'])))} from "
                        f"{report['from']} to {report['to']} on {hint}, which never went through Codecosts."
                    ),
                    details={
                        "anthropic_api_key_id": key["anthropic_api_key_id"],
                        "partial_key_hint": key["partial_key_hint"],
                        "billed_cents": key["billedCostCents"],
                        "from": report["from"],
                        "to": report["to"],
                    },
                )
            )
    return alerts


# Sends one alert for a tenant on one channel, by the deadline when it can (a `time.monotonic()` value).
Sender = Callable[[str, Alert, float | None], None]


class AlertChannels:
    """Where a tenant's alerts go: its webhook, when it set one, and the stack's topic, when there is one."""

    def __init__(self, webhooks: WebhookSender, topic_arn: str | None) -> None:
        self.webhooks = webhooks
        self.topic_arn = topic_arn

    def senders(self, settings: AlertSettings) -> dict[str, Sender]:
        channels: dict[str, Sender] = {}
        if settings.webhook_url:
            url = settings.webhook_url
            channels["webhook"] = lambda tenant_id, alert, deadline: self.webhooks.send(
                url, alert.payload(tenant_id), deadline
            )
        if self.topic_arn:
            channels["email"] = self._publish
        return channels

    def _publish(self, tenant_id: str, alert: Alert, deadline: float | None) -> None:
        # One SNS call, bounded by the SDK's own timeouts (shared/aws.py): no deadline of its own.
        aws.sns().publish(
            TopicArn=self.topic_arn,
            Subject=f"Codecosts {alert.kind} alert"[:_SUBJECT_LIMIT],
            Message=f"{alert.text}\n\n{json.dumps(alert.payload(tenant_id), indent=2, sort_keys=True)}",
            MessageAttributes={
                "tenant": {"DataType": "String", "StringValue": tenant_id},
                "kind": {"DataType": "String", "StringValue": alert.kind},
            },
        )


class Alerts:
    def __init__(
        self, store: AlertStore, endpoints: EndpointStore, usage: UsageStore, channels: AlertChannels
    ) -> None:
        self.store = store
        self.endpoints = endpoints
        self.usage = usage
        self.channels = channels

    @classmethod
    def from_settings(cls, settings: Settings) -> Alerts:
        policy = WebhookPolicy(allow_loopback=settings.alert_webhook_allow_loopback)
        sender = WebhookSender(policy, settings.alert_webhook_timeout, settings.alert_webhook_attempts)
        return cls(
            AlertStore(settings.table_name),
            EndpointStore(settings.table_name),
            UsageStore(settings.table_name, settings.bodies_bucket),
            AlertChannels(sender, settings.alerts_topic_arn),
        )

    def check_budgets(
        self,
        tenant_id: str,
        endpoint_ids: Iterable[str],
        deadline: float | None = None,
        now: datetime | None = None,
    ) -> int:
        """After records of these endpoints were written: alerts for the budget thresholds their month
        spend has reached. Returns how many messages went out."""
        found = (self.endpoints.get(tenant_id, endpoint_id) for endpoint_id in set(endpoint_ids))
        budgeted = [endpoint for endpoint in found if endpoint and endpoint["monthly_budget_cents"]]
        if not budgeted:
            return 0
        month = month_of(now or utc_now())
        spend = self.usage.month_spend(tenant_id, [endpoint["id"] for endpoint in budgeted], month)
        settings = self.store.settings(tenant_id)
        alerts = [
            alert
            for endpoint in budgeted
            for alert in budget_alerts(endpoint, spend[endpoint["id"]], month, settings.budget_thresholds_pct)
        ]
        return self.send(tenant_id, settings, alerts, deadline)

    def check_bill(
        self,
        tenant_id: str,
        report: Mapping[str, Any],
        deadline: float | None = None,
        today: date | None = None,
    ) -> int:
        """After a bill sync: alerts for drifting days and unrecorded keys in its reconciliation."""
        settings = self.store.settings(tenant_id)
        alerts = bill_alerts(report, settings, today or utc_now().date())
        return self.send(tenant_id, settings, alerts, deadline)

    def send(
        self, tenant_id: str, settings: AlertSettings, alerts: Iterable[Alert], deadline: float | None = None
    ) -> int:
        """Each alert on each channel not yet sent on. A failed channel is logged and marked failed for
        the next check; it does not stop the others. Past `deadline` (`time.monotonic()`), nothing more
        is claimed: what is left goes at the next check, never lost to a caller's timeout."""
        sent = 0
        channels = self.channels.senders(settings)
        alerts = list(alerts)
        done = self.store.sent(tenant_id, ((alert.key, channel) for alert in alerts for channel in channels))
        for alert in alerts:
            for channel, deliver in channels.items():
                if deadline is not None and time.monotonic() >= deadline:
                    return sent
                if (alert.key, channel) in done or not self.store.claim(tenant_id, alert.key, channel):
                    continue
                try:
                    deliver(tenant_id, alert, deadline)
                except Exception as error:
                    self.store.release(tenant_id, alert.key, channel)
                    # Ours say what happened without the URL; anyone else's is named by its type only.
                    reason = (
                        str(error)
                        if isinstance(error, (WebhookRefused, WebhookFailed))
                        else type(error).__name__
                    )
                    logger.error(
                        "Alert not delivered; retried at the next check",
                        extra={
                            "tenant_id": tenant_id,
                            "alert": alert.key,
                            "channel": channel,
                            "error": reason,
                        },
                    )
                    continue
                sent += 1
        return sent
