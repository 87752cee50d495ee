"""SQS-fed Lambda: each message is one proxied call; the batch is written together, its failures alone.

The messages of a batch are stored in as few DynamoDB transactions as fit (UsageIngest.ingest_many),
and only the messages that could not be stored are reported in `batchItemFailures` (the event source
has ReportBatchItemFailures): the others are deleted, the failures come back after the visibility
timeout, and after five receives they are parked in the dead-letter queue.
"""

from __future__ import annotations

from typing import Any

from shared import aws
from shared.ingest import UsageIngest
from shared.observability import MetricUnit, logger, metrics
from shared.settings import get_settings
from shared.store.usage_records import UsageStore
from shared.usage_event import RejectedMessage, UsageEvent, parse_usage_message


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


def ingest_messages(messages: list[dict[str, Any]], ingest: UsageIngest) -> list[str]:
    """Stores the batch's usage messages; returns the ids of those to be retried, in order."""
    events = {message["messageId"]: _parsed(message) for message in messages}
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
def handler(event: dict[str, Any], context: Any, ingest: UsageIngest | None = None) -> dict[str, Any]:
    # A batch whose every record failed is reported like any other (each in batchItemFailures), not
    # raised: SQS retries exactly those messages either way.
    with aws.running_as("usage_ingest"):
        failed = ingest_messages(event["Records"], ingest or _default_ingest())
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}
