"""How a batch of usage records is written: in as few DynamoDB requests as the limits allow, once each.

A batch becomes transactions of up to 100 items (DynamoDB's limit): each record's conditional Put
(only if it does not exist yet, so a redelivered record changes nothing; its bodies are in S3, see
shared/bodies/), and one update per distinct aggregate the group's records count in, their ADDs summed (a
transaction may touch an item once, and one update of 25 records costs the table what one of one
does). A cancel that names existing records drops those records and retries the rest; a conflict or
throttling is retried in-process with jittered backoff, up to a bound; an error no retry can fix
splits the group so only the record that causes it fails (and, redelivered, ends in the DLQ).

A span (the first and last call of a session) is a minimum and a maximum, which an update expression
cannot compute. Calls mostly arrive in order, so the transaction moves a span forward itself: it sets
`last_at` (and the span's order key) on the condition that the item's `last_at` lies before the
batch's first call for it, or that the item is new (`first_at` then set with `if_not_exists`): one
write per spanned item. When that condition fails (calls out of order, or another batch of the
session got in first) the transaction is tried again with that item's bounds only set if missing,
and once the batch is in, one conditional update moves `last_at` forward (`last_at < :last`) and a
second moves `first_at` back only when the first one's answer shows it lies after the batch's first
call. Those run again on a redelivery (the batch's duplicates count), so a crash between the
transaction and them is mended by the retry; nothing ever moves a bound the wrong way.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from shared.store import layout
from shared.usage_record import TOKEN_KINDS

# A usage record as its item (shared/store/usage_records.py usage_item): keys and attributes as stored.
Record = dict[str, Any]
Action = dict[str, Any]

UNKNOWN_MODEL = "unknown"
MAX_TRANSACTION_ITEMS = 100  # DynamoDB's limit per TransactWriteItems


def _decimal(value: Any) -> Decimal:
    return Decimal(value) if value is not None else Decimal(0)


def model_of(record: Record) -> str:
    return record.get("model") or UNKNOWN_MODEL


def call_counts(record: Record) -> dict[str, Any]:
    """What every aggregate of calls adds up for one record."""
    counts: dict[str, Any] = {
        "requests": 1,
        "cost_cents": _decimal(record.get("cost_cents")),
        "cost_without_cache_cents": _decimal(record.get("cost_without_cache_cents")),
        "cost_unknown_requests": 1 if record.get("cost_unknown") else 0,
    }
    for name in TOKEN_KINDS:
        counts[name] = int(record.get(name) or 0)
    return counts


def _session_counts(record: Record) -> dict[str, Any]:
    subagent = record.get("agent") == "subagent"
    counts = call_counts(record)
    counts.update(
        subagent_requests=1 if subagent else 0,
        subagent_cost_cents=_decimal(record.get("cost_cents") if subagent else None),
        models={model_of(record)},
        proxy_endpoint_ids={record["proxy_endpoint_id"]},
    )
    if record.get("agent_id"):
        counts["agent_ids"] = {record["agent_id"]}
    return counts


@dataclass(frozen=True)
class Aggregate:
    """One kind of aggregate item: which one a record counts in, and what it adds there."""

    # The item's sort key (under the tenant's partition); None: the record does not count in this kind.
    sort_key: Callable[[Record], str | None]
    # Attributes SET on each write; the same for every record of one sort key.
    labels: Callable[[Record], dict[str, Any]]
    # Attributes ADDed: numbers are summed, sets joined.
    counts: Callable[[Record], dict[str, Any]] = call_counts
    # Kinds that keep their first and last call (`first_at`, `last_at`): the attributes that follow
    # `last_at` (given the record and that time). None: no span kept.
    span: Callable[[Record, str], dict[str, Any]] | None = None
    # The item's partition: the tenant's shard for the record's endpoint unless the kind says
    # otherwise (docs/data-model.md: one key takes about 1,000 write units a second).
    partition: Callable[[Record], str] = lambda r: layout.aggregate_pk(r["tenant_id"], r["proxy_endpoint_id"])


def _day_labels(record: Record) -> dict[str, Any]:
    return {
        "day": record["requested_at"][:10],
        "model": model_of(record),
        "proxy_endpoint_id": record["proxy_endpoint_id"],
    }


def _payer(record: Record) -> str:
    """Who a call's spend is put down to: its Claude Code developer, else the Anthropic credential."""
    developer_id = record.get("developer_id")
    return (
        layout.developer_payer(developer_id)
        if developer_id
        else layout.credential_payer(record.get("api_key_id"))
    )


