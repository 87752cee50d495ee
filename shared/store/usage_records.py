"""Usage records, their bodies, and the daily aggregates the summary reads.

Records are written in batches (shared/store/usage_writes.py): each record once (a redelivered
message changes nothing), and ADDs to the aggregates: per (tenant, day, model),
per (tenant, endpoint, day, model), per (tenant, endpoint, UTC month) (what budgets are checked
against) and, for a Claude Code call, per (tenant, session), with the session's first and last call.
"""

from __future__ import annotations

import calendar
import contextlib
import contextvars
import time
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import MISSING, dataclass, fields
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, get_args

from boto3.dynamodb.conditions import Attr, ConditionBase, Key

from shared.ids import highest_id_at, lowest_id_at
from shared.resources import BODIES_BUCKET
from shared.store import layout, shards
from shared.store.base import Page, Store
from shared.store.shards import ShardedQuery
from shared.store.usage_writes import (
    AggregateKey,
    Entry,
    Outcome,
    Retries,
    Span,
    Unfixable,
    commit,
    groups,
    spans,
    text_attribute,
)
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

if TYPE_CHECKING:
    from shared.bodies.store import BodyStore

# Endpoints whose month spend is read at once (the API's endpoint list reads a page of them).
_MONTH_SPEND_READERS = 8
_BASE_LOOKBACK = 8

# Named outside the class, where `list` is the builtin and not the `list` method.
AggregateRows = list[dict[str, Any]]


# Every field as an item of a record that says nothing: what an absent attribute reads back as.
_ABSENT = record_view(
    UsageRecord(id="", tenant_id="", proxy_endpoint_id="", status_code=0, requested_at=datetime(1970, 1, 1)),
    None,
)
_REQUIRED = {
    spec.name for spec in fields(UsageRecord) if spec.default is MISSING and spec.default_factory is MISSING
}


def _derivable(record: UsageRecord, name: str, value: Any) -> bool:
    """A field `usage_record` reads back from another attribute of the item: not stored twice."""
    if name in ("id", "session_id"):
        return True  # the sort key; the session's index key (gsi3pk)
    version = record.price_version
    return name == "price_snapshot" and version is not None and version.startswith(f"{value}; ")


def usage_item(record: UsageRecord) -> dict[str, Any]:
    """The record as its DynamoDB item: its keys, then one attribute a field (the token kinds flat,
    money as its 6-decimal string, times as ISO text; docs/data-model.md). A field at its default
    (null, false, zero) is left out, as `usage_record` reads an absent attribute as the default, and so
    is a field another attribute holds (the id, the session, the price data's name): a Claude Code
    call's item stays under 1 KB, where a write costs one unit in the table and in each index, not two."""
    tenant_id, usage_id = record.tenant_id, record.id
    item: dict[str, Any] = {
        "pk": layout.usage_pk(tenant_id, usage_id),
        "sk": layout.usage_sk(usage_id),
        "gsi1pk": layout.usage_by_endpoint_pk(tenant_id, record.proxy_endpoint_id, usage_id),
        layout.INDEX_SORT_KEY: layout.usage_sk(usage_id),  # the sort key in every index the record is in
        "type": "usage",
    }
    if record.api_key_id:
        item["gsi2pk"] = layout.usage_by_credential_pk(tenant_id, record.api_key_id, usage_id)
    if record.session_id:
        item["gsi3pk"] = layout.usage_by_session_pk(tenant_id, record.session_id)
    if record.developer_id:
        item["gsi4pk"] = layout.usage_by_developer_pk(tenant_id, record.developer_id)
    stored = {
        name: value
        for name, value in record_view(record, None).items()
        if (name in _REQUIRED or value != _ABSENT[name]) and not _derivable(record, name, value)
    }
    return {**item, **stored}


def usage_record(item: dict[str, Any]) -> UsageRecord:
    """A usage record item back as the record; an attribute a record stored before its field
    existed (or stored null) takes the field's default. Every record has the fields without one."""
    item = {**item, "id": item["sk"].removeprefix(layout.usage_sk(""))}
    if "gsi3pk" in item and "session_id" not in item:
        item["session_id"] = item["gsi3pk"].removeprefix(layout.usage_by_session_pk(item["tenant_id"], ""))
    if item.get("price_version") and "price_snapshot" not in item:
        item["price_snapshot"] = str(item["price_version"]).partition("; ")[0]
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


def _text(body: bytes | None) -> str | None:
    return None if body is None else body.decode("utf-8")


