"""make dev's front door (devstack/frontdoor.py) routes as the function URL and API Gateway do, streams
replies as they come, and tells each function the caller's IP the way the platform does."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.requests import Request

from devstack.frontdoor import FrontDoor, Function, Routes
from shared.client_ip import client_ip
from tests.conftest import free_port
from tests.fakes.servers import ServerThread

CALLER_IP = "127.0.0.5"  # a loopback address of its own, so the IP seen is the caller's, not the door's


class Echo:
    """A function that answers what it was asked and from where (`/stream`: two chunks, the second
    only once `release` is set)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.release = threading.Event()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = await Request(scope, receive).body()
        headers = [(b"content-type", b"text/plain")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        if scope["path"].endswith("/stream"):
            await send({"type": "http.response.body", "body": b"first\n", "more_body": True})
            await asyncio.get_running_loop().run_in_executor(None, self.release.wait, 10)
            await send({"type": "http.response.body", "body": b"second\n"})
            return
        context = next((json.loads(v) for k, v in scope["headers"] if k == b"x-amzn-request-context"), None)
        answer = {
            "function": self.name,
            "method": scope["method"],
            "path": scope["path"],
            "query": scope["query_string"].decode(),
            "body": body.decode(),
            "ip": client_ip(scope, behind_web_adapter=True),
            "stage": context and context.get("stage"),
        }
        await send({"type": "http.response.body", "body": json.dumps(answer).encode()})


class RunningDoor:
    def __init__(self, routes: Routes) -> None:
        self.door = FrontDoor(routes)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._loop = asyncio.new_event_loop()
        self._stop = asyncio.Event()
        self._thread = threading.Thread(
            target=self._loop.run_until_complete, args=(self.door.serve(self.port, self._stop),), daemon=True
        )

    def __enter__(self) -> RunningDoor:
        self._thread.start()
        for _ in range(200):
            try:
                httpx.get(self.url, timeout=0.2)
                break
            except httpx.TransportError:
                threading.Event().wait(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=10)


@pytest.fixture(scope="module")
def functions() -> Iterator[dict[str, tuple[Echo, ServerThread]]]:
    echoes = {name: Echo(name) for name in ("proxy", "api", "usage_export")}
    servers = {name: ServerThread(echo).start() for name, echo in echoes.items()}
    yield {name: (echoes[name], servers[name]) for name in echoes}
    for server in servers.values():
        server.stop()


@pytest.fixture(scope="module")
def door(functions: dict[str, tuple[Echo, ServerThread]]) -> Iterator[RunningDoor]:
    routes = Routes(
        proxy=Function("proxy", functions["proxy"][1].port, "function_url"),
        api=Function("api", functions["api"][1].port, "rest_api"),
        export=Function("usage_export", functions["usage_export"][1].port, "rest_api"),
    )
    with RunningDoor(routes) as running:
        yield running


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(transport=httpx.HTTPTransport(local_address=CALLER_IP), timeout=10) as caller:
        yield caller


@pytest.mark.parametrize(
    ("method", "path", "function", "stage"),
    [
        ("POST", "/proxy/local-ab12cd/v1/messages?beta=true", "proxy", "$default"),
        ("GET", "/api/usage/export.csv?since=7d", "usage_export", "v1"),
        ("GET", "/api/usage", "api", "v1"),
        ("POST", "/api/usage/export.csv", "api", "v1"),
        ("GET", "/", "api", "v1"),
    ],
)
def test_each_request_reaches_the_function_aws_would_invoke_with_the_callers_ip(
    door: RunningDoor, client: httpx.Client, method: str, path: str, function: str, stage: str
) -> None:
    body = '{"model":"claude"}' if method == "POST" else ""
    # A caller cannot pass for another IP: the context it sends is replaced by the door's own.
    spoofed = {"x-amzn-request-context": json.dumps({"http": {"sourceIp": "203.0.113.9"}})}
    reply = client.request(method, door.url + path, content=body, headers=spoofed)
    assert reply.status_code == 200
    seen = reply.json()
    assert (seen["function"], seen["method"], seen["body"], seen["ip"], seen["stage"]) == (
        function,
        method,
        body,
        CALLER_IP,
        stage,
    )
    assert seen["path"] + ("?" + seen["query"] if seen["query"] else "") == path


def test_a_reply_reaches_the_caller_as_it_is_written(
    door: RunningDoor, client: httpx.Client, functions: dict[str, tuple[Echo, ServerThread]]
) -> None:
    echo = functions["proxy"][0]
    with client.stream("POST", f"{door.url}/proxy/local-ab12cd/stream", content=b"{}") as reply:
        lines = reply.iter_lines()
        assert next(lines) == "first"  # while the function still holds the rest back
        echo.release.set()
        assert list(lines) == ["second"]


def test_many_calls_share_one_connection_each_way(door: RunningDoor, client: httpx.Client) -> None:
    for index in range(20):
        assert client.post(f"{door.url}/proxy/x/v1/messages", content=str(index)).json()["body"] == str(index)


def test_a_function_that_is_down_answers_502(client: httpx.Client) -> None:
    down = Function("proxy", free_port(), "function_url")
    with RunningDoor(Routes(proxy=down, api=down, export=down)) as running:
        reply = client.post(f"{running.url}/proxy/x/v1/messages", content=b"{}")
    assert reply.status_code == 502