def _payer_labels(record: Record) -> dict[str, Any]:
    labels = {"day": record["requested_at"][:10], "proxy_endpoint_id": record["proxy_endpoint_id"]}
    labels["payer"] = _payer(record)
    names = ("developer_id",) if record.get("developer_id") else ("api_key_id", "api_key_hint")
    labels.update({name: record[name] for name in names if record.get(name)})
    return labels


# Every aggregate a record counts in. A new kind is one more entry.
AGGREGATES: tuple[Aggregate, ...] = (
    # Per (tenant, day, endpoint, model): what the summary reads.
    Aggregate(
        sort_key=lambda r: layout.day_aggregate_sk(
            r["requested_at"][:10], r["proxy_endpoint_id"], model_of(r)
        ),
        labels=_day_labels,
    ),
    # Per (tenant, endpoint, day, model): one endpoint's summary, and (a month's days summed) the
    # spend its budget is checked against.
    Aggregate(
        sort_key=lambda r: layout.endpoint_aggregate_sk(
            r["proxy_endpoint_id"], r["requested_at"][:10], model_of(r)
        ),
        labels=_day_labels,
    ),
    # Per (tenant, session), for a Claude Code call: the sessions list, newest call first.
    Aggregate(
        sort_key=lambda r: layout.session_sk(r["session_id"]) if r.get("session_id") else None,
        labels=lambda r: {
            "gsi3pk": layout.sessions_pk(r["tenant_id"], r["session_id"]),
            "session_id": r["session_id"],
            "type": "session",
            **({"developer_id": r["developer_id"]} if r.get("developer_id") else {}),
        },
        counts=_session_counts,
        span=lambda r, last_at: {layout.INDEX_SORT_KEY: layout.session_order_sk(last_at, r["session_id"])},
        partition=lambda r: layout.session_pk(r["tenant_id"], r["session_id"]),
    ),
    # Per (tenant, day, endpoint, payer): spend by developer (docs/developers.md).
    Aggregate(
        sort_key=lambda r: layout.developer_day_aggregate_sk(
            r["requested_at"][:10], r["proxy_endpoint_id"], _payer(r)
        ),
        labels=_payer_labels,
    ),
    # Per (tenant, developer): what GET /api/developers lists (and names), newest call first.
    Aggregate(
        sort_key=lambda r: layout.developer_sk(r["developer_id"]) if r.get("developer_id") else None,
        labels=lambda r: {
            "gsi4pk": layout.developers_pk(r["tenant_id"]),
            "developer_id": r["developer_id"],
            "type": "developer",
        },
        counts=lambda r: {},
        span=lambda r, last_at: {
            layout.INDEX_SORT_KEY: layout.developer_order_sk(last_at, r["developer_id"])
        },
        # Named by the tenant and listed on its own; a developer's calls come one at a time or so.
        partition=lambda r: layout.tenant_pk(r["tenant_id"]),
    ),
)


@dataclass
class Entry:
    """One record of a batch to write."""

    record: Record  # its fields as the aggregates read them
    item: Record  # what is stored (shared/store/usage_records.py usage_item)

    @property
    def key(self) -> tuple[str, str]:
        return self.record["tenant_id"], self.record["id"]


def _record_put(table_name: str, entry: Entry) -> Action:
    return {
        "Put": {
            "TableName": table_name,
            "Item": entry.item,
            "ConditionExpression": "attribute_not_exists(pk)",
        }
    }


AggregateKey = tuple[int, str, str]  # (kind's position in AGGREGATES, pk, sk)


def _aggregate_keys(record: Record) -> Iterable[AggregateKey]:
    for kind, aggregate in enumerate(AGGREGATES):
        sort_key = aggregate.sort_key(record)
        if sort_key is not None:
            yield kind, aggregate.partition(record), sort_key


@dataclass
class _Merged:
    """One aggregate item's update for a group of records: their counts added up."""

    record: Record  # the first of them: labels are the same for all
    counts: dict[str, Any]
    first_at: str
    last_at: str
    last_record: Record

    def add(self, record: Record, counts: dict[str, Any]) -> None:
        for name, value in counts.items():
            if name not in self.counts:
                self.counts[name] = value
            elif isinstance(value, set):
                self.counts[name] = self.counts[name] | value
            else:
                self.counts[name] += value
        at = record["requested_at"]
        self.first_at = min(self.first_at, at)
        if at > self.last_at:
            self.last_at, self.last_record = at, record


