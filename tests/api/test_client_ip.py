"""The caller's IP for the per-IP limits: what the platform says, never what the caller says."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from functions.api import handler
from shared import client_ip as client_ip_module
from shared.client_ip import client_ip
from shared.settings import get_settings
from shared.store import layout
from shared.store.rate_limits import CLIENT_IP, WINDOW_SECONDS

# Mangum's handler needs an event loop to get, as Lambda's main thread has.
pytestmark = pytest.mark.usefixtures("main_thread_event_loop")

WINDOW = 1_800_000_000 // WINDOW_SECONDS * WINDOW_SECONDS


def _scope(*headers: tuple[bytes, bytes], peer: str = "127.0.0.1") -> dict[str, Any]:
    return {"headers": list(headers), "client": (peer, 50000)}


def _context(context: object) -> tuple[bytes, bytes]:
    return (b"x-amzn-request-context", json.dumps(context).encode())


def test_behind_the_web_adapter_its_request_context_names_the_caller() -> None:
    # A function URL's context (the proxy), and an API Gateway REST API's (the streamed export).
    function_url = _scope(_context({"http": {"sourceIp": "203.0.113.7"}}))
    rest_api = _scope(_context({"identity": {"sourceIp": "2001:db8::9"}, "stage": "v1"}))
    assert client_ip(function_url, behind_web_adapter=True) == "203.0.113.7"
    assert client_ip(rest_api, behind_web_adapter=True) == "2001:db8::9"


def test_a_forwarded_for_header_is_never_believed() -> None:
    scope = _scope((b"x-forwarded-for", b"10.9.9.9"), peer="192.0.2.1")
    assert client_ip(scope, behind_web_adapter=False) == "192.0.2.1"


def test_without_the_adapter_in_front_the_context_header_is_the_callers_own_and_ignored() -> None:
    scope = _scope(_context({"http": {"sourceIp": "203.0.113.7"}}), peer="192.0.2.1")
    assert client_ip(scope, behind_web_adapter=False) == "192.0.2.1"


def test_under_mangum_only_api_gateways_event_counts() -> None:
    event = {"requestContext": {"identity": {"sourceIp": "198.51.100.9"}}}
    forged = _context({"identity": {"sourceIp": "203.0.113.66"}})
    scope = {**_scope(forged, peer="198.51.100.9"), "aws.event": event}
    assert client_ip(scope, behind_web_adapter=True) == "198.51.100.9"
    http_api = {**_scope(forged), "aws.event": {"requestContext": {"http": {"sourceIp": "192.0.2.44"}}}}
    assert client_ip(http_api, behind_web_adapter=False) == "192.0.2.44"


@pytest.mark.parametrize(
    "reported",
    [
        b"not json",
        b"[]",
        json.dumps({"http": {}}).encode(),
        json.dumps({"identity": 5}).encode(),
        json.dumps({"identity": {"sourceIp": "1.2.3.4" + "5" * 2000}}).encode(),
        json.dumps({"http": {"sourceIp": "victim"}}).encode(),
        json.dumps({"http": {"sourceIp": ["1.2.3.4"]}}).encode(),
    ],
)
def test_a_reported_value_that_is_not_an_ip_is_counted_as_unknown(reported: bytes) -> None:
    scope = _scope((b"x-amzn-request-context", reported), peer="192.0.2.1")
    assert client_ip(scope, behind_web_adapter=True) == "unknown"
    assert client_ip({"headers": [], "aws.event": {"requestContext": reported.decode()}}) == "unknown"


def _rest_api_event(source_ip: str, headers: dict[str, str]) -> dict[str, Any]:
    """What API Gateway's REST API hands the API function: GET /api/health."""
    return {
        "resource": "/{proxy+}",
        "path": "/api/health",
        "httpMethod": "GET",
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": {"proxy": "api/health"},
        "stageVariables": None,
        "requestContext": {
            "resourcePath": "/{proxy+}",
            "httpMethod": "GET",
            "path": "/v1/api/health",
            "stage": "v1",
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "identity": {"sourceIp": source_ip, "userAgent": "curl/8.5.0"},
        },
        "body": None,
        "isBase64Encoded": False,
    }


class _Clock:
    def __call__(self) -> float:
        return WINDOW + 30


def _count(ip: str) -> int | None:
    item = (
        boto3.resource("dynamodb")
        .Table(get_settings().table_name)
        .get_item(Key={"pk": layout.rate_counter_pk(CLIENT_IP.scope, ip), "sk": str(WINDOW)})
        .get("Item")
    )
    return None if item is None else int(item["count"])


def test_a_forged_request_context_under_the_api_handler_does_not_change_the_counted_ip(
    aws: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(handler.app.state.services.rate_limiter, "clock", _Clock())
    # Even were this process behind the Web Adapter, Mangum's event would be what counts.
    monkeypatch.setattr(client_ip_module, "_BEHIND_WEB_ADAPTER", True)
    forged = {
        "host": "api.codecosts.test",
        "x-amzn-request-context": json.dumps({"identity": {"sourceIp": "203.0.113.66"}}),
        "x-forwarded-for": "203.0.113.67",
    }
    oversized = {"x-amzn-request-context": json.dumps({"identity": {"sourceIp": "x" * 2048}})}
    for headers in (forged, oversized):
        reply = handler.handler(_rest_api_event("198.51.100.9", headers), object())
        assert reply["statusCode"] == 200, reply
    assert _count("198.51.100.9") == 2
    assert _count("203.0.113.66") is None and _count("203.0.113.67") is None
