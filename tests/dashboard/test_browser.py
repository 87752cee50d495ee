"""The dashboard in headless Chromium against `make dev` with seeded usage: what a user sees and does."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import anthropic
import httpx
from playwright.sync_api import expect

from tests.dashboard.conftest import ANTHROPIC_KEY, SYSTEM_PROMPT, Stack, screenshot, sign_in


def seven_days() -> dict[str, str]:
    today = datetime.now(UTC).date()
    return {"from": (today - timedelta(days=6)).isoformat(), "to": (today + timedelta(days=1)).isoformat()}


def test_a_wrong_key_is_refused_with_a_clear_message(page: Any) -> None:
    page.goto("/")
    page.get_by_label("Codecosts API key").wait_for()
    screenshot(page, "01-sign-in")
    page.get_by_label("Codecosts API key").fill("sk_" + "x" * 40)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("alert").filter(has_text="was not accepted").wait_for()
    assert page.evaluate("sessionStorage.length") == 0
    screenshot(page, "02-sign-in-refused")


def test_sign_in_shows_the_totals_the_api_reports(page: Any, stack: Stack) -> None:
    sign_in(page, stack.api_key)
    summary = stack.get("/api/usage/summary", **seven_days())
    assert summary["totalRequests"] == 4
    total = page.get_by_test_id("total-cost")
    total.locator(".card-value").filter(has_text="$").wait_for()
    assert float(total.get_attribute("data-cents")) == summary["totalCostCents"]
    assert total.locator(".card-value").inner_text() == f"${summary['totalCostCents'] / 100:,.2f}"
    assert page.get_by_test_id("total-requests").locator(".card-value").inner_text() == "4"
    rows = page.get_by_test_id("by-model").locator("tbody tr")
    assert rows.count() == len(summary["byModel"])
    for index, model in enumerate(summary["byModel"]):
        cells = rows.nth(index).locator("td")
        assert cells.nth(0).inner_text() == model["model"]
        assert float(cells.nth(3).get_attribute("data-cents")) == model["cost"]
    endpoint_row = page.get_by_test_id("by-endpoint").locator("tbody tr").first
    assert stack.endpoint["name"] in endpoint_row.inner_text()
    assert float(endpoint_row.locator("td").nth(2).get_attribute("data-cents")) == summary["totalCostCents"]
    savings = page.get_by_test_id("cache-savings")
    assert float(savings.get_attribute("data-cents")) == summary["cacheSavingsCents"]
    kinds = page.get_by_test_id("tokens-by-kind").inner_text()
    assert f"Cache write (1 hour)\t{summary['totalCacheCreation1hInputTokens']:,}" in kinds, kinds
    assert f"Cache write (5 min)\t{summary['totalCacheCreation5mInputTokens']:,}" in kinds, kinds
    # The stacked chart draws the summary's day x model costs (its numbers, as the canvas's own table).
    chart = page.get_by_role("img", name="Cost by day, stacked by model")
    for cell in summary["byDayModel"]:
        bar = chart.locator(f'tr[data-series="{cell["model"]}"] td[data-label="{cell["date"]}"]')
        assert float(bar.get_attribute("data-value")) == cell["cost"] / 100
    # The key stays in this tab's session storage, never in the address.
    assert stack.api_key not in page.url
    assert page.evaluate("sessionStorage.getItem('codecosts.apiKey')") == stack.api_key
    screenshot(page, "03-overview")


def test_filter_the_calls_and_read_one_as_a_conversation(page: Any, stack: Stack) -> None:
    sign_in(page, stack.api_key)
    page.get_by_role("link", name="Calls", exact=True).click()
    rows = page.get_by_test_id("calls").locator("tbody tr")
    expect(rows).to_have_count(4)
    screenshot(page, "04-calls")

    page.get_by_label("Model").fill("claude-opus")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(re.compile(r"/calls\?model=claude-opus"))
    expect(rows).to_have_count(1)
    assert "claude-opus-4-1" in rows.first.inner_text()
    screenshot(page, "05-calls-filtered")

    rows.first.click()
    conversation = page.get_by_test_id("conversation")
    conversation.wait_for()
    assert SYSTEM_PROMPT in conversation.locator(".turn.system").inner_text()
    assert "read_file" in conversation.locator(".tool-call").first.inner_text()
    assert "dev: $(STAMP)" in conversation.locator(".tool-result").inner_text()
    reply = conversation.locator(".turn.reply")
    assert "reassembled from the stream" in reply.inner_text()
    reply.locator("details.thinking summary").click()
    assert reply.locator("details.thinking .text").inner_text().strip()
    assert reply.locator(".tool-call").count() == 1  # the tool call rebuilt from input_json_delta
    screenshot(page, "06-call-detail")

    page.get_by_role("tab", name="Raw response").click()
    assert page.get_by_test_id("raw-response").inner_text().startswith("event: message_start")
    screenshot(page, "07-call-raw-response")


def test_create_and_delete_an_endpoint(page: Any, stack: Stack) -> None:
    sign_in(page, stack.api_key)
    page.get_by_role("link", name="Endpoints").click()
    page.get_by_label("New endpoint name").fill("Browser test")
    page.get_by_role("button", name="Create endpoint").click()
    created = page.get_by_test_id("created-endpoint")
    command = created.locator("code").filter(has_text="export ANTHROPIC_BASE_URL=").inner_text()
    listed = {item["name"]: item for item in stack.get("/api/proxy-endpoints")["items"]}
    assert command == f"export ANTHROPIC_BASE_URL={listed['Browser test']['url']}"
    row = page.get_by_test_id("endpoints").locator("tr", has_text="Browser test")
    row.wait_for()
    screenshot(page, "08-endpoints")

    row.get_by_role("button", name="Delete").click()
    row.get_by_role("button", name="Delete “Browser test”").click()
    row.wait_for(state="detached")
    assert "Browser test" not in {item["name"] for item in stack.get("/api/proxy-endpoints")["items"]}

    page.get_by_role("link", name="Audit log").click()
    log = page.get_by_test_id("audit-log")
    log.locator("tr", has_text="Endpoint deleted").filter(has_text="Browser test").wait_for()
    screenshot(page, "09-audit-log")


def test_an_api_key_is_shown_once(page: Any, stack: Stack) -> None:
    sign_in(page, stack.api_key)
    page.get_by_role("link", name="API keys").click()
    page.get_by_label("New key name").fill("reporting script")
    page.get_by_role("button", name="Create key").click()
    key = page.get_by_test_id("created-key").locator("code").inner_text()
    assert key.startswith("sk_")
    assert (
        httpx.get(f"{stack.url}/api/profile", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    )
    page.get_by_test_id("api-keys").locator("tr", has_text="reporting script").wait_for()
    screenshot(page, "10-api-keys")
    page.reload()
    page.get_by_test_id("api-keys").locator("tr", has_text="reporting script").wait_for()
    assert key not in page.content()


def test_a_key_is_read_only_unless_another_scope_is_chosen(page: Any, stack: Stack) -> None:
    sign_in(page, stack.api_key)
    page.get_by_role("link", name="API keys").click()
    scope = page.get_by_label("Scope")
    assert scope.input_value() == "read"
    page.get_by_label("New key name").fill("deploy bot")
    scope.select_option("write")
    page.get_by_role("button", name="Create key").click()
    created = page.get_by_test_id("created-key")
    created.filter(has_text="(write)").wait_for()
    key = created.locator("code").inner_text()
    assert scope.input_value() == "read"  # the next key is read-only again unless chosen

    listed = {item["name"]: item["scope"] for item in stack.get("/api/api-keys")["items"]}
    assert listed["deploy bot"] == "write"
    cells = page.get_by_test_id("api-keys").locator("tr", has_text="deploy bot").locator("td")
    assert cells.nth(2).inner_text() == "write"
    for row in page.get_by_test_id("api-keys").locator("tbody tr").all():
        cells = row.locator("td")
        assert cells.nth(2).inner_text() == listed[cells.nth(0).inner_text()]
    # The scope is the key's: it writes (the profile, left as it was), and cannot manage keys.
    auth = {"Authorization": f"Bearer {key}"}
    name = stack.get("/api/profile")["name"] or "Dashboard test"
    assert httpx.put(f"{stack.url}/api/profile", json={"name": name}, headers=auth).status_code == 200
    assert httpx.get(f"{stack.url}/api/api-keys", headers=auth).status_code == 403
    screenshot(page, "10-api-key-scopes")


def test_the_api_reference_loads_nothing_from_another_origin(page: Any, stack: Stack) -> None:
    """Swagger UI is served from the stack itself under a strict CSP (the fixture refuses any other
    origin and fails on any console error, a policy violation among them)."""
    reply = page.goto("/api/docs")
    policy = reply.headers["content-security-policy"]
    assert "script-src 'self';" in policy and "default-src 'self';" in policy and "unsafe" not in policy
    operations = page.locator(".opblock")
    operations.first.wait_for()
    document = httpx.get(f"{stack.url}/api/openapi.json").json()
    assert operations.count() == sum(len(methods) for methods in document["paths"].values())
    page.get_by_text("Codecosts API", exact=False).first.wait_for()
    screenshot(page, "16-api-reference")


def test_a_new_user_is_told_how_to_start(page: Any, stack: Stack) -> None:
    # A Clerk session in the `__session` cookie (deployed sign-in), for a user with nothing yet.
    page.context.add_cookies(
        [{"name": "__session", "value": stack.session_token("user_newcomer"), "url": stack.url}]
    )
    page.goto("/")
    empty = page.locator(".empty", has_text="No proxy endpoint yet")
    empty.wait_for()
    assert "export ANTHROPIC_BASE_URL=" in empty.inner_text()
    screenshot(page, "11-empty-new-user")


def test_an_unreachable_api_says_so(page: Any, stack: Stack) -> None:
    sign_in(page, stack.api_key)
    page.route("**/api/**", lambda route: route.abort())
    page.get_by_role("link", name="Calls", exact=True).click()
    page.get_by_role("alert").filter(has_text="Can't reach the Codecosts API").wait_for()
    screenshot(page, "12-api-unreachable")


def test_a_new_call_shows_up_on_the_open_overview_and_in_the_list(page: Any, stack: Stack) -> None:
    sign_in(page, stack.api_key)
    before = stack.get("/api/usage/summary", **seven_days())["totalRequests"]
    calls = page.get_by_test_id("total-requests").locator(".card-value")
    expect(calls).to_have_text(str(before))
    client = anthropic.Anthropic(
        api_key=ANTHROPIC_KEY, base_url=f"{stack.url}/proxy/{stack.endpoint['slug']}"
    )
    client.messages.create(
        model="claude-haiku-4-5", max_tokens=50, messages=[{"role": "user", "content": "One more"}]
    )
    # No reload: the open page polls the API every few seconds.
    expect(calls).to_have_text(str(before + 1), timeout=15_000)
    page.get_by_role("link", name="Calls", exact=True).click()
    expect(page.get_by_test_id("calls").locator("tbody tr")).to_have_count(before + 1)


def test_a_refusal_before_any_output_shows_as_not_billed(page: Any, stack: Stack) -> None:
    before = stack.get("/api/usage/summary", **seven_days())["totalRequests"]
    client = anthropic.Anthropic(
        api_key=ANTHROPIC_KEY, base_url=f"{stack.url}/proxy/{stack.endpoint['slug']}", max_retries=0
    )
    reply = client.messages.create(
        model="fake:refusal", max_tokens=50, messages=[{"role": "user", "content": "Go"}]
    )
    assert reply.stop_reason == "refusal" and reply.content == []
    deadline = datetime.now(UTC) + timedelta(seconds=15)
    while stack.get("/api/usage/summary", **seven_days())["totalRequests"] == before:
        assert datetime.now(UTC) < deadline, "the refusal was never recorded"
        time.sleep(0.2)
    call = stack.get("/api/usage", limit=1)["items"][0]
    assert (call["stop_reason"], call["cost_cents"], call["cost_unknown"]) == ("refusal", "0.000000", False)
    assert call["input_tokens"] > 0  # what the reply reported stays on the record

    sign_in(page, stack.api_key)
    page.goto(f"/calls/{call['id']}")
    expect(page.get_by_test_id("call-cost")).to_contain_text("refused before any output: not billed")


def test_a_calls_thinking_tokens_show_beside_its_output(page: Any, stack: Stack) -> None:
    assert stack.upstream is not None
    before = stack.get("/api/usage/summary", **seven_days())["totalRequests"]
    client = anthropic.Anthropic(
        api_key=ANTHROPIC_KEY, base_url=f"{stack.url}/proxy/{stack.endpoint['slug']}", max_retries=0
    )
    stack.upstream.thinking_tokens = 640
    try:
        with client.messages.stream(
            model="claude-sonnet-4-6", max_tokens=2000, messages=[{"role": "user", "content": "Think"}]
        ) as stream:
            message = stream.get_final_message()
    finally:
        stack.upstream.thinking_tokens = None
    assert message.usage.output_tokens_details is not None
    assert message.usage.output_tokens_details.thinking_tokens == 640
    deadline = datetime.now(UTC) + timedelta(seconds=15)
    while stack.get("/api/usage/summary", **seven_days())["totalRequests"] == before:
        assert datetime.now(UTC) < deadline, "the call was never recorded"
        time.sleep(0.2)
    call = stack.get("/api/usage", limit=1)["items"][0]
    assert (call["thinking_tokens"], call["output_tokens"]) == (640, message.usage.output_tokens)

    sign_in(page, stack.api_key)
    page.goto(f"/calls/{call['id']}")
    expect(page.get_by_test_id("call-thinking")).to_have_text("640")


def test_a_call_cut_short_shows_its_output_as_estimated(page: Any, stack: Stack) -> None:
    before = stack.get("/api/usage/summary", **seven_days())["totalRequests"]
    client = anthropic.Anthropic(
        api_key=ANTHROPIC_KEY, base_url=f"{stack.url}/proxy/{stack.endpoint['slug']}", max_retries=0
    )
    try:
        with client.messages.stream(
            model="fake:error-mid-stream", max_tokens=50, messages=[{"role": "user", "content": "Go"}]
        ) as stream:
            stream.until_done()
    except anthropic.APIStatusError:
        pass  # the `event: error` mid-stream, as Anthropic sends it
    deadline = datetime.now(UTC) + timedelta(seconds=15)
    while stack.get("/api/usage/summary", **seven_days())["totalRequests"] == before:
        assert datetime.now(UTC) < deadline, "the cut call was never recorded"
        time.sleep(0.2)
    call = stack.get("/api/usage", limit=1)["items"][0]
    assert call["output_tokens_estimated"] is True

    sign_in(page, stack.api_key)
    page.goto(f"/calls/{call['id']}")
    output = page.get_by_test_id("call-output")
    expect(output).to_contain_text("estimated from what was relayed")
    screenshot(page, "13-call-output-estimated")
