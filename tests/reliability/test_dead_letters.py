"""The ingest when the table fails or a message is poison: the real (moto) queue, its RedrivePolicy
(dead-letter queue after 5 receives) and the poller that feeds the handler as Lambda does; then
`codecosts redrive-dlq`.

The queue's visibility timeout is set to 0 here so that a failed message comes back at once instead
of after 3 minutes: the five receives take milliseconds.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from codecosts_cli.main import main as codecosts
from devstack.rehearsal import Rehearsal
from tests.ingest.test_ingest import usage_event
from tests.reliability.conftest import CapturedLogs
from tests.reliability.support import (
    ThrottledStore,
    aggregate_requests,
    poll_until_empty,
    poller,
    queue_bodies,
    usage_items,
)

MAX_RECEIVES = 5  # shared/resources.py USAGE_QUEUE.max_receive_count


def dead_letter_count(resources: Rehearsal) -> int:
    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=resources.dead_letter_queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def test_a_throttled_write_is_retried_in_the_same_delivery_and_counts_once(redrive_env: Rehearsal) -> None:
    event = usage_event("text-1h-cache.sse")
    boto3.client("sqs").send_message(
        QueueUrl=redrive_env.usage_queue_url, MessageBody=event.model_dump_json()
    )
    store = ThrottledStore(failures=2)
    assert poll_until_empty(poller(redrive_env.usage_queue_url, store)) == 1
    assert store.attempts == 3
    assert [item["id"] for item in usage_items("user_a")] == [event.id]
    assert aggregate_requests("user_a") == 1
    assert dead_letter_count(redrive_env) == 0


def test_a_write_that_committed_before_failing_is_not_counted_twice(redrive_env: Rehearsal) -> None:
    event = usage_event("text-1h-cache.sse")
    boto3.client("sqs").send_message(
        QueueUrl=redrive_env.usage_queue_url, MessageBody=event.model_dump_json()
    )
    store = ThrottledStore(failures=2, after_commit=True)
    assert poll_until_empty(poller(redrive_env.usage_queue_url, store)) == 1
    assert len(usage_items("user_a")) == 1
    assert aggregate_requests("user_a") == 1


def test_a_table_that_keeps_failing_parks_the_message_after_five_receives_and_redrive_ingests_it_once(
    redrive_env: Rehearsal, captured_logs: CapturedLogs, capsys: pytest.CaptureFixture[str]
) -> None:
    event = usage_event("text-1h-cache.sse")
    sqs = boto3.client("sqs")
    sqs.send_message(QueueUrl=redrive_env.usage_queue_url, MessageBody=event.model_dump_json())
    store = ThrottledStore(failures=1_000)
    # Each receive retries in-process up to the bound, then reports the message in batchItemFailures;
    # the sixth receive finds it gone to the DLQ.
    assert poll_until_empty(poller(redrive_env.usage_queue_url, store)) == MAX_RECEIVES
    assert store.attempts == MAX_RECEIVES * store.retries.attempts
    assert dead_letter_count(redrive_env) == 1
    assert usage_items("user_a") == [] and aggregate_requests("user_a") == 0

    # The table is back: the operator sends the parked message back, and it is ingested once.
    assert codecosts(["redrive-dlq"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "Redriven to the usage queue: 1",
        "Left in the dead-letter queue: 0",
    ]
    assert dead_letter_count(redrive_env) == 0
    poll_until_empty(poller(redrive_env.usage_queue_url))
    assert [item["id"] for item in usage_items("user_a")] == [event.id]
    assert aggregate_requests("user_a") == 1

    # Redriven twice (the same message parked again by an earlier failure): still counted once.
    sqs.send_message(QueueUrl=redrive_env.dead_letter_queue_url, MessageBody=event.model_dump_json())
    assert codecosts(["redrive-dlq"]) == 0
    poll_until_empty(poller(redrive_env.usage_queue_url))
    assert len(usage_items("user_a")) == 1 and aggregate_requests("user_a") == 1


def test_poison_messages_are_parked_with_the_reason_and_redrive_leaves_them_there(
    redrive_env: Rehearsal, captured_logs: CapturedLogs
) -> None:
    sqs = boto3.client("sqs")
    good = usage_event("text-1h-cache.sse")
    future = good.model_dump(mode="json") | {"v": 2, "id": "future"}
    bodies = ["not json at all: CANARY-BODY", '{"v": 2, "canary": "CANARY-BODY"}', '["CANARY-BODY"]']
    for body in (*bodies, good.model_dump_json()):
        sqs.send_message(QueueUrl=redrive_env.usage_queue_url, MessageBody=body)
    assert poll_until_empty(poller(redrive_env.usage_queue_url)) == MAX_RECEIVES
    assert [item["id"] for item in usage_items("user_a")] == [good.id]  # the good one was not held back
    assert dead_letter_count(redrive_env) == len(bodies)

    rejected = [line for line in captured_logs.lines("ERROR") if "Usage message rejected" in line]
    assert len(rejected) == len(bodies) * MAX_RECEIVES
    reasons = "\n".join(rejected)
    assert '"reason":"not JSON"' in reasons
    assert "unknown schema version '2' (this ingest reads 1)" in reasons
    assert '"reason":"not a JSON object"' in reasons
    assert "CANARY-BODY" not in captured_logs.text  # why, never what

    # An operator's fix for one of them (say a message rewritten by hand) goes back in beside them.
    fixed = {**future, "v": 1, "id": usage_event("text-1h-cache.sse").id}
    sqs.send_message(QueueUrl=redrive_env.dead_letter_queue_url, MessageBody=json.dumps(fixed))
    script = Path(sys.executable).with_name("codecosts")
    run = subprocess.run(
        [str(script), "redrive-dlq"], capture_output=True, text=True, timeout=60, check=False
    )
    assert run.returncode == 1, run.stderr
    lines = run.stdout.splitlines()
    assert lines[:2] == ["Redriven to the usage queue: 1", "Left in the dead-letter queue: 3"]
    assert sorted(line.split(": ", 1)[1] for line in lines[2:]) == [
        "not JSON",
        "not a JSON object",
        "unknown schema version '2' (this ingest reads 1)",
    ]
    assert dead_letter_count(redrive_env) == len(bodies)  # left where they were, visible again
    assert len(queue_bodies(redrive_env.dead_letter_queue_url)) == len(bodies)
    poll_until_empty(poller(redrive_env.usage_queue_url))
    assert sorted(item["id"] for item in usage_items("user_a")) == sorted([good.id, fixed["id"]])
    assert aggregate_requests("user_a") == 2