@dataclass
class UsageQuery:
    tenant_id: str
    start: datetime | None = None  # inclusive
    end: datetime | None = None  # exclusive
    model_prefix: str | None = None
    proxy_endpoint_id: str | None = None
    api_key_id: str | None = None
    session_id: str | None = None
    developer_id: str | None = None


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
    def __init__(self, table_name: str, bucket: str, retries: Retries | None = None) -> None:
        super().__init__(table_name)
        self.bucket = bucket
        self.retries = retries or Retries()
        self._body_store: BodyStore | None = None

    @property
    def body_store(self) -> BodyStore:
        """Made on first use: the bill check reads spend through this store, never a body."""
        if self._body_store is None:
            from shared.bodies.store import BodyStore

            self._body_store = BodyStore(self.bucket, BODIES_BUCKET.bodies_prefix)
        return self._body_store

    def write(self, usage: UsageRecord) -> bool:
        """Writes a record with its aggregates, once. False if it was already written."""
        outcome = self.write_many([usage])[0]
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def write_many(self, batch: Sequence[UsageRecord]) -> list[Outcome]:
        """Writes records with their aggregates, once each, in as few transactions as fit
        (shared/store/usage_writes.py). An outcome per record, in order: True written, False already
        there (written before, or earlier in this batch), or the exception that kept it out."""
        stored = [usage_item(record) for record in batch]
        # The aggregates read the fields as stored, and the two the item holds in its keys.
        items = [
            {**item, "id": record.id, "session_id": record.session_id}
            for record, item in zip(batch, stored, strict=True)
        ]
        entries: dict[tuple[str, str], Entry] = {}
        for item, kept in zip(items, stored, strict=True):
            entries.setdefault((item["tenant_id"], item["id"]), Entry(item, kept))
        committed: dict[tuple[str, str], Outcome] = {}
        unordered: set[AggregateKey] = set()
        for group in groups(list(entries.values())):
            outcomes_of_group = self._commit(group, unordered)
            committed.update(zip((entry.key for entry in group), outcomes_of_group, strict=True))
        outcomes: list[Outcome] = []
        seen: set[tuple[str, str]] = set()
        for item in items:
            key = (item["tenant_id"], item["id"])
            outcome = committed[key]
            # The same message twice in one batch: the second follows the first, and adds nothing.
            outcomes.append(False if outcome is True and key in seen else outcome)
            seen.add(key)
        committed_records = [
            None if isinstance(outcome, Exception) else item
            for item, outcome in zip(items, outcomes, strict=True)
        ]
        for span in spans(committed_records):
            if span.key not in unordered:
                continue  # moved forward in its transaction
            try:
                self._widen(span)
            except Exception as error:  # each record it covers fails, and is retried alone
                for position in span.entries:
                    outcomes[position] = error
        return outcomes

    def _commit(self, group: list[Entry], unordered: set[AggregateKey]) -> list[Outcome]:
        """The group's outcomes; adds to `unordered` the spanned items its transactions left behind."""
        committed = commit(group, self._transact, self.table_name, self.retries)
        unordered |= committed.unordered
        outcomes = committed.outcomes
        if len(group) > 1 and any(isinstance(outcome, Unfixable) for outcome in outcomes):
            # One record the table refuses: each of the group's others gets in on its own.
            return [
                self._commit([entry], unordered)[0] if isinstance(outcome, Unfixable) else outcome
                for entry, outcome in zip(group, outcomes, strict=True)
            ]
        return outcomes

    def _transact(self, actions: list[dict[str, Any]]) -> None:
        """One TransactWriteItems (the seam where tests make the table fail)."""
        self.table.meta.client.transact_write_items(TransactItems=actions)

    def _widen(self, span: Span) -> None:
        """Moves the item's `last_at` forward and its `first_at` back to the span (see usage_writes)."""
        client = self.table.meta.client
        key = {"pk": span.key[1], "sk": span.key[2]}
        follow = {f"#f{i}": name for i, name in enumerate(span.follow)}
        follow_values = {f":f{i}": value for i, value in enumerate(span.follow.values())}
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "Key": key,
            "UpdateExpression": "SET last_at = :last" + "".join(f", {n} = :{n[1:]}" for n in follow),
            "ConditionExpression": "last_at < :last",
            "ExpressionAttributeValues": {":last": span.last_at, **follow_values},
            # Either way the answer carries `first_at`, which says whether it must move back.
            "ReturnValues": "ALL_OLD",
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        if follow:
            request["ExpressionAttributeNames"] = follow
        try:
            old = client.update_item(**request).get("Attributes", {})
        except client.exceptions.ConditionalCheckFailedException as error:
            old = error.response.get("Item") or {}
        first_at = text_attribute(old, "first_at")
        if first_at is None or first_at <= span.first_at:
            return
        with contextlib.suppress(client.exceptions.ConditionalCheckFailedException):
            client.update_item(
                TableName=self.table_name,
                Key=key,
                UpdateExpression="SET first_at = :first",
                ConditionExpression="first_at > :first",
                ExpressionAttributeValues={":first": span.first_at},
            )

    def get(self, tenant_id: str, usage_id: str) -> UsageRecord | None:
        item = self.table.get_item(
            Key={"pk": layout.usage_pk(tenant_id, usage_id), "sk": layout.usage_sk(usage_id)}
        ).get("Item")
        return usage_record(item) if item else None

    def bodies(self, record: UsageRecord) -> Bodies:
        """The record's bodies from S3; None where not kept, deleted, or past the endpoint's retention
        (from `bodies_expire_at` on, whether or not S3's lifecycle has removed the objects yet)."""
        expire_at = record.bodies_expire_at
        if expire_at is None or time.time() >= int(expire_at):
            return Bodies(None, None)
        request, response = self.body_store.read(record.tenant_id, record.id) or (None, None)
        return Bodies(_text(request), _text(response))

    def session_base(
        self, tenant_id: str, session_id: str, agent_id: str | None, before_id: str
    ) -> str | None:
        """The body base of the same agent's latest earlier call in a session (None: start a new one)."""
        response = self.table.query(
            IndexName="gsi3",
            KeyConditionExpression=Key("gsi3pk").eq(layout.usage_by_session_pk(tenant_id, session_id))
            & Key(layout.INDEX_SORT_KEY).lt(layout.usage_sk(before_id)),
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

    def delete_bodies(self, records: Iterable[UsageRecord]) -> int:
        """Deletes the bodies of these records from S3 and their pointers from the records, which stay.
        A session base goes with the last record compressed against it. Returns how many had bodies."""
        deleted = 0
        keys: list[str] = []
        bases: set[tuple[str, str, str]] = set()  # (tenant, session, base name) of the records deleted
        client = self.table.meta.client
        for record in records:
            if record.bodies_expire_at is None:
                continue
            tenant_id = record.tenant_id
            keys.append(self.body_store.call_key(tenant_id, record.id))
            if record.bodies_base and record.session_id:
                bases.add((tenant_id, record.session_id, record.bodies_base))
            with contextlib.suppress(client.exceptions.ConditionalCheckFailedException):
                self.table.update_item(
                    Key={"pk": layout.usage_pk(tenant_id, record.id), "sk": layout.usage_sk(record.id)},
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

    def _list_query(self, query: UsageQuery) -> ShardedQuery:
        """The Query for a filtered list on the most selective key: session, then developer, then
        endpoint, then credential, then the tenant (endpoint, credential and tenant sharded); the
        other filters filter."""
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
            if query.developer_id:
                filters.append(Attr("developer_id").eq(query.developer_id))
        elif query.developer_id:
            # One developer makes one call at a time or so: its list is not sharded.
            index, pks = "gsi4", [layout.usage_by_developer_pk(query.tenant_id, query.developer_id)]
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
        page.items = [usage_record(item) for item in page.items]
        return page

    def iterate(
        self, query: UsageQuery, page_size: int = 500, oldest_first: bool = False
    ) -> Iterator[UsageRecord]:
        """Every matching record, one DynamoDB page per shard at a time."""
        return map(usage_record, shards.iterate(self, self._list_query(query), page_size, oldest_first))

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
        """Cost (cents) of each endpoint's calls in a UTC month (`2026-03`); endpoints without calls: 0.

        The sum of the endpoint's day aggregates in the month (the rows its summary reads: at most
        a month's days x its models, small items), several endpoints read at once. Cheaper than a
        month item of its own, which every batch of records would write to as well."""
        unique = list(dict.fromkeys(endpoint_ids))
        if len(unique) <= 1:
            return {endpoint_id: self._month_spend(tenant_id, endpoint_id, month) for endpoint_id in unique}
        with ThreadPoolExecutor(max_workers=min(_MONTH_SPEND_READERS, len(unique))) as pool:
            # Each read in a copy of the caller's context: whose credentials sign it (shared.aws
            # running_as) goes along, as it does into asyncio's worker threads.
            reads = [
                pool.submit(contextvars.copy_context().run, self._month_spend, tenant_id, endpoint_id, month)
                for endpoint_id in unique
            ]
            return {endpoint_id: read.result() for endpoint_id, read in zip(unique, reads, strict=True)}

    def _month_spend(self, tenant_id: str, endpoint_id: str, month: str) -> Decimal:
        first = date.fromisoformat(f"{month}-01")
        last = first.replace(day=calendar.monthrange(first.year, first.month)[1])
        rows = self.aggregates(tenant_id, first, last, endpoint_id)
        return sum((Decimal(str(row.get("cost_cents") or 0)) for row in rows), Decimal(0))

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
