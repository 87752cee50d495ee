"""Usage records, their bodies, and the daily aggregates the summary reads.

One call is written as one transaction: the record (only if it does not exist yet, so a redelivered
message changes nothing), its inline bodies, and ADDs to the aggregates: per (tenant, day, model),
per (tenant, endpoint, day, model), per (tenant, endpoint, UTC month) (what budgets are checked
against) and, for a Claude Code call, per (tenant, session).

A session's first and last call are a minimum and a maximum, which an update expression cannot
compute: the transaction sets both when the session item is new (`if_not_exists`), then one
conditional update moves `last_at` forward (`last_at < :at`) or, failing that, `first_at` back
(`first_at > :at`). Both run again on a redelivery, so a crash between them and the transaction
is mended by the retry; neither ever moves a bound the wrong way.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from boto3.dynamodb.conditions import Attr, ConditionBase

from shared import aws
from shared.ids import highest_id_at, lowest_id_at
from shared.store import layout, shards
from shared.store.base import Page, Store
from shared.store.shards import ShardedQuery
from shared.timefmt import format_timestamp

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
    "session_id",
    "agent",
    "agent_id",
    "speed",
    "inference_geo",
    "output_tokens_estimated",
    "price_version",
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
    session_id: str | None = None


@dataclass
class SessionQuery:
    tenant_id: str
    start: datetime | None = None  # last call at or after (inclusive)
    end: datetime | None = None  # last call before (exclusive)
    proxy_endpoint_id: str | None = None


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
        item = {
            "pk": layout.usage_pk(tenant_id, usage_id),
            "sk": layout.usage_sk(usage_id),
            "gsi1pk": layout.usage_by_endpoint_pk(tenant_id, record["proxy_endpoint_id"], usage_id),
            "gsi1sk": layout.usage_sk(usage_id),
            "type": "usage",
            **record,
        }
        if record.get("api_key_id"):
            item["gsi2pk"] = layout.usage_by_credential_pk(tenant_id, record["api_key_id"], usage_id)
            item["gsi2sk"] = layout.usage_sk(usage_id)
        session_id = record.get("session_id")
        if session_id:
            item["gsi3pk"] = layout.usage_by_session_pk(tenant_id, session_id)
            item["gsi3sk"] = layout.usage_sk(usage_id)
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
                            "pk": item["pk"],
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
        aggregates = layout.aggregate_pk(tenant_id, record["proxy_endpoint_id"])
        for sort_key in (
            layout.day_aggregate_sk(day, record["proxy_endpoint_id"], model),
            layout.endpoint_aggregate_sk(record["proxy_endpoint_id"], day, model),
        ):
            actions.append({"Update": self._aggregate_update(aggregates, sort_key, record, day, model)})
        actions.append({"Update": self._month_update(aggregates, record)})
        if session_id:
            actions.append({"Update": self._session_update(record, model)})
        client = self.table.meta.client
        written = True
        try:
            client.transact_write_items(TransactItems=actions)
        except client.exceptions.TransactionCanceledException as error:
            reasons = error.response.get("CancellationReasons") or []
            if not (reasons and reasons[0].get("Code") == "ConditionalCheckFailed"):
                raise
            written = False  # the record exists: this delivery was a repeat
        if session_id:
            self._widen_session(tenant_id, session_id, record["requested_at"])
        return written

    def _month_update(self, tenant: str, record: dict[str, Any]) -> dict[str, Any]:
        cost = record.get("cost_cents")
        month = record["requested_at"][:7]
        return {
            "TableName": self.table_name,
            "Key": {"pk": tenant, "sk": layout.endpoint_month_sk(record["proxy_endpoint_id"], month)},
            "UpdateExpression": "ADD requests :one, cost_cents :cost SET #month = :month, "
            "proxy_endpoint_id = :endpoint",
            "ExpressionAttributeNames": {"#month": "month"},
            "ExpressionAttributeValues": {
                ":one": 1,
                ":cost": Decimal(cost) if cost is not None else Decimal(0),
                ":month": month,
                ":endpoint": record["proxy_endpoint_id"],
            },
        }

    def _session_update(self, record: dict[str, Any], model: str) -> dict[str, Any]:
        adds, values = self._counters(record)
        subagent = record.get("agent") == "subagent"
        cost = record.get("cost_cents")
        at = record["requested_at"]
        values.update(
            {
                ":subagent": 1 if subagent else 0,
                ":subagent_cost": Decimal(cost) if subagent and cost is not None else Decimal(0),
                ":models": {model},
                ":endpoints": {record["proxy_endpoint_id"]},
                ":at": at,
                ":session": record["session_id"],
                ":list": layout.sessions_pk(record["tenant_id"], record["session_id"]),
                ":order": layout.session_order_sk(at, record["session_id"]),
                ":type": "session",
            }
        )
        adds += [
            "subagent_requests :subagent",
            "subagent_cost_cents :subagent_cost",
            "models :models",
            "proxy_endpoint_ids :endpoints",
        ]
        if record.get("agent_id"):
            values[":agents"] = {record["agent_id"]}
            adds.append("agent_ids :agents")
        return {
            "TableName": self.table_name,
            "Key": {
                "pk": layout.session_pk(record["tenant_id"], record["session_id"]),
                "sk": layout.session_sk(record["session_id"]),
            },
            "UpdateExpression": "ADD "
            + ", ".join(adds)
            + " SET first_at = if_not_exists(first_at, :at), last_at = if_not_exists(last_at, :at),"
            " gsi3sk = if_not_exists(gsi3sk, :order), gsi3pk = :list, session_id = :session, #type = :type",
            "ExpressionAttributeNames": {"#type": "type"},
            "ExpressionAttributeValues": values,
        }

    def _widen_session(self, tenant_id: str, session_id: str, at: str) -> None:
        """Moves the session's `last_at` forward, or its `first_at` back, to `at` (see the module doc)."""
        client = self.table.meta.client
        key = {"pk": layout.session_pk(tenant_id, session_id), "sk": layout.session_sk(session_id)}
        try:
            client.update_item(
                TableName=self.table_name,
                Key=key,
                UpdateExpression="SET last_at = :at, gsi3sk = :order",
                ConditionExpression="last_at < :at",
                ExpressionAttributeValues={
                    ":at": at,
                    ":order": layout.session_order_sk(at, session_id),
                },
            )
            return
        except client.exceptions.ConditionalCheckFailedException:
            pass
        with contextlib.suppress(client.exceptions.ConditionalCheckFailedException):
            client.update_item(
                TableName=self.table_name,
                Key=key,
                UpdateExpression="SET first_at = :at",
                ConditionExpression="first_at > :at",
                ExpressionAttributeValues={":at": at},
            )

    @staticmethod
    def _counters(record: dict[str, Any]) -> tuple[list[str], dict[str, Any]]:
        """The ADD clauses (and their values) every aggregate of calls shares."""
        cost = record.get("cost_cents")
        uncached = record.get("cost_without_cache_cents")
        values: dict[str, Any] = {
            ":one": 1,
            ":cost": Decimal(cost) if cost is not None else Decimal(0),
            ":uncached": Decimal(uncached) if uncached is not None else Decimal(0),
            ":unknown": 1 if record.get("cost_unknown") else 0,
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
        return adds, values

    def _aggregate_update(
        self, tenant: str, sort_key: str, record: dict[str, Any], day: str, model: str
    ) -> dict[str, Any]:
        adds, values = self._counters(record)
        values.update({":day": day, ":model": model, ":endpoint": record["proxy_endpoint_id"]})
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
            Key={"pk": layout.usage_pk(tenant_id, usage_id), "sk": layout.usage_sk(usage_id)}
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

    def _list_query(self, query: UsageQuery) -> ShardedQuery:
        """The Query for a filtered list on the most selective key: session, then endpoint, then
        credential, then the tenant (each but the session sharded); the other filters filter."""
        low = layout.usage_sk(lowest_id_at(query.start)) if query.start else "USAGE#"
        high = (
            layout.usage_sk(highest_id_at(query.end - timedelta(milliseconds=1))) if query.end else "USAGE#~"
        )
        filters: list[ConditionBase] = []
        index: str | None
        if query.session_id:
            index, pks = "gsi3", [layout.usage_by_session_pk(query.tenant_id, query.session_id)]
            if query.proxy_endpoint_id:
                filters.append(Attr("proxy_endpoint_id").eq(query.proxy_endpoint_id))
            if query.api_key_id:
                filters.append(Attr("api_key_id").eq(query.api_key_id))
        elif query.proxy_endpoint_id:
            index, pks = "gsi1", layout.usage_by_endpoint_pks(query.tenant_id, query.proxy_endpoint_id)
            if query.api_key_id:
                filters.append(Attr("api_key_id").eq(query.api_key_id))
        elif query.api_key_id:
            index, pks = "gsi2", layout.usage_by_credential_pks(query.tenant_id, query.api_key_id)
        else:
            index, pks = None, layout.usage_pks(query.tenant_id)
        if query.model_prefix:
            filters.append(Attr("model").begins_with(query.model_prefix))
        expression: ConditionBase | None = None
        for condition in filters:
            expression = condition if expression is None else expression & condition
        return ShardedQuery(pks, low, high, index, expression)

    def list(self, query: UsageQuery, limit: int, start_key: dict[str, Any] | None) -> Page:
        """A page of matching records, newest first."""
        page = shards.page(self, self._list_query(query), limit, start_key)
        page.items = [public_record(item) for item in page.items]
        return page

    def iterate(
        self, query: UsageQuery, page_size: int = 500, oldest_first: bool = False
    ) -> Iterator[dict[str, Any]]:
        """Every matching record (as stored), one DynamoDB page per shard at a time."""
        return shards.iterate(self, self._list_query(query), page_size, oldest_first)

    def sessions(self, query: SessionQuery, limit: int, start_key: dict[str, Any] | None) -> Page:
        """The tenant's session aggregates, the most recently active first."""
        low = format_timestamp(query.start) if query.start else "0"
        high = format_timestamp(query.end - timedelta(milliseconds=1)) + "#~" if query.end else "~"
        endpoint = query.proxy_endpoint_id
        sharded = ShardedQuery(
            layout.sessions_pks(query.tenant_id),
            low,
            high,
            "gsi3",
            Attr("proxy_endpoint_ids").contains(endpoint) if endpoint else None,
        )
        return shards.page(self, sharded, limit, start_key)

    def session(self, tenant_id: str, session_id: str) -> dict[str, Any] | None:
        item = self.table.get_item(
            Key={"pk": layout.session_pk(tenant_id, session_id), "sk": layout.session_sk(session_id)}
        ).get("Item")
        return item or None

    def month_spend(self, tenant_id: str, endpoint_ids: Sequence[str], month: str) -> dict[str, Decimal]:
        """Cost (cents) of each endpoint's calls in a UTC month (`2026-03`); endpoints without calls: 0."""
        spend = {endpoint_id: Decimal(0) for endpoint_id in endpoint_ids}
        keys = [
            {
                "pk": layout.aggregate_pk(tenant_id, endpoint_id),
                "sk": layout.endpoint_month_sk(endpoint_id, month),
            }
            for endpoint_id in dict.fromkeys(endpoint_ids)
        ]
        client = self.table.meta.client
        for start in range(0, len(keys), 100):
            request: dict[str, Any] = {self.table_name: {"Keys": keys[start : start + 100]}}
            while request:
                response = client.batch_get_item(RequestItems=request)
                for item in response.get("Responses", {}).get(self.table_name, []):
                    spend[str(item["proxy_endpoint_id"])] = Decimal(str(item.get("cost_cents") or 0))
                request = response.get("UnprocessedKeys") or {}
        return spend

    def aggregates(
        self, tenant_id: str, first_day: date | None, last_day: date | None, proxy_endpoint_id: str | None
    ) -> AggregateRows:
        """Daily aggregate rows for a range of days (both ends inclusive): never one row per record."""
        prefix = f"AGG#E#{proxy_endpoint_id}#" if proxy_endpoint_id else "AGG#D#"
        low = prefix + (first_day.isoformat() if first_day else "")
        high = prefix + (last_day.isoformat() if last_day else "9999-12-31") + "#~"
        pks = (
            [layout.aggregate_pk(tenant_id, proxy_endpoint_id)]
            if proxy_endpoint_id
            else layout.aggregate_pks(tenant_id)
        )
        # Merged in sort key order, as the one partition's range read them before.
        return list(shards.iterate(self, ShardedQuery(pks, low, high), 1000, oldest_first=True))
