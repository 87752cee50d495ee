"""Every token kind, walked from the record to where users read it: the stored item, the aggregates,
the API's record (list and detail), the CSV export, the session and the summary. Parametrized by
`TOKEN_KINDS`, so a new kind is covered here without an edit."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from shared.store import layout
from shared.store.usage_records import UsageStore
from shared.usage_record import TOKEN_KINDS, summary_total_name

EP1 = "01JP0000000000000000000001"
SESSION = "6dc01601-38bb-47b8-8305-6df3013eaf3c"
COUNT = 12_345  # the kind's count; every other kind is 0


@pytest.mark.parametrize("kind", TOKEN_KINDS)
def test_a_token_kind_reaches_every_view_of_a_record(
    kind: str,
    client: TestClient,
    alice: dict[str, str],
    usage_store: UsageStore,
    write_usage: Callable[..., dict[str, Any]],
) -> None:
    counts = {name: COUNT if name == kind else 0 for name in TOKEN_KINDS}
    # Within the hour: a 1-hour write is pending, not priced as unread (these counts are not a call's).
    now = datetime.now(UTC)
    written = write_usage("user_alice", EP1, now, session_id=SESSION, agent="main", **counts)

    key = {"pk": layout.usage_pk("user_alice", written["id"]), "sk": layout.usage_sk(written["id"])}
    item = usage_store.table.get_item(Key=key)["Item"]
    assert {name: item.get(name, 0) for name in TOKEN_KINDS} == counts  # a kind at 0 is not stored
    [day] = usage_store.aggregates("user_alice", now.date(), now.date(), None)
    assert {name: day[name] for name in TOKEN_KINDS} == counts

    [listed] = client.get("/api/usage", headers=alice).json()["items"]
    assert {name: listed[name] for name in TOKEN_KINDS} == counts
    detail = client.get(f"/api/usage/{written['id']}", headers=alice).json()
    assert {name: detail[name] for name in TOKEN_KINDS} == counts

    [row] = csv.DictReader(io.StringIO(client.get("/api/usage/export.csv", headers=alice).text))
    assert {name: int(row[name]) for name in TOKEN_KINDS} == counts

    session = client.get(f"/api/usage/sessions/{SESSION}", headers=alice).json()
    assert {name: session[name] for name in TOKEN_KINDS} == counts
    summary = client.get("/api/usage/summary", headers=alice).json()
    assert {name: summary[summary_total_name(name)] for name in TOKEN_KINDS} == counts


def test_the_api_documents_every_token_kind(client: TestClient) -> None:
    schemas = client.get("/api/openapi.json").json()["components"]["schemas"]
    for schema, names in (
        ("UsageRecord", TOKEN_KINDS),
        ("UsageDetail", TOKEN_KINDS),
        ("SessionSummary", TOKEN_KINDS),
        ("SessionDetail", TOKEN_KINDS),
        ("UsageSummary", [summary_total_name(kind) for kind in TOKEN_KINDS]),
    ):
        properties = schemas[schema]["properties"]
        assert all(properties[name]["type"] == "integer" for name in names), schema
        assert set(names) <= set(schemas[schema]["required"]), schema
