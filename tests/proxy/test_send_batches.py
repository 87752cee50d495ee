"""Usage messages of calls that end together share one SendMessageBatch; each still waits for its own."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from functions.proxy.send_batches import MAX_ENTRIES, SendBatches


class SlowQueue:
    """Records every request; the first send blocks until released, so others queue behind it."""

    def __init__(self, fail_ids: set[str] | None = None, broken: bool = False) -> None:
        self.requests: list[list[str]] = []
        self.release = threading.Event()
        self.fail_bodies = fail_ids or set()
        self.broken = broken

    def send_message(self, **request: Any) -> dict[str, Any]:
        self.requests.append([request["MessageBody"]])
        self.release.wait(5)
        if self.broken:
            raise ConnectionError("queue down")
        return {"MessageId": "1"}

    def send_message_batch(self, **request: Any) -> dict[str, Any]:
        entries = request["Entries"]
        self.requests.append([entry["MessageBody"] for entry in entries])
        if self.broken:
            raise ConnectionError("queue down")
        failed = [entry for entry in entries if entry["MessageBody"] in self.fail_bodies]
        return {
            "Successful": [{"Id": entry["Id"]} for entry in entries if entry not in failed],
            "Failed": [{"Id": entry["Id"], "Code": "InternalError"} for entry in failed],
        }


def _send_all(queue: SlowQueue, bodies: list[str]) -> list[BaseException | None]:
    batches = SendBatches(lambda: queue, "https://sqs.local/q")

    def send(body: str) -> BaseException | None:
        try:
            batches.send(body)
        except Exception as error:
            return error
        return None

    with ThreadPoolExecutor(len(bodies)) as pool:
        first = pool.submit(send, bodies[0])
        while not queue.requests:
            pass  # the first message is being sent: the others must queue behind it
        rest = [pool.submit(send, body) for body in bodies[1:]]
        threading.Timer(0.2, queue.release.set).start()
        return [first.result(), *(future.result() for future in rest)]


def test_a_lone_message_goes_at_once_with_send_message() -> None:
    queue = SlowQueue()
    queue.release.set()
    SendBatches(lambda: queue, "https://sqs.local/q").send("only")
    assert queue.requests == [["only"]]


def test_messages_queued_behind_a_send_go_together() -> None:
    queue = SlowQueue()
    bodies = [f"message {index}" for index in range(1 + MAX_ENTRIES + 3)]
    assert _send_all(queue, bodies) == [None] * len(bodies)
    assert queue.requests[0] == ["message 0"]
    assert [len(request) for request in queue.requests[1:]] == [MAX_ENTRIES, 3]
    assert sorted(body for request in queue.requests for body in request) == sorted(bodies)  # each once


def test_a_message_the_batch_did_not_take_raises_for_its_own_caller_only() -> None:
    queue = SlowQueue(fail_ids={"message 2"})
    errors = _send_all(queue, [f"message {index}" for index in range(4)])
    assert [error is None for error in errors] == [True, True, False, True]


def test_a_queue_that_is_down_fails_every_message_of_the_batch() -> None:
    queue = SlowQueue(broken=True)
    errors = _send_all(queue, [f"message {index}" for index in range(3)])
    assert all(isinstance(error, ConnectionError) for error in errors)
    with pytest.raises(ConnectionError):
        SendBatches(lambda: queue, "https://sqs.local/q").send("later")
