"""Bad input at the management API: a 400 (or 413) in the contract's shape, with `details`; never a
500; and every response as the served OpenAPI document says (schemathesis, from PyPI), the 429s of
the per-IP limit included."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from functions.api.app import MAX_BODY_BYTES, create_app
from shared.settings import get_settings
from shared.store.rate_limits import CLIENT_IP, Decision, RateLimit
from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.servers import ServerThread
from tests.reliability.support import api_key_for

TENANT = "user_fuzz"


@pytest.fixture
def api_app(aws: object, fake_upstream: FakeAnthropic) -> FastAPI:
    """The API as deployed: the per-IP limit at its default (600 a minute; every request here comes
    from 127.0.0.1). The Admin API the bill check asks is the fake Anthropic's, never the real one."""
    return create_app(get_settings().model_copy(update={"anthropic_admin_url": fake_upstream.url}))


@pytest.fixture
def served_api(api_app: FastAPI) -> Iterator[tuple[str, str]]:
    """The API under uvicorn on a free port, and a valid key."""
    with ServerThread(api_app) as server:
        yield server.url, api_key_for(TENANT)


def _always_allowed(rule: RateLimit, subject: str) -> Decision:
    return Decision(True)


@pytest.fixture
def unlimited_api(api_app: FastAPI, monkeypatch: pytest.MonkeyPatch) -> FastAPI:
    """The API without the per-IP limit, for a fuzz run long enough to be refused most of the time."""
    monkeypatch.setattr(api_app.state.services.rate_limiter, "hit", _always_allowed)
    return api_app


def assert_bad_request(reply: httpx.Response, status: int = 400) -> list[Any] | Any:
    assert reply.status_code == status, reply.text
    body = reply.json()
    assert set(body) == {"error", "details"}, body
    assert body["details"], body
    return body["details"]


@pytest.mark.parametrize(
    ("method", "path", "payload"),
    [
        ("POST", "/api/proxy-endpoints", {"name": 123}),
        ("POST", "/api/proxy-endpoints", {"name": ["a"]}),
        ("POST", "/api/proxy-endpoints", {"name": "x" * 101}),
        ("POST", "/api/proxy-endpoints", {"name": "   "}),
        ("POST", "/api/proxy-endpoints", {"name": "ok", "admin": True}),
        ("POST", "/api/proxy-endpoints", {}),
        ("POST", "/api/proxy-endpoints", [1, 2]),
        ("POST", "/api/api-keys", {"name": None}),
        ("POST", "/api/api-keys", {"name": "ok", "key": "sk_chosen"}),
        ("PUT", "/api/profile", {"name": {"first": "a"}}),
        ("PUT", "/api/profile", {"name": "ok", "email": "x@y.z"}),
    ],
)
def test_wrong_types_and_unknown_fields_are_400_with_details(
    served_api: tuple[str, str], method: str, path: str, payload: Any
) -> None:
    url, key = served_api
    reply = httpx.request(method, url + path, json=payload, headers={"Authorization": f"Bearer {key}"})
    details = assert_bad_request(reply)
    assert all({"field", "in", "message"} <= set(detail) for detail in details)


@pytest.mark.parametrize(
    "query",
    [
        "limit=100000000000000000000000",
        "limit=0",
        "limit=-5",
        "limit=ten",
        "limit=1.5",
        "cursor=not-a-cursor",
        "cursor=" + "A" * 5000,
        "cursor=eyJrIjoxfQ",
        "from=yesterday",
        "from=2026-13-45",
        "to=2026-02-30T25:61:00Z",
        "from=2026-03-02&to=2026-03-01",
        "from=" + "9" * 100,
        "proxy_endpoint_id=../../etc",
        "api_key_id=NOT-HEX",
    ],
)
def test_malformed_queries_are_400_with_details(served_api: tuple[str, str], query: str) -> None:
    url, key = served_api
    reply = httpx.get(f"{url}/api/usage?{query}", headers={"Authorization": f"Bearer {key}"})
    assert_bad_request(reply)


@pytest.mark.parametrize("path", ["/api/proxy-endpoints", "/api/api-keys", "/api/audit-logs"])
def test_every_list_refuses_a_huge_limit_and_a_forged_cursor(served_api: tuple[str, str], path: str) -> None:
    url, key = served_api
    auth = {"Authorization": f"Bearer {key}"}
    assert_bad_request(httpx.get(f"{url}{path}?limit=1000000", headers=auth))
    assert_bad_request(httpx.get(f"{url}{path}?cursor=eyJ0IjoidXNlcl9hbGljZSJ9.forged", headers=auth))


