"""Feeds the usage queue to the ingest handler the way Lambda's SQS event source mapping does.

Gathers a batch as the template's mapping does (`EventSource`: from its first message, until it
holds the batch size, 100, or its 1 s window ends; SQS hands out 10 per receive), hands it over in
Lambda's event shape, and deletes the ones the handler did not report in `batchItemFailures`
(ReportBatchItemFailures); failures become visible again after the visibility timeout and, after
five receives, SQS moves them to the dead-letter queue, as in AWS. A lone message therefore reaches
the table about a second after its call, as deployed, and calls in quick succession are ingested
together instead of each one competing with the next call for make dev's two cores.

`make dev` runs it as the ingest function's own processes, with that function's environment: as many
as the mapping's maximum concurrency, each one Lambda execution environment handling one batch at a
time, so a backlog is ingested while moto answers another poller's writes. The queue is the event
source mapping's, not a variable of the function (the template passes none), and so are the batch
size, window and concurrency:

    python -m devstack.poller QUEUE_URL BATCH_SIZE WINDOW_SECONDS MAX_CONCURRENCY
"""

from __future__ import annotations

import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from shared import aws
from shared.observability import logger

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
_RECEIVE_MAX = 10  # SQS's most per ReceiveMessage and per DeleteMessageBatch
_GATHER_PAUSE_SECONDS = 0.05  # within a window, how long an empty receive waits before the next


@dataclass(frozen=True)
class EventSource:
    """What the ingest's SQS event source mapping says about batches and how many it hands over at once:
    read from the synthesized template (devstack/rehearsal.py `event_source`), never written here."""

    batch_size: int
    window_seconds: int
    max_concurrency: int

    def arguments(self) -> list[str]:
        """For this module's command line: `python -m devstack.poller QUEUE_URL <these>`."""
        return [str(self.batch_size), str(self.window_seconds), str(self.max_concurrency)]


def deployed_event_source() -> EventSource:
    """The template's mapping, for what runs the ingest in-process (tests, the bench)."""
    from devstack.rehearsal import event_source, load_template

    return event_source(load_template())


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
    def __init__(self, queue_url: str, handler: Handler, source: EventSource, wait_seconds: int = 1) -> None:
        self.queue_url = queue_url
        self.handler = handler
        self.wait_seconds = wait_seconds
        self.source = source
        self.processed = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        with aws.running_as("usage_ingest"):
            attributes = aws.sqs().get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
        self._queue_arn = attributes["Attributes"]["QueueArn"]

    def poll_once(self) -> int:
        """One batch gathered and handed over; returns how many messages were received."""
        # Lambda's event source polls and deletes with the ingest function's own role.
        with aws.running_as("usage_ingest"):
            return self._poll_once()

    def _poll_once(self) -> int:
        messages = self._receive(_RECEIVE_MAX, self.wait_seconds)
        if not messages:
            return 0
        window_ends = time.monotonic() + self.source.window_seconds
        # As the mapping does: gather until the batch is full or the window ends.
        while len(messages) < self.source.batch_size:
            remaining = window_ends - time.monotonic()
            if remaining <= 0:
                break
            last = self._receive(min(_RECEIVE_MAX, self.source.batch_size - len(messages)), 0)
            messages += last
            if not last and self._stop.wait(min(remaining, _GATHER_PAUSE_SECONDS)):
                break  # stopping: what was gathered is handed over now
        try:
            result = self.handler(lambda_event(messages, self._queue_arn), LocalLambdaContext())
        except Exception:
            logger.exception("ingest handler failed; the batch will be retried")
            return len(messages)
        failed = {item["itemIdentifier"] for item in result.get("batchItemFailures", [])}
        done = [m for m in messages if m["MessageId"] not in failed]
        for first in range(0, len(done), _RECEIVE_MAX):  # DeleteMessageBatch takes 10 at most too
            aws.sqs().delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                    for i, m in enumerate(done[first : first + _RECEIVE_MAX])
                ],
            )
        self.processed += len(done)
        return len(messages)

    def _receive(self, count: int, wait_seconds: int) -> list[dict[str, Any]]:
        response = aws.sqs().receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=count,
            WaitTimeSeconds=wait_seconds,
            MessageSystemAttributeNames=["All"],
        )
        messages: list[dict[str, Any]] = response.get("Messages", [])
        return messages

    def drain(self) -> None:
        while self.poll_once():
            pass

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="usage-queue-poller", daemon=True)
        self._thread.start()

    def run(self) -> None:
        """Polls until `stop()`."""
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


def main(argv: list[str]) -> None:
    """Until SIGTERM or SIGINT: then what is still queued is handed over before the process exits."""
    from functions.usage_ingest.handler import handler

    if len(argv) != 4 or not all(value.isdigit() for value in argv[1:]):
        raise SystemExit(
            "usage: python -m devstack.poller QUEUE_URL BATCH_SIZE WINDOW_SECONDS MAX_CONCURRENCY"
        )
    poller = QueuePoller(argv[0], handler, EventSource(*(int(value) for value in argv[1:])))
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: poller.stop())
    poller.run()
    poller.drain()


if __name__ == "__main__":
    main(sys.argv[1:])
