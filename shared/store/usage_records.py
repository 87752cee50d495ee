"""Usage records, their bodies, and the daily aggregates the summary reads.

One call is written as one transaction: the record (only if it does not exist yet, so a redelivered
message changes nothing) and ADDs to the aggregates: per (tenant, day, model),
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
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.conditions import Attr, ConditionBase, Key

from shared.ids import highest_id_at, lowest_id_at
from shared.resources import BODIES_BUCKET
from shared.store import layout
from shared.store.base import Page, Store
from shared.timefmt import format_timestamp

if TYPE_CHECKING:
    from shared.bodies.store import BodyStore

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
_BASE_LOOKBACK = 8

# Named outside the class, where `list` is the builtin and not the `list` method.
AggregateRows = list[dict[str, Any]]


def _text(body: bytes | None) -> str | None:
    return None if body is None else body.decode("utf-8")


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
        self._body_store: BodyStore | None = None

    @property
    def body_store(self) -> BodyStore:
        """Made on first use: the bill check reads spend through this store, never a body."""
        if self._body_store is None:
            from shared.bodies.store import BodyStore

            self._body_store = BodyStore(self.bucket, BODIES_BUCKET.bodies_prefix)
        return self._body_store

    def write(self, record: dict[str, Any]) -> bool:
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
        day = record["requested_at"][:10]
        model = record.get("model") or UNKNOWN_MODEL
        for sort_key in (
            layout.day_aggregate_sk(day, record["proxy_endpoint_id"], model),
            layout.endpoint_aggregate_sk(record["proxy_endpoint_id"], day, model),
        ):
            actions.append({"Update": self._aggregate_update(tenant, sort_key, record, day, model)})
        actions.append({"Update": self._month_update(tenant, record)})
        if session_id:
            actions.append({"Update": self._session_update(tenant, record, model)})
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
            self._widen_session(tenant, session_id, record["requested_at"])
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

    def _session_update(self, tenant: str, record: dict[str, Any], model: str) -> dict[str, Any]:
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
                ":list": layout.sessions_pk(record["tenant_id"]),
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
            "Key": {"pk": tenant, "sk": layout.session_sk(record["session_id"])},
            "UpdateExpression": "ADD "
            + ", ".join(adds)
            + " SET first_at = if_not_exists(first_at, :at), last_at = if_not_exists(last_at, :at),"
            " gsi3sk = if_not_exists(gsi3sk, :order), gsi3pk = :list, session_id = :session, #type = :type",
            "ExpressionAttributeNames": {"#type": "type"},
            "ExpressionAttributeValues": values,
        }

    def _widen_session(self, tenant: str, session_id: str, at: str) -> None:
        """Moves the session's `last_at` forward, or its `first_at` back, to `at` (see the module doc)."""
        client = self.table.meta.client
        key = {"pk": tenant, "sk": layout.session_sk(session_id)}
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
            Key={"pk": layout.tenant_pk(tenant_id), "sk": layout.usage_sk(usage_id)}
        ).get("Item")
        return item or None

    def bodies(self, item: dict[str, Any]) -> Bodies:
        """The record's bodies from S3; None where not kept, deleted, or past the endpoint's retention
        (from `bodies_expire_at` on, whether or not S3's lifecycle has removed the objects yet)."""
        expire_at = item.get("bodies_expire_at")
        if expire_at is None or time.time() >= int(expire_at):
            return Bodies(None, None)
        request, response = self.body_store.read(str(item["tenant_id"]), str(item["id"])) or (None, None)
        return Bodies(_text(request), _text(response))

    def session_base(
        self, tenant_id: str, session_id: str, agent_id: str | None, before_id: str
    ) -> str | None:
        """The body base of the same agent's latest earlier call in a session (None: start a new one)."""
        response = self.table.query(
            IndexName="gsi3",
            KeyConditionExpression=Key("gsi3pk").eq(layout.usage_by_session_pk(tenant_id, session_id))
            & Key("gsi3sk").lt(layout.usage_sk(before_id)),
            ScanIndexForward=False,
            # A main agent's calls and its subagents' interleave: look a few calls back for this agent's.
            Limit=_BASE_LOOKBACK,
            ProjectionExpression="agent_id, bodies_base",
        )
        for item in response.get("Items", []):
            if item.get("agent_id") == agent_id:
                base = item.get("bodies_base")
                return str(base) if base else None
        return None

    def delete_bodies(self, items: Iterable[dict[str, Any]]) -> int:
        """Deletes the bodies of these records from S3 and their pointers from the records, which stay.
        A session base goes with the last record compressed against it. Returns how many had bodies."""
        deleted = 0
        keys: list[str] = []
        bases: set[tuple[str, str, str]] = set()  # (tenant, session, base name) of the records deleted
        client = self.table.meta.client
        for item in items:
            if item.get("bodies_expire_at") is None:
                continue
            tenant_id = str(item["tenant_id"])
            keys.append(self.body_store.call_key(tenant_id, str(item["id"])))
            if item.get("bodies_base") and item.get("session_id"):
                bases.add((tenant_id, str(item["session_id"]), str(item["bodies_base"])))
            with contextlib.suppress(client.exceptions.ConditionalCheckFailedException):
                self.table.update_item(
                    Key={"pk": item["pk"], "sk": item["sk"]},
                    UpdateExpression="REMOVE bodies_expire_at, bodies_base",
                    ConditionExpression="attribute_exists(bodies_expire_at)",
                )
                deleted += 1
        self.body_store.delete(keys)
        self.body_store.delete(
            self.body_store.base_key(tenant_id, base)
            for tenant_id, session_id, base in bases
            if not self._base_used(tenant_id, session_id, base)
        )
        return deleted

    def _base_used(self, tenant_id: str, session_id: str, base: str) -> bool:
        request: dict[str, Any] = {
            "IndexName": "gsi3",
            "KeyConditionExpression": Key("gsi3pk").eq(layout.usage_by_session_pk(tenant_id, session_id)),
            "FilterExpression": Attr("bodies_base").eq(base),
            "ProjectionExpression": "pk",
        }
        while True:
            response = self.table.query(**request)
            if response.get("Items"):
                return True
            if "LastEvaluatedKey" not in response:
                return False
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def _list_request(self, query: UsageQuery) -> tuple[dict[str, Any], str | None]:
        """The Query for a filtered list, newest first, on the most selective key: session, then
        endpoint, then credential, then the tenant; the other filters become a FilterExpression."""
        low = layout.usage_sk(lowest_id_at(query.start)) if query.start else "USAGE#"
        high = (
            layout.usage_sk(highest_id_at(query.end - timedelta(milliseconds=1))) if query.end else "USAGE#~"
        )
        request: dict[str, Any] = {}
        filters: list[ConditionBase] = []
        if query.session_id:
            request["IndexName"] = "gsi3"
            condition = Key("gsi3pk").eq(layout.usage_by_session_pk(query.tenant_id, query.session_id)) & Key(
                "gsi3sk"
            ).between(low, high)
            if query.proxy_endpoint_id:
                filters.append(Attr("proxy_endpoint_id").eq(query.proxy_endpoint_id))
            if query.api_key_id:
                filters.append(Attr("api_key_id").eq(query.api_key_id))
        elif query.proxy_endpoint_id:
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
        return request, request.get("IndexName")

    def list(self, query: UsageQuery, limit: int, start_key: dict[str, Any] | None) -> Page:
        request, index = self._list_request(query)

        def key_of(item: dict[str, Any]) -> dict[str, Any]:
            key = {"pk": item["pk"], "sk": item["sk"]}
            if index:
                key[f"{index}pk"] = item[f"{index}pk"]
                key[f"{index}sk"] = item[f"{index}sk"]
            return key

        page = self.query_page(request, limit, start_key, key_of)
        page.items = [public_record(item) for item in page.items]
        return page

    def iterate(
        self, query: UsageQuery, page_size: int = 500, oldest_first: bool = False
    ) -> Iterator[dict[str, Any]]:
        """Every matching record (as stored), one DynamoDB page at a time: memory stays at one page."""
        request, _ = self._list_request(query)
        request["ScanIndexForward"] = oldest_first
        request["Limit"] = page_size
        while True:
            response = self.table.query(**request)
            items, last_key = response.get("Items", []), response.get("LastEvaluatedKey")
            del response  # one page in memory at a time: nothing of it outlives its items
            yield from items
            del items
            if last_key is None:
                return
            request["ExclusiveStartKey"] = last_key

    def sessions(self, query: SessionQuery, limit: int, start_key: dict[str, Any] | None) -> Page:
        """The tenant's session aggregates, the most recently active first."""
        low = format_timestamp(query.start) if query.start else "0"
        high = format_timestamp(query.end - timedelta(milliseconds=1)) + "#~" if query.end else "~"
        request: dict[str, Any] = {
            "IndexName": "gsi3",
            "KeyConditionExpression": Key("gsi3pk").eq(layout.sessions_pk(query.tenant_id))
            & Key("gsi3sk").between(low, high),
        }
        if query.proxy_endpoint_id:
            request["FilterExpression"] = Attr("proxy_endpoint_ids").contains(query.proxy_endpoint_id)
        return self.query_page(
            request,
            limit,
            start_key,
            lambda item: {k: item[k] for k in ("pk", "sk", "gsi3pk", "gsi3sk")},
        )

    def session(self, tenant_id: str, session_id: str) -> dict[str, Any] | None:
        item = self.table.get_item(
            Key={"pk": layout.tenant_pk(tenant_id), "sk": layout.session_sk(session_id)}
        ).get("Item")
        return item or None

    def month_spend(self, tenant_id: str, endpoint_ids: Sequence[str], month: str) -> dict[str, Decimal]:
        """Cost (cents) of each endpoint's calls in a UTC month (`2026-03`); endpoints without calls: 0."""
        spend = {endpoint_id: Decimal(0) for endpoint_id in endpoint_ids}
        keys = [
            {"pk": layout.tenant_pk(tenant_id), "sk": layout.endpoint_month_sk(endpoint_id, month)}
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
        return self.tenant_range(tenant_id, low, high)
