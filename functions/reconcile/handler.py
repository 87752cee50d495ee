"""Daily (EventBridge Scheduler): syncs every tenant's billed data from Anthropic's Admin API.

Each tenant with an admin key gets the last month of reports re-read (recent days can still
change on Anthropic's side), then told about the last week's drift and unrecorded spend
(shared/alerts.py). One tenant's failure is noted on its own data (served as stale, with
the error) and does not stop the others.
"""

from __future__ import annotations

import time
from datetime import date, timedelta
from typing import Any

from shared import aws
from shared.alerts import Alerts
from shared.bill_check import DEFAULT_DAYS, SYNC_DAYS, BillCheck
from shared.observability import MetricUnit, logger, metrics
from shared.settings import get_settings
from shared.timefmt import utc_now


@metrics.log_metrics
@logger.inject_lambda_context
def handler(
    event: dict[str, Any], context: Any, bill_check: BillCheck | None = None, alerts: Alerts | None = None
) -> dict[str, int]:
    check = bill_check or BillCheck.from_settings(get_settings())
    alerting = alerts or Alerts.from_settings(get_settings())
    today = utc_now().date()
    start, end = today - timedelta(days=SYNC_DAYS), today + timedelta(days=1)
    synced = failed = 0
    with aws.running_as("reconcile"):
        for tenant_id in check.admin_keys.tenants():
            try:
                ok = check.sync(tenant_id, start, end)
            except Exception:  # one tenant's surprise (say, its key's ciphertext) must not stop the rest
                logger.exception("bill sync failed", extra={"tenant_id": tenant_id})
                ok = False
            if ok:
                # Ends before Lambda's timeout: an alert claimed and then cut off would never go out.
                deadline = time.monotonic() + context.get_remaining_time_in_millis() / 1000 - 5
                _alert(check, alerting, tenant_id, today, deadline)
            synced += ok
            failed += not ok
    metrics.add_metric(name="BillSyncSucceeded", unit=MetricUnit.Count, value=synced)
    metrics.add_metric(name="BillSyncFailed", unit=MetricUnit.Count, value=failed)
    return {"synced": synced, "failed": failed}


def _alert(check: BillCheck, alerts: Alerts, tenant_id: str, today: date, deadline: float) -> None:
    """The drift and unrecorded-spend alerts of the last week's full days (older ones were told then)."""
    try:
        report = check.report(tenant_id, today - timedelta(days=DEFAULT_DAYS), today)
        alerts.check_bill(tenant_id, report, deadline, today)
    except Exception:  # the sync is done and kept; the next run checks again
        logger.exception("bill alerts failed", extra={"tenant_id": tenant_id})
