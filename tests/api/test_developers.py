"""Who spent it: Claude Code calls put down to their developer (a fingerprint of the account, else the
device, in `metadata.user_id`), calls of other clients to the Anthropic credential that paid; the
developer filter, the summary's spend by developer, and developers named by the tenant."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import boto3
import httpx
import pytest
from fastapi.testclient import TestClient

from codecosts_cli.main import main as codecosts
from shared.developers import ACCOUNT_MARKER, DEVICE_MARKER, attribute, fingerprint_developer
from shared.ingest import UsageIngest
from shared.settings import get_settings
from shared.store.usage_records import UsageStore
from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.proxy_server import RunningProxy
from tests.fakes.servers import ServerThread
from tests.proxy.support import SERVER_SECRET, key_hint, key_id
from tests.reliability.support import readable_bucket

Headers = dict[str, str]

ACCOUNT = "4f0e8d1c-2b3a-4c5d-9e6f-7a8b9c0d1e2f"
DEVICE_A = "68150f47" * 8
DEVICE_B = "c0ffee12" * 8
SESSION = "6dc01601-38bb-47b8-8305-6df3013eaf3c"
ALICE_KEY = "sk-ant-api03-" + "A1b2C3d4" * 10 + "-Wxyz"
SDK_KEY = "sk-ant-api03-" + "Q9r8S7t6" * 10 + "-Sdk1"
EP = "01JP0000000000000000000001"
T0 = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def claude_code_body(device_id: str, account_uuid: str = "") -> bytes:
    """The parts of a Claude Code 2.1 request that say who sent it."""
    user_id = {"device_id": device_id, "account_uuid": account_uuid, "session_id": SESSION}
    return json.dumps(
        {
            "model": "claude-haiku-4-5",
            "max_tokens": 64,
            "system": [{"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1.197;"}],
            "messages": [{"role": "user", "content": "Hello"}],
            "metadata": {"user_id": json.dumps(user_id)},
        }
    ).encode()


def claude_code_headers(credential: str) -> Headers:
    return {
        "x-api-key": credential,
        "anthropic-version": "2023-06-01",
        "content-type": "application/json",
        "x-app": "cli",
        "user-agent": "claude-cli/2.1.197 (external, cli)",
        "x-claude-code-session-id": SESSION,
    }


# What the proxy keeps of `metadata.user_id`.


def test_the_account_is_the_developer_else_the_device() -> None:
    with_account = attribute(claude_code_body(DEVICE_A, ACCOUNT), SERVER_SECRET)
    assert with_account.developer_id == fingerprint_developer("account", ACCOUNT, SERVER_SECRET)
    on_a_key = attribute(claude_code_body(DEVICE_A), SERVER_SECRET)
    assert on_a_key.developer_id == fingerprint_developer("device", DEVICE_A, SERVER_SECRET)
    assert len({with_account.developer_id, on_a_key.developer_id}) == 2
    assert all(len(found.developer_id or "") == 16 for found in (with_account, on_a_key))
    # Another secret, another fingerprint: it cannot be matched across installations.
    assert attribute(claude_code_body(DEVICE_A), b"other").developer_id != on_a_key.developer_id


def test_the_stored_body_keeps_everything_but_the_account_and_device() -> None:
    stored = attribute(claude_code_body(DEVICE_A, ACCOUNT), SERVER_SECRET).stored_body
    assert ACCOUNT.encode() not in stored and DEVICE_A.encode() not in stored
    user_id = json.loads(json.loads(stored)["metadata"]["user_id"])
    assert user_id == {
        "device_id": DEVICE_MARKER.decode(),
        "account_uuid": ACCOUNT_MARKER.decode(),
        "session_id": SESSION,
    }


def test_older_claude_code_versions_are_put_down_to_their_developer_too() -> None:
    for account, developer in ((ACCOUNT, ("account", ACCOUNT)), ("", ("device", DEVICE_A))):
        user_id = f"user_{DEVICE_A}_account_{account}_session_{SESSION}"
        attributed = attribute(json.dumps({"metadata": {"user_id": user_id}}).encode(), SERVER_SECRET)
        assert attributed.developer_id == fingerprint_developer(*developer, SERVER_SECRET)
        assert DEVICE_A.encode() not in attributed.stored_body and SESSION.encode() in attributed.stored_body
        assert ACCOUNT.encode() not in attributed.stored_body


def test_the_top_level_metadata_names_the_developer_wherever_it_is_and_whatever_else_it_holds() -> None:
    alice = fingerprint_developer("account", ACCOUNT, SERVER_SECRET)
    forged = json.dumps({"device_id": DEVICE_B, "account_uuid": "", "session_id": SESSION})
    user_id = json.dumps({"device_id": DEVICE_A, "account_uuid": ACCOUNT, "session_id": SESSION})
    # A tool's input that looks like metadata does not win over the request's own.
    tool_use = {"type": "tool_use", "id": "t1", "name": "x", "input": {"metadata": {"user_id": forged}}}
    nested = {"metadata": {"user_id": user_id}, "messages": [{"role": "assistant", "content": [tool_use]}]}
    # Spaces, and other keys beside user_id.
    spaced = b'{"messages": [], "metadata" : { "user_id" : ' + json.dumps(user_id).encode() + b" }}"
    extra = {"messages": [], "metadata": {"trace": "t", "user_id": user_id}}
    for body in (json.dumps(nested).encode(), spaced, json.dumps(extra).encode()):
        attributed = attribute(body, SERVER_SECRET)
        assert attributed.developer_id == alice, body
        assert (
            ACCOUNT.encode() not in attributed.stored_body and DEVICE_A.encode() not in attributed.stored_body
        )


@pytest.mark.parametrize(
    "body",
    [
        b'{"model":"m","messages":[]}',
        b'{"metadata":{"user_id":"{not json"}}',
        b'{"metadata":{"user_id":"customer-42"}}',  # an SDK app's own user id: not Claude Code's
        json.dumps({"metadata": {"user_id": json.dumps({"device_id": "", "account_uuid": ""})}}).encode(),
        json.dumps(
            {"metadata": {"user_id": json.dumps({"device_id": "<script>alert(1)</script>"})}}
        ).encode(),
        b'{"user_id": broken',
        b'{"user_id": 1, "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",  # deeper than Python recurses
    ],
)
def test_a_body_without_a_claude_code_identity_has_no_developer(body: bytes) -> None:
    assert attribute(body, SERVER_SECRET).developer_id is None
    assert attribute(body, SERVER_SECRET).stored_body == body


# Through the proxy, stored by the ingest, read through the API.


@pytest.fixture
def through_the_proxy(
    start_proxy: Callable[..., RunningProxy], fake_upstream: FakeAnthropic, usage_store: UsageStore
) -> Callable[[bytes, Headers], dict[str, Any]]:
    """Sends one call through a real proxy, ingests its usage message; returns the message's event."""
    proxy = start_proxy()
    ingest = UsageIngest(usage_store)

    def call(body: bytes, headers: Headers) -> dict[str, Any]:
        reply = httpx.post(
            f"{proxy.base_url}/v1/messages?beta=true", content=body, headers=headers, timeout=20
        )
        assert reply.status_code == 200, reply.text
        # The upstream gets the body as sent: only the stored copy loses the ids.
        assert fake_upstream.last_request.body == body
        message = proxy.queue.receive_one()
        for raw in (ACCOUNT, DEVICE_A, DEVICE_B, ALICE_KEY):
            assert raw not in message.raw
        assert ingest.ingest(message.event)
        return message.event.model_dump()

    return call


