"""`make dev` as a new user meets it: start the stack, send calls with the anthropic SDK through the
printed proxy URL, read them back from the API, stop with Ctrl-C, start again and find them kept."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal

import anthropic
import httpx

from devstack.processes import base_environment
from tests.e2e.conftest import DevStack, wait_for_usage

ANTHROPIC_KEY = "sk-ant-api03-devstack-test-key-0000000000000000Wxyz"


def test_make_dev_records_sdk_calls_and_keeps_them_across_a_restart(tmp_path, upstream):
    stack = DevStack(tmp_path, upstream.url)
    dev = stack.start()
    try:
        endpoint = dev["proxy_endpoint"]
        assert endpoint["url"] == f"http://localhost:{stack.port}/proxy/{endpoint['slug']}"
        client = anthropic.Anthropic(api_key=ANTHROPIC_KEY, base_url=f"{stack.url}/proxy/{endpoint['slug']}")

        reply = client.messages.create(
            model="fake:long-context", max_tokens=50, messages=[{"role": "user", "content": "Hi"}]
        )
        assert reply.usage.input_tokens == 250300
        with client.messages.stream(
            model="fake:cache-1h", max_tokens=50, messages=[{"role": "user", "content": "Hello"}]
        ) as stream:
            text = stream.get_final_text()
        assert text == "Hello! How can I help you today?"

        items = wait_for_usage(stack.url, dev["api_key"], 2)
        streamed, plain = items  # newest first
        assert (plain["model"], plain["input_tokens"], plain["stream"]) == (
            "claude-sonnet-4-5-20250929",
            250300,
            False,
        )
        assert Decimal(plain["cost_cents"]) > 0
        assert (streamed["cache_creation_1h_input_tokens"], streamed["output_tokens"]) == (10408, 15)
        assert streamed["api_key_hint"] == "sk-ant-api03-...Wxyz"
        detail = httpx.get(
            f"{stack.url}/api/usage/{streamed['id']}", headers={"Authorization": f"Bearer {dev['api_key']}"}
        ).json()
        assert json.loads(detail["request_body"])["model"] == "fake:cache-1h"
        assert detail["response_body"].startswith("event: message_start")
    finally:
        assert stack.stop() == 0, stack.output

    again = stack.start()
    try:
        assert again == dev  # same key, same endpoint
        items = wait_for_usage(stack.url, dev["api_key"], 2)
        assert [item["id"] for item in items] == [streamed["id"], plain["id"]]
    finally:
        assert stack.stop() == 0, stack.output
    assert ANTHROPIC_KEY not in (tmp_path / ".codecosts" / "state" / "table.jsonl").read_text()


def test_make_dev_refuses_to_start_when_a_forward_proxy_is_set(tmp_path):
    # The proxy's process gets the template's environment, never the shell's HTTPS_PROXY: make dev
    # itself must refuse, as the proxy would, rather than send calls around the developer's policy.
    env = {key: value for key, value in base_environment().items() if key.upper() != "NO_PROXY"}
    env["HTTPS_PROXY"] = "http://127.0.0.1:9"
    result = subprocess.run(
        [sys.executable, "-m", "devstack"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 1
    assert "A forward proxy is set for api.anthropic.com" in result.stderr
    assert not (tmp_path / ".codecosts").exists()  # refused before anything started
