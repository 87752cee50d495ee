"""The tenant's Claude Code developers (shared/developers.py): their names, when they were seen, and
what they spent by day.

The items are written with each batch of calls (`AGGREGATES` in shared/store/usage_writes.py);
here they are read, and named.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from boto3.dynamodb.conditions import Key

from shared.store import layout, shards
from shared.store.base import Page, Store
from shared.store.shards import ShardedQuery

# Named outside the class, where `list` is the builtin and not the `list` method.
Rows = list[dict[str, Any]]


def public_developer(item: dict[str, Any]) -> dict[str, Any]:
    """A developer item as the API shows it: its first and last call are kept as every spanned
    aggregate keeps them (`first_at`, `last_at`; shared/store/usage_writes.py)."""
    return {
        "developer_id": item.get("developer_id"),
        "name": item.get("name"),
        "first_seen_at": item.get("first_at"),
        "last_seen_at": item.get("last_at"),
    }


class DeveloperStore(Store):
    def list(self, tenant_id: str, limit: int, start_key: dict[str, Any] | None) -> Page:
        """The tenant's developers, the most recently active first."""
        page = self.query_page(
            {
                "IndexName": "gsi4",
                "KeyConditionExpression": Key("gsi4pk").eq(layout.developers_pk(tenant_id)),
            },
            limit,
            start_key,
            lambda item: {k: item[k] for k in ("pk", "sk", "gsi4pk", layout.INDEX_SORT_KEY)},
        )
        page.items = [public_developer(item) for item in page.items]
        return page

    def names(self, tenant_id: str) -> dict[str, str]:
        """developer_id -> name, for the developers that were named (one item per developer)."""
        items = self.tenant_range(tenant_id, layout.developer_sk(""), layout.developer_sk("~"))
        return {str(item["developer_id"]): str(item["name"]) for item in items if item.get("name")}

    def rename(self, tenant_id: str, developer_id: str, name: str) -> dict[str, Any] | None:
        """Names a developer the proxy has seen; None for one it has not (nothing is created)."""
        client = self.table.meta.client
        try:
            reply = self.table.update_item(
                Key={"pk": layout.tenant_pk(tenant_id), "sk": layout.developer_sk(developer_id)},
                UpdateExpression="SET #name = :name",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeNames={"#name": "name"},
                ExpressionAttributeValues={":name": name},
                ReturnValues="ALL_NEW",
            )
        except client.exceptions.ConditionalCheckFailedException:
            return None
        return public_developer(reply["Attributes"])

    def day_aggregates(self, tenant_id: str, first_day: date | None, last_day: date | None) -> Rows:
        """Spend per (day, endpoint, developer or paying credential) over a range of days (both ends
        inclusive): rows, never records."""
        low, high = layout.developer_day_aggregates_range(
            first_day.isoformat() if first_day else None, last_day.isoformat() if last_day else None
        )
        # Kept with the endpoint's other aggregates, in the tenant's shard for the endpoint.
        sharded = ShardedQuery(layout.aggregate_pks(tenant_id), low, high)
        return list(shards.iterate(self, sharded, 1000, oldest_first=True))
