"""A body past its endpoint's retention is gone from every store: S3 removes the objects by the
bucket's lifecycle rules (one per retention, matched by the tag each object carries), the table never
held a copy, and reads show nothing from the retention's end on, whatever S3 has not yet removed."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from shared.ingest import UsageIngest
from shared.settings import get_settings
from shared.store.usage_records import UsageStore
from shared.usage import Usage
from shared.usage_event import BodyRef, UsageEvent
from tests.fakes.events import streamed_call
from tests.fakes.lifecycle import expire_objects

SECRETLESS_MARK = "conversation-marker-8c1f"


def claude_code_call(at: datetime, days: int, turns: int) -> UsageEvent:
    request = json.dumps(
        {"system": "s" * 50_000, "messages": [f"{SECRETLESS_MARK} turn {turn}" for turn in range(turns)]}
    ).encode()
    return streamed_call(
        at,
        tenant="user_r",
        endpoint="01ENDPOINT0000000000000000",
        session_header=f"session-{days}",
        usage=Usage(model="claude-sonnet-4-5", input_tokens=10, output_tokens=5, seen=True),
        request_body=BodyRef.of(request),
        response_body=BodyRef.of(b"event: message_stop\ndata: {}\n\n"),
        body_retention_days=days,
    )


def keys(bucket: str) -> set[str]:
    listed = boto3.client("s3").list_objects_v2(Bucket=bucket, Prefix="bodies/user_r/")
    return {entry["Key"] for entry in listed.get("Contents", [])}


def test_a_body_past_its_retention_is_gone_from_both_stores(
    aws: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = get_settings()
    store = UsageStore(settings.table_name, settings.bodies_bucket)
    ingest = UsageIngest(store)
    now = datetime.now(UTC)
    week = [claude_code_call(now + timedelta(seconds=turn), 7, turn + 1) for turn in range(2)]
    month = claude_code_call(now, 30, 1)
    for event in (*week, month):
        assert ingest.ingest(event)
    stored = keys(settings.bodies_bucket)
    weekly = {f"bodies/user_r/calls/{event.id}" for event in week}
    weekly |= {key for key in stored if key.startswith(f"bodies/user_r/bases/{week[0].id}.")}
    assert len(weekly) == 3 and weekly < stored  # two calls and their session's base
    records = [store.get("user_r", event.id) for event in (*week, month)]
    assert all(store.bodies(record).request_body for record in records if record)

    # Within the retention, S3 keeps everything.
    assert expire_objects(settings.bodies_bucket, now + timedelta(days=6)) == []
    # From the retention's end, reads show nothing, before S3's lifecycle has run.
    monkeypatch.setattr(
        "shared.store.usage_records.time.time", lambda: (now + timedelta(days=7, seconds=2)).timestamp()
    )
    for event in week:
        bodies = store.bodies(store.get("user_r", event.id) or {})
        assert bodies.request_body is None and bodies.response_body is None
    assert store.bodies(store.get("user_r", month.id) or {}).request_body is not None
    # and once it has, the week's objects are gone; the month's stay.
    assert set(expire_objects(settings.bodies_bucket, now + timedelta(days=9))) == weekly
    assert keys(settings.bodies_bucket) and not keys(settings.bodies_bucket) & weekly

    # The table never held a body: its items name no content of them.
    items = boto3.resource("dynamodb").Table(settings.table_name).scan()["Items"]
    assert items and SECRETLESS_MARK not in json.dumps(items, default=str)
