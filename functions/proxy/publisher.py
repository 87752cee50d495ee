"""The usage message: one per logged call, sent to the usage queue.

Bodies are redacted (shared/bodies/redaction.py) and zstd-compressed here, so no copy anywhere (queue,
bucket, table) ever holds a secret or the uncompressed text; they travel inline, or, when the
message would exceed `inline_body_limit`, go to S3 in their stored form first and the message carries
the key (claim-check). Nothing of them is sent when the endpoint keeps no bodies. The ingest, off the
caller's path, compresses a session's calls against each other (shared/bodies/store.py): that work
needs a read of the session's base, which would otherwise hold the caller's response open.
This runs in a worker thread after the last byte was relayed, so the event loop keeps streaming
other calls, and a failure never reaches the caller.

Nothing is lost quietly when a part fails:
- S3 down: the record is sent without its bodies (marked missing) and `UsageBodyStoreFailures` counts it;
- SQS down: the send is retried briefly, then the record is written straight to the table with the
  ingest's own idempotent write (`UsageQueueFallbacks`), so a later redelivery cannot count it twice;
- both down: an error log line (ids and status, never a credential or a body) and `UsagePublishFailures`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from functions.proxy.send_batches import SendBatches
from shared import aws
from shared.bodies.codec import pack
from shared.bodies.redaction import redact
from shared.bodies.store import BodyStore
from shared.models import SlugTarget
from shared.observability import MetricUnit, logger, metrics
from shared.output_estimate import settle_unfinished_stream
from shared.usage import Usage, read_json_usage
from shared.usage_event import BodyRef, UsageEvent

if TYPE_CHECKING:
    from shared.ingest import UsageIngest

# Pauses between send attempts: the caller's response stays open (its last, empty chunk waits) while
# they run, so the whole retry must stay well under a second before the table takes over.
SEND_RETRY_DELAYS = (0.05, 0.2)
# Room for the message's other fields when deciding whether the bodies fit inline.
MESSAGE_OVERHEAD = 4096


@dataclass
class CallRecord:
    """What the proxy saw of one call."""

    id: str
    target: SlugTarget
    requested_at: datetime
    path: str
    request_body: bytes
    # The request body's Content-Encoding: `request_body` is as sent until the publish decodes it.
    request_encoding: bytes | None = None
    # The body's size as received (decoded from its coding), set before anything is taken out of it;
    # None: `request_body`'s length.
    request_size: int | None = None
    status_code: int = 0
    stream: bool = False
    complete: bool = True
    ttfb_ms: int | None = None
    duration_ms: int = 0
    request_id: str | None = None
    api_key_id: str | None = None
    api_key_hint: str | None = None
    session_header: str | None = None  # Claude Code's x-claude-code-session-id
    agent_header: str | None = None  # and x-claude-code-agent-id (subagent calls)
    developer_id: str | None = None  # shared/developers.py
    # None: the reply is a JSON body, read once it is complete (off the event loop).
    usage: Usage | None = None
    response_chunks: list[bytes] = field(default_factory=list)


def _text(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        # Only a reply cut off mid-character gets here; keep everything that can be read.
        return body.decode("utf-8", errors="replace")


def _event(
    record: CallRecord,
    usage: Usage,
    request_body: BodyRef,
    response_body: BodyRef,
    claim_checked: bool = False,
) -> UsageEvent:
    return UsageEvent(
        id=record.id,
        tenant_id=record.target.tenant_id,
        proxy_endpoint_id=record.target.proxy_endpoint_id,
        requested_at=record.requested_at,
        path=record.path,
        status_code=record.status_code,
        stream=record.stream,
        complete=record.complete,
        ttfb_ms=record.ttfb_ms,
        duration_ms=record.duration_ms,
        request_id=record.request_id,
        api_key_id=record.api_key_id,
        api_key_hint=record.api_key_hint,
        session_header=record.session_header,
        agent_header=record.agent_header,
        developer_id=record.developer_id,
        usage=usage,
        request_body=request_body,
        response_body=response_body,
        bodies_claim_checked=claim_checked,
        body_retention_days=record.target.body_retention_days,
    )


def _count(name: str) -> None:
    # Published with the request's other metrics (shared.observability.PublishMetrics); counting must
    # not fail the call.
    with contextlib.suppress(Exception):
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)


def _ids(record: CallRecord) -> dict[str, Any]:
    """What a log line may say about a call: ids and status, never a credential or a body."""
    return {
        "usage_id": record.id,
        "tenant_id": record.target.tenant_id,
        "proxy_endpoint_id": record.target.proxy_endpoint_id,
        "status_code": record.status_code,
    }


class UsagePublisher:
    def __init__(
        self,
        queue_url: str | None,
        bucket: str,
        prefix: str,
        inline_limit: int,
        sqs: Any = None,
        s3: Any = None,
        table_name: str | None = None,
        retry_delays: Sequence[float] = SEND_RETRY_DELAYS,
    ) -> None:
        self.queue_url = queue_url
        self.bucket = bucket
        self.prefix = prefix
        self.inline_limit = inline_limit
        self.table_name = table_name
        self.retry_delays = tuple(retry_delays)
        self._sqs = sqs
        self._s3 = s3
        self._ingest: UsageIngest | None = None
        self._batches: SendBatches | None = None
        self._bodies: BodyStore | None = None

    async def publish(self, record: CallRecord) -> None:
        try:
            await asyncio.to_thread(self.send, record)
        except Exception as error:
            logger.error("Usage record lost", extra={**_ids(record), "error": type(error).__name__})
            _count("UsagePublishFailures")

    def send(self, record: CallRecord) -> None:
        """Blocking: builds the message (bodies and all), sends it, or writes the record itself."""
        event, message = self.message(record)
        try:
            self._send(message)
            return
        except Exception as error:
            if not self.table_name:
                raise
            logger.warning(
                "Usage queue unavailable; writing the record to the table",
                extra={**_ids(record), "error": type(error).__name__},
            )
        self.ingest.ingest(event, request_text=_text(record.request_body))
        _count("UsageQueueFallbacks")

    def _send(self, message: str) -> None:
        if not self.queue_url:
            raise RuntimeError("CODECOSTS_USAGE_QUEUE_URL is not set")
        if self._batches is None:
            self._batches = SendBatches(lambda: self.sqs, self.queue_url)
        for delay in self.retry_delays:
            try:
                self._batches.send(message)
                return
            except Exception:
                time.sleep(delay)
        self._batches.send(message)

    def message(self, record: CallRecord) -> tuple[UsageEvent, str]:
        """The usage event of a call and its message text, after putting large bodies in S3. Consumes
        the record's response chunks: a long reply is held in as few copies as the work needs (the
        proxy's memory size is set by its largest call, docs/benchmarks.md)."""
        response_body = b"".join(record.response_chunks)
        record.response_chunks.clear()
        usage = record.usage if record.usage is not None else read_json_usage(response_body)
        if record.stream and usage.seen and not usage.final_count:
            # Cut short (client gone, upstream cut, error event): bill what was relayed.
            settle_unfinished_stream(usage, response_body)
        request_size = len(record.request_body) if record.request_size is None else record.request_size
        response_size = len(response_body)
        days = record.target.body_retention_days
        if days == 0:
            return self._message(
                _event(record, usage, BodyRef(size=request_size), BodyRef(size=response_size))
            )
        request = redact(_text(record.request_body)).encode()
        response_text = _text(response_body)
        del response_body
        response = redact(response_text).encode()
        del response_text
        request_ref, response_ref = BodyRef.of(request, request_size), BodyRef.of(response, response_size)
        inline_size = len(request_ref.zstd or "") + len(response_ref.zstd or "") + MESSAGE_OVERHEAD
        if inline_size <= self.inline_limit:
            event = _event(record, usage, request_ref, response_ref)
            message = event.model_dump_json()
            if len(message.encode()) <= self.inline_limit:
                return event, message
        try:
            self.bodies.put_call(record.target.tenant_id, record.id, pack(request, response), days)
            claim_checked = True
        except Exception as error:
            # The record (tokens, cost) matters more than its bodies: it goes on without them.
            logger.warning("Bodies not stored", extra={**_ids(record), "error": type(error).__name__})
            _count("UsageBodyStoreFailures")
            claim_checked = False
        return self._message(
            _event(record, usage, BodyRef(size=request_size), BodyRef(size=response_size), claim_checked)
        )

    @staticmethod
    def _message(event: UsageEvent) -> tuple[UsageEvent, str]:
        return event, event.model_dump_json()

    @property
    def bodies(self) -> BodyStore:
        if self._bodies is None:
            self._bodies = BodyStore(self.bucket, self.prefix, self.s3)
        return self._bodies

    @property
    def sqs(self) -> Any:
        if self._sqs is None:
            self._sqs = aws.sqs_without_retries()
        return self._sqs

    @property
    def s3(self) -> Any:
        if self._s3 is None:
            self._s3 = aws.s3()
        return self._s3

    @property
    def ingest(self) -> UsageIngest:
        """The ingest's own record writer, made on first use (it loads the price tables)."""
        if self._ingest is None:
            from shared.ingest import UsageIngest
            from shared.store.usage_records import UsageStore

            self._ingest = UsageIngest(UsageStore(self.table_name or "", self.bucket))
        return self._ingest
