"""A small thread-safe map whose entries expire: what one instance may remember between requests."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

Value = TypeVar("Value")


class ExpiringCache(Generic[Value]):
    def __init__(
        self, ttl_seconds: float, max_entries: int = 10_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl_seconds = ttl_seconds
        self.max_entries = max_entries
        self.clock = clock
        self._entries: OrderedDict[str, tuple[float, Value]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> Value | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            expires_at, value = entry
            if self.clock() >= expires_at:
                del self._entries[key]
                return None
            return value

    def put(self, key: str, value: Value) -> None:
        if self.ttl_seconds <= 0:
            return
        with self._lock:
            self._entries[key] = (self.clock() + self.ttl_seconds, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def discard_where(self, matches: Callable[[Value], bool]) -> None:
        with self._lock:
            for key in [key for key, (_, value) in self._entries.items() if matches(value)]:
                del self._entries[key]
