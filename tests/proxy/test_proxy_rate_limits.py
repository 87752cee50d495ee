"""Per-endpoint limits on the proxy: 300 messages a minute, then 429 before the upstream is called."""

from __future__ import annotations

import httpx

from functions.proxy.publisher import CallRecord, UsagePublisher
from shared.settings import get_settings
from shared.store.rate_limits import WINDOW_SECONDS, RateLimiter

WINDOW = 1_800_000_000 // WINDOW_SECONDS * WINDOW_SECONDS
REQUEST = b'{"model":"claude-haiku-4-5","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}'


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class KeptRecords(UsagePublisher):
    """Keeps the usage records in memory: this test is about limits, not the queue."""

    def __init__(self) -> None:
        self.records: list[CallRecord] = []

    async def publish(self, record: CallRecord) -> None:
        self.records.append(record)


def test_the_301st_call_in_a_minute_is_refused_before_the_upstream(start_proxy, fake_upstream):
    clock = Clock(WINDOW + 10)
    proxy = start_proxy(publisher=KeptRecords(), limiter=RateLimiter(get_settings().table_name, clock))
    headers = {"x-api-key": "sk-ant-api03-limits", "content-type": "application/json"}
    with httpx.Client(base_url=proxy.base_url, headers=headers) as client:
        statuses = [client.post("/v1/messages", content=REQUEST).status_code for _ in range(300)]
        assert statuses == [200] * 300

        refused = client.post("/v1/messages", content=REQUEST)
        assert refused.status_code == 429
        assert refused.json() == {"error": "Too many requests", "code": "RATE_LIMITED", "retryAfter": 50}
        assert refused.headers["retry-after"] == "50"
        assert len(fake_upstream.requests) == 300  # the refused call never reached Anthropic

        # count_tokens has its own counter (600 a minute), so it still passes.
        assert client.post("/v1/messages/count_tokens", content=REQUEST).status_code == 200

        clock.now = WINDOW + WINDOW_SECONDS  # the next minute
        assert client.post("/v1/messages", content=REQUEST).status_code == 200
