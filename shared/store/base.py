"""The table handle and the paging loop every list shares."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from boto3.dynamodb.conditions import Key

from shared import aws
from shared.store import layout

# Items one page may read: a filter that matches little must not read a tenant's whole partition in
# one request (a page of up to 100 items with no filter reads at most 101).
MAX_ITEMS_READ = 1000


@dataclass
class Page:
    items: list[Any]  # items as stored (dicts), or the store's own type of them (`UsageRecord`)
    last_key: dict[str, Any] | None  # resume after this key; None when there is nothing more


class Store:
    """Base for the stores: one table, its name from settings."""

    def __init__(self, table_name: str) -> None:
        self.table_name = table_name

    @property
    def table(self) -> Any:
        return aws.table(self.table_name)

    def query_all(self, query: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Every item a query matches, one DynamoDB page after another."""
        request = dict(query)
        while True:
            response = self.table.query(**request)
            yield from response.get("Items", [])
            if "LastEvaluatedKey" not in response:
                return
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def tenant_range(self, tenant_id: str, low: str, high: str) -> list[dict[str, Any]]:
        """Every item of the tenant whose sort key is between `low` and `high` (inclusive)."""
        return list(
            self.query_all(
                {
                    "KeyConditionExpression": Key("pk").eq(layout.tenant_pk(tenant_id))
                    & Key("sk").between(low, high)
                }
            )
        )

    def query_page(
        self,
        query: dict[str, Any],
        limit: int,
        start_key: dict[str, Any] | None,
        key_of: Callable[[dict[str, Any]], dict[str, Any]],
        max_read: int | None = None,
    ) -> Page:
        """Up to `limit` items, newest first, reading at most `max_read` items (`MAX_ITEMS_READ` by
        default; filters may skip rows). Knows for sure whether more exist, except when the read bound
        ends the page first: then the page may hold fewer items, or none, and its cursor continues from
        the last item read."""
        bound = MAX_ITEMS_READ if max_read is None else max_read
        items: list[dict[str, Any]] = []
        exclusive = start_key
        read = 0
        while True:
            wanted = limit + 1 - len(items)
            # A filter drops rows after DynamoDB has read them: read in larger steps then.
            step = max(wanted, 100) if "FilterExpression" in query else wanted
            request = dict(query, ScanIndexForward=False, Limit=min(step, bound - read))
            if exclusive:
                request["ExclusiveStartKey"] = exclusive
            response = self.table.query(**request)
            found = response.get("Items", [])
            read += response.get("ScannedCount", len(found))
            items.extend(found)
            exclusive = response.get("LastEvaluatedKey")
            if len(items) > limit:
                return Page(items[:limit], key_of(items[limit - 1]))
            if not exclusive or read >= bound:
                return Page(items, exclusive)

    def tenant_items(self, tenant_id: str, prefix: str, limit: int, start_key: dict[str, Any] | None) -> Page:
        """A page of one kind of the tenant's items (sort keys starting with `prefix`), newest first."""
        return self.query_page(
            {
                "KeyConditionExpression": Key("pk").eq(layout.tenant_pk(tenant_id))
                & Key("sk").begins_with(prefix)
            },
            limit,
            start_key,
            lambda item: {"pk": item["pk"], "sk": item["sk"]},
        )
