"""Users and their profiles, created on first sight."""

from __future__ import annotations

from typing import Any

from shared.store import layout
from shared.store.base import Store
from shared.timefmt import format_timestamp, utc_now

_PUBLIC_FIELDS = ("id", "email", "name", "created_at", "updated_at")


def _public(item: dict[str, Any]) -> dict[str, Any]:
    return {key: item.get(key) for key in _PUBLIC_FIELDS}


class UserStore(Store):
    def _key(self, user_id: str) -> dict[str, str]:
        return {"pk": layout.user_pk(user_id), "sk": layout.SINGLETON_SK}

    def get(self, user_id: str) -> dict[str, Any] | None:
        item = self.table.get_item(Key=self._key(user_id)).get("Item")
        return _public(item) if item else None

    def ensure(self, user_id: str, email: str | None, name: str | None) -> dict[str, Any]:
        """The user's profile, creating it from what the caller knows if this is the first sight."""
        existing = self.get(user_id)
        if existing:
            return existing
        now = format_timestamp(utc_now())
        item = {"id": user_id, "email": email, "name": name, "created_at": now, "updated_at": now}
        try:
            self.table.put_item(
                Item={**self._key(user_id), "type": "user", **item},
                ConditionExpression="attribute_not_exists(pk)",
            )
        except self.table.meta.client.exceptions.ConditionalCheckFailedException:
            return self.get(user_id) or item  # created meanwhile by a concurrent first request
        return item

    def update_name(self, user_id: str, name: str) -> dict[str, Any]:
        response = self.table.update_item(
            Key=self._key(user_id),
            UpdateExpression="SET #name = :name, updated_at = :now",
            ExpressionAttributeNames={"#name": "name"},
            ExpressionAttributeValues={":name": name, ":now": format_timestamp(utc_now())},
            ReturnValues="ALL_NEW",
        )
        return _public(response["Attributes"])
