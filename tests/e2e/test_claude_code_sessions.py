"""Claude Code itself, told by the fake upstream to start a subagent: every call lands in its session,
the subagent's calls are told apart from the main agent's, and the CLI answers what the session cost."""

from __future__ import annotations

import json
import subprocess
import sys

import httpx

from tests.e2e.conftest import DevStack, Upstream, wait_for_usage
from tests.e2e.test_claude_code import run_claude


def test_a_claude_code_session_with_a_subagent(tmp_path, upstream: Upstream):
    upstream.fake.scenario = "spawn-subagent"
    stack = DevStack(tmp_path / "stack", upstream.url)
    stack.workdir.mkdir()
    dev = stack.start()
    try:
        home = tmp_path / "home"
        home.mkdir()
        result = run_claude(
            "Use a subagent to count the files here",
            f"{stack.url}/proxy/{dev['proxy_endpoint']['slug']}",
            home,
        )
        assert result.returncode == 0, result.stdout + result.stderr

        sent = [request for request in upstream.fake.requests if request.path.startswith("/v1/messages?")]
        assert upstream.fake.spawned_subagent, "Claude Code did not offer its subagent tool"
        session_id = sent[0].header("x-claude-code-session-id")
        subagent_requests = [request for request in sent if request.header("x-claude-code-agent-id")]
        assert subagent_requests, "no subagent call reached the upstream"
        agent_id = subagent_requests[0].header("x-claude-code-agent-id")

        records = wait_for_usage(stack.url, dev["api_key"], len(sent))
        assert {record["session_id"] for record in records} == {session_id}
        agents = sorted((record["agent"], record["agent_id"]) for record in records)
        assert agents == sorted(
            ("subagent", agent_id) if request.header("x-claude-code-agent-id") else ("main", None)
            for request in sent
        )

        auth = {"Authorization": f"Bearer {dev['api_key']}"}
        session = httpx.get(f"{stack.url}/api/usage/sessions/{session_id}", headers=auth).json()
        assert session["requests"] == len(sent)
        assert session["subagent_requests"] == len(subagent_requests)
        assert session["subagent_runs"] == 1
        filtered = httpx.get(f"{stack.url}/api/usage", params={"session_id": session_id}, headers=auth).json()
        assert len(filtered["items"]) == len(sent)

        cli = subprocess.run(
            [sys.executable, "-m", "codecosts_cli", "sessions", "latest", "--json"],
            env={"PATH": "/usr/bin:/bin", "CODECOSTS_URL": stack.url, "CODECOSTS_API_KEY": dev["api_key"]},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert cli.returncode == 0, cli.stderr
        assert json.loads(cli.stdout)["session_id"] == session_id
    finally:
        assert stack.stop() == 0, stack.output
