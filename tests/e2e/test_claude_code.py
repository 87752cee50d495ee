"""Claude Code itself (from npm) through `make dev` against the fake upstream: the most honest client.

It sends `?beta=true`, a long `anthropic-beta`, `x-app`, `x-stainless-*`, a session header and a
large body with thinking settings; any of them dropped or altered and it breaks.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import httpx
import pytest

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


def test_claude_code_works_through_the_proxy_and_every_call_is_recorded(tmp_path, upstream: Upstream):
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
        # Byte for byte: the body Claude Code sent is what reached Anthropic and what was stored.
        assert stored == {request.body.decode() for request in sent}
        for record in records:
            assert record["status_code"] == 200
            assert record["stream"] is True
            assert record["input_tokens"] > 0 and record["output_tokens"] > 0
            assert record["api_key_hint"] == "sk-ant-api03-...Qrst"
    finally:
        assert stack.stop() == 0, stack.output
