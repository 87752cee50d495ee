"""SQS-fed Lambda: each message is one proxied call; a failing message is retried alone.

Powertools' BatchProcessor reports failed messages in `batchItemFailures` (the event source has
ReportBatchItemFailures), so the others in the batch commit and only the failures come back.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from pydantic import ValidationError

from functions.usage_ingest.ingest import UsageIngest
from shared.observability import MetricUnit, logger, metrics
from shared.settings import get_settings
from shared.store.usage_records import UsageStore
from shared.usage_event import UsageEvent


def _default_ingest() -> UsageIngest:
    settings = get_settings()
    return UsageIngest(UsageStore(settings.table_name, settings.bodies_bucket))


def _record_handler(ingest: UsageIngest) -> Any:
    def handle(record: SQSRecord) -> None:
        try:
            event = UsageEvent.model_validate_json(record.body)
        except ValidationError as error:
            # Poison: retried, then parked in the dead-letter queue; say why without echoing the body.
            logger.error(
                "usage message rejected",
                extra={"message_id": record.message_id, "reason": error.errors(include_input=False)},
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
    processor = BatchProcessor(event_type=EventType.SQS)
    response: dict[str, Any] = process_partial_response(  # type: ignore[assignment]
        event=event,
        record_handler=_record_handler(ingest or _default_ingest()),
        processor=processor,
        context=context,
    )
    return response
