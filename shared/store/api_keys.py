"""Codecosts API keys: only an HMAC of each key is stored, and looked up by.

A key's scope (shared/models.py) is stored with it. Keys stored before scopes existed have none and
are `read` keys (LEGACY_SCOPE): every key used to be all-powerful, and a leaked old key must not keep
the power to mint keys that outlive its own revocation. Their owners mint an `admin` key from a
Clerk session (or `codecosts admin bootstrap`) and replace them; docs/security.md says so.
"""

from __future__ import annotations

from typing import Any

from shared.credentials import api_key_prefix, generate_api_key, hash_api_key
from shared.ids import new_id
from shared.models import Principal, Scope
from shared.store import layout
from shared.store.base import Page, Store
from shared.timefmt import format_timestamp, utc_now

_PUBLIC_FIELDS = ("id", "name", "key_prefix", "last_used_at", "created_at")
LEGACY_SCOPE: Scope = "read"


def _public(item: dict[str, Any]) -> dict[str, Any]:
    return {**{key: item.get(key) for key in _PUBLIC_FIELDS}, "scope": item.get("scope") or LEGACY_SCOPE}


class ApiKeyStore(Store):
    def __init__(self, table_name: str, pepper: bytes) -> None:
        super().__init__(table_name)
        self.pepper = pepper

    def create(
        self, principal: Principal, name: str, key: str | None = None, scope: Scope = "read"
    ) -> tuple[dict[str, Any], str]:
        """A new key for the principal's tenant; returns it with the only copy of the secret. Whether
        the principal may create a key of that scope is the caller's check."""
        key = key or generate_api_key()
        now = utc_now()
        key_id = new_id(now)
        key_hash = hash_api_key(key, self.pepper)
        record = {
            "id": key_id,
            "name": name,
            "key_prefix": api_key_prefix(key),
            "last_used_at": None,
            "created_at": format_timestamp(now),
            "scope": scope,
        }
        self.table.meta.client.transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": self.table_name,
                        "Item": {
                            "pk": layout.tenant_pk(principal.tenant_id),
                            "sk": layout.api_key_sk(key_id),
                            "type": "api_key",
                            "key_hash": key_hash,
                            "user_id": principal.user_id,
                            **record,
                        },
                    }
                },
                {
                    "Put": {
                        "TableName": self.table_name,
                        "Item": {
                            "pk": layout.api_key_hash_pk(key_hash),
                            "sk": layout.SINGLETON_SK,
                            "type": "api_key_hash",
                            "key_id": key_id,
                            "tenant_id": principal.tenant_id,
                            "user_id": principal.user_id,
                            "org_id": principal.org_id,
                            # What authenticating needs, so one read by hash is enough.
                            "name": name,
                            "scope": scope,
                        },
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
            ]
        )
        return record, key

    def principal_for(self, key: str) -> Principal | None:
        item = self.table.get_item(
            Key={"pk": layout.api_key_hash_pk(hash_api_key(key, self.pepper)), "sk": layout.SINGLETON_SK}
        ).get("Item")
        if not item:
            return None
        name = item.get("name")
        if name is None:  # a key stored before its hash item carried the name
            listed = self.table.get_item(
                Key={"pk": layout.tenant_pk(item["tenant_id"]), "sk": layout.api_key_sk(item["key_id"])}
            ).get("Item")
            name = listed.get("name") if listed else None
        return Principal(
            user_id=item["user_id"],
            tenant_id=item["tenant_id"],
            org_id=item.get("org_id"),
            api_key_id=item["key_id"],
            api_key_name=name,
            scope=item.get("scope") or LEGACY_SCOPE,
        )

    def list(self, tenant_id: str, limit: int, start_key: dict[str, Any] | None) -> Page:
        page = self.tenant_items(tenant_id, "KEY#", limit, start_key)
        page.items = [_public(item) for item in page.items]
        return page

    def delete(self, tenant_id: str, key_id: str) -> dict[str, Any] | None:
        key = {"pk": layout.tenant_pk(tenant_id), "sk": layout.api_key_sk(key_id)}
        item = self.table.get_item(Key=key).get("Item")
        if not item:
            return None
        self.table.meta.client.transact_write_items(
            TransactItems=[
                {"Delete": {"TableName": self.table_name, "Key": key}},
                {
                    "Delete": {
                        "TableName": self.table_name,
                        "Key": {"pk": layout.api_key_hash_pk(item["key_hash"]), "sk": layout.SINGLETON_SK},
                    }
                },
            ]
        )
        return _public(item)

    def touch(self, tenant_id: str, key_id: str) -> None:
        """Records `last_used_at`; callers throttle it so a busy key is not a write per request."""
        self.table.update_item(
            Key={"pk": layout.tenant_pk(tenant_id), "sk": layout.api_key_sk(key_id)},
            UpdateExpression="SET last_used_at = :now",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues={":now": format_timestamp(utc_now())},
        )
