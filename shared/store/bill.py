"""What the bill check keeps: each tenant's Anthropic admin key (encrypted) and the reports synced with it.

The admin key is stored as KMS ciphertext bound to its tenant (the encryption context names the
tenant, so a ciphertext copied to another tenant's item does not decrypt); only its hint is readable.
Synced reports are rows per UTC day (see docs/data-model.md); a sync replaces the rows of the days it
covers, and a failed sync leaves them as they were and notes the error.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from boto3.dynamodb.conditions import Key

from shared import aws
from shared.billed import AnthropicApiKey, BilledCost, BilledUsage, TokenCounts
from shared.credentials import credential_hint
from shared.store import layout
from shared.store.base import Store
from shared.timefmt import format_timestamp, utc_now

_NO_MODEL = "-"
_NO_KEY = "-"
_UNSAID = "-"  # a speed or geography the usage report did not name


@dataclass(frozen=True)
class SyncState:
    as_of: str | None  # when the last successful sync finished
    error: str | None  # why the last attempt failed, when it failed after that success

    @property
    def stale(self) -> bool:
        return self.error is not None


@dataclass(frozen=True)
class BilledReports:
    usage: list[BilledUsage]
    costs: list[BilledCost]
    keys: list[AnthropicApiKey]


class AdminKeyStore(Store):
    def __init__(self, table_name: str, kms_key_id: str) -> None:
        super().__init__(table_name)
        self.kms_key_id = kms_key_id

    def _key(self, tenant_id: str) -> dict[str, str]:
        return {"pk": layout.tenant_pk(tenant_id), "sk": layout.anthropic_admin_key_sk()}

    def _encrypt(self, tenant_id: str, admin_key: str) -> str:
        ciphertext = aws.kms().encrypt(
            KeyId=self.kms_key_id, Plaintext=admin_key.encode(), EncryptionContext={"tenant": tenant_id}
        )["CiphertextBlob"]
        return base64.b64encode(ciphertext).decode()

    def put(self, tenant_id: str, admin_key: str) -> dict[str, Any]:
        item = {
            **self._key(tenant_id),
            "type": "anthropic_admin_key",
            "ciphertext": self._encrypt(tenant_id, admin_key),
            "hint": credential_hint(admin_key),
            "updated_at": format_timestamp(utc_now()),
            "gsi1pk": layout.ANTHROPIC_ADMIN_KEYS_PK,
            layout.INDEX_SORT_KEY: tenant_id,
        }
        self.table.put_item(Item=item)
        return public_status(item)

    def status(self, tenant_id: str) -> dict[str, Any]:
        return public_status(self.table.get_item(Key=self._key(tenant_id)).get("Item"))

    def secret(self, tenant_id: str) -> str | None:
        item = self.table.get_item(Key=self._key(tenant_id)).get("Item")
        if not item:
            return None
        plaintext: bytes = aws.kms().decrypt(
            CiphertextBlob=base64.b64decode(item["ciphertext"]),
            KeyId=self.kms_key_id,
            EncryptionContext={"tenant": tenant_id},
        )["Plaintext"]
        return plaintext.decode()

    def reseal(self, tenant_id: str, admin_key: str) -> None:
        """Encrypts a stored admin key again under the current KMS key, its hint and date unchanged:
        for `make dev`, whose local KMS key is a new one after each restart (devstack/state.py)."""
        self.table.update_item(
            Key=self._key(tenant_id),
            UpdateExpression="SET ciphertext = :ciphertext",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues={":ciphertext": self._encrypt(tenant_id, admin_key)},
        )

    def delete(self, tenant_id: str) -> bool:
        old = self.table.delete_item(Key=self._key(tenant_id), ReturnValues="ALL_OLD").get("Attributes")
        return bool(old)

    def tenants(self) -> Iterator[str]:
        """Every tenant with an admin key (a sparse index: one small item each)."""
        query = {
            "IndexName": "gsi1",
            "KeyConditionExpression": Key("gsi1pk").eq(layout.ANTHROPIC_ADMIN_KEYS_PK),
        }
        return (str(item[layout.INDEX_SORT_KEY]) for item in self.query_all(query))


def public_status(item: dict[str, Any] | None) -> dict[str, Any]:
    """What anyone may see of a stored admin key: that it exists, its hint, when it was set."""
    if not item:
        return {"configured": False, "hint": None, "updated_at": None}
    return {"configured": True, "hint": item["hint"], "updated_at": item["updated_at"]}


class BillStore(Store):
    def _day_rows(self, tenant_id: str, kind: str, start: date, end: date) -> list[dict[str, Any]]:
        """Rows of one kind (`U` usage, `C` cost) for the days from `start` to before `end`."""
        last = date.fromordinal(end.toordinal() - 1).isoformat()
        return self.tenant_range(tenant_id, f"BILL#{kind}#{start.isoformat()}", f"BILL#{kind}#{last}#~")

    def replace(
        self,
        tenant_id: str,
        start: date,
        end: date,
        usage: Sequence[BilledUsage],
        costs: Sequence[BilledCost],
        keys: Sequence[AnthropicApiKey],
    ) -> None:
        """The reports for the days from `start` to before `end` become these, and the sync succeeded."""
        tenant = layout.tenant_pk(tenant_id)
        stale = [
            *self._day_rows(tenant_id, "U", start, end),
            *self._day_rows(tenant_id, "C", start, end),
            *self.tenant_range(tenant_id, "BILL#K#", "BILL#K#~"),  # the key list is replaced whole
        ]
        fresh: dict[str, dict[str, Any]] = {}
        for row in usage:
            sk = layout.billed_usage_sk(
                row.day,
                row.anthropic_api_key_id or _NO_KEY,
                row.model,
                row.context_window,
                row.speed or _UNSAID,
                row.inference_geo or _UNSAID,
            )
            item = fresh.setdefault(
                sk,
                {
                    "pk": tenant,
                    "sk": sk,
                    "type": "billed_usage",
                    "day": row.day,
                    "anthropic_api_key_id": row.anthropic_api_key_id,
                    "model": row.model,
                    "context_window": row.context_window,
                    "speed": row.speed,
                    "inference_geo": row.inference_geo,
                    **TokenCounts().as_dict(),
                },
            )
            for name, count in row.tokens.as_dict().items():
                item[name] += count
        for cost in costs:
            sk = layout.billed_cost_sk(cost.day, cost.model or _NO_MODEL)
            item = fresh.setdefault(
                sk,
                {
                    "pk": tenant,
                    "sk": sk,
                    "type": "billed_cost",
                    "day": cost.day,
                    "model": cost.model,
                    "amount_cents": Decimal(0),
                },
            )
            item["amount_cents"] += cost.amount_cents
        for key in keys:
            sk = layout.anthropic_key_sk(key.id)
            fresh[sk] = {
                "pk": tenant,
                "sk": sk,
                "type": "anthropic_api_key",
                "anthropic_api_key_id": key.id,
                "name": key.name,
                "partial_key_hint": key.partial_key_hint,
            }
        with self.table.batch_writer(overwrite_by_pkeys=["pk", "sk"]) as batch:
            for item in stale:
                if item["sk"] not in fresh:
                    batch.delete_item(Key={"pk": item["pk"], "sk": item["sk"]})
            for item in fresh.values():
                batch.put_item(Item=item)
        self.table.put_item(
            Item={
                "pk": tenant,
                "sk": layout.bill_sync_sk(),
                "type": "bill_sync",
                "as_of": format_timestamp(utc_now()),
                "error": None,
            }
        )

    def record_failure(self, tenant_id: str, error: str) -> None:
        """The last good data stays; readers are told it is stale, and why."""
        self.table.update_item(
            Key={"pk": layout.tenant_pk(tenant_id), "sk": layout.bill_sync_sk()},
            UpdateExpression="SET #type = :type, #error = :error, failed_at = :at",
            ExpressionAttributeNames={"#type": "type", "#error": "error"},
            ExpressionAttributeValues={
                ":type": "bill_sync",
                ":error": error,
                ":at": format_timestamp(utc_now()),
            },
        )

    def sync_state(self, tenant_id: str) -> SyncState:
        item = (
            self.table.get_item(Key={"pk": layout.tenant_pk(tenant_id), "sk": layout.bill_sync_sk()}).get(
                "Item"
            )
            or {}
        )
        return SyncState(as_of=item.get("as_of"), error=item.get("error"))

    def reports(self, tenant_id: str, start: date, end: date) -> BilledReports:
        usage = [
            BilledUsage(
                day=item["day"],
                anthropic_api_key_id=item.get("anthropic_api_key_id"),
                model=item["model"],
                context_window=item["context_window"],
                tokens=TokenCounts(
                    **{name: int(item.get(name) or 0) for name in TokenCounts.__dataclass_fields__}
                ),
                speed=item.get("speed"),
                inference_geo=item.get("inference_geo"),
            )
            for item in self._day_rows(tenant_id, "U", start, end)
        ]
        costs = [
            BilledCost(item["day"], item.get("model"), Decimal(str(item["amount_cents"])))
            for item in self._day_rows(tenant_id, "C", start, end)
        ]
        keys = [
            AnthropicApiKey(item["anthropic_api_key_id"], item.get("name"), item.get("partial_key_hint"))
            for item in self.tenant_range(tenant_id, "BILL#K#", "BILL#K#~")
        ]
        return BilledReports(usage, costs, keys)