def test_claude_code_calls_are_put_down_to_their_developer_and_other_calls_to_their_key(
    through_the_proxy: Callable[[bytes, Headers], dict[str, Any]],
    client: TestClient,
    as_user: Callable[..., Headers],
) -> None:
    owner = as_user("tenant_proxy_test")  # the proxy fixture's tenant
    first = through_the_proxy(claude_code_body(DEVICE_A, ACCOUNT), claude_code_headers(ALICE_KEY))
    # The same account on another machine is the same developer.
    through_the_proxy(claude_code_body(DEVICE_B, ACCOUNT), claude_code_headers(ALICE_KEY))
    on_a_key = through_the_proxy(claude_code_body(DEVICE_B), claude_code_headers(ALICE_KEY))
    sdk_body = b'{"model":"claude-haiku-4-5","max_tokens":16,"messages":[{"role":"user","content":"Hi"}]}'
    plain = {"x-api-key": SDK_KEY, "anthropic-version": "2023-06-01", "content-type": "application/json"}
    through_the_proxy(sdk_body, plain)

    alice = fingerprint_developer("account", ACCOUNT, SERVER_SECRET)
    device_b = fingerprint_developer("device", DEVICE_B, SERVER_SECRET)
    assert first["developer_id"] == alice and on_a_key["developer_id"] == device_b

    records = client.get("/api/usage", headers=owner).json()["items"]
    assert sorted(record["developer_id"] or "-" for record in records) == sorted(
        [alice, alice, device_b, "-"]
    )
    mine = client.get("/api/usage", params={"developer_id": alice}, headers=owner).json()["items"]
    assert len(mine) == 2 and {record["developer_id"] for record in mine} == {alice}
    detail = client.get(f"/api/usage/{mine[0]['id']}", headers=owner).json()
    assert ACCOUNT_MARKER.decode() in detail["request_body"] and ACCOUNT not in detail["request_body"]

    export = client.get("/api/usage/export.csv", params={"developer_id": device_b}, headers=owner)
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert [row["developer_id"] for row in rows] == [device_b]

    cost = {record["id"]: Decimal(record["cost_cents"]) for record in records}
    summary = client.get("/api/usage/summary", headers=owner).json()
    spent = {
        (entry["developer_id"], entry["api_key_id"]): (entry["requests"], Decimal(str(entry["cost"])))
        for entry in summary["byDeveloper"]
    }

    def cost_of(developer_id: str | None) -> Decimal:
        return sum((cost[r["id"]] for r in records if r["developer_id"] == developer_id), Decimal(0))

    assert spent == {
        (alice, None): (2, cost_of(alice)),
        (device_b, None): (1, cost_of(device_b)),
        (None, key_id(SDK_KEY)): (1, cost_of(None)),
    }
    fallback = next(entry for entry in summary["byDeveloper"] if entry["developer_id"] is None)
    assert fallback["api_key_hint"] == key_hint(SDK_KEY) and fallback["name"] is None
    assert sum(entry["requests"] for entry in summary["byDeveloper"]) == summary["totalRequests"]

    # Nothing stored anywhere holds the account or device ids: the table, and the bodies bucket.
    settings = get_settings()
    items = boto3.resource("dynamodb").Table(settings.table_name).scan()["Items"]
    # Bodies are compressed: read them as text, as a leak check must.
    stored = json.dumps(items, default=str) + "".join(readable_bucket(settings.bodies_bucket).values())
    for raw in (ACCOUNT, DEVICE_A, DEVICE_B):
        assert raw not in stored
    assert alice in stored


