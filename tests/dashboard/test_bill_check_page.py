"""The Bill check page against `make dev` whose fake Anthropic bills what it served: calls through the
proxy, some straight to Anthropic with another key, the admin key set on the page, a refresh, and the
page shows what the API reports, to the cent."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import anthropic
import httpx
import pytest
from playwright.sync_api import expect

from tests.api.conftest import DASHBOARD, ISSUER, make_signing_key
from tests.dashboard.conftest import Stack, screenshot, sign_in
from tests.e2e.conftest import DevStack, Upstream, wait_for_usage
from tests.fakes.anthropic_billing import FAKE_ADMIN_KEY, key_id, partial_key_hint
from tests.fakes.anthropic_upstream import FakeAnthropic

PROXIED_KEY = "sk-ant-api03-billCheckPageProxiedKey00000000000000000000-Prox"
BYPASS_KEY = "sk-ant-api03-billCheckPageBypassingKey000000000000000000-Byps"
MESSAGES = [{"role": "user", "content": "Hello"}]


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeAnthropic]:
    with Upstream(FakeAnthropic()) as upstream:
        upstream.fake.url = upstream.url
        yield upstream.fake


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, fake: FakeAnthropic) -> Iterator[Stack]:
    """This module's own stack and fake Anthropic: the organization's bill holds these tests' calls only."""
    clerk_key = make_signing_key()
    running = DevStack(tmp_path_factory.mktemp("bill-check-page"), fake.url)
    running.env.update(
        {
            "CODECOSTS_ANTHROPIC_ADMIN_URL": fake.url,
            "CLERK_JWT_KEY": clerk_key.public_pem,
            "CLERK_ISSUER": ISSUER,
            "CLERK_AUTHORIZED_PARTIES": DASHBOARD,
        }
    )
    dev = running.start()
    try:
        through = anthropic.Anthropic(
            base_url=dev["proxy_endpoint"]["url"], api_key=PROXIED_KEY, max_retries=0
        )
        around = anthropic.Anthropic(base_url=fake.url, api_key=BYPASS_KEY, max_retries=0)
        for client in (through, around):
            client.messages.create(model="claude-haiku-4-5", max_tokens=64, messages=MESSAGES)
            with client.messages.stream(model="fake:cache-1h", max_tokens=64, messages=MESSAGES) as reply:
                reply.until_done()
        running_stack = Stack(running.url, dev["api_key"], dev["proxy_endpoint"], clerk_key)
        running_stack.calls = wait_for_usage(running.url, dev["api_key"], 2)
        yield running_stack
    finally:
        assert running.stop() == 0, running.output


def billed_cents(fake: FakeAnthropic, api_key: str) -> Decimal:
    return sum(
        (sum(call.costs().values(), Decimal(0)) for call in fake.billing.calls if call.api_key == api_key),
        Decimal(0),
    )


def cents(locator: Any) -> float:
    return float(locator.get_attribute("data-cents"))


def expect_the_report(page: Any, report: dict[str, Any]) -> None:
    """Every number of the page is the API's."""
    for testid, total in (
        ("recorded", "recordedCostCents"),
        ("billed", "billedCostCents"),
        ("drift", "driftCostCents"),
        ("unrecorded-total", "unrecordedCostCents"),
    ):
        assert cents(page.get_by_test_id(testid)) == report["totals"][total], testid
    models = page.get_by_test_id("by-model").locator("tbody tr")
    expect(models).to_have_count(len(report["byModel"]))
    for index, line in enumerate(report["byModel"]):
        cells = models.nth(index).locator("td")
        assert cells.nth(0).inner_text() == line["model"]
        assert [cents(cells.nth(n)) for n in (1, 2, 3)] == [
            line["recordedCostCents"],
            line["billedCostCents"],
            line["driftCostCents"],
        ]
    keys = page.get_by_test_id("by-key").locator("tbody tr")
    expect(keys).to_have_count(len(report["byKey"]))
    for index, line in enumerate(report["byKey"]):
        cells = keys.nth(index).locator("td")
        assert cells.nth(0).inner_text() == (line["partial_key_hint"] or "—")
        assert [cents(cells.nth(2)), cents(cells.nth(3))] == [
            line["recordedCostCents"],
            line["billedCostCents"],
        ]
    chart = page.get_by_role("img", name="Drift by day")
    for day in report["byDay"]:
        bar = chart.locator(f'td[data-label="{day["date"]}"]')
        assert float(bar.get_attribute("data-value")) == day["driftCostCents"] / 100


