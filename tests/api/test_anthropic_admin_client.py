"""The Admin API client against the fake Anthropic: paging, Anthropic's limits and failures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import anthropic
import pytest

from shared.anthropic_admin import AdminApiClient, AdminApiError
from tests.fakes.anthropic_billing import FAKE_ADMIN_KEY, key_id, partial_key_hint
from tests.fakes.anthropic_upstream import FakeAnthropic

KEYS = [f"sk-ant-api03-adminClientTestKey{n}00000000000000000000-K00{n}" for n in range(3)]
TODAY = datetime.now(UTC).date()


@pytest.fixture
def waits() -> list[float]:
    return []


@pytest.fixture
def admin(fake_upstream: FakeAnthropic, waits: list[float]) -> AdminApiClient:
    for key in KEYS:
        client = anthropic.Anthropic(base_url=fake_upstream.url, api_key=key, max_retries=0)
        client.messages.create(
            model="claude-haiku-4-5", max_tokens=16, messages=[{"role": "user", "content": "Hi"}]
        )
    return AdminApiClient(fake_upstream.url, FAKE_ADMIN_KEY, sleep=waits.append)


def test_every_page_of_the_reports_and_the_key_list_is_read(
    admin: AdminApiClient, fake_upstream: FakeAnthropic
) -> None:
    fake_upstream.billing.page_days = 1
    fake_upstream.billing.keys_page_size = 2

    usage = admin.usage(TODAY - timedelta(days=3), TODAY + timedelta(days=1))
    costs = admin.costs(TODAY - timedelta(days=3), TODAY + timedelta(days=1))
    keys = admin.api_keys()

    assert sorted(row.anthropic_api_key_id or "" for row in usage) == sorted(key_id(key) for key in KEYS)
    assert {row.day for row in usage} == {TODAY.isoformat()}
    assert all(row.tokens.uncached_input_tokens > 0 and row.tokens.output_tokens > 0 for row in usage)
    assert {cost.day for cost in costs} == {TODAY.isoformat()} and sum(c.amount_cents for c in costs) > 0
    assert [(key.id, key.partial_key_hint) for key in keys] == [
        (key_id(k), partial_key_hint(k)) for k in KEYS
    ]
    reports = [r.path for r in fake_upstream.requests if "/usage_report/" in r.path]
    assert len(reports) == 4  # one page a day


def test_a_rate_limit_is_waited_out_as_anthropic_asks(
    admin: AdminApiClient, fake_upstream: FakeAnthropic, waits: list[float]
) -> None:
    fake_upstream.billing.failures = [429, 529]

    keys = admin.api_keys()

    assert len(keys) == 3
    assert waits == [1.0, 1.0]  # the fake's retry-after


def test_a_failure_that_outlasts_the_retries_carries_anthropics_message(
    admin: AdminApiClient, fake_upstream: FakeAnthropic, waits: list[float]
) -> None:
    fake_upstream.billing.failure = 500

    with pytest.raises(AdminApiError) as raised:
        admin.usage(TODAY, TODAY + timedelta(days=1))

    assert (raised.value.status_code, raised.value.message) == (500, "Internal server error")
    assert len(waits) == admin.max_attempts - 1


def test_an_unreachable_admin_api_is_an_error_not_a_crash(waits: list[float]) -> None:
    client = AdminApiClient("http://127.0.0.1:9", FAKE_ADMIN_KEY, sleep=waits.append, timeout=1)

    with pytest.raises(AdminApiError) as raised:
        client.verify()

    assert raised.value.status_code is None
    assert "could not be reached" in raised.value.message
    assert FAKE_ADMIN_KEY not in raised.value.message
