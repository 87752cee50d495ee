"""The proxy app under a real uvicorn, with a proxy endpoint of its own, and its usage queue."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

import boto3

from shared.settings import Settings
from shared.usage_event import UsageEvent
from tests.fakes.servers import ServerThread


@dataclass
class UsageMessage:
    raw: str  # the SQS message body as sent
    event: UsageEvent


class UsageQueue:
    """Reads (and deletes) the usage messages the proxy sent."""

    def __init__(self, queue_url: str) -> None:
        self.queue_url = queue_url
        self.sqs = boto3.client("sqs")

    def _poll(self) -> list[UsageMessage]:
        reply = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        messages = []
        for message in reply.get("Messages", []):
            self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
            messages.append(
                UsageMessage(message["Body"], UsageEvent.model_validate(json.loads(message["Body"])))
            )
        return messages

    def receive(self, count: int = 1, timeout: float = 10.0) -> list[UsageMessage]:
        """Exactly `count` messages, waiting up to `timeout` for them to arrive."""
        messages: list[UsageMessage] = []
        deadline = time.monotonic() + timeout
        while len(messages) < count and time.monotonic() < deadline:
            batch = self._poll()
            messages += batch
            if not batch:
                time.sleep(0.02)
        assert len(messages) == count, f"expected {count} usage message(s), got {len(messages)}"
        return messages

    def receive_one(self, timeout: float = 10.0) -> UsageMessage:
        return self.receive(1, timeout)[0]

    def is_empty(self) -> bool:
        return not self._poll()


@dataclass
class RunningProxy:
    server: ServerThread
    settings: Settings
    endpoint: dict[str, Any]  # {id, name, slug, created_at}
    tenant_id: str
    queue: UsageQueue
    app: Any = field(repr=False)

    @property
    def url(self) -> str:
        """The server's root: `http://127.0.0.1:<port>`."""
        return self.server.url

    @property
    def slug(self) -> str:
        return str(self.endpoint["slug"])

    @property
    def base_url(self) -> str:
        """What a client uses as `ANTHROPIC_BASE_URL` (or the SDK's `base_url`)."""
        return f"{self.server.url}/proxy/{self.slug}"
