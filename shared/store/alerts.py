"""A tenant's alert settings, and the markers that make each alert go out once per channel."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

from shared.store import layout
from shared.store.base import Store
from shared.timefmt import format_timestamp, utc_now

# A marker outlives its period (a month at most) with room to spare, then the table's TTL drops it.
_MARKER_DAYS = 400


@dataclass(frozen=True)
class AlertSettings:
    webhook_url: str | None = None
    budget_thresholds_pct: list[int] = field(default_factory=lambda: [80, 100])
    drift_threshold_pct: Decimal = Decimal(5)
    notify_unrecorded: bool = True

    def public(self) -> dict[str, Any]:
        shown = asdict(self)
        # A whole number stays one in JSON (5, not 5.0).
        drift = self.drift_threshold_pct
        shown["drift_threshold_pct"] = int(drift) if drift == drift.to_integral_value() else float(drift)
        return shown


class AlertStore(Store):
    def _settings_key(self, tenant_id: str) -> dict[str, str]:
        return {"pk": layout.tenant_pk(tenant_id), "sk": layout.alert_settings_sk()}

    def settings(self, tenant_id: str) -> AlertSettings:
        item = self.table.get_item(Key=self._settings_key(tenant_id)).get("Item")
        if not item:
            return AlertSettings()
        return AlertSettings(
            webhook_url=item.get("webhook_url"),
            budget_thresholds_pct=[int(pct) for pct in item["budget_thresholds_pct"]],
            drift_threshold_pct=Decimal(str(item["drift_threshold_pct"])),
            notify_unrecorded=bool(item["notify_unrecorded"]),
        )

    def put_settings(self, tenant_id: str, settings: AlertSettings) -> AlertSettings:
        self.table.put_item(
            Item={
                **self._settings_key(tenant_id),
                "type": "alert_settings",
                "webhook_url": settings.webhook_url,
                "budget_thresholds_pct": settings.budget_thresholds_pct,
                "drift_threshold_pct": settings.drift_threshold_pct,
                "notify_unrecorded": settings.notify_unrecorded,
                "updated_at": format_timestamp(utc_now()),
            }
        )
        return settings

    def _marker_key(self, tenant_id: str, alert_key: str, channel: str) -> dict[str, str]:
        return {"pk": layout.tenant_pk(tenant_id), "sk": layout.alert_sent_sk(alert_key, channel)}

    def sent(self, tenant_id: str, wanted: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
        """Which (alert key, channel) pairs were already sent: read before claiming, since a claim the
        table refuses costs a write unit each time, and a reached threshold is checked after every
        batch until the month ends. Eventually consistent: a pair missed here is refused by `claim`."""
        keys = {pair: self._marker_key(tenant_id, *pair) for pair in dict.fromkeys(wanted)}
        by_sk = {key["sk"]: pair for pair, key in keys.items()}
        found: set[tuple[str, str]] = set()
        client = self.table.meta.client
        batch = list(keys.values())
        for start in range(0, len(batch), 100):
            request: dict[str, Any] = {self.table_name: {"Keys": batch[start : start + 100]}}
            while request:
                response = client.batch_get_item(RequestItems=request)
                for item in response.get("Responses", {}).get(self.table_name, []):
                    if item.get("state") == "sent":
                        found.add(by_sk[str(item["sk"])])
                request = response.get("UnprocessedKeys") or {}
        return found

    def claim(self, tenant_id: str, alert_key: str, channel: str) -> bool:
        """True for the one caller that gets to send this alert on this channel (a conditional put:
        concurrent ingests, redelivered records and repeated syncs all find it taken), unless the
        last send failed."""
        client = self.table.meta.client
        try:
            self.table.put_item(
                Item={
                    **self._marker_key(tenant_id, alert_key, channel),
                    "type": "alert_sent",
                    "state": "sent",
                    "sent_at": format_timestamp(utc_now()),
                    "expires_at": int(time.time()) + _MARKER_DAYS * 86400,
                },
                ConditionExpression="attribute_not_exists(pk) OR #state = :failed",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues={":failed": "failed"},
            )
        except client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def release(self, tenant_id: str, alert_key: str, channel: str) -> None:
        """The send failed: the next check may claim it again."""
        self.table.update_item(
            Key=self._marker_key(tenant_id, alert_key, channel),
            UpdateExpression="SET #state = :failed",
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues={":failed": "failed"},
        )
