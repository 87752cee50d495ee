"""A batch of usage messages written together: few transactions, each record once, aggregates as if
written one at a time."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from devstack.poller import LocalLambdaContext
from functions.usage_ingest.handler import handler
from shared.ingest import UsageIngest
from shared.settings import get_settings
from shared.store import layout
from shared.store.usage_records import UsageStore, usage_item
from shared.store.usage_writes import MAX_TRANSACTION_ITEMS, Retries
from shared.usage_event import UsageEvent
from tests.ingest.test_ingest import REQUESTED_AT, aggregate, sqs_batch, table, usage_event

SONNET = "claude-sonnet-4-5-20250929"
SESSIONS = ("5f0c7e2a-0000-4000-8000-00000000000a", "5f0c7e2a-0000-4000-8000-00000000000b")
AGENT = "a1b2c3d4-0000-4000-8000-000000000001"


class CountingStore(UsageStore):
    """The table, each TransactWriteItems counted; `failures`: cancel reasons the first tries get
    (one code per try, on every item, as DynamoDB answers a conflict or throttling)."""

    def __init__(self, failures: tuple[str, ...] = (), attempts: int = 6) -> None:
        self.waits: list[float] = []
        super().__init__(
            get_settings().table_name,
            get_settings().bodies_bucket,
            Retries(attempts, sleep=self.waits.append),
        )
        self.failures = list(failures)
        self.transactions: list[list[dict[str, Any]]] = []

    def _transact(self, actions: list[dict[str, Any]]) -> None:
        self.transactions.append(actions)
        if self.failures:
            code = self.failures.pop(0)
            raise ClientError(
                {
                    "Error": {"Code": "TransactionCanceledException", "Message": "Transaction cancelled"},
                    "CancellationReasons": [{"Code": code} for _ in actions],
                },
                "TransactWriteItems",
            )
        super()._transact(actions)


def varied_events(tenant: str, count: int = 24) -> list[UsageEvent]:
    """Calls over two days (and two months), two endpoints, three models, two sessions, a subagent."""
    fixtures = ("text-1h-cache.sse", "web-search-cumulative.sse", "thinking-tool-use-5m-cache.sse")
    events = []
    for index in range(count):
        at = REQUESTED_AT + timedelta(days=10 * (index % 2), minutes=index)
        overrides: dict[str, Any] = {"tenant": tenant, "endpoint": f"EP{index % 2}", "requested_at": at}
        if index % 3:
            overrides["session_header"] = SESSIONS[index % 2]
        if index % 5 == 0:
            overrides["agent_header"] = AGENT
        event = usage_event(fixtures[index % 3], **overrides)
        if index % 7 == 0:
            event.usage.model = "claude-imaginary-9"  # cost unknown
        events.append(event)
    return events


def record_of(event: UsageEvent) -> dict[str, Any]:
    """The call's record as the store writes it."""
    return usage_item(UsageIngest(UsageStore("unused", "unused")).build_record(event))


def aggregates(tenant: str) -> dict[str, dict[str, Any]]:
    """Every aggregate item of the tenant (each shard's, and the tenant's own), by sort key, the tenant's
    name made neutral."""
    partitions = [
        layout.tenant_pk(tenant),
        *layout.aggregate_pks(tenant),
        *(layout.session_pk(tenant, session) for session in SESSIONS),
    ]
    items = [
        item
        for pk in dict.fromkeys(partitions)
        for item in table().query(KeyConditionExpression=Key("pk").eq(pk))["Items"]
    ]
    found = {}
    for item in items:
        if item["sk"].startswith("USAGE#"):
            continue
        found[item["sk"]] = {k: v.replace(tenant, "T") if isinstance(v, str) else v for k, v in item.items()}
    return found


def test_a_batch_counts_in_every_aggregate_as_one_record_at_a_time_does(aws):
    one_at_a_time = UsageIngest(UsageStore(get_settings().table_name, get_settings().bodies_bucket))
    for event in varied_events("user_single"):
        assert one_at_a_time.ingest(event)
    store = CountingStore()
    batch = sqs_batch(*(event.model_dump_json() for event in varied_events("user_batch")))

    assert handler(batch, LocalLambdaContext(), ingest=UsageIngest(store)) == {"batchItemFailures": []}
    assert len(store.transactions) == 1
    single, batched = aggregates("user_single"), aggregates("user_batch")
    assert len(single) > 10
    assert batched == single


def test_a_batch_larger_than_one_transaction_is_cut_into_as_few_as_fit(aws):
    # Each call its own session: a record Put, its body Put and a session update apiece.
    events = [
        usage_event("text-1h-cache.sse", session_header=f"{i:08d}-0000-4000-8000-000000000000")
        for i in range(60)
    ]
    store = CountingStore()
    assert handler(
        sqs_batch(*(e.model_dump_json() for e in events)), LocalLambdaContext(), ingest=UsageIngest(store)
    ) == {"batchItemFailures": []}
    assert [len(actions) <= MAX_TRANSACTION_ITEMS for actions in store.transactions] == [True, True]
    assert aggregate("user_a", "2026-11-20", SONNET)["requests"] == 60


def test_the_same_message_twice_in_one_batch_counts_once(aws):
    event = usage_event("text-1h-cache.sse", session_header=SESSIONS[0])
    other = usage_event("text-1h-cache.sse", session_header=SESSIONS[0])
    batch = sqs_batch(event.model_dump_json(), other.model_dump_json(), event.model_dump_json())
    assert handler(batch, LocalLambdaContext()) == {"batchItemFailures": []}
    assert aggregate("user_a", "2026-11-20", SONNET)["requests"] == 2
    session = table().get_item(
        Key={"pk": layout.session_pk("user_a", SESSIONS[0]), "sk": layout.session_sk(SESSIONS[0])}
    )["Item"]
    assert session["requests"] == 2