def test_json_that_is_not_json_is_400_with_details(served_api: tuple[str, str]) -> None:
    url, key = served_api
    reply = httpx.post(
        url + "/api/proxy-endpoints",
        content=b'{"name": "unterminated',
        headers={"Authorization": f"Bearer {key}", "content-type": "application/json"},
    )
    assert assert_bad_request(reply) == [{"field": "body", "in": "body", "message": "Body is not valid JSON"}]


def test_oversized_json_is_413_with_details_declared_or_chunked(served_api: tuple[str, str]) -> None:
    url, key = served_api
    auth = {"Authorization": f"Bearer {key}", "content-type": "application/json"}
    huge = b'{"name": "' + b"x" * MAX_BODY_BYTES + b'"}'
    assert assert_bad_request(httpx.post(url + "/api/proxy-endpoints", content=huge, headers=auth), 413)

    def chunks() -> Iterator[bytes]:  # no content-length: the server counts as it reads
        for start in range(0, len(huge), 8192):
            yield huge[start : start + 8192]

    reply = httpx.post(url + "/api/proxy-endpoints", content=chunks(), headers=auth)
    assert assert_bad_request(reply, 413) == f"At most {MAX_BODY_BYTES} bytes"
    listed = httpx.get(url + "/api/proxy-endpoints", headers=auth).json()
    assert listed["items"] == []  # nothing was created

    small = httpx.post(url + "/api/proxy-endpoints", content=iter([b'{"name": "chunked"}']), headers=auth)
    assert small.status_code == 201 and small.json()["name"] == "chunked"


def schemathesis_run(url: str, key: str, max_examples: int, max_seconds: int | None = None) -> None:
    """`schemathesis run` against the served document: no 5xx, every response as documented.

    Excluded: `positive_data_acceptance`, because a schema cannot say that a cursor must be one this
    API signed, or that `from` must be a date: such schema-valid input is the contract's 400 with
    `details`, which the other checks verify against the document.
    """
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "run",
        f"{url}/api/openapi.json",
        "--header",
        f"Authorization: Bearer {key}",
        "--checks",
        "all",
        "--exclude-checks",
        "positive_data_acceptance",
        "--max-examples",
        str(max_examples),
        # One worker: Python 3.11's ast module is not thread-safe (hypothesis parses lambdas with it,
        # and two workers at once end in "SystemError: AST constructor recursion depth mismatch").
        "--workers",
        "1",
        "--seed",
        "20261125",
        "--no-color",
        "--suppress-health-check",
        "all",
    ]
    if max_seconds:  # a time budget: fuzzing and stateful testing repeat until it is spent
        command += ["--max-time", str(max_seconds)]
    env = {**os.environ, "NO_COLOR": "1"}
    timeout = (max_seconds or 120) + 60
    run = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False, env=env)
    summary = run.stdout[-6000:]
    assert run.returncode == 0, summary
    assert " passed" in summary and "failures" not in summary.lower(), summary


def test_schemathesis_at_the_rate_limit_finds_no_500_and_no_response_off_the_schema(
    api_app: FastAPI, served_api: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The run passes the per-IP limit, so 429 answers are checked against the document as well as
    the others. It sends about 950 requests; the limiter's clock is held for the run, so they all
    count in one window and the 601st is refused however fast this machine sends them."""
    limiter = api_app.state.services.rate_limiter
    now = time.time()
    monkeypatch.setattr(limiter, "clock", lambda: now)
    counted = limiter.hit
    decisions: list[Decision] = []

    def hit(rule: RateLimit, subject: str) -> Decision:
        decision = counted(rule, subject)
        if rule == CLIENT_IP:  # not the bill check's refresh, the other limit here
            decisions.append(decision)
        return decision

    monkeypatch.setattr(limiter, "hit", hit)
    url, key = served_api
    schemathesis_run(url, key, max_examples=10)
    assert CLIENT_IP.limit == 600
    assert sum(decision.allowed for decision in decisions) == CLIENT_IP.limit, len(decisions)
    assert len(decisions) > CLIENT_IP.limit


@pytest.mark.soak
@pytest.mark.timeout(600)  # its own budget is 300 s of fuzzing, then the subprocess's 60 s more
def test_schemathesis_long_run(unlimited_api: FastAPI, served_api: tuple[str, str]) -> None:
    url, key = served_api
    schemathesis_run(url, key, max_examples=500, max_seconds=300)
