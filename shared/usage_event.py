"""The message the proxy sends to the usage queue, one per call that reached the upstream.

Bodies travel redacted and zstd-compressed: inline when small enough, else the proxy puts them in
S3 first, in their stored form, and the message carries the key (claim-check), so no size loses a
body. An endpoint that keeps no bodies (`body_retention_days` 0) sends none.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from shared.bodies.codec import compress, decompress
from shared.bodies.retention import DEFAULT_RETENTION_DAYS
from shared.usage import Usage

SCHEMA_VERSION: Final = 1


class BodyRef(BaseModel):
    """A body: redacted, zstd-compressed and base64-encoded in `zstd`, or not in the message (None)."""

    zstd: str | None = None
    # Bytes received from the client or the upstream, before redaction; a compressed request's once
    # decoded (as received when it cannot be: functions/proxy/content_coding.py).
    size: int = 0

    @classmethod
    def of(cls, body: bytes, size: int | None = None) -> BodyRef:
        """`body` (already redacted) compressed for the message; `size`: the original's length."""
        return cls(zstd=base64.b64encode(compress(body)).decode(), size=len(body) if size is None else size)

    def content(self) -> bytes | None:
        return None if self.zstd is None else decompress(base64.b64decode(self.zstd))


class UsageEvent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    v: Literal[1] = SCHEMA_VERSION
    id: str
    tenant_id: str
    proxy_endpoint_id: str
    requested_at: datetime
    path: str  # `/v1/messages`
    status_code: int
    stream: bool
    # False when the call did not end normally: the client left, or the upstream broke off.
    complete: bool = True
    ttfb_ms: int | None = None
    duration_ms: int
    request_id: str | None = None
    api_key_id: str | None = None
    api_key_hint: str | None = None
    # Claude Code's `x-claude-code-session-id` and `x-claude-code-agent-id` headers, as received.
    session_header: str | None = None
    agent_header: str | None = None
    # The Claude Code developer's fingerprint (shared/developers.py), never the account or device id.
    developer_id: str | None = None
    usage: Usage  # the reader's own dataclass: pydantic validates and serializes it
    request_body: BodyRef
    response_body: BodyRef
    # Both bodies already in the bucket at the call's key (codec.pack, no base): too large for the message.
    bodies_claim_checked: bool = False
    body_retention_days: int = DEFAULT_RETENTION_DAYS

    @property
    def bodies_missing(self) -> bool:
        """Bodies that should have been kept and were not (the proxy could not put them in S3)."""
        carried = self.request_body.zstd is not None or self.response_body.zstd is not None
        return self.body_retention_days > 0 and not self.bodies_claim_checked and not carried


class RejectedMessage(ValueError):
    """A message that no retry can store. The reason is safe to log: it never quotes the body."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def parse_usage_message(body: str) -> UsageEvent:
    """The usage event a queue message carries; `RejectedMessage` says why when it carries none."""
    try:
        payload = json.loads(body)
    except ValueError as error:
        raise RejectedMessage("not JSON") from error
    if not isinstance(payload, dict):
        raise RejectedMessage("not a JSON object")
    version = payload.get("v", SCHEMA_VERSION)
    if version != SCHEMA_VERSION:
        # Type and length only bounded: a version is a small number, anything else is shown cut short.
        raise RejectedMessage(
            f"unknown schema version {str(version)[:20]!r} (this ingest reads {SCHEMA_VERSION})"
        )
    try:
        return UsageEvent.model_validate(payload)
    except ValidationError as error:
        problems = [
            f"{'.'.join(str(part) for part in problem['loc']) or 'message'}: {problem['msg']}"
            for problem in error.errors(include_input=False)[:5]
        ]
        raise RejectedMessage("invalid fields: " + "; ".join(problems)) from error
