"""Bodies under the tenant's control: deleted one call at a time or by filter (the records stay),
kept for the endpoint's `body_retention_days`, and read back byte for byte while they are kept."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from fastapi.testclient import TestClient

from shared.ingest import UsageIngest
from shared.settings import Settings
from shared.store.usage_records import UsageStore
from shared.usage import Usage
from shared.usage_event import BodyRef, UsageEvent
from tests.fakes.events import streamed_call

Headers = dict[str, str]
SESSION = "6a4e3f1c-2b7d-4c9e-8f10-5d2a7b9c0e31"
NOW = datetime.now(UTC).replace(microsecond=0)


def conversation(turns: int) -> bytes:
    """A Claude Code-shaped request: each turn's request repeats the one before and adds to it."""
    messages = [
        {"role": "user" if turn % 2 == 0 else "assistant", "content": f"turn {turn}: " + "lorem ipsum " * 100}
        for turn in range(turns)
    ]
    return json.dumps({"model": "claude-sonnet-4-5", "system": "x" * 60_000, "messages": messages}).encode()


def call(
    at: datetime, request: bytes, endpoint: str, *, session: str | None = SESSION, days: int = 30
) -> UsageEvent:
    return streamed_call(
        at,
        tenant="user_alice",
        endpoint=endpoint,
        session_header=session,
        usage=Usage(model="claude-sonnet-4-5", input_tokens=10, output_tokens=5, seen=True),
        request_body=BodyRef.of(request),
        response_body=BodyRef.of(b"event: message_stop\ndata: {}\n\n"),
        body_retention_days=days,
    )


@pytest.fixture
def endpoint(client: TestClient, alice: Headers) -> str:
    created = client.post("/api/proxy-endpoints", json={"name": "laptop"}, headers=alice)
    return str(created.json()["id"])


@pytest.fixture
def ingest(usage_store: UsageStore) -> UsageIngest:
    return UsageIngest(usage_store)


def objects(settings: Settings) -> list[str]:
    listed = boto3.client("s3").list_objects_v2(Bucket=settings.bodies_bucket, Prefix="bodies/user_alice/")
    return sorted(entry["Key"] for entry in listed.get("Contents", []))


def detail(client: TestClient, headers: Headers, usage_id: str) -> dict[str, Any]:
    reply = client.get(f"/api/usage/{usage_id}", headers=headers)
    assert reply.status_code == 200
    body: dict[str, Any] = reply.json()
    return body


def digest(text: str | None) -> str:
    return hashlib.sha256((text or "").encode()).hexdigest()


def test_a_session_is_read_back_byte_for_byte_and_its_shared_base_outlives_a_delete(
    client: TestClient, alice: Headers, ingest: UsageIngest, endpoint: str, api_settings: Settings
) -> None:
    requests = [conversation(turns) for turns in (2, 3, 4)]
    calls = [call(NOW - timedelta(minutes=3 - turn), body, endpoint) for turn, body in enumerate(requests)]
    for event in calls:
        assert ingest.ingest(event)
    # The three calls share one base: three call objects and one base object, nothing in the table.
    assert len(objects(api_settings)) == 4
    for event, body in zip(calls, requests, strict=True):
        assert digest(detail(client, alice, event.id)["request_body"]) == hashlib.sha256(body).hexdigest()

    first, second, third = (event.id for event in calls)
    assert client.delete(f"/api/usage/{first}/bodies", headers=alice).json() == {"ok": True}
    gone = detail(client, alice, first)
    assert gone["request_body"] is None and gone["response_body"] is None
    assert gone["bodies_missing"] is False and gone["id"] == first  # the record stays
    # The base the other calls still use survives; theirs read as before.
    assert digest(detail(client, alice, third)["request_body"]) == hashlib.sha256(requests[2]).hexdigest()

    assert client.delete(f"/api/usage/{second}/bodies", headers=alice).status_code == 200
    assert client.delete(f"/api/usage/{third}/bodies", headers=alice).status_code == 200
    assert objects(api_settings) == []  # the last call using the base took it along
    assert len(client.get("/api/usage", headers=alice).json()["items"]) == 3

    audit = client.get("/api/audit-logs", headers=alice).json()["items"]
    deleted = [entry for entry in audit if entry["action"] == "usage.bodies_deleted"]
    assert sorted(entry["resource_id"] for entry in deleted) == sorted((first, second, third))


