"""One list over the shards of a tenant's records or sessions (see `layout.USAGE_SHARDS`), newest first.

Every shard is queried over the same sort key range and the pages are merged by sort key, which is
unique across shards (a record's id, a session's last call and id). A page's cursor is the sort key
of the last item it returned: each shard resumes from there (its range ends at that key, and the one
item equal to it is skipped), so paging through the shards returns every item once, in the order one
partition would.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from boto3.dynamodb.conditions import ConditionBase, Key

from shared.store import base, layout
from shared.store.base import Page, Store


@dataclass(frozen=True)
class ShardedQuery:
    pks: list[str]  # one partition key per shard (one in all, for a list that is not sharded)
    low: str  # sort key range, both ends inclusive
    high: str
    index: str | None = None  # "gsi1".."gsi4"; None: the table itself
    filter: ConditionBase | None = None

    @property
    def pk_name(self) -> str:
        return f"{self.index}pk" if self.index else "pk"

    @property
    def sk_name(self) -> str:
        return layout.INDEX_SORT_KEY if self.index else "sk"

    def request(self, pk: str, high: str) -> dict[str, Any]:
        request: dict[str, Any] = {
            "KeyConditionExpression": Key(self.pk_name).eq(pk) & Key(self.sk_name).between(self.low, high)
        }
        if self.index:
            request["IndexName"] = self.index
        if self.filter is not None:
            request["FilterExpression"] = self.filter
        return request


def page(store: Store, query: ShardedQuery, limit: int, cursor: dict[str, Any] | None) -> Page:
    """Up to `limit` items, newest first, over every shard; the cursor resumes after the last one."""
    sk = query.sk_name
    after = str(cursor[sk]) if cursor else None
    high = after or query.high
    wanted = limit + 1 if after else limit  # the item the cursor names is read again, then skipped
    # The page's read bound is shared by the shards (the API's largest page fits in each share).
    share = max(1, base.MAX_ITEMS_READ // len(query.pks))
    pages = [
        store.query_page(query.request(pk, high), wanted, None, lambda item: {sk: item[sk]}, share)
        for pk in query.pks
    ]
    # A shard that stopped early (a full page, or the read bound) has unread items older than where
    # it stopped: nothing older than the newest such stop may be returned before they are read.
    stops = [str(shard.last_key[sk]) for shard in pages if shard.last_key]
    boundary = max(stops) if stops else None
    items = [
        item
        for shard in pages
        for item in shard.items
        if item[sk] != after and (boundary is None or item[sk] >= boundary)
    ]
    items.sort(key=lambda item: str(item[sk]), reverse=True)
    if len(items) > limit:
        return Page(items[:limit], {sk: items[limit - 1][sk]})
    return Page(items, {sk: boundary} if boundary else None)


def iterate(
    store: Store, query: ShardedQuery, page_size: int, oldest_first: bool = False
) -> Iterator[dict[str, Any]]:
    """Every matching item over every shard in sort key order; the shards share `page_size`, so memory
    holds one page's worth of items as it did unsharded."""
    share = max(1, page_size // len(query.pks))

    def shard(pk: str) -> Iterator[dict[str, Any]]:
        request = query.request(pk, query.high)
        request["ScanIndexForward"] = oldest_first
        request["Limit"] = share
        while True:
            response = store.table.query(**request)
            items, last_key = response.get("Items", []), response.get("LastEvaluatedKey")
            del response
            yield from items
            del items
            if last_key is None:
                return
            request["ExclusiveStartKey"] = last_key

    sk = query.sk_name
    yield from heapq.merge(
        *(shard(pk) for pk in query.pks), key=lambda item: str(item[sk]), reverse=not oldest_first
    )
