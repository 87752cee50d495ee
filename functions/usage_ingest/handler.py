"""SQS-fed Lambda: each message is one proxied call; a failing message is retried alone.

Powertools' BatchProcessor reports failed messages in `batchItemFailures` (the event source has
ReportBatchItemFailures), so the others in the batch commit and only the failures come back.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from shared import aws
from shared.ingest import UsageIngest
from shared.observability import MetricUnit, logger, metrics
from shared.settings import get_settings
from shared.store.usage_records import UsageStore
from shared.usage_event import RejectedMessage, parse_usage_message


def _default_ingest() -> UsageIngest:
    settings = get_settings()
    return UsageIngest(UsageStore(settings.table_name, settings.bodies_bucket))


def _record_handler(ingest: UsageIngest) -> Any:
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
        metrics.add_metric(
            name="UsageIngested" if written else "UsageDuplicate", unit=MetricUnit.Count, value=1
        )

    return handle


@metrics.log_metrics
@logger.inject_lambda_context(correlation_id_path="Records[0].messageId")
def handler(event: dict[str, Any], context: Any, ingest: UsageIngest | None = None) -> dict[str, Any]:
    # A batch whose every record failed is reported like any other (each in batchItemFailures), not
    # raised: SQS retries exactly those messages either way, and the log says why once per record.
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    with aws.running_as("usage_ingest"):
        response: dict[str, Any] = process_partial_response(  # type: ignore[assignment]
            event=event,
            record_handler=_record_handler(ingest or _default_ingest()),
            processor=processor,
            context=context,
        )
    return response
