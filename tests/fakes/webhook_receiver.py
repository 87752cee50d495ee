"""A chat webhook stand-in (Slack's incoming webhooks accept a JSON POST): a real HTTP server on
loopback that keeps what it was sent, and can be told to fail or to be slow first."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from starlette.types import Receive, Scope, Send

from tests.fakes.servers import read_body


@dataclass
class WebhookReceiver:
    url: str = ""
    received: list[dict[str, Any]] = field(default_factory=list)  # payloads answered 200
    attempts: int = 0  # every POST, failed ones included
    fail_next: int = 0  # answer this many POSTs with `fail_status` first
    fail_status: int = 503
    delay_seconds: float = 0.0  # before answering each POST

    def reset(self) -> None:
        self.received.clear()
        self.attempts = self.fail_next = 0
        self.fail_status = 503
        self.delay_seconds = 0.0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        body = await read_body(receive)
        self.attempts += 1
        if self.delay_seconds:
            await asyncio.sleep(self.delay_seconds)
        status = 200
        if self.fail_next:
            self.fail_next -= 1
            status = self.fail_status
        else:
            self.received.append(json.loads(body))
        await send(
            {"type": "http.response.start", "status": status, "headers": [(b"content-type", b"text/plain")]}
        )
        await send({"type": "http.response.body", "body": b"ok" if status == 200 else b"no"})
