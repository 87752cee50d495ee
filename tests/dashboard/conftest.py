"""A `make dev` stack with seeded usage, and Debian's Chromium driven by Playwright, for the dashboard.

Chromium comes from the system (`/usr/bin/chromium`, installed by `make test`), never from a
Playwright download. Every page may reach the stack's own origin only: any other request is refused
and fails the test, as does any console error (a Content-Security-Policy violation among them).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anthropic
import httpx
import jwt
import pytest

from tests.api.conftest import DASHBOARD, ISSUER, SigningKey, make_signing_key, session_claims
from tests.e2e.conftest import DevStack, Upstream, wait_for_usage
from tests.fakes.anthropic_upstream import FakeAnthropic

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-output" / "dashboard"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ANTHROPIC_KEY = "sk-ant-api03-dashboard-test-key-000000000000000Wxyz"
SYSTEM_PROMPT = "You are a careful code reviewer. Answer briefly."


@dataclass
class Stack:
    url: str
    api_key: str
    endpoint: dict[str, Any]
    clerk_key: SigningKey
    calls: list[dict[str, Any]] = field(default_factory=list)
    upstream: FakeAnthropic | None = None  # the fake Anthropic behind the stack, for a test to steer

    def get(self, path: str, **params: Any) -> Any:
        response = httpx.get(
            f"{self.url}{path}", params=params, headers={"Authorization": f"Bearer {self.api_key}"}
        )
        assert response.status_code == 200, response.text
        return response.json()

    def session_token(self, user_id: str) -> str:
        claims = session_claims(user_id, exp=int(time.time()) + 600)
        return jwt.encode(claims, self.clerk_key.private_pem, algorithm="RS256")


def seed_usage(proxy_url: str) -> None:
    """Four calls as Claude Code and the SDKs make them: streamed with 1h cache, thinking with a tool
    round-trip, a long non-streamed one, and a plain one on another model."""
    client = anthropic.Anthropic(api_key=ANTHROPIC_KEY, base_url=proxy_url)
    with client.messages.stream(
        model="fake:cache-1h",
        max_tokens=100,
        system=[{"type": "text", "text": SYSTEM_PROMPT, "cache_control": {"type": "ephemeral", "ttl": "1h"}}],
        messages=[{"role": "user", "content": "Hello"}],
    ) as stream:
        stream.get_final_message()
    with client.messages.stream(
        model="fake:thinking",
        max_tokens=2000,
        thinking={"type": "enabled", "budget_tokens": 1024},
        system=SYSTEM_PROMPT,
        tools=[
            {
                "name": "read_file",
                "description": "Read a file of the repository.",
                "input_schema": {"type": "object", "properties": {"path": {"type": "string"}}},
            }
        ],
        messages=[
            {"role": "user", "content": "What does the Makefile build?"},
            {
                "role": "assistant",
                "content": [
                    {"type": "tool_use", "id": "toolu_01", "name": "read_file", "input": {"path": "Makefile"}}
                ],
            },
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": "toolu_01", "content": "dev: $(STAMP)"}],
            },
        ],
    ) as stream:
        stream.get_final_message()
    client.messages.create(
        model="fake:long-context", max_tokens=50, messages=[{"role": "user", "content": "Summarize the repo"}]
    )
    client.messages.create(
        model="claude-haiku-4-5", max_tokens=50, messages=[{"role": "user", "content": "Hi"}]
    )


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    clerk_key = make_signing_key()
    with Upstream(FakeAnthropic()) as upstream:
        dev_stack = DevStack(tmp_path_factory.mktemp("dashboard-dev"), upstream.url)
        # Clerk sessions verified locally with a test key: the cookie path of the dashboard, and a second
        # tenant (a new user) for the empty states.
        dev_stack.env["CLERK_JWT_KEY"] = clerk_key.public_pem
        dev_stack.env["CLERK_ISSUER"] = ISSUER
        dev_stack.env["CLERK_AUTHORIZED_PARTIES"] = DASHBOARD
        dev = dev_stack.start()
        try:
            endpoint = dev["proxy_endpoint"]
            seed_usage(f"{dev_stack.url}/proxy/{endpoint['slug']}")
            seeded = Stack(dev_stack.url, dev["api_key"], endpoint, clerk_key, upstream=upstream.fake)
            seeded.calls = wait_for_usage(seeded.url, seeded.api_key, 4)
            yield seeded
        finally:
            assert dev_stack.stop() == 0, dev_stack.output


@pytest.fixture(scope="session")
def screenshots() -> Path:
    """Emptied once a run, so every module's screenshots are there at the end."""
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    SCREENSHOTS.mkdir(parents=True)
    return SCREENSHOTS


# Module scope: Playwright's sync API keeps an event loop running in this thread until it stops,
# and the async tests that run later need the thread without one.
@pytest.fixture(scope="module")
def browser(screenshots: Path) -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.fail("Chromium is missing: `make test` installs Debian's chromium package")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # Playwright gives each launch a fresh temporary user data directory.
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any, stack: Stack, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A tab that may reach the stack only. Chromium logs every 4xx answer as a console error: a test
    that provokes some on purpose names them with `@pytest.mark.console_allows("status of 409", ...)`."""
    context = browser.new_context(viewport={"width": 1360, "height": 900}, base_url=stack.url)
    outside: list[str] = []
    errors: list[str] = []

    def only_the_stack(route: Any) -> None:
        if route.request.url.startswith(stack.url):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    def console(message: Any) -> None:
        if message.type == "error":
            errors.append(message.text)

    context.route("**/*", only_the_stack)
    tab = context.new_page()
    tab.set_default_timeout(10_000)
    tab.on("console", console)
    tab.on("pageerror", lambda error: errors.append(str(error)))
    yield tab
    context.close()
    assert outside == [], f"the dashboard reached beyond the API: {outside}"
    marker = request.node.get_closest_marker("console_allows")
    allowed = ("401", "ERR_FAILED", *(marker.args if marker else ()))
    unexpected = [error for error in errors if not any(text in error for text in allowed)]
    assert unexpected == [], unexpected


def screenshot(page: Any, name: str) -> None:
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def sign_in(page: Any, api_key: str) -> None:
    page.goto("/")
    page.get_by_label("Codecosts API key").fill(api_key)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Overview").wait_for()
