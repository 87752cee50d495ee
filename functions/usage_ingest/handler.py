"""SQS-fed Lambda: each message is one proxied call; a failing message is retried alone.

Powertools' BatchProcessor reports failed messages in `batchItemFailures` (the event source has
ReportBatchItemFailures), so the others in the batch commit and only the failures come back.
"""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from shared import aws
from shared.alerts import Alerts
from shared.ingest import UsageIngest
from shared.observability import MetricUnit, logger, metrics
from shared.settings import get_settings
from shared.store.usage_records import UsageStore
from shared.usage_event import RejectedMessage, parse_usage_message

# Left of the invocation's time when the last alert may still be sent.
_TIMEOUT_MARGIN_SECONDS = 3


def _default_ingest() -> UsageIngest:
    settings = get_settings()
    return UsageIngest(UsageStore(settings.table_name, settings.bodies_bucket))


def _record_handler(ingest: UsageIngest, touched: set[tuple[str, str]]) -> Any:
    def handle(record: SQSRecord) -> None:
        try:
            event = parse_usage_message(record.body)
        except RejectedMessage as error:
            # Poison: retried, then parked in the dead-letter queue (`codecosts redrive-dlq` sends it
            # back once fixed); the log says why without echoing the body.
            logger.error(
                "Usage message rejected",
                extra={
                    "message_id": record.message_id,
                    "reason": error.reason,
                    "receive_count": record.attributes.approximate_receive_count,
                },
            )
            metrics.add_metric(name="IngestRejected", unit=MetricUnit.Count, value=1)
            raise
        written = ingest.ingest(event)
        # A duplicate too: the budget check it follows may have failed before this redelivery.
        touched.add((event.tenant_id, event.proxy_endpoint_id))
        metrics.add_metric(
            name="UsageIngested" if written else "UsageDuplicate", unit=MetricUnit.Count, value=1
        )

    return handle


@metrics.log_metrics
@logger.inject_lambda_context(correlation_id_path="Records[0].messageId")
def handler(
    event: dict[str, Any], context: Any, ingest: UsageIngest | None = None, alerts: Alerts | None = None
) -> dict[str, Any]:
    # A batch whose every record failed is reported like any other (each in batchItemFailures), not
    # raised: SQS retries exactly those messages either way, and the log says why once per record.
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    touched: set[tuple[str, str]] = set()
    with aws.running_as("usage_ingest"):
        response: dict[str, Any] = process_partial_response(  # type: ignore[assignment]
            event=event,
            record_handler=_record_handler(ingest or _default_ingest(), touched),
            processor=processor,
            context=context,
        )
        # Sends end before Lambda's timeout: an alert claimed and then cut off would never go out.
        deadline = time.monotonic() + context.get_remaining_time_in_millis() / 1000 - _TIMEOUT_MARGIN_SECONDS
        check_budgets(alerts or Alerts.from_settings(get_settings()), touched, deadline)
    return response


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
