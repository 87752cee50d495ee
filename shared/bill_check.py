"""The bill check for one tenant: sync Anthropic's reports with its admin key, then compare with records.

Used by the API (`/api/anthropic-admin-key`, `/api/reconciliation`) and by the daily reconcile
function; the comparison itself is shared/reconciliation.py.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from shared.anthropic_admin import AdminApiClient, AdminApiError
from shared.observability import logger
from shared.settings import Settings
from shared.store.bill import AdminKeyStore, BillStore
from shared.store.usage_records import UsageQuery, UsageStore

# Without `from`/`to`: the last 7 full UTC days and today.
DEFAULT_DAYS = 7
# The daily sync re-reads a month: Anthropic's reports for recent days can still change.
SYNC_DAYS = 31


class NoAdminKey(Exception):
    """The tenant has not set an Anthropic admin key."""


def default_range(today: date) -> tuple[date, date]:
    return today - timedelta(days=DEFAULT_DAYS), today + timedelta(days=1)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


class BillCheck:
    def __init__(
        self,
        admin_keys: AdminKeyStore,
        bill: BillStore,
        usage: UsageStore,
        admin_client: Callable[[str], AdminApiClient],
    ) -> None:
        self.admin_keys = admin_keys
        self.bill = bill
        self.usage = usage
        self.admin_client = admin_client

    @classmethod
    def from_settings(cls, settings: Settings) -> BillCheck:
        return cls(
            AdminKeyStore(settings.table_name, settings.admin_key_kms_key),
            BillStore(settings.table_name),
            UsageStore(settings.table_name, settings.bodies_bucket),
            lambda admin_key: AdminApiClient(settings.anthropic_admin_url, admin_key),
        )

    def sync(self, tenant_id: str, start: date, end: date) -> bool:
        """Replaces the stored reports for the days from `start` to before `end`; False (and the error
        noted for readers) when the Admin API failed, in which case the last good data stays."""
        admin_key = self.admin_keys.secret(tenant_id)
        if admin_key is None:
            raise NoAdminKey()
        client = self.admin_client(admin_key)
        try:
            usage = client.usage(start, end)
            costs = client.costs(start, end)
            keys = client.api_keys()
        except AdminApiError as error:
            logger.warning(
                "Admin API sync failed",
                extra={"tenant_id": tenant_id, "status": error.status_code, "error": error.message},
            )
            self.bill.record_failure(tenant_id, error.message)
            return False
        self.bill.replace(tenant_id, start, end, usage, costs, keys)
        return True

    def report(self, tenant_id: str, start: date, end: date) -> dict[str, Any]:
        """The contract's reconciliation for the days from `start` to before `end`."""
        # The comparison prices billed tokens: the price data loads here, not at the API's start.
        from shared.reconciliation import reconcile, recorded_call

        if not self.admin_keys.status(tenant_id)["configured"]:
            raise NoAdminKey()
        state = self.bill.sync_state(tenant_id)
        billed = self.bill.reports(tenant_id, start, end)
        records = self.usage.iterate(
            UsageQuery(tenant_id, _midnight(start), _midnight(end)), oldest_first=True
        )
        comparison = reconcile(map(recorded_call, records), billed.usage, billed.costs, billed.keys)
        return {
            "from": start.isoformat(),
            "to": end.isoformat(),
            "asOf": state.as_of,
            "stale": state.stale,
            "error": state.error,
            **comparison,
        }
