"""The caller's IP for the per-IP limits: what the platform says, never what the caller says."""

from __future__ import annotations

import json
from typing import Any

from shared.client_ip import client_ip


def _scope(*headers: tuple[bytes, bytes], peer: str = "127.0.0.1") -> dict[str, Any]:
    return {"headers": list(headers), "client": (peer, 50000)}


def _context(context: object) -> tuple[bytes, bytes]:
    return (b"x-amzn-request-context", json.dumps(context).encode())


def test_in_lambda_the_adapters_request_context_names_the_caller() -> None:
    # A function URL's context (the proxy), and an API Gateway REST API's (the streamed export).
    function_url = _scope(_context({"http": {"sourceIp": "203.0.113.7"}}))
    rest_api = _scope(_context({"identity": {"sourceIp": "198.51.100.9"}, "stage": "v1"}))
    assert client_ip(function_url, in_lambda=True) == "203.0.113.7"
    assert client_ip(rest_api, in_lambda=True) == "198.51.100.9"


def test_a_forwarded_for_header_is_never_believed() -> None:
    scope = _scope((b"x-forwarded-for", b"10.9.9.9"), peer="192.0.2.1")
    assert client_ip(scope, in_lambda=True) == "192.0.2.1"
    assert client_ip(scope, in_lambda=False) == "192.0.2.1"


def test_outside_lambda_the_context_header_is_the_callers_own_and_ignored() -> None:
    scope = _scope(_context({"http": {"sourceIp": "203.0.113.7"}}), peer="192.0.2.1")
    assert client_ip(scope, in_lambda=False) == "192.0.2.1"


def test_a_context_without_an_ip_falls_back_to_the_socket_peer() -> None:
    for value in (
        b"not json",
        b"[]",
        json.dumps({"http": {}}).encode(),
        json.dumps({"identity": 5}).encode(),
    ):
        assert (
            client_ip(_scope((b"x-amzn-request-context", value), peer="192.0.2.1"), in_lambda=True)
            == "192.0.2.1"
        )
    assert client_ip({"headers": []}, in_lambda=True) == "unknown"
