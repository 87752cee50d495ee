"""The caller's IP as the platform reports it, never as the caller claims it (`X-Forwarded-For`).

Under uvicorn it is the socket peer. In Lambda behind the Lambda Web Adapter the adapter is the peer;
it passes the invocation's request context in `x-amzn-request-context`, which it sets itself from the
event: a function URL's context has `http.sourceIp`, an API Gateway REST API's `identity.sourceIp`.
(Through Mangum the ASGI `client` already holds the platform's IP.)
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

_IN_LAMBDA = "AWS_LAMBDA_FUNCTION_NAME" in os.environ
_CONTEXT_HEADER = b"x-amzn-request-context"


def _source_ip(context: Any) -> str | None:
    if not isinstance(context, dict):
        return None
    for section in ("http", "identity"):
        found = context.get(section)
        if isinstance(found, dict) and isinstance(found.get("sourceIp"), str):
            return str(found["sourceIp"])
    return None


def client_ip(scope: Mapping[str, Any], in_lambda: bool = _IN_LAMBDA) -> str:
    if in_lambda:
        for name, value in scope["headers"]:
            if name == _CONTEXT_HEADER:
                try:
                    found = _source_ip(json.loads(value))
                except ValueError:
                    found = None
                if found:
                    return found
                break
    client = scope.get("client")
    return str(client[0]) if client else "unknown"