def _merge(records: Iterable[Record]) -> dict[AggregateKey, _Merged]:
    merged: dict[AggregateKey, _Merged] = {}
    for record in records:
        for key in _aggregate_keys(record):
            counts = AGGREGATES[key[0]].counts(record)
            if key in merged:
                merged[key].add(record, counts)
            else:
                at = record["requested_at"]
                merged[key] = _Merged(record, dict(counts), at, at, record)
    return merged


def _update(table_name: str, key: AggregateKey, merged: _Merged, in_order: bool) -> Action:
    """The aggregate's update. `in_order`: a spanned item's bounds move forward here, on condition
    (see the module doc); else they are only set when missing, and widened after the transaction."""
    aggregate = AGGREGATES[key[0]]
    names: dict[str, str] = {}
    values: dict[str, Any] = {}

    def placeholders(prefix: str, name: str, value: Any) -> tuple[str, str]:
        index = len(names)
        names[f"#{prefix}{index}"] = name
        values[f":{prefix}{index}"] = value
        return f"#{prefix}{index}", f":{prefix}{index}"

    # ADD of an empty set is refused by DynamoDB; it adds nothing anyway.
    adds = [
        " ".join(placeholders("a", name, value))
        for name, value in merged.counts.items()
        if not (isinstance(value, set) and not value)
    ]
    sets = [
        "{} = {}".format(*placeholders("s", name, value))
        for name, value in aggregate.labels(merged.record).items()
    ]
    condition = None
    if aggregate.span is not None:
        first = placeholders("n", "first_at", merged.first_at)
        sets.append(f"{first[0]} = if_not_exists({first[0]}, {first[1]})")
        forward = {"last_at": merged.last_at, **aggregate.span(merged.last_record, merged.last_at)}
        for name, value in forward.items():
            placeholder, value_placeholder = placeholders("n", name, value)
            if in_order:
                sets.append(f"{placeholder} = {value_placeholder}")
            else:
                sets.append(f"{placeholder} = if_not_exists({placeholder}, {value_placeholder})")
        if in_order:
            last = placeholders("c", "last_at", merged.first_at)
            condition = f"attribute_not_exists({last[0]}) OR {last[0]} < {last[1]}"
    update: dict[str, Any] = {
        "TableName": table_name,
        "Key": {"pk": key[1], "sk": key[2]},
        "UpdateExpression": ("ADD " + ", ".join(adds) + " " if adds else "") + "SET " + ", ".join(sets),
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
    }
    if condition is not None:
        update["ConditionExpression"] = condition
    return {"Update": update}


@dataclass
class Transaction:
    actions: list[Action]
    owners: dict[int, int]  # action position -> the entry whose record Put it is
    spanned: dict[int, AggregateKey]  # action position -> the spanned item it moves forward


def transaction(
    table_name: str, entries: Sequence[Entry], unordered: frozenset[AggregateKey] = frozenset()
) -> Transaction:
    """The actions that write `entries` at once; the spanned items in `unordered` are widened after."""
    made = Transaction([], {}, {})
    for position, entry in enumerate(entries):
        made.owners[len(made.actions)] = position
        made.actions.append(_record_put(table_name, entry))
    for key, merged in _merge(entry.record for entry in entries).items():
        in_order = AGGREGATES[key[0]].span is not None and key not in unordered
        if in_order:
            made.spanned[len(made.actions)] = key
        made.actions.append(_update(table_name, key, merged, in_order))
    return made


def groups(entries: Sequence[Entry]) -> list[list[Entry]]:
    """`entries` cut, in order, into the fewest groups that each fit one transaction."""
    cut: list[list[Entry]] = []
    group: list[Entry] = []
    items = 0
    keys: set[AggregateKey] = set()
    for entry in entries:
        new_keys = set(_aggregate_keys(entry.record)) - keys
        if group and items + 1 + len(new_keys) > MAX_TRANSACTION_ITEMS:
            cut.append(group)
            group, items, keys = [], 0, set()
            new_keys = set(_aggregate_keys(entry.record))
        group.append(entry)
        items += 1 + len(new_keys)
        keys |= new_keys
    if group:
        cut.append(group)
    return cut


