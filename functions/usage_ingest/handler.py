"""SQS-fed Lambda: each message is one proxied call; the batch is written together, its failures alone.

The messages of a batch are stored in as few DynamoDB transactions as fit (UsageIngest.ingest_many),
and only the messages that could not be stored are reported in `batchItemFailures` (the event source
has ReportBatchItemFailures): the others are deleted, the failures come back after the visibility
timeout, and after five receives they are parked in the dead-letter queue.
"""

from __future__ import annotations

import time
from typing import Any

from shared import aws
from shared.alerts import Alerts
from shared.ingest import UsageIngest
from shared.observability import MetricUnit, logger, metrics
from shared.settings import get_settings
from shared.store.usage_records import UsageStore
from shared.usage_event import RejectedMessage, UsageEvent, parse_usage_message

# Left of the invocation's time when the last alert may still be sent.
_TIMEOUT_MARGIN_SECONDS = 3


def _default_ingest() -> UsageIngest:
    settings = get_settings()
    return UsageIngest(UsageStore(settings.table_name, settings.bodies_bucket))


def _parsed(message: dict[str, Any]) -> UsageEvent | None:
    """The message's usage event; None for poison, retried, then parked in the dead-letter queue
    (`codecosts redrive-dlq` sends it back once fixed). The log says why without echoing the body."""
    try:
        return parse_usage_message(message["body"])
    except RejectedMessage as error:
        logger.error(
            "Usage message rejected",
            extra={
                "message_id": message["messageId"],
                "reason": error.reason,
                "receive_count": message.get("attributes", {}).get("ApproximateReceiveCount"),
            },
        )
        metrics.add_metric(name="IngestRejected", unit=MetricUnit.Count, value=1)
        return None


def ingest_messages(
    messages: list[dict[str, Any]], ingest: UsageIngest, touched: set[tuple[str, str]]
) -> list[str]:
    """Stores the batch's usage messages; returns the ids of those to be retried, in order. Adds each
    readable message's (tenant, endpoint) to `touched`, duplicates too: the budget check a record
    follows may have failed before this redelivery."""
    events = {message["messageId"]: _parsed(message) for message in messages}
    touched.update((event.tenant_id, event.proxy_endpoint_id) for event in events.values() if event)
    stored = [(message_id, event) for message_id, event in events.items() if event is not None]
    outcomes = dict(
        zip((message_id for message_id, _ in stored), ingest.ingest_many([e for _, e in stored]), strict=True)
    )
    failed: list[str] = []
    counts = {"UsageIngested": 0, "UsageDuplicate": 0}
    for message_id in events:
        outcome = outcomes.get(message_id)
        if outcome is None or isinstance(outcome, Exception):
            if outcome is not None:
                logger.warning(
                    "Usage message not stored; it will be retried",
                    extra={"message_id": message_id, "error": type(outcome).__name__},
                )
            failed.append(message_id)
        else:
            counts["UsageIngested" if outcome else "UsageDuplicate"] += 1
    for name, count in counts.items():
        if count:
            metrics.add_metric(name=name, unit=MetricUnit.Count, value=count)
    return failed


@metrics.log_metrics
@logger.inject_lambda_context(correlation_id_path="Records[0].messageId")
def handler(
    event: dict[str, Any], context: Any, ingest: UsageIngest | None = None, alerts: Alerts | None = None
) -> dict[str, Any]:
    # A batch whose every record failed is reported like any other (each in batchItemFailures), not
    # raised: SQS retries exactly those messages either way.
    with aws.running_as("usage_ingest"):
        touched: set[tuple[str, str]] = set()
        failed = ingest_messages(event["Records"], ingest or _default_ingest(), touched)
        # Sends end before Lambda's timeout: an alert claimed and then cut off would never go out.
        deadline = time.monotonic() + context.get_remaining_time_in_millis() / 1000 - _TIMEOUT_MARGIN_SECONDS
        check_budgets(alerts or Alerts.from_settings(get_settings()), touched, deadline)
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}


def check_budgets(alerts: Alerts, touched: set[tuple[str, str]], deadline: float) -> None:
    """Budget alerts for the endpoints whose records were just written, once the batch is stored. A
    failure is logged, never the batch's: the records are in, and the next batch checks again."""
    by_tenant: dict[str, set[str]] = {}
    for tenant_id, endpoint_id in touched:
        by_tenant.setdefault(tenant_id, set()).add(endpoint_id)
    for tenant_id, endpoint_ids in by_tenant.items():
        try:
            sent = alerts.check_budgets(tenant_id, endpoint_ids, deadline)
        except Exception:
            logger.exception("budget alert check failed", extra={"tenant_id": tenant_id})
            continue
        if sent:
            metrics.add_metric(name="AlertsSent", unit=MetricUnit.Count, value=sent)
