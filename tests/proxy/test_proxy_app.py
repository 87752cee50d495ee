"""The app itself: importable without configuration, bytes kept exact, lookups failing cleanly."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
from pydantic import SecretStr

from shared.models import SlugTarget
from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.proxy_server import RunningProxy
from tests.proxy.support import API_KEY

ROOT = Path(__file__).resolve().parents[2]
HEADERS = {"x-api-key": API_KEY, "content-type": "application/json"}


def test_importing_the_app_needs_no_configuration_and_touches_no_aws() -> None:
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), "PYTHONPATH": str(ROOT)}
    check = (
        "import botocore.endpoint as e\n"
        "def refuse(*a, **k): raise SystemExit('AWS called at import')\n"
        "e.Endpoint.make_request = refuse\n"
        "from functions.proxy.app import app\n"
        "assert callable(app)\n"
    )
    subprocess.run([sys.executable, "-c", check], env=env, cwd=ROOT, check=True, timeout=60)


def test_odd_request_bytes_and_query_reach_the_upstream_untouched(
    proxy_server: RunningProxy, fake_upstream: FakeAnthropic
) -> None:
    # Spacing, key order, escapes and raw UTF-8 that a re-serialization would change.
    body = (
        b'{ "stream" : false,"model":"claude-opus-4-6",  "max_tokens":8,\n'
        b'"messages":[{"role":"user","content":"caf\\u00e9 \xc3\xa9 \\ud83d\\ude00 \xf0\x9f\x98\x80"}],'
        b'"thinking":{"type":"enabled","budget_tokens":1024}, "z":1.0e0 }'
    )
    query = "beta=true&x=%2F%2Fevil.example%2F&y=a%20b&@=1"
    reply = httpx.post(f"{proxy_server.base_url}/v1/messages?{query}", content=body, headers=HEADERS)
    assert reply.status_code == 200
    received = fake_upstream.last_request
    assert received.body == body
    assert received.path == f"/v1/messages?{query}"
    assert received.header("host") == fake_upstream.url.removeprefix("http://")
    assert proxy_server.queue.receive_one().event.request_body.content() == body


def test_a_chunked_request_body_is_forwarded_whole(
    proxy_server: RunningProxy, fake_upstream: FakeAnthropic
) -> None:
    parts = [
        b'{"model":"claude-opus-4-6","max_tokens":8,',
        b'"messages":[{"role":"user",',
        b'"content":"hi"}]}',
    ]
    reply = httpx.post(proxy_server.base_url + "/v1/messages", content=iter(parts), headers=HEADERS)
    assert reply.status_code == 200
    assert fake_upstream.last_request.body == b"".join(parts)
    proxy_server.queue.receive_one()


class BrokenEndpoints:
    def resolve_slug(self, slug: str) -> SlugTarget | None:
        raise ConnectionError("table unreachable")


def test_a_failed_slug_lookup_is_a_503_and_the_upstream_is_not_called(
    start_proxy: Callable[..., RunningProxy], fake_upstream: FakeAnthropic
) -> None:
    proxy = start_proxy(endpoints=BrokenEndpoints())
    reply = httpx.post(proxy.base_url + "/v1/messages", content=b"{}", headers=HEADERS)
    assert reply.status_code == 503
    assert reply.json() == {"error": "Service unavailable"}
    assert fake_upstream.requests == []


def test_a_missing_server_secret_is_a_500_and_the_upstream_is_not_called(
    start_proxy: Callable[..., RunningProxy], fake_upstream: FakeAnthropic
) -> None:
    proxy = start_proxy(server_secret=SecretStr(""))
    reply = httpx.post(proxy.base_url + "/v1/messages", content=b"{}", headers=HEADERS)
    assert reply.status_code == 500
    assert reply.json() == {"error": "Internal server error"}
    assert fake_upstream.requests == []
