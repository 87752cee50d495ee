"""The Sessions page: a Claude Code session made of real calls through the proxy (the headers Claude
Code sends: its session, and a subagent run), shown as the API reports it, its calls in order, each
opening the call's page."""

from __future__ import annotations

import re
import time
from typing import Any

import anthropic
import httpx
from playwright.sync_api import expect

from tests.dashboard.conftest import ANTHROPIC_KEY, SYSTEM_PROMPT, Stack, screenshot

SESSION = "5f0c2a9e-7d41-4b8e-9c3a-2e6d1f4b8a70"
SUBAGENT_RUN = "a61d1ebbe586504e2"


def make_a_session(stack: Stack, headers: dict[str, str]) -> None:
    """As Claude Code calls: the main agent (1-hour cache on its system prompt), a subagent run, then
    the main agent again, reading its cache."""
    created = httpx.post(f"{stack.url}/api/proxy-endpoints", json={"name": "sessions"}, headers=headers)
    assert created.status_code == 201, created.text
    url = created.json()["url"]
    main = anthropic.Anthropic(
        api_key=ANTHROPIC_KEY, base_url=url, default_headers={"x-claude-code-session-id": SESSION}
    )
    subagent = anthropic.Anthropic(
        api_key=ANTHROPIC_KEY,
        base_url=url,
        default_headers={"x-claude-code-session-id": SESSION, "x-claude-code-agent-id": SUBAGENT_RUN},
    )
    system = [{"type": "text", "text": SYSTEM_PROMPT, "cache_control": {"type": "ephemeral", "ttl": "1h"}}]
    with main.messages.stream(
        model="fake:cache-1h", max_tokens=100, system=system, messages=[{"role": "user", "content": "Plan"}]
    ) as stream:
        stream.get_final_message()
    subagent.messages.create(
        model="claude-haiku-4-5", max_tokens=50, messages=[{"role": "user", "content": "Search the repo"}]
    )
    main.messages.create(
        model="claude-haiku-4-5",
        max_tokens=50,
        system=system,
        messages=[{"role": "user", "content": "Go on"}],
    )


def wait_for_session(stack: Stack, headers: dict[str, str], calls: int) -> dict[str, Any]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        answer = httpx.get(f"{stack.url}/api/usage/sessions/{SESSION}", headers=headers)
        if answer.status_code == 200 and answer.json()["requests"] == calls:
            return dict(answer.json())
        time.sleep(0.25)
    raise AssertionError(f"the session did not reach {calls} calls within 20 s")


def cents(locator: Any) -> float:
    return float(locator.get_attribute("data-cents"))


def test_a_claude_code_session_reads_as_its_calls_in_order(page: Any, stack: Stack) -> None:
    # A tenant of its own (a Clerk session), so the seeded tenant's counts stay as other tests expect.
    token = stack.session_token("user_sessions")
    headers = {"Authorization": f"Bearer {token}"}
    make_a_session(stack, headers)
    session = wait_for_session(stack, headers, 3)
    listed = httpx.get(f"{stack.url}/api/usage/sessions", headers=headers).json()["items"]
    calls = httpx.get(f"{stack.url}/api/usage", params={"session_id": SESSION}, headers=headers).json()[
        "items"
    ]
    assert [item["session_id"] for item in listed] == [SESSION]
    assert session["subagent_requests"] == 1 and session["subagent_runs"] == 1

    page.context.add_cookies([{"name": "__session", "value": token, "url": stack.url}])
    page.goto("/")
    page.get_by_role("link", name="Sessions").click()
    row = page.get_by_test_id("sessions").locator(f'tr[data-session="{SESSION}"]')
    cells = row.locator("td")
    expect(cells.nth(3)).to_have_text("3")
    assert cents(cells.nth(4)) == float(listed[0]["cost_cents"])
    assert cents(cells.nth(6)) == float(listed[0]["subagent_cost_cents"])
    assert cents(cells.nth(7)) == float(listed[0]["cache_savings_cents"])
    assert "1 call, 1 run" in cells.nth(6).inner_text()
    screenshot(page, "30-sessions")

    row.click()
    page.wait_for_url(re.compile(f"/sessions/{SESSION}$"))
    facts = page.get_by_test_id("session-facts")
    expect(page.get_by_test_id("session-calls")).to_have_text("3")
    assert cents(facts.get_by_test_id("session-cost")) == float(session["cost_cents"])
    assert cents(facts.get_by_test_id("session-subagents")) == float(session["subagent_cost_cents"])
    assert cents(facts.get_by_test_id("session-main")) == float(session["cost_cents"]) - float(
        session["subagent_cost_cents"]
    )
    assert cents(facts.get_by_test_id("session-savings")) == float(session["cache_savings_cents"])
    unread = facts.get_by_test_id("session-unread")
    assert cents(unread) == float(session["unread_1h_cache_write_extra_cents"])
    # The first call's hour is not over: its 1-hour write is not unread yet but pending, and said so.
    assert session["unread_1h_cache_write_tokens"] == 0 and session["pending_1h_cache_write_tokens"] > 0
    pending = f"{session['pending_1h_cache_write_tokens']:,} tokens still within their hour"
    expect(unread).to_have_text(f"None ({pending})")

    # The calls in the order they were made (the list API answers newest first).
    rows = page.get_by_test_id("session-call-list").locator("tbody tr")
    expect(rows).to_have_count(3)
    oldest_first = list(reversed(calls))
    assert [rows.nth(n).get_attribute("data-call") for n in range(3)] == [call["id"] for call in oldest_first]
    assert [rows.nth(n).locator("td").nth(2).inner_text() for n in range(3)] == [
        "main",
        f"subagent {SUBAGENT_RUN[:6]}",
        "main",
    ]
    for index, call in enumerate(oldest_first):
        assert rows.nth(index).locator("td").nth(9).get_attribute("data-cents") == call["cost_cents"]
    screenshot(page, "31-session")

    rows.nth(1).click()
    page.wait_for_url(re.compile(f"/calls/{oldest_first[1]['id']}$"))
    expect(page.get_by_test_id("call-cost")).to_contain_text("$")
    page.get_by_role("link", name="Subagent call in the session").click()
    page.wait_for_url(re.compile(f"/sessions/{SESSION}$"))
    expect(page.get_by_test_id("session-call-list").locator("tbody tr")).to_have_count(3)
