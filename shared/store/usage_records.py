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
from dataclasses import dataclass, fields
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, get_args

from boto3.dynamodb.conditions import Attr, ConditionBase, Key

from shared import aws
from shared.ids import highest_id_at, lowest_id_at
from shared.store import layout
from shared.store.base import Page, Store
from shared.timefmt import format_timestamp, parse_timestamp
from shared.usage_record import (
    TOKEN_KINDS,
    Cents,
    Tokens,
    Totals,
    UsageRecord,
    literal_values,
    record_types,
    record_view,
)

UNKNOWN_MODEL = "unknown"

# Named outside the class, where `list` is the builtin and not the `list` method.
AggregateRows = list[dict[str, Any]]


def usage_item(record: UsageRecord) -> dict[str, Any]:
    """The record as its DynamoDB item: its keys, then one attribute a field (the token kinds flat,
    money as its 6-decimal string, times as ISO text; docs/data-model.md)."""
    tenant_id, usage_id = record.tenant_id, record.id
    item: dict[str, Any] = {
        "pk": layout.tenant_pk(tenant_id),
        "sk": layout.usage_sk(usage_id),
        "gsi1pk": layout.usage_by_endpoint_pk(tenant_id, record.proxy_endpoint_id),
        "gsi1sk": layout.usage_sk(usage_id),
        "type": "usage",
    }
    if record.api_key_id:
        item["gsi2pk"] = layout.usage_by_credential_pk(tenant_id, record.api_key_id)
        item["gsi2sk"] = layout.usage_sk(usage_id)
    if record.session_id:
        item["gsi3pk"] = layout.usage_by_session_pk(tenant_id, record.session_id)
        item["gsi3sk"] = layout.usage_sk(usage_id)
    return {**item, **record_view(record, None)}


def usage_record(item: dict[str, Any]) -> UsageRecord:
    """A usage record item back as the record; an attribute a record stored before its field
    existed (or stored null) takes the field's default. Every record has the fields without one."""
    values: dict[str, Any] = {}
    for spec in fields(UsageRecord):
        kind = record_types()[spec.name]
        if kind is Tokens:
            values[spec.name] = _tokens(item)
        elif item.get(spec.name) is not None:
            values[spec.name] = _field_value(kind, item[spec.name])
    return UsageRecord(**values)


def aggregate_totals(item: dict[str, Any]) -> Totals:
    """The counters an aggregate item (a day's, an endpoint's, a session's) has been ADDed (`_counters`)."""
    return Totals(
        requests=int(item.get("requests") or 0),
        cost_cents=Cents(Decimal(str(item.get("cost_cents") or 0))),
        cost_without_cache_cents=Cents(Decimal(str(item.get("cost_without_cache_cents") or 0))),
        cost_unknown_requests=int(item.get("cost_unknown_requests") or 0),
        tokens=_tokens(item),
    )


def _tokens(item: dict[str, Any]) -> Tokens:
    return Tokens(**{name: int(item.get(name) or 0) for name in TOKEN_KINDS})


def _field_value(kind: Any, value: Any) -> Any:
    """A stored attribute as the field type `kind` (DynamoDB numbers come back as Decimal)."""
    if isinstance(value, dict):
        return {key: int(count) for key, count in value.items()}
    allowed = literal_values(kind)
    if allowed:
        return value if value in allowed else None  # a value the type does not know is not shown
    if Cents in (kind, *get_args(kind)):
        return Cents.parse(value)
    if kind is datetime:
        return parse_timestamp(str(value))
    if kind is bool:
        return bool(value)
    if int in (kind, *get_args(kind)):
        return int(value)
    return value


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

    def write(self, usage: UsageRecord, inline_bodies: Bodies | None) -> bool:
        """Writes a record with its aggregates, once. False if it was already written."""
        record = usage_item(usage)  # the aggregates below read the record's attributes as stored
        tenant_id = record["tenant_id"]
        usage_id = record["id"]
        tenant = layout.tenant_pk(tenant_id)
        session_id = record.get("session_id")
        actions: list[dict[str, Any]] = [
            {
                "Put": {
                    "TableName": self.table_name,
                    "Item": record,
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
        for name in TOKEN_KINDS:
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

    def get(self, tenant_id: str, usage_id: str) -> UsageRecord | None:
        item = self.table.get_item(
            Key={"pk": layout.tenant_pk(tenant_id), "sk": layout.usage_sk(usage_id)}
        ).get("Item")
        return usage_record(item) if item else None

    def bodies(self, record: UsageRecord) -> Bodies:
        """The record's bodies, from its body item or from S3 (claim-check); None where missing."""
        request_body = response_body = None
        if record.bodies_inline:
            key = {"pk": layout.tenant_pk(record.tenant_id), "sk": layout.body_sk(record.id)}
            body = self.table.get_item(Key=key).get("Item") or {}
            request_body, response_body = body.get("request_body"), body.get("response_body")
        if record.request_body_key:
            request_body = self._object_text(record.request_body_key)
        if record.response_body_key:
            response_body = self._object_text(record.response_body_key)
        return Bodies(request_body, response_body)

    def _object_text(self, key: str) -> str | None:
        try:
            return str(aws.s3().get_object(Bucket=self.bucket, Key=key)["Body"].read().decode("utf-8"))
        except aws.s3().exceptions.NoSuchKey:
            return None

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
        page.items = [usage_record(item) for item in page.items]
        return page

    def iterate(
        self, query: UsageQuery, page_size: int = 500, oldest_first: bool = False
    ) -> Iterator[UsageRecord]:
        """Every matching record, one DynamoDB page at a time: memory stays at one page."""
        request, _ = self._list_request(query)
        request["ScanIndexForward"] = oldest_first
        request["Limit"] = page_size
        while True:
            response = self.table.query(**request)
            items, last_key = response.get("Items", []), response.get("LastEvaluatedKey")
            del response  # one page in memory at a time: nothing of it outlives its items
            yield from map(usage_record, items)
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
