"""Health, error shapes, the OpenAPI document and the Lambda entry point."""

from __future__ import annotations

import base64
import json
from typing import Any, cast

import pytest
from fastapi.testclient import TestClient

from functions.api.app import create_app
from shared.settings import Settings

# Mangum's handler needs an event loop to get, as Lambda's main thread has.
pytestmark = pytest.mark.usefixtures("main_thread_event_loop")


def test_health_reports_the_table_latency(client: TestClient) -> None:
    response = client.get("/api/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert isinstance(body["dbLatencyMs"], int | float) and body["dbLatencyMs"] >= 0


def test_health_is_503_when_the_table_is_unreachable(api_settings: Settings) -> None:
    app = create_app(api_settings.model_copy(update={"table_name": "no-such-table"}))
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/api/health")
    assert response.status_code == 503
    assert response.json()["status"] == "error"


def test_unknown_route_and_method_answer_in_the_error_shape(client: TestClient) -> None:
    missing = client.get("/api/nothing-here")
    assert missing.status_code == 404
    assert missing.json() == {"error": "Not found"}
    wrong_method = client.put("/api/health")
    assert wrong_method.status_code == 405
    assert wrong_method.json() == {"error": "Method not allowed"}


def test_unexpected_failure_is_a_500_without_a_stack_trace(
    api_settings: Settings, alice: dict[str, str]
) -> None:
    # A session user is created on first sight: with the table gone, that write fails unexpectedly.
    app = create_app(api_settings.model_copy(update={"table_name": "no-such-table"}))
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/api/profile", headers=alice)
    assert response.status_code == 500
    assert response.json() == {"error": "Internal server error"}
    assert "Traceback" not in response.text and "no-such-table" not in response.text


def test_missing_credentials_are_401(client: TestClient) -> None:
    for path in ("/api/proxy-endpoints", "/api/usage", "/api/usage/summary", "/api/api-keys", "/api/profile"):
        response = client.get(path)
        assert response.status_code == 401, path
        assert response.json() == {"error": "Not authenticated"}


def test_oversized_body_is_413(client: TestClient, alice: dict[str, str]) -> None:
    response = client.post("/api/proxy-endpoints", content=b"{" + b" " * 70_000 + b"}", headers=alice)
    assert response.status_code == 413
    assert response.json()["error"] == "Body too large"


def test_openapi_document_matches_what_is_served(client: TestClient) -> None:
    document = client.get("/api/openapi.json").json()
    paths = document["paths"]
    assert set(paths) == {
        "/api/health",
        "/api/proxy-endpoints",
        "/api/proxy-endpoints/{endpoint_id}",
        "/api/usage",
        "/api/usage/summary",
        "/api/usage/{usage_id}",
        "/api/usage/{usage_id}/bodies",
        "/api/usage/bodies/delete",
        "/api/usage/sessions",
        "/api/usage/sessions/{session_id}",
        "/api/usage/export.csv",
        "/api/api-keys",
        "/api/api-keys/{key_id}",
        "/api/profile",
        "/api/audit-logs",
        "/api/prices",
        "/api/anthropic-admin-key",
        "/api/reconciliation",
        "/api/reconciliation/refresh",
        "/api/alerts",
        "/api/developers",
        "/api/developers/{developer_id}",
    }
    for path, operations in paths.items():
        for method, operation in operations.items():
            assert "422" not in operation["responses"], (method, path)
    assert "201" in paths["/api/proxy-endpoints"]["post"]["responses"]
    assert "201" in paths["/api/api-keys"]["post"]["responses"]
    assert "400" in paths["/api/usage"]["get"]["responses"]
    assert "404" in paths["/api/usage/{usage_id}"]["get"]["responses"]
    assert "404" in paths["/api/prices"]["get"]["responses"]
    assert "503" in paths["/api/health"]["get"]["responses"]
    assert {parameter["name"] for parameter in paths["/api/usage"]["get"]["parameters"]} >= {
        "from",
        "to",
        "model",
        "proxy_endpoint_id",
        "api_key_id",
        "session_id",
        "developer_id",
        "limit",
        "cursor",
    }
    assert "patch" in paths["/api/proxy-endpoints/{endpoint_id}"]
    assert "text/csv" in paths["/api/usage/export.csv"]["get"]["responses"]["200"]["content"]
    assert "HTTPValidationError" not in document["components"]["schemas"]
    assert client.get("/api/docs").status_code == 200


def _rest_api_event(path: str) -> dict[str, object]:
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": "GET",
        "headers": {"accept": "application/json", "host": "abc.execute-api.us-east-1.amazonaws.com"},
        "multiValueHeaders": {
            "accept": ["application/json"],
            "host": ["abc.execute-api.us-east-1.amazonaws.com"],
        },
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": {"proxy": path.lstrip("/")},
        "stageVariables": None,
        "requestContext": {
            "resourcePath": "/{proxy+}",
            "httpMethod": "GET",
            "path": f"/prod{path}",
            "stage": "prod",
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "identity": {"sourceIp": "203.0.113.7", "userAgent": "curl/8"},
        },
        "body": None,
        "isBase64Encoded": False,
    }


def _http_api_event(path: str) -> dict[str, object]:
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"accept": "application/json", "host": "abc.execute-api.us-east-1.amazonaws.com"},
        "requestContext": {
            "http": {"method": "GET", "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.7"},
            "stage": "$default",
            "requestId": "id",
        },
        "isBase64Encoded": False,
    }


class _LambdaContext:
    function_name = "codecosts-api"
    aws_request_id = "request-1"


def _body(result: dict[str, Any]) -> Any:
    text = str(result["body"])
    return json.loads(base64.b64decode(text) if result.get("isBase64Encoded") else text)


def test_lambda_handler_serves_health_behind_api_gateway(aws: object) -> None:
    from functions.api.handler import handler

    for event in (_rest_api_event("/api/health"), _http_api_event("/api/health")):
        result = handler(event, cast(Any, _LambdaContext()))
        assert result["statusCode"] == 200
        assert _body(result)["status"] == "ok"
    missing = handler(_rest_api_event("/api/usage"), cast(Any, _LambdaContext()))
    assert missing["statusCode"] == 401
    assert _body(missing) == {"error": "Not authenticated"}