def test_a_batch_mixing_stored_and_new_records_adds_only_the_new(aws):
    events = varied_events("user_a", count=10)
    handler(sqs_batch(*(e.model_dump_json() for e in events[:4])), LocalLambdaContext())
    store = CountingStore()
    ingest = UsageIngest(store)

    assert ingest.ingest_many(events) == [False] * 4 + [True] * 6
    # Tried whole, cancelled naming the four stored records, tried again without them.
    assert len(store.transactions) == 2 and store.waits == []
    assert ingest.ingest_many(events) == [False] * 10  # and again: nothing changes
    one_at_a_time = UsageIngest(UsageStore(get_settings().table_name, get_settings().bodies_bucket))
    for event in varied_events("user_b", count=10):
        one_at_a_time.ingest(event)
    assert aggregates("user_a") == aggregates("user_b")


def test_a_redelivered_batch_changes_nothing(aws):
    batch = sqs_batch(*(e.model_dump_json() for e in varied_events("user_a")))
    handler(batch, LocalLambdaContext())
    before = aggregates("user_a")
    assert handler(batch, LocalLambdaContext()) == {"batchItemFailures": []}
    assert aggregates("user_a") == before


@pytest.mark.parametrize("reason", ["TransactionConflict", "ThrottlingError"])
def test_a_conflict_or_throttling_is_retried_in_process_with_jitter(aws, reason):
    events = varied_events("user_a", count=5)
    store = CountingStore(failures=(reason, reason))
    assert UsageIngest(store).ingest_many(events) == [True] * 5
    assert len(store.transactions) == 3
    assert len(store.waits) == 2 and all(0 <= wait <= 0.2 for wait in store.waits)
    assert aggregate("user_a", "2026-11-20", SONNET, endpoint="EP0")["requests"] >= 1


def test_retries_are_bounded_and_then_the_messages_come_back(aws):
    events = varied_events("user_a", count=3)
    store = CountingStore(failures=("TransactionConflict",) * 10, attempts=4)
    batch = sqs_batch(*(e.model_dump_json() for e in events))
    result = handler(batch, LocalLambdaContext(), ingest=UsageIngest(store))
    assert result == {"batchItemFailures": [{"itemIdentifier": f"m{i}"} for i in range(3)]}
    assert len(store.transactions) == 4 and len(store.waits) == 3
    assert aggregates("user_a") == {}


def test_a_batch_moves_a_session_s_first_call_back_and_its_last_forward(aws):
    def call(minutes: int) -> UsageEvent:
        return usage_event(
            "text-1h-cache.sse",
            session_header=SESSIONS[0],
            requested_at=REQUESTED_AT + timedelta(minutes=minutes),
        )

    handler(sqs_batch(call(10).model_dump_json(), call(20).model_dump_json()), LocalLambdaContext())
    handler(sqs_batch(*(call(m).model_dump_json() for m in (15, 5, 30))), LocalLambdaContext())
    key = {"pk": layout.session_pk("user_a", SESSIONS[0]), "sk": layout.session_sk(SESSIONS[0])}
    session = table().get_item(Key=key)["Item"]
    assert (session["first_at"], session["last_at"]) == (
        "2026-11-20T09:35:15.250Z",
        "2026-11-20T10:00:15.250Z",
    )
    assert session["gsisk"] == layout.session_order_sk(session["last_at"], SESSIONS[0])
    assert session["requests"] == 5

    # Only older calls: `last_at` stays (its update's condition fails) and `first_at` moves back.
    handler(sqs_batch(call(1).model_dump_json(), call(25).model_dump_json()), LocalLambdaContext())
    session = table().get_item(Key=key)["Item"]
    assert (session["first_at"], session["last_at"]) == (
        "2026-11-20T09:31:15.250Z",
        "2026-11-20T10:00:15.250Z",
    )
    assert session["gsisk"] == layout.session_order_sk(session["last_at"], SESSIONS[0])


def test_calls_in_order_move_their_session_forward_in_the_transaction_alone(aws):
    def call(minutes: int) -> str:
        at = REQUESTED_AT + timedelta(minutes=minutes)
        return usage_event("text-1h-cache.sse", session_header=SESSIONS[1], requested_at=at).model_dump_json()

    store = CountingStore()
    widened: list[Any] = []
    widen = store._widen
    store._widen = lambda span: (widened.append(span.key), widen(span))[1]  # type: ignore[method-assign]
    for batch in ((call(1), call(2)), (call(3),), (call(5), call(4))):
        handler(sqs_batch(*batch), LocalLambdaContext(), ingest=UsageIngest(store))
    # Each batch after the session's last call: one transaction, nothing written after it.
    assert (len(store.transactions), widened) == (3, [])

    handler(sqs_batch(call(0)), LocalLambdaContext(), ingest=UsageIngest(store))
    # A call before the session's last: its condition cancels the first try, the second counts it,
    # then the bounds are widened.
    assert len(store.transactions) == 5
    assert [key[2] for key in widened] == [layout.session_sk(SESSIONS[1])]
    key = {"pk": layout.session_pk("user_a", SESSIONS[1]), "sk": layout.session_sk(SESSIONS[1])}
    session = table().get_item(Key=key)["Item"]
    assert session["requests"] == 6
    assert (session["first_at"], session["last_at"]) == (
        "2026-11-20T09:30:15.250Z",
        "2026-11-20T09:35:15.250Z",
    )
    assert session["gsisk"] == layout.session_order_sk(session["last_at"], SESSIONS[1])
