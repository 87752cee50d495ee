"""Usage records, their bodies, and the daily aggregates the summary reads.

One call is written as one transaction: the record (only if it does not exist yet, so a redelivered
message changes nothing), its inline bodies, and ADDs to two aggregates: per (tenant, day, model)
and per (tenant, endpoint, day, model).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from boto3.dynamodb.conditions import Attr, ConditionBase, Key

from shared import aws
from shared.ids import highest_id_at, lowest_id_at
from shared.store import layout
from shared.store.base import Page, Store

TOKEN_FIELDS = (
    "input_tokens",
    "output_tokens",
    "cache_creation_input_tokens",
    "cache_read_input_tokens",
    "cache_creation_5m_input_tokens",
    "cache_creation_1h_input_tokens",
)

# What the API shows of a record: the contract's fields, then this project's additions.
PUBLIC_FIELDS = (
    "id",
    "model",
    "input_tokens",
    "output_tokens",
    "cache_creation_input_tokens",
    "cache_read_input_tokens",
    "cost_cents",
    "duration_ms",
    "status_code",
    "proxy_endpoint_id",
    "requested_at",
    "ttfb_ms",
    "stream",
    "stop_reason",
    "request_id",
    "cache_creation_5m_input_tokens",
    "cache_creation_1h_input_tokens",
    "cost_unknown",
    "api_key_id",
    "api_key_hint",
    "service_tier",
    "server_tool_use",
    "error_type",
    "complete",
    "price_snapshot",
    "cost_without_cache_cents",
    "usage_known",
)

UNKNOWN_MODEL = "unknown"

# Named outside the class, where `list` is the builtin and not the `list` method.
AggregateRows = list[dict[str, Any]]


def public_record(item: dict[str, Any]) -> dict[str, Any]:
    record = {name: item.get(name) for name in PUBLIC_FIELDS}
    for name in (*TOKEN_FIELDS, "duration_ms", "status_code", "ttfb_ms"):
        value = record[name]
        if isinstance(value, Decimal):
            record[name] = int(value)
    record["server_tool_use"] = {k: int(v) for k, v in (item.get("server_tool_use") or {}).items()}
    return record


@dataclass
class UsageQuery:
    tenant_id: str
    start: datetime | None = None  # inclusive
    end: datetime | None = None  # exclusive
    model_prefix: str | None = None
    proxy_endpoint_id: str | None = None
    api_key_id: str | None = None


@dataclass
class Bodies:
    request_body: str | None
    response_body: str | None


class UsageStore(Store):
    def __init__(self, table_name: str, bucket: str) -> None:
        super().__init__(table_name)
        self.bucket = bucket

    def write(self, record: dict[str, Any], inline_bodies: Bodies | None) -> bool:
        """Writes a record with its aggregates, once. False if it was already written."""
        tenant_id = record["tenant_id"]
        usage_id = record["id"]
        tenant = layout.tenant_pk(tenant_id)
        item = {
            "pk": tenant,
            "sk": layout.usage_sk(usage_id),
            "gsi1pk": layout.usage_by_endpoint_pk(tenant_id, record["proxy_endpoint_id"]),
            "gsi1sk": layout.usage_sk(usage_id),
            "type": "usage",
            **record,
        }
        if record.get("api_key_id"):
            item["gsi2pk"] = layout.usage_by_credential_pk(tenant_id, record["api_key_id"])
            item["gsi2sk"] = layout.usage_sk(usage_id)
        actions: list[dict[str, Any]] = [
            {
                "Put": {
                    "TableName": self.table_name,
                    "Item": item,
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            }
        ]
        if inline_bodies is not None:
            actions.append(
                {
                    "Put": {
                        "TableName": self.table_name,
                        "Item": {
                            "pk": tenant,
                            "sk": layout.body_sk(usage_id),
                            "type": "usage_body",
                            "request_body": inline_bodies.request_body,
                            "response_body": inline_bodies.response_body,
                        },
                    }
                }
            )
        day = record["requested_at"][:10]
        model = record.get("model") or UNKNOWN_MODEL
        for sort_key in (
            layout.day_aggregate_sk(day, record["proxy_endpoint_id"], model),
            layout.endpoint_aggregate_sk(record["proxy_endpoint_id"], day, model),
        ):
            actions.append({"Update": self._aggregate_update(tenant, sort_key, record, day, model)})
        client = self.table.meta.client
        try:
            client.transact_write_items(TransactItems=actions)
        except client.exceptions.TransactionCanceledException as error:
            reasons = error.response.get("CancellationReasons") or []
            if reasons and reasons[0].get("Code") == "ConditionalCheckFailed":
                return False  # the record exists: this delivery was a repeat
            raise
        return True

    def _aggregate_update(
        self, tenant: str, sort_key: str, record: dict[str, Any], day: str, model: str
    ) -> dict[str, Any]:
        cost = record.get("cost_cents")
        uncached = record.get("cost_without_cache_cents")
        values: dict[str, Any] = {
            ":one": 1,
            ":cost": Decimal(cost) if cost is not None else Decimal(0),
            ":uncached": Decimal(uncached) if uncached is not None else Decimal(0),
            ":unknown": 1 if record.get("cost_unknown") else 0,
            ":day": day,
            ":model": model,
            ":endpoint": record["proxy_endpoint_id"],
        }
        adds = [
            "requests :one",
            "cost_cents :cost",
            "cost_without_cache_cents :uncached",
            "cost_unknown_requests :unknown",
        ]
        for name in TOKEN_FIELDS:
            values[f":{name}"] = int(record.get(name) or 0)
            adds.append(f"{name} :{name}")
        return {
            "TableName": self.table_name,
            "Key": {"pk": tenant, "sk": sort_key},
            "UpdateExpression": "ADD "
            + ", ".join(adds)
            + " SET #day = :day, #model = :model, proxy_endpoint_id = :endpoint",
            "ExpressionAttributeNames": {"#day": "day", "#model": "model"},
            "ExpressionAttributeValues": values,
        }

    def get(self, tenant_id: str, usage_id: str) -> dict[str, Any] | None:
        item = self.table.get_item(
            Key={"pk": layout.tenant_pk(tenant_id), "sk": layout.usage_sk(usage_id)}
        ).get("Item")
        return item or None

    def bodies(self, item: dict[str, Any]) -> Bodies:
        """The record's bodies, from its body item or from S3 (claim-check); None where missing."""
        request_body = response_body = None
        if item.get("bodies_inline"):
            body = (
                self.table.get_item(Key={"pk": item["pk"], "sk": layout.body_sk(item["id"])}).get("Item")
                or {}
            )
            request_body, response_body = body.get("request_body"), body.get("response_body")
        if item.get("request_body_key"):
            request_body = self._object_text(item["request_body_key"])
        if item.get("response_body_key"):
            response_body = self._object_text(item["response_body_key"])
        return Bodies(request_body, response_body)

    def _object_text(self, key: str) -> str | None:
        try:
            return str(aws.s3().get_object(Bucket=self.bucket, Key=key)["Body"].read().decode("utf-8"))
        except aws.s3().exceptions.NoSuchKey:
            return None

    def list(self, query: UsageQuery, limit: int, start_key: dict[str, Any] | None) -> Page:
        low = layout.usage_sk(lowest_id_at(query.start)) if query.start else "USAGE#"
        high = (
            layout.usage_sk(highest_id_at(query.end - timedelta(milliseconds=1))) if query.end else "USAGE#~"
        )
        request: dict[str, Any] = {}
        filters: list[ConditionBase] = []
        if query.proxy_endpoint_id:
            request["IndexName"] = "gsi1"
            condition = Key("gsi1pk").eq(
                layout.usage_by_endpoint_pk(query.tenant_id, query.proxy_endpoint_id)
            ) & Key("gsi1sk").between(low, high)
            if query.api_key_id:
                filters.append(Attr("api_key_id").eq(query.api_key_id))
        elif query.api_key_id:
            request["IndexName"] = "gsi2"
            condition = Key("gsi2pk").eq(
                layout.usage_by_credential_pk(query.tenant_id, query.api_key_id)
            ) & Key("gsi2sk").between(low, high)
        else:
            condition = Key("pk").eq(layout.tenant_pk(query.tenant_id)) & Key("sk").between(low, high)
        if query.model_prefix:
            filters.append(Attr("model").begins_with(query.model_prefix))
        request["KeyConditionExpression"] = condition
        if filters:
            expression: ConditionBase = filters[0]
            for extra in filters[1:]:
                expression = expression & extra
            request["FilterExpression"] = expression
        index = request.get("IndexName")

        def key_of(item: dict[str, Any]) -> dict[str, Any]:
            key = {"pk": item["pk"], "sk": item["sk"]}
            if index:
                key[f"{index}pk"] = item[f"{index}pk"]
                key[f"{index}sk"] = item[f"{index}sk"]
            return key

        page = self.query_page(request, limit, start_key, key_of)
        page.items = [public_record(item) for item in page.items]
        return page

    def aggregates(
        self, tenant_id: str, first_day: date | None, last_day: date | None, proxy_endpoint_id: str | None
    ) -> AggregateRows:
        """Daily aggregate rows for a range of days (both ends inclusive): never one row per record."""
        prefix = f"AGG#E#{proxy_endpoint_id}#" if proxy_endpoint_id else "AGG#D#"
        low = prefix + (first_day.isoformat() if first_day else "")
        high = prefix + (last_day.isoformat() if last_day else "9999-12-31") + "#~"
        rows: list[dict[str, Any]] = []
        request: dict[str, Any] = {
            "KeyConditionExpression": Key("pk").eq(layout.tenant_pk(tenant_id)) & Key("sk").between(low, high)
        }
        while True:
            response = self.table.query(**request)
            rows.extend(response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                return rows
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
