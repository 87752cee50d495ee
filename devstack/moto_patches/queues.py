"""For devstack's moto process: an SQS queue that is safe to use from several threads at once and
whose calls do not walk the whole backlog.

moto's server runs each request in a thread of its own, and its SQS is not made for that. In the 10,000
call soak (the proxy sending while four pollers receive and delete) one record in 9,500 went missing:
DeleteMessage rebuilds the queue's list of messages and puts it back, so a message SendMessage appends
meanwhile is dropped; concurrent receives also fail now and then ("Set changed size during
iteration"). Here every call on a queue holds that queue's own lock, the one SendMessage already
appends under and long polling waits on (a waiting ReceiveMessage lets the others in), so each call
sees the queue as one SQS call does.

Measured with py-spy on the soak's moto process, about 85 % of its time went to SQS bookkeeping over
every message in the queue, about 1 % to DynamoDB. In moto 5.2:

- every SendMessage builds all of the queue's attributes (only to read ContentBasedDeduplication),
  and three of them count the visible, in-flight and delayed messages: three walks of the backlog;
- every received message checks its retention period through GetQueueAttributes, which builds the
  attributes three times: nine walks per message, ninety per batch of ten;
- every DeleteMessage walks the queue twice to find the receipt handle;
- and each message looked at on those walks reads the clock twice, each read making two datetimes.

The load sends faster than the ingest drains, so the backlog grows to thousands of messages and every
call costs more: the whole loop (the proxy's sends too) slowed to a few calls a second, which looked
like the table growing. This keeps moto's queue, messages, receipt handles, visibility, receive
counts and redrive as they are and gives the same answers:

- the clock is read with `time.time()` (what moto's `unix_time()` computes, without the datetimes);
- while SendMessage and the retention check run, the three counts (which neither reads) are not
  counted; GetQueueAttributes from a client still counts them;
- DeleteMessage finds its message through the receipt handles handed out, not by walking the queue.

Nothing of the project is patched, and the tests' own moto is untouched.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from moto.sqs import models
from moto.sqs.exceptions import ReceiptHandleIsInvalid

_COUNTS = (
    "approximate_number_of_messages",
    "approximate_number_of_messages_not_visible",
    "approximate_number_of_messages_delayed",
)
_unread = threading.local()  # per moto request thread: the counts of the queue's attributes go unread
_by_receipt_handle: dict[str, Any] = {}  # every receipt handle handed out -> its message
_moto_unix_time = models.unix_time


def _unix_time(dt: Any = None) -> float:
    return time.time() if dt is None else _moto_unix_time(dt)


def _unix_time_millis(dt: Any = None) -> float:
    return _unix_time(dt) * 1000.0


@contextlib.contextmanager
def _counts_unread() -> Iterator[None]:
    previous = getattr(_unread, "active", False)
    _unread.active = True
    try:
        yield
    finally:
        _unread.active = previous


def _count_unless_unread(count: property) -> property:
    def fget(queue: Any) -> Any:
        return None if getattr(_unread, "active", False) else count.fget(queue)  # type: ignore[misc]

    return property(fget)


def _without_counts(method: Callable[..., Any]) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        with _counts_unread():
            return method(*args, **kwargs)

    return call


# Every SQSBackend call that reads or changes a queue's messages; each takes the queue's name first.
_QUEUE_CALLS = (
    "send_message",
    "send_message_batch",
    "receive_message",
    "delete_message",
    "delete_message_batch",
    "change_message_visibility",
    "change_message_visibility_batch",
    "get_queue_attributes",
    "set_queue_attributes",
    "purge_queue",
)


def _one_at_a_time(method: Callable[..., Any]) -> Callable[..., Any]:
    def call(backend: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            queue = backend.get_queue(args[0] if args else kwargs["queue_name"])
        except Exception:
            return method(backend, *args, **kwargs)  # moto's own error for an unknown queue
        # A Condition over an RLock: reentrant (a batch calls the single call), and released whole
        # while a long poll waits for messages.
        with queue._messages_lock:
            return method(backend, *args, **kwargs)

    return call


def install() -> None:
    models.unix_time = _unix_time  # type: ignore[assignment]
    models.unix_time_millis = _unix_time_millis  # type: ignore[assignment]
    for name in _COUNTS:
        setattr(models.Queue, name, _count_unless_unread(getattr(models.Queue, name)))
    backend = models.SQSBackend
    backend.send_message = _without_counts(backend.send_message)  # type: ignore[method-assign]
    backend.is_message_valid_based_on_retention_period = _without_counts(  # type: ignore[method-assign]
        backend.is_message_valid_based_on_retention_period
    )

    mark_received = models.Message.mark_received

    def mark_received_and_remember(message: Any, visibility_timeout: int | None = None) -> None:
        mark_received(message, visibility_timeout)
        _by_receipt_handle[message.receipt_handle] = message

    def delete_message(queue: Any, receipt_handle: str) -> None:
        """moto's Queue.delete_message, the message found by its handle instead of by two walks."""
        if receipt_handle in queue.deleted_messages:
            return  # already deleted: as in moto, deleting again is fine
        message = _by_receipt_handle.get(receipt_handle)
        if message is None or message not in queue._messages:  # an identity scan, in C
            raise ReceiptHandleIsInvalid()
        queue.pending_messages.discard(message)
        queue.deleted_messages.update(message.all_receipt_handles)
        for handle in message.all_receipt_handles:
            _by_receipt_handle.pop(handle, None)
        remaining = list(queue._messages)  # a new list, as in moto
        remaining.remove(message)
        queue._messages = remaining

    models.Message.mark_received = mark_received_and_remember  # type: ignore[assignment,method-assign]
    models.Queue.delete_message = delete_message  # type: ignore[assignment,method-assign]
    for name in _QUEUE_CALLS:
        setattr(backend, name, _one_at_a_time(getattr(backend, name)))
