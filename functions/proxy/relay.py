"""Relaying one call: every upstream chunk goes to the client the moment it arrives.

The relay sends the response head and every body chunk with `more_body=True`, and keeps what the
usage record needs on the side. It never ends the response: the caller publishes the record first
and then ends it (see `app.py`), so the record is sent while the client already has every byte.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from functions.proxy.forwarding import client_response_headers
from functions.proxy.publisher import CallRecord
from functions.proxy.upstream import Upstream, UpstreamError, UpstreamRequest, UpstreamTimeout
from shared.observability import logger
from shared.usage import StreamUsageReader, Usage

Message = MutableMapping[str, Any]
Send = Callable[[Message], Awaitable[None]]

_EVENT_STREAM = "text/event-stream"


def json_reply(status: int, payload: dict[str, Any]) -> tuple[Message, Message]:
    """The head and body of a reply the proxy makes itself, in the contract's error shape."""
    body = json.dumps(payload).encode()
    head = {
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
    }
    return head, {"type": "http.response.body", "body": body, "more_body": False}


class Relay:
    def __init__(
        self,
        record: CallRecord,
        send: Send,
        started: float,
        keep_body: bool,
        after_first_byte: Callable[[], None] | None = None,
    ) -> None:
        self.record = record
        # Called once, right after the first body bytes went out (starts deferred side work).
        self.after_first_byte = after_first_byte
        self.send = send
        self.started = started  # perf_counter() when the request arrived
        self.keep_body = keep_body
        self.responded = False  # the response head went to the client
        self.relayed_all = False  # every byte of the reply went to the client

    def _elapsed_ms(self) -> int:
        return round((time.perf_counter() - self.started) * 1000)

    async def run(self, upstream: Upstream, request: UpstreamRequest) -> None:
        record = self.record
        try:
            response = await upstream.post(request)
        except UpstreamTimeout:
            await self._reply_own(504, "Upstream timed out")
            return
        except UpstreamError as error:
            logger.warning("Upstream unreachable", extra={"error": type(error).__name__})
            await self._reply_own(502, "Upstream unreachable")
            return
        record.ttfb_ms = self._elapsed_ms()
        record.status_code = response.status_code
        record.request_id = response.header(b"request-id")
        record.stream = (response.header(b"content-type") or "").startswith(_EVENT_STREAM)
        reader = StreamUsageReader() if record.stream and self.keep_body else None
        chunks = record.response_chunks
        try:
            await self.send(
                {
                    "type": "http.response.start",
                    "status": response.status_code,
                    "headers": client_response_headers(response.headers),
                }
            )
            self.responded = True
            async for chunk in response.chunks():
                if self.keep_body:
                    chunks.append(chunk)  # before the send: a client leaving mid-send still got it
                await self.send({"type": "http.response.body", "body": chunk, "more_body": True})
                if self.after_first_byte is not None:
                    self.after_first_byte()
                    self.after_first_byte = None
                if reader is not None:
                    reader.feed(chunk)
            self.relayed_all = True
        except UpstreamError as error:
            record.complete = False
            logger.warning("Upstream broke off the reply", extra={"error": type(error).__name__})
        finally:
            # Also runs when the client left and this task was cancelled: close the upstream at once.
            record.duration_ms = self._elapsed_ms()
            if reader is not None:
                record.usage = reader.close()
            await response.aclose()

    async def _reply_own(self, status: int, error: str) -> None:
        self.record.status_code = status
        self.record.duration_ms = self._elapsed_ms()
        self.record.usage = Usage()
        head, body = json_reply(status, {"error": error})
        await self.send(head)
        self.responded = True
        self.record.response_chunks.append(body["body"])
        # The caller ends the response after publishing; the bytes go out now.
        await self.send({"type": "http.response.body", "body": body["body"], "more_body": True})
        self.relayed_all = True
