"""Feeds the usage queue to the ingest handler the way Lambda's SQS event source does.

Receives up to 10 messages, hands them over in Lambda's event shape, deletes the ones the handler
did not report in `batchItemFailures`; failures become visible again after the visibility timeout
and, after five receives, SQS moves them to the dead-letter queue, as in AWS.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from shared import aws
from shared.observability import logger

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


@dataclass
class LocalLambdaContext:
    """What Powertools reads from a Lambda context."""

    function_name: str = "codecosts-usage-ingest-local"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:000000000000:function:codecosts-usage-ingest-local"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def lambda_event(messages: list[dict[str, Any]], queue_arn: str) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": message.get("Attributes", {}),
                "messageAttributes": {},
                "md5OfBody": message.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": queue_arn.split(":")[3],
            }
            for message in messages
        ]
    }


class QueuePoller:
    def __init__(self, queue_url: str, handler: Handler, wait_seconds: int = 1) -> None:
        self.queue_url = queue_url
        self.handler = handler
        self.wait_seconds = wait_seconds
        self.processed = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        with aws.running_as("usage_ingest"):
            attributes = aws.sqs().get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
        self._queue_arn = attributes["Attributes"]["QueueArn"]

    def poll_once(self) -> int:
        """One receive-and-invoke round; returns how many messages were received."""
        # Lambda's event source polls and deletes with the ingest function's own role.
        with aws.running_as("usage_ingest"):
            return self._poll_once()

    def _poll_once(self) -> int:
        response = aws.sqs().receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=self.wait_seconds,
            MessageSystemAttributeNames=["All"],
        )
        messages = response.get("Messages", [])
        if not messages:
            return 0
        try:
            result = self.handler(lambda_event(messages, self._queue_arn), LocalLambdaContext())
        except Exception:
            logger.exception("ingest handler failed; the batch will be retried")
            return len(messages)
        failed = {item["itemIdentifier"] for item in result.get("batchItemFailures", [])}
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            aws.sqs().delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
            )
        self.processed += len(done)
        return len(messages)

    def drain(self) -> None:
        while self.poll_once():
            pass

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="usage-queue-poller", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except Exception:
                logger.exception("usage queue poll failed")
                self._stop.wait(1)

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)
