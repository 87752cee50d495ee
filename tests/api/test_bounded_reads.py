"""A list request reads a bounded number of items: a filter that matches nothing returns an empty page
with a cursor to continue, instead of reading the tenant's whole partition in one request."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from shared import aws
from shared.settings import Settings
from shared.store import base, layout
from tests.api.test_usage_export import EP1, T0, seed_records

# The real bound is 1000 a page, shared by the shards of the tenant's records; moto answers a query at
# milliseconds per item.
BOUND = 10 * layout.USAGE_SHARDS


def _walk(
    client: TestClient, headers: dict[str, str], reads: list[int], limit: int = 20, **params: Any
) -> list[dict[str, Any]]:
    """Every page of a usage query, each with `read`: the items DynamoDB read to answer it."""
    pages = []
    cursor = None
    while True:
        query = {"limit": limit, **params, **({"cursor": cursor} if cursor else {})}
        before = len(reads)
        page = client.get("/api/usage", params=query, headers=headers).json()
        pages.append({**page, "read": sum(reads[before:])})
        if not page["hasMore"]:
            assert page["nextCursor"] is None
            return pages
        cursor = page["nextCursor"]


def test_a_filter_matching_nothing_reads_a_bounded_page_at_a_time(
    client: TestClient,
    alice: dict[str, str],
    api_settings: Settings,
    write_usage: Callable[..., dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(base, "MAX_ITEMS_READ", BOUND)
    oldest = write_usage("user_alice", EP1, T0 - timedelta(days=1), model="claude-opus-4-1")
    seed_records(api_settings, "user_alice", 100)  # newer, all claude-sonnet

    reads: list[int] = []  # items DynamoDB read, per query
    real_table = aws.table

    class CountedTable:
        def __init__(self, name: str) -> None:
            self._table = real_table(name)

        def query(self, **request: Any) -> Any:
            response = self._table.query(**request)
            reads.append(response["ScannedCount"])
            return response

        def __getattr__(self, name: str) -> Any:
            return getattr(self._table, name)

    monkeypatch.setattr(aws, "table", CountedTable)

    pages = _walk(client, alice, reads, model="claude-opus")
    # 101 items to read, at most BOUND per page: the first pages are empty, with a cursor to go on.
    assert len(pages) >= 3
    assert all(not page["items"] and page["hasMore"] and page["nextCursor"] for page in pages[:-1])
    assert [item["id"] for item in pages[-1]["items"]] == [oldest["id"]]
    assert all(page["read"] <= BOUND for page in pages)
    assert sum(page["read"] for page in pages) >= 101

    # Unfiltered paging is unchanged: full pages, newest first, no gaps.
    unfiltered = _walk(client, alice, reads, limit=5)
    assert [len(page["items"]) for page in unfiltered] == [5] * 20 + [1]
    ids = [item["id"] for page in unfiltered for item in page["items"]]
    assert len(set(ids)) == 101 and ids == sorted(ids, reverse=True)