# Developers listed and named.


@pytest.fixture
def seen(write_usage: Callable[..., dict[str, Any]]) -> Callable[..., None]:
    """Stores a call of `developer_id` at `at` (through the same write as the ingest)."""

    def call(developer_id: str | None, at: datetime, tenant_id: str = "user_alice", **fields: Any) -> None:
        write_usage(tenant_id, EP, at, developer_id=developer_id, **fields)

    return call


DEV1 = "0a1b2c3d4e5f6071"
DEV2 = "1b2c3d4e5f607182"


def test_developers_are_listed_most_recent_first_with_when_they_were_first_and_last_seen(
    client: TestClient, alice: Headers, seen: Callable[..., None]
) -> None:
    # Out of order, as queue deliveries may be: the bounds are a true minimum and maximum.
    seen(DEV1, T0 + timedelta(hours=1))
    seen(DEV2, T0 + timedelta(hours=3))
    seen(DEV1, T0)
    seen(DEV1, T0 + timedelta(hours=5))
    seen(DEV1, T0 + timedelta(hours=2))
    page = client.get("/api/developers", headers=alice).json()
    assert page["hasMore"] is False
    assert page["items"] == [
        {
            "developer_id": DEV1,
            "name": None,
            "first_seen_at": "2026-03-10T12:00:00.000Z",
            "last_seen_at": "2026-03-10T17:00:00.000Z",
        },
        {
            "developer_id": DEV2,
            "name": None,
            "first_seen_at": "2026-03-10T15:00:00.000Z",
            "last_seen_at": "2026-03-10T15:00:00.000Z",
        },
    ]
    # Sessions say who ran them.
    seen(DEV2, T0 + timedelta(hours=6), session_id=SESSION, agent="main")
    seen(None, T0 + timedelta(hours=6), session_id="a29082c5-d101-40e6-a27b-04e93b7c5f7a", agent="main")
    sessions = client.get("/api/usage/sessions", headers=alice).json()["items"]
    assert {session["session_id"]: session["developer_id"] for session in sessions} == {
        SESSION: DEV2,
        "a29082c5-d101-40e6-a27b-04e93b7c5f7a": None,
    }
    first = client.get("/api/developers", params={"limit": 1}, headers=alice).json()
    rest = client.get("/api/developers", params={"cursor": first["nextCursor"]}, headers=alice).json()
    assert [d["developer_id"] for d in first["items"] + rest["items"]] == [DEV2, DEV1]


