"""Usage events as the proxy sends them, for tests that feed the ingest directly."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shared.ids import new_id
from shared.usage_event import UsageEvent


def streamed_call(at: datetime, *, tenant: str, endpoint: str, **fields: Any) -> UsageEvent:
    """A streamed `/v1/messages` call that answered 200 at `at`; `fields` add or replace the event's
    own (usage, bodies, session and agent headers, retention)."""
    event: dict[str, Any] = {
        "id": new_id(at),
        "tenant_id": tenant,
        "proxy_endpoint_id": endpoint,
        "requested_at": at,
        "path": "/v1/messages",
        "status_code": 200,
        "stream": True,
        "duration_ms": 900,
    }
    return UsageEvent(**{**event, **fields})
