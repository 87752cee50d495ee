"""The caller's IP as the platform reports it, never as the caller claims it (`X-Forwarded-For`).

In Lambda the Lambda Web Adapter is the socket peer; it passes the function URL's request context
in `x-amzn-request-context`, which it sets itself from the invocation event.
"""

from __future__ import annotations

import json
import os
from typing import Any

_IN_LAMBDA = "AWS_LAMBDA_FUNCTION_NAME" in os.environ
_CONTEXT_HEADER = b"x-amzn-request-context"


def client_ip(scope: dict[str, Any]) -> str:
    if _IN_LAMBDA:
        for name, value in scope["headers"]:
            if name == _CONTEXT_HEADER:
                try:
                    context = json.loads(value)
                    return str(context["http"]["sourceIp"])
                except (ValueError, KeyError, TypeError):
                    break
    client = scope.get("client")
    return str(client[0]) if client else "unknown"
