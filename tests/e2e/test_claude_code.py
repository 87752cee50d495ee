"""Claude Code itself (from npm) through `make dev` against the fake upstream: the most honest client.

It sends `?beta=true`, a long `anthropic-beta`, `x-app`, `x-stainless-*`, a session header and a
large body with thinking settings; any of them dropped or altered and it breaks.
"""

from __future__ import annotations

import json
import os
import subprocess
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import genai_prices
import httpx
import pytest

from shared.developers import DEVICE_MARKER
from tests.e2e.conftest import DevStack, Upstream, wait_for_usage

CLAUDE = Path(__file__).parent / "claude_code" / "node_modules" / ".bin" / "claude"
ANTHROPIC_KEY = "sk-ant-api03-claude-code-e2e-000000000000000000Qrst"


def run_claude(prompt: str, base_url: str, home: Path) -> subprocess.CompletedProcess[str]:
    if not CLAUDE.exists():
        pytest.fail("Claude Code is not installed: `make test` installs it (npm ci in tests/e2e/claude_code)")
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "ANTHROPIC_BASE_URL": base_url,
        "ANTHROPIC_API_KEY": ANTHROPIC_KEY,
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_TELEMETRY": "1",
        "DISABLE_AUTOUPDATER": "1",
    }
    return subprocess.run(
        [str(CLAUDE), "-p", prompt],
        env=env,
        cwd=home,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def reference_cents(record: dict) -> Decimal:
    """genai-prices on the tokens the fake upstream sent (no inference_geo or speed here)."""
    cached = record["cache_creation_input_tokens"] + record["cache_read_input_tokens"]
    usage = genai_prices.Usage(
        input_tokens=record["input_tokens"] + cached,
        cache_write_tokens=record["cache_creation_input_tokens"],
        cache_write_1h_tokens=4_000,
        cache_write_5m_tokens=0,
        cache_read_tokens=record["cache_read_input_tokens"],
        output_tokens=record["output_tokens"],
    )
    at = datetime.fromisoformat(record["requested_at"].replace("Z", "+00:00"))
    price = genai_prices.calc_price(
        usage, record["model"], provider_id="anthropic", genai_request_timestamp=at
    )
    return (price.total_price * 100).quantize(Decimal("0.000001"))


def test_claude_code_works_through_the_proxy_and_every_call_is_recorded(tmp_path, upstream: Upstream):
    # As Claude Code mostly does: 1-hour cache writes, in the real stream shape (the final
    # message_delta repeats the total without the 5-minute/1-hour split).
    upstream.fake.cache_writes = (0, 4_000)
    upstream.fake.cache_read = 1_000
    stack = DevStack(tmp_path / "stack", upstream.url)
    stack.workdir.mkdir()
    dev = stack.start()
    try:
        home = tmp_path / "home"
        home.mkdir()
        result = run_claude("Say hello", f"{stack.url}/proxy/{dev['proxy_endpoint']['slug']}", home)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "fake" in result.stdout.lower()

        sent = [request for request in upstream.fake.requests if request.path.startswith("/v1/messages?")]
        assert sent, [request.path for request in upstream.fake.requests]
        first = sent[0]
        assert first.path == "/v1/messages?beta=true"
        assert first.header("x-api-key") == ANTHROPIC_KEY
        assert first.header("x-app") == "cli"
        assert (first.header("user-agent") or "").startswith("claude-cli/")
        assert first.header("anthropic-beta")
        assert first.header("x-claude-code-session-id")
        assert any(name.startswith("x-stainless-") for name in first.header_names)
        assert not first.header_names & {"x-forwarded-for", "cookie", "forwarded"}

        records = wait_for_usage(stack.url, dev["api_key"], len(sent))
        assert len(records) == len(sent)
        auth = {"Authorization": f"Bearer {dev['api_key']}"}
        stored = {
            httpx.get(f"{stack.url}/api/usage/{record['id']}", headers=auth).json()["request_body"]
            for record in records
        }
        # Byte for byte: the body Claude Code sent is what reached Anthropic and what was stored, but
        # for its device id (on an API key Claude Code sends no account): only a fingerprint is kept.
        user_ids = [json.loads(json.loads(request.body)["metadata"]["user_id"]) for request in sent]
        device = user_ids[0]["device_id"]
        assert {user_id["device_id"] for user_id in user_ids} == {device}
        assert not user_ids[0].get("account_uuid")
        assert stored == {request.body.decode().replace(device, DEVICE_MARKER.decode()) for request in sent}
        [developer_id] = {record["developer_id"] for record in records}
        assert developer_id and developer_id != device
        for record in records:
            assert record["status_code"] == 200
            assert record["stream"] is True
            assert record["input_tokens"] > 0 and record["output_tokens"] > 0
            assert record["api_key_hint"] == "sk-ant-api03-...Qrst"
            assert record["cache_creation_1h_input_tokens"] == 4_000
            assert record["cache_creation_5m_input_tokens"] == 0
            assert Decimal(record["cost_cents"]) == reference_cents(record)

        # The developer is listed, can be named, and the summary puts every call down to them.
        [seen] = httpx.get(f"{stack.url}/api/developers", headers=auth).json()["items"]
        assert seen["developer_id"] == developer_id
        named = httpx.put(f"{stack.url}/api/developers/{developer_id}", json={"name": "Ada"}, headers=auth)
        assert named.status_code == 200, named.text
        summary = httpx.get(f"{stack.url}/api/usage/summary", headers=auth).json()
        assert [(e["developer_id"], e["name"], e["requests"]) for e in summary["byDeveloper"]] == [
            (developer_id, "Ada", len(sent))
        ]
    finally:
        assert stack.stop() == 0, stack.output