@dataclass(frozen=True)
class Retries:
    """How often, and how patiently, a transaction that conflicted or was throttled is tried again:
    full jitter (a random wait up to `base * 2**n`, at most `cap`), `attempts` tries in all."""

    attempts: int = 6
    base_seconds: float = 0.05
    cap_seconds: float = 1.0
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)

    def wait(self, attempt: int) -> None:
        self.sleep(random.uniform(0, min(self.cap_seconds, self.base_seconds * 2**attempt)))  # noqa: S311


# Errors that a later try can get past: conflicts with another transaction, throttling, AWS's own.
RETRYABLE_CODES = frozenset(
    {
        "TransactionConflict",
        "TransactionConflictException",
        "TransactionInProgressException",
        "ThrottlingError",
        "ThrottlingException",
        "ProvisionedThroughputExceeded",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
    }
)
_NO_REASON = frozenset({"None", "", None})


class Unfixable(Exception):
    """A transaction that retrying cannot get in (a bad record): the group is split to find which."""


Outcome = bool | Exception  # True: written; False: already there; an exception: not written


@dataclass
class Committed:
    outcomes: list[Outcome]  # per entry
    unordered: set[AggregateKey]  # spanned items the transaction did not move: widen them after


def commit(
    entries: Sequence[Entry], send: Callable[[list[Action]], None], table_name: str, retries: Retries
) -> Committed:
    """Writes `entries` as one transaction (retried as the module doc says); an outcome per entry."""
    outcomes: list[Outcome | None] = [None] * len(entries)
    pending = list(range(len(entries)))
    unordered: set[AggregateKey] = set()
    attempt = 0
    while pending:
        made = transaction(table_name, [entries[i] for i in pending], frozenset(unordered))
        try:
            send(made.actions)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code")
            reasons = [reason.get("Code") for reason in error.response.get("CancellationReasons") or []]
            failed = [i for i, reason in enumerate(reasons) if reason == "ConditionalCheckFailed"]
            existing = {pending[made.owners[i]] for i in failed if i in made.owners}
            behind = {made.spanned[i] for i in failed if i in made.spanned}
            if code == "TransactionCanceledException" and (existing or behind):
                for index in existing:
                    outcomes[index] = False  # written by an earlier delivery
                pending = [index for index in pending if index not in existing]
                unordered |= behind
                continue  # not an attempt: each round drops a record or orders a span no more
            retryable = code in RETRYABLE_CODES or (
                code == "TransactionCanceledException"
                and any(reason not in _NO_REASON for reason in reasons)
                and all(reason in _NO_REASON or reason in RETRYABLE_CODES for reason in reasons)
            )
            attempt += 1
            if not retryable:
                failure: Exception = Unfixable(f"{code}: {reasons or error}")
            elif attempt >= retries.attempts:
                failure = error
            else:
                retries.wait(attempt)
                continue
            for index in pending:
                outcomes[index] = failure
            break
        else:
            for index in pending:
                outcomes[index] = True
            break
    done = [outcome if outcome is not None else True for outcome in outcomes]
    return Committed(done, unordered)


@dataclass
class Span:
    """The first and last call of one spanned aggregate item over a batch's committed records."""

    key: AggregateKey
    first_at: str
    last_at: str
    follow: dict[str, Any]
    entries: list[int]  # positions in the batch of the records it covers


def spans(records: Sequence[Record | None]) -> list[Span]:
    """The spans to widen for the records (None: a record not committed, which widens nothing)."""
    found: dict[AggregateKey, Span] = {}
    for position, record in enumerate(records):
        if record is None:
            continue
        at = record["requested_at"]
        for key in _aggregate_keys(record):
            span = AGGREGATES[key[0]].span
            if span is None:
                continue
            if key not in found:
                found[key] = Span(key, at, at, span(record, at), [])
            kept = found[key]
            kept.entries.append(position)
            kept.first_at = min(kept.first_at, at)
            if at > kept.last_at:
                kept.last_at, kept.follow = at, span(record, at)
    return list(found.values())


def text_attribute(item: dict[str, Any], name: str) -> str | None:
    """An attribute's text from an item, deserialized ({"first_at": "..."}) or not ({"S": "..."})."""
    value = item.get(name)
    return value.get("S") if isinstance(value, dict) else value
