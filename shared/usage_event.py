"""The message the proxy sends to the usage queue, one per call that reached the upstream.

Bodies travel inline when small; larger ones are put in S3 first and the message carries their keys
(claim-check), so no size loses a body.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION: Final = 1


class UsageTokens(BaseModel):
    model: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0
    cache_creation_5m_input_tokens: int = 0
    cache_creation_1h_input_tokens: int = 0
    server_tool_use: dict[str, int] = Field(default_factory=dict)
    service_tier: str | None = None
    stop_reason: str | None = None
    error_type: str | None = None
    seen: bool = False


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
    usage: UsageTokens
    request_body: BodyRef
    response_body: BodyRef
