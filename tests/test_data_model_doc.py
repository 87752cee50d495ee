"""docs/data-model.md names exactly the attributes the store writes for a usage record."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from shared.store.usage_records import usage_item
from shared.usage_record import UsageRecord, record_view

DOC = Path(__file__).parent.parent / "docs" / "data-model.md"


def documented_attributes() -> set[str]:
    section = DOC.read_text().split("## A usage record's attributes", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return {name for row in rows for name in re.findall(r"`([a-z0-9_]+)`", row.split("|")[1])}


def test_the_usage_record_attributes_documented_are_the_ones_written() -> None:
    # With a credential, a session and a developer, so every index key is written.
    record = UsageRecord(
        id="01JP0000000000000000000001",
        tenant_id="user_a",
        proxy_endpoint_id="01JP0000000000000000000002",
        requested_at=datetime(2026, 3, 10, tzinfo=UTC),
        status_code=200,
        api_key_id="0123456789abcdef",
        session_id="6dc01601-38bb-47b8-8305-6df3013eaf3c",
        developer_id="fedcba9876543210",
    )
    # Fields at their default are left out of the item; the document names every attribute it may hold.
    assert documented_attributes() == set(usage_item(record)) | set(record_view(record, None))
