"""The message the proxy sends to the usage queue, one per call that reached the upstream.

Bodies travel inline when small; larger ones are put in S3 first and the message carries their keys
(claim-check), so no size loses a body.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from shared.usage import Usage

SCHEMA_VERSION: Final = 1


class BodyRef(BaseModel):
    """A body: inline `text`, or an S3 `key` in the bodies bucket, or missing (`None` both)."""

    text: str | None = None
    key: str | None = None
    size: int = 0


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
