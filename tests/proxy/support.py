"""What the proxy tests share: an SDK client that remembers what it sent, and the fixture files."""

from __future__ import annotations

import base64
import json
import random
from pathlib import Path
from typing import Any

import anthropic
import httpx2
from anthropic.types import MessageParam

from shared.credentials import credential_hint, fingerprint_credential
from shared.usage import Usage
from shared.usage_record import TOKEN_KINDS
from tests.fakes.proxy_server import RunningProxy

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "anthropic"


def _expected_usage() -> dict[str, dict[str, Any]]:
    """The handbook's expected usage of each captured reply. A token kind it does not name is one
    those replies do not report, so a correct reader records 0 of it: the captures predate
    `usage.output_tokens_details`, hence no thinking tokens."""
    expected = json.loads((FIXTURES / "expected-usage.json").read_text())
    return {name: {**dict.fromkeys(TOKEN_KINDS, 0), **usage} for name, usage in expected.items()}


EXPECTED_USAGE: dict[str, dict[str, Any]] = _expected_usage()

API_KEY = "sk-ant-api03-" + "A1b2C3d4" * 10 + "-Wxyz"
SERVER_SECRET = b"test-server-secret"  # tests/conftest.py sets CODECOSTS_SERVER_SECRET to this
MESSAGES: list[MessageParam] = [{"role": "user", "content": "Hello, Claude"}]


class RecordingClient:
    """The official SDK pointed at the proxy, keeping every request it sent (with its exact body)."""

    def __init__(self, proxy: RunningProxy, **options: Any) -> None:
        self.sent: list[httpx2.Request] = []
        http = httpx2.Client(event_hooks={"request": [self.sent.append]}, timeout=20)
        options.setdefault("api_key", API_KEY)
        self.sdk = anthropic.Anthropic(base_url=proxy.base_url, max_retries=0, http_client=http, **options)

    @property
    def last_body(self) -> bytes:
        return self.sent[-1].content


def incompressible(size: int, seed: int = 0) -> str:
    """Text zstd barely shrinks: a prompt that stays large once compressed (random, base64)."""
    return base64.b64encode(random.Random(seed).randbytes(size)).decode()


def key_id(credential: str) -> str:
    return fingerprint_credential(credential, SERVER_SECRET)


def key_hint(credential: str) -> str:
    return credential_hint(credential)


def assert_usage(usage: Usage, expected: dict[str, Any]) -> None:
    for name in ("model", *TOKEN_KINDS, "stop_reason"):
        assert getattr(usage, name) == expected[name], name
    assert usage.server_tool_use.get("web_search_requests", 0) == expected["web_search_requests"]
    assert usage.error_type == expected.get("stream_error")
