"""Monthly budgets: `block` refuses new calls before the upstream once the month's spend reaches the
budget (never cutting a stream), `notify` only flags it; the month turns over on a UTC boundary."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import anthropic
import httpx
import pytest

from functions.proxy.budgets import BudgetGuard, seconds_to_next_month
from shared.models import SlugTarget
from shared.settings import get_settings
from shared.store.endpoints import EndpointStore
from shared.store.usage_records import UsageStore
from tests.api.conftest import usage_record
from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.proxy_server import RunningProxy

MARCH_END = datetime(2026, 3, 31, 23, 59, 59, 500000, tzinfo=UTC)
APRIL = datetime(2026, 4, 1, 0, 0, 0, tzinfo=UTC)
BODY = {"model": "claude-sonnet-4-6", "max_tokens": 50, "messages": [{"role": "user", "content": "Hi"}]}


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now
        self.ticks = 0.0  # the monotonic clock of the spend cache

    def __call__(self) -> datetime:
        return self.now

    def monotonic(self) -> float:
        return self.ticks


class Spend:
    """Month spend as the day aggregates would report it, and how often it was read."""

    def __init__(self, spent: dict[str, Decimal]) -> None:
        self.spent = spent
        self.reads = 0
        self.fail = False

    def month_spend(self, tenant_id: str, endpoint_ids: Sequence[str], month: str) -> dict[str, Decimal]:
        self.reads += 1
        if self.fail:
            raise RuntimeError("table unreachable")
        return {endpoint_id: self.spent.get(month, Decimal(0)) for endpoint_id in endpoint_ids}


def target(action: str | None = "block", budget: int | None = 5000) -> SlugTarget:
    return SlugTarget("user_t", "01JP0000000000000000000001", budget, action)


async def test_block_refuses_once_spend_reaches_the_budget_and_the_month_turns_over() -> None:
    clock = Clock(MARCH_END)
    spend = Spend({"2026-03": Decimal("4999.999999")})
    guard = BudgetGuard(spend, ttl_seconds=5, clock=clock, monotonic=clock.monotonic)
    assert await guard.refusal(target()) is None
    spend.spent["2026-03"] = Decimal("5000")
    assert await guard.refusal(target()) is None  # still the cached spend: within the TTL
    clock.ticks += 5.1
    refusal = await guard.refusal(target())
    assert refusal is not None
    message, retry_after = refusal
    assert message == (
        "This Codecosts proxy endpoint is over its monthly budget. Calls are refused until the budget "
        "resets at 2026-04-01T00:00:00.000Z (UTC, the first of next month), or until its owner raises "
        "the budget."
    )
    assert retry_after == 1  # half a second to April, rounded up to a whole second
    assert spend.reads == 2

    clock.now = APRIL  # a new month: its own spend, read at once (another cache key)
    assert await guard.refusal(target()) is None
    assert spend.reads == 3
    spend.spent["2026-04"] = Decimal("6000")
    clock.ticks += 5.1
    assert await guard.refusal(target()) is not None


async def test_notify_and_no_budget_never_refuse_nor_read_and_failures_let_calls_through() -> None:
    clock = Clock(MARCH_END)
    spend = Spend({"2026-03": Decimal("999999")})
    guard = BudgetGuard(spend, ttl_seconds=5, clock=clock, monotonic=clock.monotonic)
    assert await guard.refusal(target(action="notify")) is None
    assert await guard.refusal(target(action=None, budget=None)) is None
    assert spend.reads == 0
    spend.fail = True
    assert await guard.refusal(target()) is None  # a budget guards cost; an outage must not stop work
    spend.fail = False
    assert await guard.refusal(target()) is not None  # the failure was not remembered


async def test_concurrent_checks_share_one_read() -> None:
    clock = Clock(MARCH_END)
    spend = Spend({"2026-03": Decimal(1)})
    guard = BudgetGuard(spend, ttl_seconds=5, clock=clock, monotonic=clock.monotonic)
    assert await asyncio.gather(*(guard.refusal(target()) for _ in range(20))) == [None] * 20
    assert spend.reads == 1


def test_seconds_to_next_month() -> None:
    assert seconds_to_next_month(datetime(2026, 12, 31, 23, 0, tzinfo=UTC)) == 3600
    assert seconds_to_next_month(datetime(2026, 2, 1, tzinfo=UTC)) == 28 * 86400


# Through the proxy, with the month's spend in the table (the day aggregates the ingest keeps).


def spend_this_month(endpoint_id: str, tenant_id: str, at: datetime, cents: str) -> None:
    settings = get_settings()
    record = usage_record(tenant_id, endpoint_id, at, cost_cents=cents)
    assert UsageStore(settings.table_name, settings.bodies_bucket).write(record)


@pytest.fixture
def budgeted(start_proxy: Callable[..., RunningProxy]) -> Callable[..., tuple[RunningProxy, Clock]]:
    def start(action: str, budget_cents: int, now: datetime = MARCH_END) -> tuple[RunningProxy, Clock]:
        clock = Clock(now)
        settings = get_settings()
        guard = BudgetGuard(
            UsageStore(settings.table_name, settings.bodies_bucket), 5, clock=clock, monotonic=clock.monotonic
        )
        proxy = start_proxy(budgets=guard)
        EndpointStore(settings.table_name).update(
            proxy.tenant_id, proxy.endpoint["id"], monthly_budget_cents=budget_cents, budget_action=action
        )
        return proxy, clock

    return start


def test_a_blocked_endpoint_answers_429_in_anthropics_shape_before_the_upstream(
    budgeted: Callable[..., tuple[RunningProxy, Clock]], fake_upstream: FakeAnthropic
) -> None:
    proxy, clock = budgeted("block", 100)
    spend_this_month(proxy.endpoint["id"], proxy.tenant_id, MARCH_END - timedelta(days=3), "150")
    headers = {"x-api-key": "sk-ant-api03-budget-test-0000Wxyz", "anthropic-version": "2023-06-01"}

    refused = httpx.post(f"{proxy.base_url}/v1/messages", json=BODY, headers=headers)
    assert refused.status_code == 429
    assert refused.headers["x-should-retry"] == "false" and refused.headers["retry-after"] == "1"
    error = refused.json()
    assert error["type"] == "error" and error["error"]["type"] == "rate_limit_error"
    message = error["error"]["message"]
    assert "over its monthly budget" in message and "resets at 2026-04-01T00:00:00.000Z" in message
    # Whoever holds the slug learns nothing internal: no id, no name, no spend.
    for internal in (proxy.endpoint["id"], "Test laptop", proxy.tenant_id, "$", "150", "100"):
        assert internal not in message
    assert fake_upstream.requests == []  # refused before the upstream
    assert proxy.queue.is_empty()  # and not recorded: no call was made

    # The Anthropic SDK shows the message and, told not to retry, does not.
    client = anthropic.Anthropic(api_key="sk-ant-api03-budget-test-0000Wxyz", base_url=proxy.base_url)
    with pytest.raises(anthropic.RateLimitError, match="over its monthly budget"):
        client.messages.create(**BODY)

    # count_tokens costs nothing and stays open.
    counted = httpx.post(f"{proxy.base_url}/v1/messages/count_tokens", json=BODY, headers=headers)
    assert counted.status_code == 200

    # Midnight UTC on the 1st: a new month, a new budget period.
    clock.now = APRIL
    assert httpx.post(f"{proxy.base_url}/v1/messages", json=BODY, headers=headers).status_code == 200
    assert len([r for r in fake_upstream.requests if r.path == "/v1/messages"]) == 1


def test_notify_lets_calls_through(
    budgeted: Callable[..., tuple[RunningProxy, Clock]], fake_upstream: FakeAnthropic
) -> None:
    proxy, _ = budgeted("notify", 100)
    spend_this_month(proxy.endpoint["id"], proxy.tenant_id, MARCH_END - timedelta(days=3), "150")
    reply = httpx.post(f"{proxy.base_url}/v1/messages", json=BODY, headers={"x-api-key": "sk-ant-x"})
    assert reply.status_code == 200 and len(fake_upstream.requests) == 1


def test_a_stream_that_crosses_the_budget_is_never_cut(
    budgeted: Callable[..., tuple[RunningProxy, Clock]], fake_upstream: FakeAnthropic
) -> None:
    proxy, clock = budgeted("block", 100)
    fake_upstream.hold_after_events = 3
    events: list[str] = []
    done = threading.Event()

    def stream() -> None:
        with httpx.stream(
            "POST", f"{proxy.base_url}/v1/messages", json={**BODY, "stream": True}, headers={"x-api-key": "k"}
        ) as response:
            events.extend(line for line in response.iter_lines() if line.startswith("event:"))
        done.set()

    thread = threading.Thread(target=stream)
    thread.start()
    assert _wait(lambda: bool(fake_upstream.requests) and fake_upstream.requests[0].holding.is_set())
    # Meanwhile the month's spend passes the budget and every cache has expired.
    spend_this_month(proxy.endpoint["id"], proxy.tenant_id, MARCH_END - timedelta(days=1), "500")
    clock.ticks += 10
    fake_upstream.requests[0].resume.set()
    assert done.wait(10)
    thread.join()
    assert events[-1] == "event: message_stop"  # the stream ran to its end
    refused = httpx.post(f"{proxy.base_url}/v1/messages", json=BODY, headers={"x-api-key": "k"})
    assert refused.status_code == 429  # the next call is the one refused


def _wait(condition: Callable[[], bool], timeout: float = 10) -> bool:
    deadline = threading.Event()
    timer = threading.Timer(timeout, deadline.set)
    timer.start()
    try:
        while not deadline.is_set():
            if condition():
                return True
            deadline.wait(0.01)
        return False
    finally:
        timer.cancel()


def test_the_slug_carries_the_budget(aws: Any) -> None:
    store = EndpointStore(get_settings().table_name)
    endpoint = store.create("user_t", "laptop")
    assert store.resolve_slug(endpoint["slug"]) == SlugTarget("user_t", endpoint["id"], None, None)
    store.update("user_t", endpoint["id"], monthly_budget_cents=5000, budget_action="block")
    assert store.resolve_slug(endpoint["slug"]) == SlugTarget("user_t", endpoint["id"], 5000, "block")
    store.update("user_t", endpoint["id"], monthly_budget_cents=None)
    assert store.resolve_slug(endpoint["slug"]) == SlugTarget("user_t", endpoint["id"], None, None)
    assert store.update("user_other", endpoint["id"], name="x") is None
