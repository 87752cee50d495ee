"""Usage records, their detail with bodies, filters, paging and the summary from aggregates."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from shared.store.usage_records import Bodies

T0 = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
EP1 = "01JP0000000000000000000001"
EP2 = "01JP0000000000000000000002"

RECORD_FIELDS = {
    "id",
    "model",
    "input_tokens",
    "output_tokens",
    "cache_creation_input_tokens",
    "cache_read_input_tokens",
    "cost_cents",
    "duration_ms",
    "status_code",
    "proxy_endpoint_id",
    "requested_at",
    "ttfb_ms",
    "stream",
    "stop_reason",
    "request_id",
    "cache_creation_5m_input_tokens",
    "cache_creation_1h_input_tokens",
    "cost_unknown",
    "api_key_id",
    "api_key_hint",
}

WriteUsage = Callable[..., dict[str, Any]]


def _ids(client: TestClient, headers: dict[str, str], **params: Any) -> list[str]:
    response = client.get("/api/usage", params={"limit": 100, **params}, headers=headers)
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


def test_list_and_detail_shapes(client: TestClient, alice: dict[str, str], write_usage: WriteUsage) -> None:
    record = write_usage(
        "user_alice",
        EP1,
        T0,
        cost_cents="5.55",
        bodies=Bodies('{"model":"claude-sonnet-4-5","stream":true}', "event: message_start\ndata: {}\n\n"),
    )
    page = client.get("/api/usage", headers=alice).json()
    assert page["hasMore"] is False and page["nextCursor"] is None
    [item] = page["items"]
    assert set(item) >= RECORD_FIELDS
    assert "request_body" not in item and "response_body" not in item
    assert item["id"] == record["id"]
    assert item["cost_cents"] == "5.550000"
    assert item["requested_at"] == "2026-03-10T12:00:00.000Z"
    assert item["input_tokens"] == 100 and isinstance(item["input_tokens"], int)
    assert item["stream"] is True and item["cost_unknown"] is False
    assert item["api_key_hint"] == "sk-ant-api03-...Wxyz"

    detail = client.get(f"/api/usage/{record['id']}", headers=alice)
    assert detail.status_code == 200
    body = detail.json()
    assert {key: body[key] for key in item} == item
    assert body["request_body"] == '{"model":"claude-sonnet-4-5","stream":true}'
    assert body["response_body"] == "event: message_start\ndata: {}\n\n"


def test_detail_of_a_record_with_a_large_body_or_none(
    client: TestClient, alice: dict[str, str], write_usage: WriteUsage
) -> None:
    big = write_usage("user_alice", EP1, T0, bodies=Bodies("x" * 500_000, None))
    body = client.get(f"/api/usage/{big['id']}", headers=alice).json()
    assert body["request_body"] == "x" * 500_000
    assert body["response_body"] is None


def test_unknown_cost_is_null_and_flagged(
    client: TestClient, alice: dict[str, str], write_usage: WriteUsage
) -> None:
    write_usage("user_alice", EP1, T0, model="claude-future-9", cost_cents=None)
    [item] = client.get("/api/usage", headers=alice).json()["items"]
    assert item["cost_cents"] is None and item["cost_unknown"] is True


def test_filters(client: TestClient, alice: dict[str, str], write_usage: WriteUsage) -> None:
    opus = write_usage("user_alice", EP1, T0, model="claude-opus-4-6")
    sonnet = write_usage("user_alice", EP2, T0 + timedelta(days=1), model="claude-sonnet-4-5")
    other_key = write_usage(
        "user_alice", EP1, T0 + timedelta(days=2), model="claude-opus-4-1", api_key_id="fedcba9876543210"
    )
    assert _ids(client, alice) == [other_key["id"], sonnet["id"], opus["id"]]
    assert _ids(client, alice, model="claude-opus") == [other_key["id"], opus["id"]]
    assert _ids(client, alice, model="claude-opus-4-6") == [opus["id"]]
    assert _ids(client, alice, model="gpt") == []
    assert _ids(client, alice, proxy_endpoint_id=EP2) == [sonnet["id"]]
    assert _ids(client, alice, api_key_id="fedcba9876543210") == [other_key["id"]]
    assert _ids(client, alice, api_key_id="0123456789abcdef", proxy_endpoint_id=EP1) == [opus["id"]]
    assert _ids(client, alice, model="claude-opus", proxy_endpoint_id=EP1, api_key_id="fedcba9876543210") == [
        other_key["id"]
    ]
    # from inclusive, to exclusive; a date is that day's midnight UTC.
    assert _ids(client, alice, **{"from": "2026-03-11"}) == [other_key["id"], sonnet["id"]]
    assert _ids(client, alice, to="2026-03-11") == [opus["id"]]
    assert _ids(client, alice, **{"from": "2026-03-10T12:00:00Z", "to": "2026-03-10T12:00:00.001Z"}) == [
        opus["id"]
    ]
    assert _ids(client, alice, **{"from": "2026-03-10T12:00:00.001Z", "to": "2026-03-11T12:00:00Z"}) == []
    assert _ids(client, alice, **{"from": "2026-03-11T13:00:00+01:00", "to": "2026-03-12"}) == [sonnet["id"]]
    assert _ids(client, alice, **{"from": "2026-03-11T12:00:00", "to": "2026-03-12T12:00"}) == [sonnet["id"]]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "2026-13-01"}, "from"),
        ({"to": "yesterday"}, "to"),
        ({"from": "2026-03-10T25:00:00Z"}, "from"),
        ({"from": "2026-03-12", "to": "2026-03-11"}, "to"),
        ({"from": "2026-03-12", "to": "2026-03-12"}, "to"),
        ({"proxy_endpoint_id": "../../etc"}, "proxy_endpoint_id"),
        ({"api_key_id": "sk-ant-api03-secret"}, "api_key_id"),
    ],
)
def test_malformed_filters_are_400(
    client: TestClient, alice: dict[str, str], params: dict[str, str], field: str
) -> None:
    for path in ("/api/usage", "/api/usage/summary"):
        if path.endswith("summary") and field == "api_key_id":
            continue
        response = client.get(path, params=params, headers=alice)
        assert response.status_code == 400, (path, params)
        assert response.json()["details"][0]["field"] == field


def test_paging_through_many_records_has_no_duplicates_or_gaps(
    client: TestClient, alice: dict[str, str], write_usage: WriteUsage
) -> None:
    written = [
        write_usage(
            "user_alice",
            EP1 if n % 3 else EP2,
            T0 + timedelta(minutes=n),
            model=f"claude-{'opus' if n % 2 else 'haiku'}-4",
        )
        for n in range(45)
    ]
    newest_first = [record["id"] for record in reversed(written)]

    def walk(**params: Any) -> list[str]:
        seen: list[str] = []
        cursor = None
        while True:
            query = {"limit": 7, **params, **({"cursor": cursor} if cursor else {})}
            page = client.get("/api/usage", params=query, headers=alice).json()
            assert len(page["items"]) <= 7
            seen += [item["id"] for item in page["items"]]
            if not page["hasMore"]:
                assert page["nextCursor"] is None
                return seen
            cursor = page["nextCursor"]

    assert walk() == newest_first
    opus = [record["id"] for record in reversed(written) if "opus" in record["model"]]
    assert walk(model="claude-opus") == opus  # a filter that skips rows between pages
    ep2 = [record["id"] for record in reversed(written) if record["proxy_endpoint_id"] == EP2]
    assert walk(proxy_endpoint_id=EP2) == ep2
    assert walk(**{"from": "2026-03-10T12:10:00Z", "to": "2026-03-10T12:30:00Z"}) == newest_first[15:35]


def test_bad_and_foreign_cursors_are_400(
    client: TestClient, alice: dict[str, str], bob: dict[str, str], write_usage: WriteUsage
) -> None:
    for n in range(3):
        write_usage("user_alice", EP1, T0 + timedelta(minutes=n))
        write_usage("user_bob", EP1, T0 + timedelta(minutes=n))
    cursor = client.get("/api/usage", params={"limit": 1}, headers=alice).json()["nextCursor"]
    assert cursor
    assert client.get("/api/usage", params={"limit": 1, "cursor": cursor}, headers=alice).status_code == 200
    body, signature = cursor.rsplit(".", 1)
    tampered = [
        "garbage",
        "",
        body + "." + ("0" if signature[0] != "0" else "1") + signature[1:],
        body[:-2] + "." + signature,
        cursor + "x",
        "é.ü",
    ]
    for bad in tampered:
        response = client.get("/api/usage", params={"cursor": bad}, headers=alice)
        if bad == "":
            continue  # an empty cursor is the first page
        assert response.status_code == 400, bad
        assert response.json()["details"][0]["field"] == "cursor"
    # Another tenant's cursor, or the same cursor for another query, is refused.
    assert client.get("/api/usage", params={"cursor": cursor}, headers=bob).status_code == 400
    assert (
        client.get("/api/usage", params={"cursor": cursor, "model": "claude"}, headers=alice).status_code
        == 400
    )
    assert (
        client.get("/api/usage", params={"cursor": cursor, "from": "2026-01-01"}, headers=alice).status_code
        == 400
    )


CONTRACT_SUMMARY_FIELDS = (
    "totalCostCents",
    "totalRequests",
    "totalInputTokens",
    "totalOutputTokens",
    "totalCacheCreationInputTokens",
    "totalCacheReadInputTokens",
    "byModel",
    "byDay",
)


def test_summary_adds_up_from_aggregates(
    client: TestClient, alice: dict[str, str], write_usage: WriteUsage
) -> None:
    write_usage("user_alice", EP1, T0, model="claude-opus-4-6", cost_cents="10.250000")
    write_usage("user_alice", EP1, T0 + timedelta(hours=1), model="claude-opus-4-6", cost_cents="0.000001")
    write_usage("user_alice", EP2, T0 + timedelta(days=1), model="claude-haiku-4-5", cost_cents="1.100000")
    write_usage("user_alice", EP2, T0 + timedelta(days=1), model="claude-future-9", cost_cents=None)
    tokens_each = 100 + 20 + 1000 + 5000
    summary = client.get("/api/usage/summary", headers=alice)
    assert summary.status_code == 200
    body = summary.json()
    assert {name: body[name] for name in CONTRACT_SUMMARY_FIELDS} == {
        "totalCostCents": 11.350001,
        "totalRequests": 4,
        "totalInputTokens": 400,
        "totalOutputTokens": 80,
        "totalCacheCreationInputTokens": 4000,
        "totalCacheReadInputTokens": 20000,
        "byModel": [
            {"model": "claude-opus-4-6", "cost": 10.250001, "requests": 2, "tokens": 2 * tokens_each},
            {"model": "claude-haiku-4-5", "cost": 1.1, "requests": 1, "tokens": tokens_each},
            {"model": "claude-future-9", "cost": 0.0, "requests": 1, "tokens": tokens_each},
        ],
        "byDay": [
            {"date": "2026-03-10", "cost": 10.250001, "requests": 2, "tokens": 2 * tokens_each},
            {"date": "2026-03-11", "cost": 1.1, "requests": 2, "tokens": 2 * tokens_each},
        ],
    }
    # This project's additions: the same aggregates cut by day x model and by endpoint.
    assert body["byDayModel"] == [
        {
            "date": "2026-03-10",
            "model": "claude-opus-4-6",
            "cost": 10.250001,
            "requests": 2,
            "tokens": 2 * tokens_each,
        },
        {"date": "2026-03-11", "model": "claude-future-9", "cost": 0.0, "requests": 1, "tokens": tokens_each},
        {
            "date": "2026-03-11",
            "model": "claude-haiku-4-5",
            "cost": 1.1,
            "requests": 1,
            "tokens": tokens_each,
        },
    ]
    assert body["byEndpoint"] == [
        {"proxy_endpoint_id": EP1, "cost": 10.250001, "requests": 2, "tokens": 2 * tokens_each},
        {"proxy_endpoint_id": EP2, "cost": 1.1, "requests": 2, "tokens": 2 * tokens_each},
    ]
    assert body["costUnknownRequests"] == 1
    assert body["cacheHitRatio"] == round(20000 / (400 + 4000 + 20000), 6)
    endpoint = client.get("/api/usage/summary", params={"proxy_endpoint_id": EP2}, headers=alice).json()
    assert endpoint["totalRequests"] == 2 and endpoint["totalCostCents"] == 1.1
    first_day = client.get("/api/usage/summary", params={"to": "2026-03-11"}, headers=alice).json()
    assert [day["date"] for day in first_day["byDay"]] == ["2026-03-10"]
    # Aggregates are per UTC day: a datetime bound selects the whole day it falls in.
    partial = client.get(
        "/api/usage/summary",
        params={"from": "2026-03-10T12:30:00Z", "to": "2026-03-10T13:00:00Z"},
        headers=alice,
    ).json()
    assert partial["totalRequests"] == 2
    second_day = client.get("/api/usage/summary", params={"from": "2026-03-11"}, headers=alice).json()
    assert second_day["totalRequests"] == 2 and second_day["totalCostCents"] == 1.1
    empty = client.get("/api/usage/summary", params={"from": "2027-01-01"}, headers=alice).json()
    assert empty["totalRequests"] == 0 and empty["byModel"] == [] and empty["byDay"] == []


def test_summary_is_not_captured_by_the_record_route(client: TestClient, alice: dict[str, str]) -> None:
    assert "totalCostCents" in client.get("/api/usage/summary", headers=alice).json()
    assert client.get("/api/usage/01JP0000000000000000000009", headers=alice).status_code == 404
    assert client.get("/api/usage/not-an-id", headers=alice).json() == {"error": "Usage record not found"}