def test_a_named_developer_shows_its_name_in_the_list_and_the_summary_and_the_audit(
    client: TestClient, alice: Headers, seen: Callable[..., None]
) -> None:
    seen(DEV1, T0, cost_cents="2.000000")
    seen(DEV1, T0 + timedelta(days=1), cost_cents="3.000000")
    seen(DEV2, T0, cost_cents="1.000000")
    named = client.put(f"/api/developers/{DEV1}", json={"name": "  Alice  "}, headers=alice)
    assert named.status_code == 200
    assert named.json() == {
        "developer_id": DEV1,
        "name": "Alice",
        "first_seen_at": "2026-03-10T12:00:00.000Z",
        "last_seen_at": "2026-03-11T12:00:00.000Z",
    }
    listed = client.get("/api/developers", headers=alice).json()["items"]
    assert {d["developer_id"]: d["name"] for d in listed} == {DEV1: "Alice", DEV2: None}

    summary = client.get("/api/usage/summary", headers=alice).json()
    assert [(e["developer_id"], e["name"], e["cost"], e["requests"]) for e in summary["byDeveloper"]] == [
        (DEV1, "Alice", 5.0, 2),
        (DEV2, None, 1.0, 1),
    ]
    # Whole UTC days, as the rest of the summary.
    one_day = client.get("/api/usage/summary", params={"from": "2026-03-11"}, headers=alice).json()
    assert [(e["developer_id"], e["cost"]) for e in one_day["byDeveloper"]] == [(DEV1, 3.0)]
    other_endpoint = client.get(
        "/api/usage/summary", params={"proxy_endpoint_id": "01JP0000000000000000000009"}, headers=alice
    ).json()
    assert other_endpoint["byDeveloper"] == []

    entry = client.get("/api/audit-logs", headers=alice).json()["items"][0]
    assert (entry["action"], entry["resource_type"], entry["resource_id"]) == (
        "developer.named",
        "developer",
        DEV1,
    )
    assert json.loads(entry["metadata"]) == {"name": "Alice"}


