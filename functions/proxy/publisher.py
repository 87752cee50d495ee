"""The usage message: one per logged call, sent to the usage queue.

Small bodies travel inline; when the message would exceed `inline_body_limit`, both bodies go to S3
first and the message carries their keys (claim-check). The boto3 calls run in a worker thread so
the event loop keeps streaming other calls, and a failure is logged and counted but never reaches
the caller: the reply has already been relayed.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shared import aws
from shared.models import SlugTarget
from shared.observability import MetricUnit, logger, metrics
from shared.store.layout import body_object_key
from shared.usage import Usage, read_json_usage
from shared.usage_event import BodyRef, UsageEvent, UsageTokens


@dataclass
class CallRecord:
    """What the proxy saw of one call."""

    id: str
    target: SlugTarget
    requested_at: datetime
    path: str
    request_body: bytes
    status_code: int = 0
    stream: bool = False
    complete: bool = True
    ttfb_ms: int | None = None
    duration_ms: int = 0
    request_id: str | None = None
    api_key_id: str | None = None
    api_key_hint: str | None = None
    # None: the reply is a JSON body, read once it is complete (off the event loop).
    usage: Usage | None = None
    response_chunks: list[bytes] = field(default_factory=list)


def _text(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        # Only a reply cut off mid-character gets here; keep everything that can be read.
        return body.decode("utf-8", errors="replace")


def _message(record: CallRecord, usage: Usage, request_body: BodyRef, response_body: BodyRef) -> str:
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
        usage=UsageTokens(**usage.to_dict()),
        request_body=request_body,
        response_body=response_body,
    ).model_dump_json()


class UsagePublisher:
    def __init__(
        self,
        queue_url: str | None,
        bucket: str,
        prefix: str,
        inline_limit: int,
        sqs: Any = None,
        s3: Any = None,
    ) -> None:
        self.queue_url = queue_url
        self.bucket = bucket
        self.prefix = prefix
        self.inline_limit = inline_limit
        self._sqs = sqs
        self._s3 = s3

    async def publish(self, record: CallRecord) -> None:
        try:
            await asyncio.to_thread(self.send, record)
        except Exception as error:
            # The log line names the call and its status, never a credential or a body.
            logger.error(
                "Usage message not sent",
                extra={
                    "usage_id": record.id,
                    "tenant_id": record.target.tenant_id,
                    "proxy_endpoint_id": record.target.proxy_endpoint_id,
                    "status_code": record.status_code,
                    "error": type(error).__name__,
                },
            )
            # Nothing else flushes metrics in this long-running process; and counting must not fail the call.
            with contextlib.suppress(Exception):
                metrics.add_metric(name="UsagePublishFailures", unit=MetricUnit.Count, value=1)
                metrics.flush_metrics()

    def send(self, record: CallRecord) -> None:
        """Blocking: builds the message (bodies and all) and sends it."""
        if not self.queue_url:
            raise RuntimeError("CODECOSTS_USAGE_QUEUE_URL is not set")
        response_body = b"".join(record.response_chunks)
        usage = record.usage if record.usage is not None else read_json_usage(response_body)
        size = len(record.request_body) + len(response_body)
        # Escaping only grows a body: when the raw bytes are over the limit, skip the inline attempt.
        if size <= self.inline_limit:
            message = _message(
                record,
                usage,
                BodyRef(text=_text(record.request_body), size=len(record.request_body)),
                BodyRef(text=_text(response_body), size=len(response_body)),
            )
            if len(message.encode()) <= self.inline_limit:
                self.sqs.send_message(QueueUrl=self.queue_url, MessageBody=message)
                return
        # All or nothing: a record's bodies live together, in the message or in S3.
        response_type = "text/event-stream" if record.stream else "application/json"
        message = _message(
            record,
            usage,
            BodyRef(
                key=self._put(record, "request", record.request_body, "application/json"),
                size=len(record.request_body),
            ),
            BodyRef(key=self._put(record, "response", response_body, response_type), size=len(response_body)),
        )
        self.sqs.send_message(QueueUrl=self.queue_url, MessageBody=message)

    def _put(self, record: CallRecord, which: str, body: bytes, content_type: str) -> str:
        key = body_object_key(self.prefix, record.target.tenant_id, record.id, which)
        self.s3.put_object(
            Bucket=self.bucket,
            Key=key,
            Body=_text(body).encode(),
            ContentType=f"{content_type}; charset=utf-8",
        )
        return key

    @property
    def sqs(self) -> Any:
        if self._sqs is None:
            self._sqs = aws.sqs()
        return self._sqs

    @property
    def s3(self) -> Any:
        if self._s3 is None:
            self._s3 = aws.s3()
        return self._s3
