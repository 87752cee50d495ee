"""The audit trail of what people did: newest first, never a secret in `metadata`."""

from __future__ import annotations

import json
from typing import Any

from shared.ids import new_id
from shared.models import Principal
from shared.store import layout
from shared.store.base import Page, Store
from shared.timefmt import format_timestamp, utc_now

_PUBLIC_FIELDS = (
    "id",
    "user_id",
    "org_id",
    "action",
    "resource_type",
    "resource_id",
    "metadata",
    "created_at",
)


def actor(principal: Principal) -> dict[str, Any]:
    """Who acted: the user, and for an API key which key (its name as it was then)."""
    return {
        "type": "user" if principal.api_key_id is None else "api_key",
        "user_id": principal.user_id,
        "api_key_id": principal.api_key_id,
        "api_key_name": principal.api_key_name,
    }


class AuditStore(Store):
    def record(
        self,
        principal: Principal,
        action: str,
        resource_type: str,
        resource_id: str,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        now = utc_now()
        entry_id = new_id(now)
        self.table.put_item(
            Item={
                "pk": layout.tenant_pk(principal.tenant_id),
                "sk": layout.audit_sk(entry_id),
                "type": "audit",
                "id": entry_id,
                "user_id": principal.user_id,
                "org_id": principal.org_id,
                "action": action,
                "resource_type": resource_type,
                "resource_id": resource_id,
                "metadata": json.dumps(metadata, sort_keys=True) if metadata else None,
                "created_at": format_timestamp(now),
                "actor": actor(principal),
            }
        )

    def list(self, tenant_id: str, limit: int, start_key: dict[str, Any] | None) -> Page:
        page = self.tenant_items(tenant_id, "AUDIT#", limit, start_key)
        # Entries written before actors were recorded have none: null, rather than a guess.
        page.items = [
            {**{key: item.get(key) for key in _PUBLIC_FIELDS}, "actor": item.get("actor")}
            for item in page.items
        ]
        return page
