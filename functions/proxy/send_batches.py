"""Usage messages of calls that end together go to SQS together: one `SendMessageBatch` (up to 10
messages, 256 KiB) instead of one `SendMessage` each, which saves the proxy a boto3 call (about a
millisecond and a half of CPU) per message beyond the first.

No wait is added for it (group commit): a message goes at once when no send is under way, and
otherwise with the messages that queued behind that send. Each caller's thread returns once its own
message has been sent, or raises what kept it from being sent (the caller retries, then writes the
record itself: publisher.py), so a call still ends only after its message is on the queue.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import Any

MAX_ENTRIES = 10  # SQS's limits for one SendMessageBatch
MAX_BYTES = 256 * 1024


class _Entry:
    __slots__ = ("body", "done", "error", "size")

    def __init__(self, body: str) -> None:
        self.body = body
        self.size = len(body.encode())
        self.done = False
        self.error: Exception | None = None


class SendBatches:
    def __init__(self, sqs: Callable[[], Any], queue_url: str) -> None:
        self._sqs = sqs  # the client, made on first use
        self.queue_url = queue_url
        self._changed = threading.Condition()
        self._pending: deque[_Entry] = deque()
        self._sending = False  # one thread sends at a time; the others' messages wait for its next batch

    def send(self, body: str) -> None:
        """Blocking: returns once this message is on the queue; raises if it could not be sent."""
        entry = _Entry(body)
        with self._changed:
            self._pending.append(entry)
            while self._sending and not entry.done:
                self._changed.wait()
            leading = not entry.done
            if leading:
                self._sending = True
        if leading:
            try:
                while not entry.done:
                    with self._changed:
                        batch = self._take()
                    self._send(batch)
                    with self._changed:
                        self._changed.notify_all()
            finally:
                with self._changed:
                    self._sending = False
                    self._changed.notify_all()  # another waiting thread takes over what is left
        if entry.error is not None:
            raise entry.error

    def _take(self) -> list[_Entry]:
        batch = [self._pending.popleft()]
        size = batch[0].size
        while self._pending and len(batch) < MAX_ENTRIES and size + self._pending[0].size <= MAX_BYTES:
            size += self._pending[0].size
            batch.append(self._pending.popleft())
        return batch

    def _send(self, batch: list[_Entry]) -> None:
        """Marks every entry done, with the error that kept it off the queue if any; never raises."""
        try:
            if len(batch) == 1:
                self._sqs().send_message(QueueUrl=self.queue_url, MessageBody=batch[0].body)
            else:
                entries = [{"Id": str(index), "MessageBody": entry.body} for index, entry in enumerate(batch)]
                response = self._sqs().send_message_batch(QueueUrl=self.queue_url, Entries=entries)
                for failed in response.get("Failed", []):
                    batch[int(failed["Id"])].error = RuntimeError(
                        f"SendMessageBatch entry failed: {failed.get('Code')}"
                    )
        except Exception as error:
            for entry in batch:
                entry.error = error
        for entry in batch:
            entry.done = True
