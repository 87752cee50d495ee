"""The OpenAPI document names the errors each operation answers: a 429 with `retryAfter` and the
`Retry-After` header on every one, and 401 and 403 exactly where they are served. Routes added later
are covered too: the checks go over whatever operations the served document lists."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from fastapi.testclient import TestClient

Operation = tuple[str, str, dict[str, Any]]


def _operations(document: dict[str, Any]) -> Iterator[Operation]:
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            yield method.upper(), path, operation


def _call(client: TestClient, method: str, path: str, headers: dict[str, str]) -> int:
    # Any id will do: authentication and scope are decided before the resource is looked up.
    url = re.sub(r"\{[^}]+\}", "0123456789abcdef", path)
    body = {} if method in ("POST", "PUT", "PATCH") else None
    return client.request(method, url, json=body, headers=headers).status_code


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    name = schema["$ref"].rsplit("/", 1)[-1]
    resolved: dict[str, Any] = document["components"]["schemas"][name]
    return resolved


def test_every_operation_documents_the_rate_limit_with_retry_after(client: TestClient) -> None:
    document = client.get("/api/openapi.json").json()
    operations = list(_operations(document))
    assert len(operations) >= 20
    for method, path, operation in operations:
        limited = operation["responses"].get("429")
        assert limited, (method, path)
        # A route's own limit (the bill check's refresh) adds its reason to the per-IP one.
        assert "Too many requests from this client" in limited["description"], (method, path)
        assert limited["headers"]["Retry-After"]["required"] is True
        assert limited["headers"]["Retry-After"]["schema"]["type"] == "integer"
        body = _resolve(document, limited["content"]["application/json"]["schema"])
        assert set(body["required"]) == {"error", "code", "retryAfter"}
        assert body["properties"]["retryAfter"]["type"] == "integer"


def test_every_error_has_the_contract_shape(client: TestClient) -> None:
    document = client.get("/api/openapi.json").json()
    for method, path, operation in _operations(document):
        for status, response in operation["responses"].items():
            if int(status) >= 400 and status != "503":  # health's 503 is its own status document
                body = _resolve(document, response["content"]["application/json"]["schema"])
                assert "error" in body["required"], (method, path, status)
        assert "422" not in operation["responses"], (method, path)


def test_401_is_documented_exactly_where_a_caller_without_credentials_gets_it(client: TestClient) -> None:
    document = client.get("/api/openapi.json").json()
    for method, path, operation in _operations(document):
        served = _call(client, method, path, {})
        assert ("401" in operation["responses"]) == (served == 401), (method, path, served)
    assert "401" not in document["paths"]["/api/health"]["get"]["responses"]


def test_403_is_documented_exactly_where_a_read_key_gets_it(
    client: TestClient, alice: dict[str, str]
) -> None:
    created = client.post("/api/api-keys", json={"name": "reader", "scope": "read"}, headers=alice)
    reader = {"Authorization": f"Bearer {created.json()['key']}"}
    document = client.get("/api/openapi.json").json()
    forbidden = set()
    for method, path, operation in _operations(document):
        served = _call(client, method, path, reader)
        assert ("403" in operation["responses"]) == (served == 403), (method, path, served)
        if served == 403:
            forbidden.add((method, path))
    # The scopes of shared/API.md: a read key reads, and neither writes nor manages keys.
    assert {("POST", "/api/proxy-endpoints"), ("PUT", "/api/profile"), ("GET", "/api/api-keys")} <= forbidden
    assert not {(method, path) for method, path in forbidden if method == "GET" and "api-keys" not in path}
