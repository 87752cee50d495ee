"""Claude Code sessions: calls grouped by session from requests shaped like Claude Code's, main agent
and subagents told apart, the sessions list and detail, and their cache economics on hand-checked
numbers (claude-sonnet-4-5: input $3, output $15, 1-hour cache write $6, cache read $0.30 per MTok)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient

from shared.cache_economics import unread_1h_cache_writes
from shared.ingest import UsageIngest
from shared.sessions import SessionInfo, claude_code_headers, session_of
from shared.store.usage_records import UsageStore
from shared.usage import Usage
from shared.usage_event import BodyRef, UsageEvent
from shared.usage_record import Cents, UsageRecord, record_view
from tests.api.conftest import usage_record
from tests.fakes.events import streamed_call

T0 = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
EP1 = "01JP0000000000000000000001"
EP2 = "01JP0000000000000000000002"
S1 = "6dc01601-38bb-47b8-8305-6df3013eaf3c"
S2 = "a29082c5-d101-40e6-a27b-04e93b7c5f7a"
AGENT = "a61d1ebbe586504e2"
MAIN_BILLING = "x-anthropic-billing-header: cc_version=2.1.197.f23; cc_entrypoint=sdk-cli;"
SUBAGENT_BILLING = (
    "x-anthropic-billing-header: cc_version=2.1.197.f2f; cc_entrypoint=sdk-cli; cc_is_subagent=true;"
)
WriteUsage = Callable[..., dict[str, Any]]


def claude_code_body(session_id: str | None, billing: str | None = MAIN_BILLING, **extra: Any) -> str:
    """The parts of a Claude Code 2.1 request body that say whose call it is."""
    body: dict[str, Any] = {"model": "claude-sonnet-4-5", "max_tokens": 32000, "stream": True, **extra}
    system = [{"type": "text", "text": "You are a Claude agent, built on Anthropic's Claude Agent SDK."}]
    if billing:
        system.insert(0, {"type": "text", "text": billing})
    body["system"] = system
    if session_id:
        user_id = {"device_id": "68150f47" * 8, "account_uuid": "", "session_id": session_id}
        body["metadata"] = {"user_id": json.dumps(user_id)}
    body["messages"] = [{"role": "user", "content": "Hello"}]
    return json.dumps(body)


# Who made the call: the rules of shared/sessions.py.


def test_claude_code_headers_are_read_from_the_request() -> None:
    headers = [
        (b"x-api-key", b"sk-ant-..."),
        (b"x-claude-code-session-id", S1.encode()),
        (b"x-claude-code-agent-id", AGENT.encode()),
    ]
    assert claude_code_headers(headers) == (S1, AGENT)
    assert claude_code_headers([(b"x-app", b"cli")]) == (None, None)
    assert claude_code_headers([(b"x-claude-code-session-id", b"x" * 500)]) == ("x" * 200, None)


@pytest.mark.parametrize(
    ("session_header", "agent_header", "body", "expected"),
    [
        # Claude Code 2.1: the session header on every call, the agent header on a subagent's.
        (S1, None, claude_code_body(S1), SessionInfo(S1, "main")),
        (S1, AGENT, claude_code_body(S1, SUBAGENT_BILLING), SessionInfo(S1, "subagent", AGENT)),
        (S1, AGENT, None, SessionInfo(S1, "subagent", AGENT)),  # a claim-checked body is not needed
        (S1, None, None, SessionInfo(S1, "main")),
        # The billing line alone marks a subagent (a call without the agent header).
        (S1, None, claude_code_body(S1, SUBAGENT_BILLING), SessionInfo(S1, "subagent")),
        # No header: the session of metadata.user_id; the billing line tells main from subagent.
        (None, None, claude_code_body(S2), SessionInfo(S2, "main")),
        (None, None, claude_code_body(S2, SUBAGENT_BILLING), SessionInfo(S2, "subagent")),
        (None, None, claude_code_body(S2, billing=None), SessionInfo(S2, None)),  # cannot be told
        # Older Claude Code: user_<hash>_account_<uuid>_session_<uuid>.
        (
            None,
            None,
            json.dumps({"metadata": {"user_id": f"user_{'ab' * 32}_account__session_{S2}"}}),
            SessionInfo(S2, None),
        ),
        # A malformed header falls back on the body; an SDK call has no session at all.
        ("not a session id!", None, claude_code_body(S2), SessionInfo(S2, "main")),
        (None, None, json.dumps({"model": "claude-sonnet-4-5", "messages": []}), SessionInfo()),
        (None, None, json.dumps({"metadata": {"user_id": "{not json"}}), SessionInfo()),
        (None, None, "not json at all", SessionInfo()),
        (None, None, None, SessionInfo()),
    ],
)
def test_session_of_a_call(
    session_header: str | None, agent_header: str | None, body: str | None, expected: SessionInfo
) -> None:
    assert session_of(session_header, agent_header, body) == expected


# The sessions API, from records the ingest built out of Claude-Code-shaped messages.


def cached_call_usage() -> Usage:
    """100 input, 20 output, 1,000 written to the 1-hour cache, 5,000 read: 0.81 cents, 1.86 uncached."""
    return Usage(
        model="claude-sonnet-4-5",
        input_tokens=100,
        output_tokens=20,
        cache_creation_input_tokens=1000,
        cache_read_input_tokens=5000,
        cache_creation_1h_input_tokens=1000,
        stop_reason="end_turn",
        seen=True,
    )


def event(
    at: datetime,
    *,
    session: str | None = None,
    agent: str | None = None,
    body: str | None = None,
    endpoint: str = EP1,
    tenant: str = "user_alice",
) -> UsageEvent:
    text = body if body is not None else claude_code_body(session)
    return streamed_call(
        at,
        tenant=tenant,
        endpoint=endpoint,
        session_header=session,
        agent_header=agent,
        usage=cached_call_usage(),
        request_body=BodyRef.of(text.encode()),
        response_body=BodyRef.of(b"event: message_start\n\n"),
    )


@pytest.fixture
def ingest(usage_store: UsageStore) -> UsageIngest:
    return UsageIngest(usage_store)


def test_sessions_group_calls_and_price_their_cache(
    client: TestClient, alice: dict[str, str], bob: dict[str, str], ingest: UsageIngest
) -> None:
    main = event(T0, session=S1)
    assert ingest.ingest(main)
    assert ingest.ingest(event(T0 + timedelta(minutes=1), session=S1, agent=AGENT))
    assert ingest.ingest(event(T0 + timedelta(hours=2), session=S2, endpoint=EP2))
    assert ingest.ingest(event(T0 + timedelta(hours=3), body=json.dumps({"model": "claude-sonnet-4-5"})))
    assert not ingest.ingest(main)  # a redelivered message: counted once

    page = client.get("/api/usage/sessions", headers=alice).json()
    assert [item["session_id"] for item in page["items"]] == [S2, S1]  # latest call first
    assert page["hasMore"] is False
    one = page["items"][1]
    assert one == {
        "session_id": S1,
        "first_at": "2026-03-10T12:00:00.000Z",
        "last_at": "2026-03-10T12:01:00.000Z",
        "requests": 2,
        "input_tokens": 200,
        "output_tokens": 40,
        "thinking_tokens": 0,
        "cache_creation_input_tokens": 2000,
        "cache_read_input_tokens": 10000,
        "cache_creation_5m_input_tokens": 0,
        "cache_creation_1h_input_tokens": 2000,
        "tokens": 12240,
        # 100 x $3 + 20 x $15 + 1,000 x $6 + 5,000 x $0.30 = $8,100 per MTok: 0.81 cents a call.
        "cost_cents": "1.620000",
        "cost_unknown_requests": 0,
        # All 6,100 input-side tokens at $3 + output: $18,600 per MTok, 1.86 cents a call.
        "cost_without_cache_cents": "3.720000",
        "cache_savings_cents": "2.100000",
        "cache_hit_ratio": 0.819672,  # 10,000 / 12,200
        "models": ["claude-sonnet-4-5"],
        "proxy_endpoint_ids": [EP1],
        "subagent_requests": 1,
        "subagent_cost_cents": "0.810000",
        "subagent_runs": 1,
        "developer_id": None,  # the proxy fingerprints the developer; these events carry none
    }

    records = client.get("/api/usage", params={"session_id": S1}, headers=alice).json()["items"]
    assert [(r["session_id"], r["agent"], r["agent_id"]) for r in records] == [
        (S1, "subagent", AGENT),
        (S1, "main", None),
    ]
    plain = client.get("/api/usage", params={"model": "claude"}, headers=alice).json()["items"][0]
    assert (plain["session_id"], plain["agent"], plain["agent_id"]) == (None, None, None)

    detail = client.get(f"/api/usage/sessions/{S1}", headers=alice).json()
    assert {key: detail[key] for key in one} == one
    # Each thread's write (main, subagent) was never read back by a later call of its own thread.
    assert (detail["unread_1h_cache_writes"], detail["unread_1h_cache_write_tokens"]) == (2, 2000)
    assert detail["unread_1h_cache_write_extra_cents"] == "0.600000"  # 2,000 x ($6 - $3) per MTok
    assert detail["pending_1h_cache_write_tokens"] == 0

    # Another tenant sees none of it; a session id that is not one is a 400 as a filter, 404 as a path.
    assert client.get("/api/usage/sessions", headers=bob).json()["items"] == []
    assert client.get(f"/api/usage/sessions/{S1}", headers=bob).status_code == 404
    missing = client.get("/api/usage/sessions/no-such-session", headers=alice)
    assert missing.status_code == 404 and missing.json() == {"error": "Session not found"}
    assert client.get("/api/usage/sessions/bad%20id", headers=alice).status_code == 404
    bad = client.get("/api/usage", params={"session_id": "bad id"}, headers=alice)
    assert bad.status_code == 400 and bad.json()["details"][0]["field"] == "session_id"


def test_first_and_last_call_follow_calls_ingested_out_of_order(
    client: TestClient, alice: dict[str, str], ingest: UsageIngest
) -> None:
    ingest.ingest(event(T0 + timedelta(hours=1), session=S1))
    ingest.ingest(event(T0 + timedelta(hours=2), session=S2))
    ingest.ingest(event(T0, session=S1))  # older than what is stored: first_at moves back
    session = client.get(f"/api/usage/sessions/{S1}", headers=alice).json()
    assert (session["first_at"], session["last_at"]) == (
        "2026-03-10T12:00:00.000Z",
        "2026-03-10T13:00:00.000Z",
    )
    ingest.ingest(event(T0 + timedelta(minutes=90), session=S1))  # between: neither bound moves
    ingest.ingest(event(T0 + timedelta(hours=3), session=S1))  # newest: last_at, and the list order
    session = client.get(f"/api/usage/sessions/{S1}", headers=alice).json()
    assert (session["first_at"], session["last_at"], session["requests"]) == (
        "2026-03-10T12:00:00.000Z",
        "2026-03-10T15:00:00.000Z",
        4,
    )
    listed = client.get("/api/usage/sessions", headers=alice).json()["items"]
    assert [item["session_id"] for item in listed] == [S1, S2]


def test_sessions_list_filters_and_pages(
    client: TestClient, alice: dict[str, str], ingest: UsageIngest
) -> None:
    sessions = [f"session-{index}" for index in range(5)]
    for index, session in enumerate(sessions):
        endpoint = EP2 if index == 2 else EP1
        ingest.ingest(event(T0 + timedelta(days=index), session=session, endpoint=endpoint))

    def ids(**params: Any) -> list[str]:
        response = client.get("/api/usage/sessions", params=params, headers=alice)
        assert response.status_code == 200, response.text
        return [item["session_id"] for item in response.json()["items"]]

    assert ids() == sessions[::-1]
    assert ids(**{"from": "2026-03-12", "to": "2026-03-14"}) == ["session-3", "session-2"]
    assert ids(proxy_endpoint_id=EP2) == ["session-2"]
    seen: list[str] = []
    cursors: list[str] = []
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursors[-1]} if cursors else {})}
        page = client.get("/api/usage/sessions", params=params, headers=alice).json()
        seen += [item["session_id"] for item in page["items"]]
        if not page["hasMore"]:
            break
        cursors.append(page["nextCursor"])
    assert seen == sessions[::-1] and len(cursors) == 2
    # A sessions cursor is bound to that list and its filters.
    for path, params in (("/api/usage", {}), ("/api/usage/sessions", {"proxy_endpoint_id": EP1})):
        reused = client.get(path, params={**params, "cursor": cursors[0]}, headers=alice)
        assert reused.status_code == 400 and reused.json()["details"][0]["field"] == "cursor"


# 1-hour cache writes never read back within their hour: the rule, on a hand-made timeline.


def record(minutes: float, read: int = 0, written_1h: int = 0, agent_id: str | None = None) -> UsageRecord:
    return usage_record(
        "user_alice",
        EP1,
        T0 + timedelta(minutes=minutes),
        input_tokens=0,
        output_tokens=0,
        cache_read_input_tokens=read,
        cache_creation_input_tokens=written_1h,  # a stored record carries the total with the split
        cache_creation_1h_input_tokens=written_1h,
        agent_id=agent_id,
    )


TIMELINE = [
    record(0, read=0, written_1h=10_000),  # A writes [0, 10000): B reads all of it 10 min later
    record(10, read=10_000, written_1h=2_000),  # B writes [10000, 12000): next read at 80 min, too late
    record(80, read=12_000),  # C
    record(85, read=0, written_1h=4_000),  # D writes [0, 4000): nothing follows
    # A subagent run: its own thread; main's reads do not count for it, nor its reads for main.
    record(5, read=0, written_1h=3_000, agent_id=AGENT),  # E writes [0, 3000)
    record(20, read=1_500, agent_id=AGENT),  # F reads 1,500 of them: 1,500 never read
]


def test_unread_1h_writes_on_a_hand_made_timeline() -> None:
    later = unread_1h_cache_writes(reversed(TIMELINE), now=T0 + timedelta(hours=3))
    assert (later.writes, later.tokens, later.pending_tokens) == (3, 2_000 + 4_000 + 1_500, 0)
    assert later.extra_cents == Cents(Decimal("2.25"))  # 7,500 x ($6 - $3) per MTok

    # At 100 minutes D's hour is still running: pending, not unread.
    sooner = unread_1h_cache_writes(TIMELINE, now=T0 + timedelta(minutes=100))
    assert (sooner.writes, sooner.tokens, sooner.pending_tokens) == (2, 3_500, 4_000)

    # A read exactly one hour after the write still counts; one millisecond later does not.
    on_time = [record(0, written_1h=100), record(60, read=100)]
    assert unread_1h_cache_writes(on_time, now=T0 + timedelta(days=1)).tokens == 0
    too_late = [record(0, written_1h=100), record(60.00002, read=100)]
    assert unread_1h_cache_writes(too_late, now=T0 + timedelta(days=1)).tokens == 100
    # A 1-hour write behind reads it shares a call with: the write starts where the read ends.
    partial = [record(0, read=500, written_1h=1_000), record(30, read=900)]
    assert unread_1h_cache_writes(partial, now=T0 + timedelta(days=1)).tokens == 600
    # A refusal before any output cost nothing (its record's cost is 0): its writes cost no extra,
    # while its reads still count for the writes before it.
    refused = replace(record(30, read=500, written_1h=1_000), stop_reason="refusal", cost_cents=Cents())
    unread = unread_1h_cache_writes([record(0, written_1h=500), refused], now=T0 + timedelta(days=1))
    assert (unread.writes, unread.tokens) == (0, 0)


def test_session_detail_counts_unread_1h_writes_of_stored_records(
    client: TestClient, alice: dict[str, str], write_usage: WriteUsage
) -> None:
    for item in map(record_view, TIMELINE):
        at = datetime.fromisoformat(item["requested_at"].replace("Z", "+00:00"))
        write_usage(
            "user_alice",
            EP1,
            at,
            model="claude-sonnet-4-5",
            session_id=S1,
            agent="subagent" if item["agent_id"] else "main",
            agent_id=item["agent_id"],
            cache_read_input_tokens=item["cache_read_input_tokens"],
            cache_creation_input_tokens=item["cache_creation_1h_input_tokens"],
            cache_creation_1h_input_tokens=item["cache_creation_1h_input_tokens"],
        )
    detail = client.get(f"/api/usage/sessions/{S1}", headers=alice).json()
    assert detail["requests"] == 6 and detail["subagent_requests"] == 2
    assert (detail["unread_1h_cache_writes"], detail["unread_1h_cache_write_tokens"]) == (3, 7_500)
    assert detail["unread_1h_cache_write_extra_cents"] == "2.250000"
    assert (detail["first_at"], detail["last_at"]) == ("2026-03-10T12:00:00.000Z", "2026-03-10T13:25:00.000Z")
