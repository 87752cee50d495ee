"""Proxy endpoints and the slug lookup the proxy does on every call."""

from __future__ import annotations

import re
import secrets
import string
from typing import Any

from shared.bodies.retention import DEFAULT_RETENTION_DAYS
from shared.ids import new_id
from shared.models import SlugTarget
from shared.store import layout
from shared.store.base import Page, Store
from shared.timefmt import format_timestamp, utc_now

_SLUG_SUFFIX_ALPHABET = string.ascii_lowercase + string.digits
SLUG_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,80})$")


def slugify(name: str) -> str:
    words = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return words[:40].rstrip("-") or "endpoint"


# Whoever holds a slug can spend the endpoint's limits and budget and write records into its tenant:
# 16 characters of 36 are 82 bits, too many to guess (and guessing is rate limited per IP).
# Slugs made with 6 characters before this still resolve: the lookup is by the whole slug.
SLUG_SUFFIX_LENGTH = 16


def new_slug(name: str) -> str:
    suffix = "".join(secrets.choice(_SLUG_SUFFIX_ALPHABET) for _ in range(SLUG_SUFFIX_LENGTH))
    return slugify(name) + "-" + suffix


BUDGET_ACTIONS = ("notify", "block")
_UNSET: Any = object()


def _public(item: dict[str, Any]) -> dict[str, Any]:
    endpoint = {key: item[key] for key in ("id", "name", "slug", "created_at")}
    budget = item.get("monthly_budget_cents")
    endpoint["monthly_budget_cents"] = None if budget is None else int(budget)
    # A budget without an action only notifies.
    endpoint["budget_action"] = None if budget is None else (item.get("budget_action") or "notify")
    retention = item.get("body_retention_days")
    endpoint["body_retention_days"] = DEFAULT_RETENTION_DAYS if retention is None else int(retention)
    return endpoint


class EndpointStore(Store):
    def create(self, tenant_id: str, name: str) -> dict[str, Any]:
        now = utc_now()
        endpoint = {
            "id": new_id(now),
            "name": name,
            "slug": new_slug(name),
            "created_at": format_timestamp(now),
        }
        client = self.table.meta.client
        # The slug item is written with the endpoint, conditionally: a slug is globally unique.
        client.transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": self.table_name,
                        "Item": {
                            "pk": layout.tenant_pk(tenant_id),
                            "sk": layout.endpoint_sk(endpoint["id"]),
                            "type": "proxy_endpoint",
                            **endpoint,
                        },
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
                {
                    "Put": {
                        "TableName": self.table_name,
                        "Item": {
                            "pk": layout.slug_pk(endpoint["slug"]),
                            "sk": layout.SINGLETON_SK,
                            "type": "slug",
                            "tenant_id": tenant_id,
                            "proxy_endpoint_id": endpoint["id"],
                            "name": name,
                        },
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
            ]
        )
        return _public(endpoint)

    def get(self, tenant_id: str, endpoint_id: str) -> dict[str, Any] | None:
        item = self.table.get_item(
            Key={"pk": layout.tenant_pk(tenant_id), "sk": layout.endpoint_sk(endpoint_id)}
        ).get("Item")
        return _public(item) if item else None

    def list(self, tenant_id: str, limit: int, start_key: dict[str, Any] | None) -> Page:
        page = self.tenant_items(tenant_id, "EP#", limit, start_key)
        page.items = [_public(item) for item in page.items]
        return page

    def delete(self, tenant_id: str, endpoint_id: str) -> dict[str, Any] | None:
        """Removes the endpoint and its slug; its usage stays. None if the tenant has no such endpoint."""
        endpoint = self.get(tenant_id, endpoint_id)
        if endpoint is None:
            return None
        self.table.meta.client.transact_write_items(
            TransactItems=[
                {
                    "Delete": {
                        "TableName": self.table_name,
                        "Key": {"pk": layout.tenant_pk(tenant_id), "sk": layout.endpoint_sk(endpoint_id)},
                    }
                },
                {
                    "Delete": {
                        "TableName": self.table_name,
                        "Key": {"pk": layout.slug_pk(endpoint["slug"]), "sk": layout.SINGLETON_SK},
                    }
                },
            ]
        )
        return endpoint

    def update(
        self,
        tenant_id: str,
        endpoint_id: str,
        name: str | None = None,
        monthly_budget_cents: int | None = _UNSET,
        budget_action: str | None = None,
        body_retention_days: int | None = None,
    ) -> dict[str, Any] | None:
        """Changes what is given (`monthly_budget_cents=None` removes the budget) on the endpoint and on
        its slug item, which the proxy reads, in one transaction. None if the tenant has no such endpoint."""
        endpoint = self.get(tenant_id, endpoint_id)
        if endpoint is None:
            return None
        sets: dict[str, Any] = {}
        removes: list[str] = []
        if name is not None:
            sets["name"] = name
        if monthly_budget_cents is None:
            removes += ["monthly_budget_cents", "budget_action"]
        elif monthly_budget_cents is not _UNSET:
            sets["monthly_budget_cents"] = monthly_budget_cents
        if budget_action is not None and monthly_budget_cents is not None:
            sets["budget_action"] = budget_action
        if body_retention_days is not None:
            sets["body_retention_days"] = body_retention_days
        if not sets and not removes:
            return endpoint
        clauses = []
        if sets:
            clauses.append("SET " + ", ".join(f"#{field} = :{field}" for field in sets))
        if removes:
            clauses.append("REMOVE " + ", ".join(f"#{field}" for field in removes))
        expression = {
            "UpdateExpression": " ".join(clauses),
            "ExpressionAttributeNames": {f"#{field}": field for field in (*sets, *removes)},
            "ConditionExpression": "attribute_exists(pk)",
        }
        if sets:
            expression["ExpressionAttributeValues"] = {f":{field}": value for field, value in sets.items()}
        client = self.table.meta.client
        try:
            client.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": self.table_name,
                            "Key": {"pk": layout.tenant_pk(tenant_id), "sk": layout.endpoint_sk(endpoint_id)},
                            **expression,
                        }
                    },
                    {
                        "Update": {
                            "TableName": self.table_name,
                            "Key": {"pk": layout.slug_pk(endpoint["slug"]), "sk": layout.SINGLETON_SK},
                            **expression,
                        }
                    },
                ]
            )
        except client.exceptions.TransactionCanceledException:
            return None  # deleted meanwhile
        return self.get(tenant_id, endpoint_id)

    def resolve_slug(self, slug: str) -> SlugTarget | None:
        item = self.table.get_item(Key={"pk": layout.slug_pk(slug), "sk": layout.SINGLETON_SK}).get("Item")
        if not item:
            return None
        budget = item.get("monthly_budget_cents")
        return SlugTarget(
            tenant_id=item["tenant_id"],
            proxy_endpoint_id=item["proxy_endpoint_id"],
            monthly_budget_cents=None if budget is None else int(budget),
            budget_action=None if budget is None else str(item.get("budget_action") or "notify"),
            body_retention_days=int(item.get("body_retention_days", DEFAULT_RETENTION_DAYS)),
        )
