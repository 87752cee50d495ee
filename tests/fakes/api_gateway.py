"""API Gateway's REST API in front of a Lambda handler, as far as the tests need it.

What the deployed stage does (infra/constructs/api.py): a Lambda proxy integration whose event's
`path` leaves the stage out (`requestContext.path` keeps it), request bodies base64-encoded (the
API's binaryMediaTypes is `*/*`), and a response body decoded from base64 when the function says so.
Anything outside the stage is API Gateway's own 403.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import parse_qs

from starlette.types import Receive, Scope, Send

from devstack.poller import LocalLambdaContext
from tests.fakes.servers import read_body

LambdaHandler = Callable[[dict[str, Any], Any], dict[str, Any]]
_request_ids = itertools.count(1)


def rest_api_event(
    method: str,
    path: str,
    *,
    stage: str = "v1",
    headers: dict[str, str] | None = None,
    query: str = "",
    body: bytes = b"",
    source_ip: str = "203.0.113.9",
) -> dict[str, Any]:
    """The event of a request for `<stage URL><path>` (`path` without the stage, as API Gateway sends it)."""
    headers = headers or {}
    params = parse_qs(query, keep_blank_values=True)
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "queryStringParameters": {name: values[-1] for name, values in params.items()} or None,
        "multiValueQueryStringParameters": params or None,
        "pathParameters": {"proxy": path.lstrip("/")},
        "stageVariables": None,
        "requestContext": {
            "resourcePath": "/{proxy+}",
            "httpMethod": method,
            "path": f"/{stage}{path}",
            "stage": stage,
            "requestId": f"request-{next(_request_ids)}",
            "identity": {"sourceIp": source_ip},
        },
        "body": base64.b64encode(body).decode() if body else None,
        "isBase64Encoded": bool(body),
    }


def response_body(result: dict[str, Any]) -> bytes:
    """What the client receives: the body decoded, as binaryMediaTypes `*/*` makes API Gateway do."""
    body = result.get("body") or ""
    return base64.b64decode(body) if result.get("isBase64Encoded") else body.encode()


def response_headers(result: dict[str, Any]) -> list[tuple[str, str]]:
    headers = [(name, value) for name, value in (result.get("headers") or {}).items()]
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers += [(name, value) for value in values]
    return headers


class RestApiStage:
    """An ASGI app that serves `/<stage>/...` by invoking `handler` as API Gateway would. One request
    at a time, in one thread with its own event loop, as one Lambda execution environment runs."""

    def __init__(self, handler: LambdaHandler, stage: str = "v1") -> None:
        self.handler = handler
        self.stage = stage
        self._lambda = ThreadPoolExecutor(
            max_workers=1, initializer=lambda: asyncio.set_event_loop(asyncio.new_event_loop())
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        prefix = f"/{self.stage}"
        path: str = scope["path"]
        if not (path == prefix or path.startswith(f"{prefix}/")):
            await _reply(send, 403, [("content-type", "application/json")], b'{"message":"Forbidden"}')
            return
        body = await read_body(receive)
        headers = {name.decode(): value.decode() for name, value in scope["headers"]}
        event = rest_api_event(
            scope["method"],
            path[len(prefix) :] or "/",
            stage=self.stage,
            headers=headers,
            query=scope["query_string"].decode(),
            body=body,
            source_ip=scope["client"][0] if scope.get("client") else "127.0.0.1",
        )
        result = await asyncio.get_running_loop().run_in_executor(
            self._lambda, self.handler, event, LocalLambdaContext()
        )
        await _reply(send, result["statusCode"], response_headers(result), response_body(result))


async def _reply(send: Send, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
    raw = [(name.encode(), value.encode()) for name, value in headers if name.lower() != "content-length"]
    raw.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