def test_naming_needs_the_write_scope_and_a_developer_the_proxy_has_seen(
    client: TestClient, alice: Headers, bob: Headers, seen: Callable[..., None]
) -> None:
    seen(DEV1, T0)
    reader_key = client.post("/api/api-keys", json={"name": "reader", "scope": "read"}, headers=alice).json()
    writer_key = client.post("/api/api-keys", json={"name": "writer", "scope": "write"}, headers=alice).json()
    reader = {"Authorization": f"Bearer {reader_key['key']}"}
    writer = {"Authorization": f"Bearer {writer_key['key']}"}

    assert client.get("/api/developers", headers=reader).status_code == 200
    refused = client.put(f"/api/developers/{DEV1}", json={"name": "Alice"}, headers=reader)
    assert refused.status_code == 403 and refused.json()["details"] == "needs scope write"
    assert client.put(f"/api/developers/{DEV1}", json={"name": "Alice"}, headers=writer).status_code == 200

    for unknown in (DEV2, "not-a-fingerprint"):
        missing = client.put(f"/api/developers/{unknown}", json={"name": "Nobody"}, headers=writer)
        assert missing.status_code == 404 and missing.json() == {"error": "Developer not found"}
    # Another tenant's developer does not exist for Bob.
    assert client.put(f"/api/developers/{DEV1}", json={"name": "Mallory"}, headers=bob).status_code == 404
    assert client.get("/api/developers", headers=bob).json()["items"] == []

    for bad in ({"name": ""}, {"name": "   "}, {"name": "x" * 101}, {"name": "A", "extra": 1}, {}):
        response = client.put(f"/api/developers/{DEV1}", json=bad, headers=writer)
        assert response.status_code == 400, bad
    assert client.get("/api/developers", headers=alice).json()["items"][0]["name"] == "Alice"


def test_a_developer_filter_that_is_not_a_fingerprint_is_a_400(client: TestClient, alice: Headers) -> None:
    for path in ("/api/usage", "/api/usage/export.csv"):
        response = client.get(path, params={"developer_id": "ALICE"}, headers=alice)
        assert response.status_code == 400
        assert response.json()["details"][0]["field"] == "developer_id"


def test_the_cli_shows_spend_by_developer_with_names_where_set(
    app: Any,
    client: TestClient,
    alice: Headers,
    seen: Callable[..., None],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    now = datetime.now(UTC)
    seen(DEV1, now, cost_cents="250.000000")
    seen(DEV2, now, cost_cents="40.000000")
    seen(None, now, cost_cents="10.000000")  # not Claude Code: the key that paid stands in
    client.put(f"/api/developers/{DEV1}", json={"name": "Alice"}, headers=alice)
    key = client.post("/api/api-keys", json={"name": "cli", "scope": "read"}, headers=alice).json()["key"]
    with ServerThread(app) as server:
        monkeypatch.setenv("CODECOSTS_URL", server.url)
        monkeypatch.setenv("CODECOSTS_API_KEY", key)
        assert codecosts(["usage", "--by", "developer"]) == 0
        table = capsys.readouterr().out.splitlines()
        assert codecosts(["calls", "--developer", DEV2, "--json"]) == 0
        calls = json.loads(capsys.readouterr().out)
    assert [line.split() for line in table] == [
        ["DEVELOPER", "ID", "CALLS", "TOKENS", "COST"],
        ["Alice", DEV1, "1", "6,120", "$2.50"],
        ["(unnamed)", DEV2, "1", "6,120", "$0.4000"],
        ["key", "sk-ant-api03-...Wxyz", "0123456789abcdef", "1", "6,120", "$0.1000"],
    ]
    assert [call["developer_id"] for call in calls] == [DEV2]
