"""The `codecosts` CLI against a running `make dev`: tables, --json, exit codes, messages that say what
went wrong. Calls are shaped like Claude Code's (session header, `metadata.user_id`, a subagent)."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import free_port
from tests.e2e.conftest import DevStack, Upstream, wait_for_usage
from tests.fakes.anthropic_upstream import FakeAnthropic

ANTHROPIC_KEY = "sk-ant-api03-cli-test-key-000000000000000000000000Abcd"
SESSION = str(uuid.uuid4())
AGENT = "a61d1ebbe586504e2"


def claude_code_call(base_url: str, *, subagent: bool = False, model: str = "fake:cache-1h") -> None:
    """A call as Claude Code 2.1 sends it (headers and the parts of the body that matter here)."""
    billing = "x-anthropic-billing-header: cc_version=2.1.197.f23; cc_entrypoint=cli;"
    if subagent:
        billing += " cc_is_subagent=true;"
    headers = {
        "x-api-key": ANTHROPIC_KEY,
        "anthropic-version": "2023-06-01",
        "x-app": "cli",
        "x-claude-code-session-id": SESSION,
        **({"x-claude-code-agent-id": AGENT} if subagent else {}),
    }
    user_id = json.dumps({"device_id": "d" * 64, "account_uuid": "", "session_id": SESSION})
    body = {
        "model": model,
        "max_tokens": 100,
        "stream": True,
        "system": [{"type": "text", "text": billing}, {"type": "text", "text": "You are Claude Code."}],
        "messages": [{"role": "user", "content": "Hello"}],
        "metadata": {"user_id": user_id},
    }
    response = httpx.post(f"{base_url}/v1/messages?beta=true", headers=headers, json=body, timeout=30)
    assert response.status_code == 200, response.text


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DevStack, dict[str, Any]]]:
    with Upstream(FakeAnthropic()) as upstream:
        running = DevStack(tmp_path_factory.mktemp("cli-stack"), upstream.url)
        dev = running.start()
        try:
            base = f"{running.url}/proxy/{dev['proxy_endpoint']['slug']}"
            claude_code_call(base)
            claude_code_call(base, subagent=True)
            claude_code_call(base, model="fake:text")  # a plain call: no cache, still the same session
            wait_for_usage(running.url, dev["api_key"], 3)
            yield running, dev
        finally:
            assert running.stop() == 0, running.output


def codecosts(
    stack: tuple[DevStack, dict[str, Any]], *args: str, key: str | None = None, url: str | None = None
) -> subprocess.CompletedProcess[str]:
    running, dev = stack
    env = {
        "PATH": "/usr/bin:/bin",
        "CODECOSTS_URL": url or running.url,
        "CODECOSTS_API_KEY": dev["api_key"] if key is None else key,
    }
    return subprocess.run(
        [sys.executable, "-m", "codecosts_cli", *args],
        env=env,
        cwd=Path(__file__).parent,  # no .codecosts/dev.json here
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_usage_total_and_breakdowns(stack):
    result = codecosts(stack, "usage")
    assert result.returncode == 0, result.stderr
    assert "Saved by caching" in result.stdout and "Cache hit ratio" in result.stdout
    assert "Calls" in result.stdout and "3" in result.stdout

    by_model = codecosts(stack, "usage", "--by", "model", "--since", "1d")
    assert by_model.returncode == 0, by_model.stderr
    assert by_model.stdout.splitlines()[0].split() == ["MODEL", "CALLS", "TOKENS", "COST"]
    assert "claude-sonnet-4-5-20250929" in by_model.stdout

    summary = json.loads(codecosts(stack, "usage", "--json").stdout)
    assert summary["totalRequests"] == 3
    by_day = json.loads(codecosts(stack, "usage", "--by", "day", "--json").stdout)
    assert sum(day["requests"] for day in by_day) == 3
    by_endpoint = codecosts(stack, "usage", "--by", "endpoint")
    assert "local" in by_endpoint.stdout


def test_sessions_answer_what_a_session_cost_and_what_caching_saved(stack):
    listing = codecosts(stack, "usage", "--by", "session")
    assert listing.returncode == 0, listing.stderr
    assert SESSION in listing.stdout
    plain = codecosts(stack, "sessions")
    assert plain.stdout == listing.stdout, plain.stderr

    [session] = json.loads(codecosts(stack, "sessions", "--json").stdout)
    assert session["session_id"] == SESSION
    assert (session["requests"], session["subagent_requests"], session["subagent_runs"]) == (3, 1, 1)

    detail = codecosts(stack, "sessions", "latest")
    assert detail.returncode == 0, detail.stderr
    assert f"Session {SESSION}" in detail.stdout
    for label in ("Cost", "main agent", "subagents", "Cost without caching", "Saved by caching"):
        assert label in detail.stdout
    assert "1 calls (1 runs)" in detail.stdout  # the subagent's share

    as_json = json.loads(codecosts(stack, "sessions", SESSION, "--json").stdout)
    assert float(as_json["cache_savings_cents"]) > 0
    # Two 1-hour writes of 10408 tokens at the same prefix, each never read back by a later call of
    # its own thread; still within their hour, so pending, not unread.
    assert as_json["pending_1h_cache_write_tokens"] == 2 * 10408
    assert as_json["unread_1h_cache_write_tokens"] == 0


def test_calls_with_filters_and_json(stack):
    table = codecosts(stack, "calls", "--limit", "2")
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split()[:3] == ["TIME", "(UTC)", "ID"]
    assert len(lines) == 3  # header and two calls

    subagent_calls = json.loads(codecosts(stack, "calls", "--session", SESSION, "--json").stdout)
    assert len(subagent_calls) == 3
    assert sorted(call["agent"] for call in subagent_calls) == ["main", "main", "subagent"]
    assert {call["session_id"] for call in subagent_calls} == {SESSION}

    none = codecosts(stack, "calls", "--model", "claude-opus")
    assert none.returncode == 0 and "No calls match." in none.stdout


def test_export_is_csv_of_every_call(stack, tmp_path):
    result = codecosts(stack, "export", "--session", SESSION)
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == 3 and {row["session_id"] for row in rows} == {SESSION}
    target = tmp_path / "usage.csv"
    assert codecosts(stack, "export", "-o", str(target)).returncode == 0
    assert target.read_text().startswith("id,model,")


def test_tail_prints_new_calls_as_they_are_recorded(stack):
    running, dev = stack
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "codecosts_cli",
            "tail",
            "--lines",
            "1",
            "--interval",
            "0.3",
            "--exit-after",
            "1",
        ],
        env={"PATH": "/usr/bin:/bin", "CODECOSTS_URL": running.url, "CODECOSTS_API_KEY": dev["api_key"]},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first = process.stdout.readline() if process.stdout else ""
        assert first.split()[:3] == ["TIME", "(UTC)", "ID"]
        shown = process.stdout.readline() if process.stdout else ""  # the latest call already recorded
        assert "claude-sonnet" in shown or "fake" in shown
        claude_code_call(f"{running.url}/proxy/{dev['proxy_endpoint']['slug']}", model="fake:thinking")
        out, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 0, err
    assert "claude-opus-4-1" in out  # the new call, and then tail stopped


def test_endpoints_and_budgets(stack):
    created = json.loads(codecosts(stack, "endpoints", "create", "CLI laptop", "--json").stdout)
    assert created["name"] == "CLI laptop" and created["url"].endswith(created["slug"])
    plain = codecosts(stack, "endpoints", "create", "Other")
    assert "export ANTHROPIC_BASE_URL=" in plain.stdout

    budget = codecosts(stack, "endpoints", "budget", created["id"], "--dollars", "12.5", "--action", "block")
    assert budget.returncode == 0, budget.stderr
    assert "$12.50 (block)" in budget.stdout
    listing = codecosts(stack, "endpoints", "list")
    assert "CLI laptop" in listing.stdout and "$12.50 (block)" in listing.stdout
    removed = json.loads(codecosts(stack, "endpoints", "budget", created["id"], "--none", "--json").stdout)
    assert removed["monthly_budget_cents"] is None

    assert codecosts(stack, "endpoints", "delete", created["id"]).returncode == 0
    again = codecosts(stack, "endpoints", "delete", created["id"])
    assert again.returncode == 4 and "Proxy endpoint not found" in again.stderr
    nothing = codecosts(stack, "endpoints", "budget", created["id"])
    assert nothing.returncode == 2 and "--dollars" in nothing.stderr


def test_keys(stack):
    created = codecosts(stack, "keys", "create", "ci", "--scope", "admin")
    assert created.returncode == 0, created.stderr
    assert "Created admin API key ci" in created.stdout
    key = next(word for word in created.stdout.split() if word.startswith("sk_"))
    # The new key works for the CLI itself.
    listing = codecosts(stack, "keys", "list", key=key)
    assert "ci" in listing.stdout and "make dev" in listing.stdout and key not in listing.stdout
    assert "SCOPE" in listing.stdout and "admin" in listing.stdout
    [made] = [
        item for item in json.loads(codecosts(stack, "keys", "list", "--json").stdout) if item["name"] == "ci"
    ]
    assert codecosts(stack, "keys", "delete", made["id"]).returncode == 0
    refused = codecosts(stack, "calls", key=key)
    assert refused.returncode == 3
    assert "API key was refused" in refused.stderr and "CODECOSTS_API_KEY" in refused.stderr


def test_prices_show_what_a_model_is_costed_at(stack):
    sonnet_4 = codecosts(stack, "prices", "claude-sonnet-4-20250514")
    assert sonnet_4.returncode == 0, sonnet_4.stderr
    lines = sonnet_4.stdout.splitlines()
    assert lines[0] == "Claude Sonnet 4 (claude-sonnet-4-0), from codecosts override"
    assert next(line for line in lines if line.startswith("output")).split() == [
        "output",
        "$15",
        "$22.5",
        "over",
        "200,000",
        "-",
    ]
    assert "US-only inference (inference_geo us): token prices x1" in sonnet_4.stdout
    assert "Price data: genai-prices " in sonnet_4.stdout

    as_json = json.loads(codecosts(stack, "prices", "claude-opus-5", "--json").stdout)
    assert as_json["fast_prices"]["input_mtok"]["usd"] == "10"
    assert as_json["multipliers"]["us_only_inference"] == "1.1"

    unknown = codecosts(stack, "prices", "claude-imaginary-9")
    assert unknown.returncode == 4 and "Model not found" in unknown.stderr


def test_errors_say_what_went_wrong(stack):
    bad_key = codecosts(stack, "usage", key="sk_not-a-real-key")
    assert bad_key.returncode == 3 and "API key was refused" in bad_key.stderr

    down = codecosts(stack, "usage", url=f"http://127.0.0.1:{free_port()}")
    assert down.returncode == 5
    assert "cannot reach the Codecosts API" in down.stderr and "make dev" in down.stderr

    not_codecosts = codecosts(stack, "usage", url=f"{stack[0].url}/no-such-place")
    assert not_codecosts.returncode in (4, 5), not_codecosts.stderr

    missing = codecosts(stack, "sessions", "no-such-session")
    assert missing.returncode == 4 and "Session not found" in missing.stderr

    invalid = codecosts(stack, "calls", "--api-key-id", "XYZ")
    assert invalid.returncode == 1 and "api_key_id" in invalid.stderr

    usage_error = codecosts(stack, "usage", "--since", "yesterday")
    assert usage_error.returncode == 2 and "expected a span" in usage_error.stderr

    no_key = codecosts(stack, "usage", key="")
    assert no_key.returncode == 2 and "CODECOSTS_API_KEY is not set" in no_key.stderr

    assert httpx.get(f"{stack[0].url}/api/health").status_code == 200  # the stack is still fine