def test_bulk_delete_takes_the_usage_filters_and_counts_what_it_deleted(
    client: TestClient, alice: Headers, ingest: UsageIngest, endpoint: str, api_settings: Settings
) -> None:
    other = client.post("/api/proxy-endpoints", json={"name": "ci"}, headers=alice).json()["id"]
    mine = [
        call(NOW - timedelta(minutes=minute), conversation(2), endpoint, session=None) for minute in (1, 2)
    ]
    theirs = call(NOW - timedelta(minutes=3), conversation(2), other, session=None)
    for event in (*mine, theirs):
        ingest.ingest(event)

    reply = client.post("/api/usage/bodies/delete", json={"proxy_endpoint_id": endpoint}, headers=alice)
    assert reply.status_code == 200 and reply.json() == {"deleted": 2}
    assert all(detail(client, alice, event.id)["request_body"] is None for event in mine)
    assert detail(client, alice, theirs.id)["request_body"] is not None
    assert objects(api_settings) == [f"bodies/user_alice/calls/{theirs.id}"]
    # Nothing left to delete there: deleting again counts none.
    again = client.post("/api/usage/bodies/delete", json={"proxy_endpoint_id": endpoint}, headers=alice)
    assert again.json() == {"deleted": 0}

    bad = client.post("/api/usage/bodies/delete", json={"from": "yesterday"}, headers=alice)
    assert bad.status_code == 400
    unknown = client.post("/api/usage/bodies/delete", json={"everything": True}, headers=alice)
    assert unknown.status_code == 400
    assert detail(client, alice, theirs.id)["request_body"] is not None


def test_deleting_bodies_needs_write_scope_and_another_tenant_cannot(
    client: TestClient,
    alice: Headers,
    bob: Headers,
    ingest: UsageIngest,
    endpoint: str,
) -> None:
    event = call(NOW, conversation(2), endpoint)
    ingest.ingest(event)
    read_key = client.post("/api/api-keys", json={"name": "reader", "scope": "read"}, headers=alice).json()[
        "key"
    ]
    as_reader = {"Authorization": f"Bearer {read_key}"}
    assert client.delete(f"/api/usage/{event.id}/bodies", headers=as_reader).status_code == 403
    assert client.post("/api/usage/bodies/delete", json={}, headers=as_reader).status_code == 403
    assert client.delete(f"/api/usage/{event.id}/bodies", headers=bob).status_code == 404
    assert client.post("/api/usage/bodies/delete", json={}, headers=bob).json() == {"deleted": 0}
    assert detail(client, alice, event.id)["request_body"] is not None
    assert client.delete("/api/usage/not-an-id/bodies", headers=alice).status_code == 404


def test_bodies_past_the_endpoints_retention_read_as_absent(
    client: TestClient, alice: Headers, ingest: UsageIngest, endpoint: str
) -> None:
    old = call(NOW - timedelta(days=8), conversation(2), endpoint, days=7)
    recent = call(NOW - timedelta(days=6), conversation(2), endpoint, days=7)
    never = call(NOW, conversation(2), endpoint, days=0)
    for event in (old, recent, never):
        ingest.ingest(event)
    assert detail(client, alice, old.id)["request_body"] is None
    assert detail(client, alice, recent.id)["request_body"] is not None
    kept_none = detail(client, alice, never.id)
    assert kept_none["request_body"] is None and kept_none["bodies_missing"] is False


def test_body_retention_is_set_per_endpoint(
    client: TestClient, alice: Headers, endpoint: str, api_settings: Settings
) -> None:
    listed = client.get("/api/proxy-endpoints", headers=alice).json()["items"]
    assert [item["body_retention_days"] for item in listed] == [30]  # the default
    changed = client.patch(f"/api/proxy-endpoints/{endpoint}", json={"body_retention_days": 7}, headers=alice)
    assert changed.status_code == 200 and changed.json()["body_retention_days"] == 7
    assert (
        client.patch(
            f"/api/proxy-endpoints/{endpoint}", json={"body_retention_days": 0}, headers=alice
        ).json()["body_retention_days"]
        == 0
    )
    for refused in (5, -1, "7", None, True):
        reply = client.patch(
            f"/api/proxy-endpoints/{endpoint}", json={"body_retention_days": refused}, headers=alice
        )
        assert reply.status_code == 400, refused
        assert reply.json()["details"][0]["field"] == "body_retention_days"
    assert client.get("/api/proxy-endpoints", headers=alice).json()["items"][0]["body_retention_days"] == 0