@pytest.mark.console_allows("status of 400", "status of 409", "status of 429")
def test_set_the_admin_key_refresh_and_see_spend_around_the_proxy(
    page: Any, stack: Stack, fake: FakeAnthropic
) -> None:
    headers = {"Authorization": f"Bearer {stack.api_key}"}
    sign_in(page, stack.api_key)
    page.get_by_role("link", name="Bill check").click()
    page.get_by_role("heading", name="Connect your Anthropic organization").wait_for()
    screenshot(page, "20-bill-check-no-key")

    # Anthropic refuses a wrong key, and the page says so in Anthropic's words.
    page.get_by_label("Anthropic admin key").fill("sk-ant-admin01-notTheOrganizationsKey-ZZZZ")
    page.get_by_role("button", name="Save key").click()
    refused = page.get_by_test_id("admin-key").get_by_role("alert")
    expect(refused).to_contain_text("Anthropic refused the admin key")
    expect(refused).to_contain_text("invalid x-api-key")

    page.get_by_label("Anthropic admin key").fill(FAKE_ADMIN_KEY)
    page.get_by_role("button", name="Save key").click()
    hint = page.get_by_test_id("admin-key-hint")
    hint.wait_for()
    status = stack.get("/api/anthropic-admin-key")
    assert status["configured"] is True
    expect(hint).to_have_text(status["hint"])
    expect(page.get_by_test_id("as-of")).to_contain_text("Not synced with Anthropic yet")
    assert FAKE_ADMIN_KEY not in page.content()

    page.get_by_role("button", name="Refresh from Anthropic").click()
    expect(page.get_by_test_id("as-of")).to_contain_text("as synced")
    report = stack.get("/api/reconciliation")
    expect_the_report(page, report)
    # The proxied key reconciles exactly; what went around the proxy is called out, to the cent.
    bypassed = float(billed_cents(fake, BYPASS_KEY))
    assert report["totals"]["unrecordedCostCents"] == report["totals"]["driftCostCents"] == bypassed > 0
    by_key = {line["anthropic_api_key_id"]: line for line in report["byKey"]}
    proxied = by_key[key_id(PROXIED_KEY)]
    assert (
        proxied["billedCostCents"] == proxied["recordedCostCents"] == float(billed_cents(fake, PROXIED_KEY))
    )
    callout = page.get_by_test_id("unrecorded")
    expect(callout).to_contain_text(partial_key_hint(BYPASS_KEY))
    assert partial_key_hint(PROXIED_KEY) not in callout.inner_text()
    assert "Unrecorded" in page.locator(f'tr[data-key="{key_id(BYPASS_KEY)}"]').inner_text()
    expect(page.get_by_test_id("proxied-drift")).to_have_text("$0.00 on keys that went through Codecosts")
    screenshot(page, "21-bill-check")

    # Once a minute: a second refresh right away is refused, and the page says when to try again.
    page.get_by_role("button", name="Refresh from Anthropic").click()
    expect(page.locator(".toolbar").get_by_role("alert")).to_contain_text("Too many requests: try again in")
    expect_the_report(page, report)

    # Someone removes the key meanwhile: a refresh says so and the page asks for a key again.
    assert httpx.delete(f"{stack.url}/api/anthropic-admin-key", headers=headers).status_code == 200
    page.get_by_role("button", name="Refresh from Anthropic").click()
    page.get_by_role("heading", name="Connect your Anthropic organization").wait_for()
    expect(page.get_by_role("alert").filter(has_text="No Anthropic admin key")).to_be_visible()

    # Set again, then removed on the page.
    page.get_by_label("Anthropic admin key").fill(FAKE_ADMIN_KEY)
    page.get_by_role("button", name="Save key").click()
    expect(page.get_by_test_id("admin-key-hint")).to_have_text(status["hint"])
    page.get_by_role("button", name="Delete").click()
    page.get_by_role("button", name="Delete the admin key").click()
    page.get_by_role("heading", name="Connect your Anthropic organization").wait_for()
    assert stack.get("/api/anthropic-admin-key")["configured"] is False


def test_a_failed_sync_shows_what_went_wrong(page: Any, stack: Stack, fake: FakeAnthropic) -> None:
    # Another tenant (a Clerk session), so this test's refresh has its own once-a-minute allowance.
    token = stack.session_token("user_failed_sync")
    headers = {"Authorization": f"Bearer {token}"}
    saved = httpx.put(
        f"{stack.url}/api/anthropic-admin-key", json={"admin_key": FAKE_ADMIN_KEY}, headers=headers
    )
    assert saved.status_code == 200, saved.text
    page.context.add_cookies([{"name": "__session", "value": token, "url": stack.url}])
    page.goto("/bill-check")
    expect(page.get_by_test_id("as-of")).to_contain_text("Not synced with Anthropic yet")
    fake.billing.failure = 403
    try:
        page.get_by_role("button", name="Refresh from Anthropic").click()
        stale = page.get_by_test_id("stale")
        expect(stale).to_contain_text("The last sync with Anthropic failed")
    finally:
        fake.billing.failure = None
    report = httpx.get(f"{stack.url}/api/reconciliation", headers=headers).json()
    assert report["stale"] is True and report["error"] and report["asOf"] is None
    expect(stale).to_contain_text(report["error"])
    # Never synced: no billed amounts, rather than zeros that would read as "billed nothing".
    expect(stale).to_contain_text("billed amounts are missing")
    expect(page.get_by_test_id("billed")).to_have_count(0)
    screenshot(page, "22-bill-check-stale")
