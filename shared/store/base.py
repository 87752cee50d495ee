"""The table handle and the paging loop every list shares."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from boto3.dynamodb.conditions import Key

from shared import aws
from shared.store import layout


@dataclass
class Page:
    items: list[dict[str, Any]]
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

    def query_page(
        self,
        query: dict[str, Any],
        limit: int,
        start_key: dict[str, Any] | None,
        key_of: Callable[[dict[str, Any]], dict[str, Any]],
    ) -> Page:
        """Up to `limit` items, newest first; knows for sure whether more exist (filters may skip rows)."""
        items: list[dict[str, Any]] = []
        exclusive = start_key
        while True:
            wanted = limit + 1 - len(items)
            # A filter drops rows after DynamoDB has read them: read in larger steps then.
            request = dict(
                query,
                ScanIndexForward=False,
                Limit=max(wanted, 100) if "FilterExpression" in query else wanted,
            )
            if exclusive:
                request["ExclusiveStartKey"] = exclusive
            response = self.table.query(**request)
            items.extend(response.get("Items", []))
            exclusive = response.get("LastEvaluatedKey")
            if len(items) > limit:
                return Page(items[:limit], key_of(items[limit - 1]))
            if not exclusive:
                return Page(items, None)

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
