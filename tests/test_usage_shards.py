"""A tenant's records and sessions spread over shards list exactly as they did from one partition:
same items, same order, every page boundary resumed without a gap or a repeat."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.ids import new_id
from shared.settings import get_settings
from shared.store import layout
from shared.store.usage_records import SessionQuery, UsageQuery, UsageStore, usage_item
from shared.usage_record import Cents, Tokens, UsageRecord

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
MODELS = ("claude-sonnet-4-5-20250929", "claude-haiku-4-5-20251001", "claude-opus-4-1-20250805")


IDS = [new_id(T0 + timedelta(seconds=index * 7)) for index in range(24)]


def _write(store: UsageStore, tenant_id: str, count: int) -> None:
    for index in range(count):
        at = T0 + timedelta(seconds=index * 7)
        store.write(
            UsageRecord(
                tenant_id=tenant_id,
                id=IDS[index],
                requested_at=at,
                status_code=200,
                model=MODELS[index % 3],
                proxy_endpoint_id=f"ep_{index % 2}",
                api_key_id=f"key_{index % 3}",
                session_id=f"session-{index % 5}",
                agent="subagent" if index % 4 == 0 else "main",
                tokens=Tokens(input_tokens=index, output_tokens=10),
                cost_cents=Cents.parse("1.5"),
            )
        )


def _walk(fetch: Any, limit: int) -> list[list[str]]:
    pages, cursor = [], None
    while True:
        page = fetch(limit, cursor)
        # Records are UsageRecords, sessions their aggregate items.
        pages.append(
            [item.id if isinstance(item, UsageRecord) else item["session_id"] for item in page.items]
        )
        if page.last_key is None:
            return pages
        cursor = page.last_key


def _lists(store: UsageStore, tenant_id: str, limit: int) -> dict[str, list[list[str]]]:
    queries = {
        "tenant": UsageQuery(tenant_id),
        "model filter": UsageQuery(tenant_id, model_prefix="claude-haiku"),
        "time range": UsageQuery(tenant_id, start=T0 + timedelta(minutes=1), end=T0 + timedelta(minutes=3)),
        "endpoint": UsageQuery(tenant_id, proxy_endpoint_id="ep_1"),
        "credential and model": UsageQuery(tenant_id, api_key_id="key_2", model_prefix="claude-opus"),
        "session": UsageQuery(tenant_id, session_id="session-3"),
    }
    lists = {
        name: _walk(lambda size, cursor, q=query: store.list(q, size, cursor), limit)
        for name, query in queries.items()
    }
    lists["sessions"] = _walk(
        lambda size, cursor: store.sessions(SessionQuery(tenant_id), size, cursor), limit
    )
    lists["sessions of ep_0"] = _walk(
        lambda size, cursor: store.sessions(SessionQuery(tenant_id, proxy_endpoint_id="ep_0"), size, cursor),
        limit,
    )
    return lists


@pytest.mark.parametrize("limit", [1, 5, 100])
def test_paging_over_shards_lists_what_one_partition_lists(
    aws: Any, monkeypatch: pytest.MonkeyPatch, limit: int
) -> None:
    settings = get_settings()
    store = UsageStore(settings.table_name, settings.bodies_bucket)
    monkeypatch.setattr(layout, "USAGE_SHARDS", 1)
    _write(store, "tenant_one", 24)
    unsharded = _lists(store, "tenant_one", limit)
    monkeypatch.setattr(layout, "USAGE_SHARDS", 4)
    _write(store, "tenant_four", 24)
    sharded = _lists(store, "tenant_four", limit)

    # The same records: the tenants differ only in where their items live.
    assert len({usage_item(item)["pk"] for item in store.iterate(UsageQuery("tenant_four"))}) == 4
    for name, pages in unsharded.items():
        flat = [item for page in pages for item in page]
        assert [item for page in sharded[name] for item in page] == flat, name
        assert all(len(page) == limit for page in sharded[name][:-1]), name
    everything = unsharded["tenant"]
    assert sum(len(page) for page in everything) == 24
    assert [item for page in everything for item in page] == sorted(
        (item for page in everything for item in page), reverse=True
    )


def test_iterating_over_shards_keeps_time_order_both_ways(aws: Any) -> None:
    settings = get_settings()
    store = UsageStore(settings.table_name, settings.bodies_bucket)
    _write(store, "tenant_it", 24)
    newest_first = [item.id for item in store.iterate(UsageQuery("tenant_it"), page_size=8)]
    oldest_first = [
        item.id for item in store.iterate(UsageQuery("tenant_it"), page_size=8, oldest_first=True)
    ]
    assert len(newest_first) == 24 and newest_first == sorted(newest_first, reverse=True)
    assert oldest_first == newest_first[::-1]
    record = store.get("tenant_it", newest_first[0])
    assert record is not None and usage_item(record)["pk"] == layout.usage_pk("tenant_it", newest_first[0])
    session = store.session("tenant_it", "session-2")
    assert session is not None and int(session["requests"]) == 5


def test_ids_that_differ_in_a_few_digits_spread_over_every_shard() -> None:
    sessions = {layout.shard_of(f"{index:08d}-0000-4000-8000-000000000000") for index in range(20)}
    endpoints = {layout.shard_of(f"ep_{index:03d}") for index in range(20)}
    assert sessions == endpoints == set(range(layout.USAGE_SHARDS))
