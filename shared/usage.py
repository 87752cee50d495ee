"""Reading token usage out of Anthropic replies, as they stream past.

`message_start.message.usage` opens the count; every later `message_delta.usage` *replaces* the
fields it carries, because they are cumulative. A non-streaming reply carries `usage` once.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from shared.usage_record import TOKEN_KINDS, Tokens

# A usage label Anthropic reports (`speed`, `inference_geo`, `service_tier`): short, plain words.
_LABEL = re.compile(r"[a-z0-9_-]{1,32}")


@dataclass
class Usage(Tokens):
    """What a reply says of its usage: the token kinds (`Tokens`) and the rest."""

    model: str | None = None
    server_tool_use: dict[str, int] = field(default_factory=dict)
    service_tier: str | None = None
    speed: str | None = None  # "standard" or "fast"
    inference_geo: str | None = None  # where inference ran: "global", "us", ...
    stop_reason: str | None = None
    # The `error.type` of an error reply or of an `event: error` inside a stream.
    error_type: str | None = None
    seen: bool = False  # whether any usage was read at all
    # A stream's final `message_delta` (Anthropic's own count of the output) was read.
    final_count: bool = False
    # The stream ended before its final count; `output_tokens` is estimated from what was relayed.
    output_tokens_estimated: bool = False
    # Whether the reply carried any content block (text, thinking, tool use): what tells a refusal
    # before any output, which Anthropic does not bill, from a later one. None: not known (a message
    # from before this field).
    generated_output: bool | None = None

    @property
    def web_search_requests(self) -> int:
        return self.server_tool_use.get("web_search_requests", 0)

    def apply(self, usage: dict[str, Any]) -> None:
        """Take the fields `usage` carries, replacing earlier values (they are cumulative)."""
        self.seen = True
        for name in TOKEN_KINDS:  # the kinds Anthropic reports at the top level (not the splits)
            value = usage.get(name)
            if isinstance(value, int):
                setattr(self, name, value)
        details = usage.get("output_tokens_details")
        if isinstance(details, dict) and isinstance(details.get("thinking_tokens"), int):
            self.thinking_tokens = details["thinking_tokens"]
        # Anthropic's own counts keep thinking within the output; a reply that says otherwise is
        # held to it, so no view shows more thinking than output.
        self.thinking_tokens = max(0, min(self.thinking_tokens, self.output_tokens))
        split = usage.get("cache_creation")
        if isinstance(split, dict):
            self.cache_creation_5m_input_tokens = int(split.get("ephemeral_5m_input_tokens") or 0)
            self.cache_creation_1h_input_tokens = int(split.get("ephemeral_1h_input_tokens") or 0)
        elif "cache_creation_input_tokens" in usage:
            # A stream's final `message_delta` repeats the cumulative total without the split (the
            # SDK's `MessageDeltaUsage` has no such field): the 1-hour count `message_start` gave
            # stands, the rest is 5-minute writes (the API's default TTL).
            self.cache_creation_1h_input_tokens = min(
                self.cache_creation_1h_input_tokens, self.cache_creation_input_tokens
            )
            self.cache_creation_5m_input_tokens = (
                self.cache_creation_input_tokens - self.cache_creation_1h_input_tokens
            )
        tools = usage.get("server_tool_use")
        if isinstance(tools, dict):
            self.server_tool_use = {k: v for k, v in tools.items() if isinstance(v, int)}
        for name in ("service_tier", "speed", "inference_geo"):
            value = usage.get(name)
            if isinstance(value, str) and _LABEL.fullmatch(value):
                setattr(self, name, value)

    def take_message(self, message: dict[str, Any]) -> None:
        if isinstance(message.get("model"), str):
            self.model = message["model"]
        if isinstance(message.get("content"), list):
            # A stream's `message_start` has none yet; its content blocks come as events.
            self.generated_output = bool(message["content"])
        if isinstance(message.get("stop_reason"), str):
            self.stop_reason = message["stop_reason"]
        if isinstance(message.get("usage"), dict):
            self.apply(message["usage"])

    def take_error(self, payload: dict[str, Any]) -> None:
        error = payload.get("error")
        self.error_type = str(error.get("type")) if isinstance(error, dict) else "error"


_INTERESTING_EVENTS = frozenset({b"message_start", b"message_delta", b"error"})
# Data lines without an `event:` line are recognised by Anthropic's habit of writing `type` first.
_INTERESTING_DATA = (b'{"type":"message_start"', b'{"type":"message_delta"', b'{"type":"error"')
_CONTENT_BLOCK_EVENT = b"content_block_start"
_CONTENT_BLOCK_DATA = b'{"type":"content_block_start"'


class StreamUsageReader:
    """Feeds on raw SSE bytes as they arrive; parses JSON only for the few events that carry usage.

    Content deltas, by far the most events, cost a `startswith` or two each.
    """

    def __init__(self) -> None:
        self.usage = Usage()
        self._partial: list[bytes] = []
        self._event: bytes | None = None

    def feed(self, chunk: bytes) -> None:
        if b"\n" not in chunk:
            self._partial.append(chunk)
            return
        if self._partial:
            self._partial.append(chunk)
            chunk = b"".join(self._partial)
            self._partial = []
        lines = chunk.split(b"\n")
        tail = lines.pop()
        if tail:
            self._partial.append(tail)
        for line in lines:
            self._line(line.rstrip(b"\r"))

    def close(self) -> Usage:
        if self._partial:
            self._line(b"".join(self._partial).rstrip(b"\r"))
            self._partial = []
        return self.usage

    def _line(self, line: bytes) -> None:
        if not line:
            self._event = None  # a blank line ends the event
        elif line.startswith(b"event:"):
            self._event = line[6:].strip()
            if self._event == _CONTENT_BLOCK_EVENT:
                self.usage.generated_output = True  # known from the event's name: no JSON to parse
        elif line.startswith(b"data:"):
            data = line[5:].lstrip()
            if self._event in _INTERESTING_EVENTS or (
                self._event is None and data.startswith(_INTERESTING_DATA)
            ):
                self._data(data)
            elif self._event is None and data.startswith(_CONTENT_BLOCK_DATA):
                self.usage.generated_output = True

    def _data(self, data: bytes) -> None:
        try:
            payload = json.loads(data)
        except ValueError:
            return
        if not isinstance(payload, dict):
            return
        kind = payload.get("type")
        if kind == "message_start" and isinstance(payload.get("message"), dict):
            self.usage.take_message(payload["message"])
        elif kind == "message_delta":
            delta = payload.get("delta")
            if isinstance(delta, dict) and isinstance(delta.get("stop_reason"), str):
                self.usage.stop_reason = delta["stop_reason"]
            if isinstance(payload.get("usage"), dict):
                self.usage.apply(payload["usage"])
                self.usage.final_count = True
        elif kind == "error":
            self.usage.take_error(payload)


def read_json_usage(body: bytes) -> Usage:
    """Usage of a non-streaming reply (a message, or an error body)."""
    usage = Usage()
    try:
        payload = json.loads(body)
    except ValueError:
        return usage
    if isinstance(payload, dict):
        if payload.get("type") == "error":
            usage.take_error(payload)
        else:
            usage.take_message(payload)
    return usage


def read_stream_usage(body: bytes) -> Usage:
    reader = StreamUsageReader()
    reader.feed(body)
    return reader.close()


# What a record may name as its model: Anthropic's ids (`claude-sonnet-4-5-20250929`), with room for
# the dated, versioned and suffixed forms gateways use (`claude-sonnet-4@20250514`, `...[1m]`).
_MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@/\[\]-]{0,99}")
# Recorded instead of a model name that breaks those rules (junk from an error reply or a request):
# it cannot overflow a key or print control characters, and the call's cost is unknown.
INVALID_MODEL = "invalid-model"


def recorded_model(name: str | None) -> str | None:
    """`name` if it is a plausible model id (1-100 characters of `[A-Za-z0-9._:@/[]-]`), else
    `INVALID_MODEL`; None stays None."""
    if name is None or _MODEL_NAME.fullmatch(name):
        return name
    return INVALID_MODEL


def requested_model(request_body: bytes | str | None) -> str | None:
    """The `model` a request asked for: the fallback when the reply names none (errors)."""
    if not request_body:
        return None
    try:
        payload = json.loads(request_body)
    except ValueError:
        return None
    model = payload.get("model") if isinstance(payload, dict) else None
    return model if isinstance(model, str) else None
