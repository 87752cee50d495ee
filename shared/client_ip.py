"""The caller's IP as the platform reports it, never as the caller claims it.

Only what AWS guarantees is believed, and only where AWS guarantees it:
- Under Mangum (the API function behind API Gateway), the invocation event itself: Mangum puts it in
  the ASGI scope as `aws.event`, and API Gateway fills `requestContext.identity.sourceIp` (REST API)
  or `requestContext.http.sourceIp` (HTTP API). Headers are the caller's there, all of them.
- Behind the Lambda Web Adapter (the proxy and the streamed export, started by their run.sh with the
  adapter as `AWS_LAMBDA_EXEC_WRAPPER`), the adapter is the socket peer; it replaces any
  `x-amzn-request-context` the caller sent with the invocation's own request context, which carries
  the same `sourceIp` fields.
- Anywhere else (uvicorn locally), the socket peer. `X-Forwarded-For` is never read.
A reported value that is not an IP address (at most 45 characters, the longest textual IPv6 form)
is not used: all such calls share one `unknown` counter, so an odd value can neither pick someone
else's counter nor make the counter's write fail (and the limit fail open).
"""

from __future__ import annotations

import ipaddress
import json
import os
from collections.abc import Mapping
from typing import Any

# The layer's wrapper script: set (infra/constructs/functions.py) exactly on the functions it fronts.
_BEHIND_WEB_ADAPTER = os.environ.get("AWS_LAMBDA_EXEC_WRAPPER") == "/opt/bootstrap"
_CONTEXT_HEADER = b"x-amzn-request-context"
_MAX_IP_LENGTH = 45
UNKNOWN = "unknown"


def _valid_ip(value: Any) -> str | None:
    if not isinstance(value, str) or len(value) > _MAX_IP_LENGTH:
        return None
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def _source_ip(context: Any) -> str | None:
    """`sourceIp` of an API Gateway or function URL request context."""
    if not isinstance(context, dict):
        return None
    for section in ("http", "identity"):
        found = context.get(section)
        if isinstance(found, dict) and "sourceIp" in found:
            return _valid_ip(found["sourceIp"])
    return None


def _adapter_context(scope: Mapping[str, Any]) -> Any:
    for name, value in scope["headers"]:
        if name == _CONTEXT_HEADER:
            try:
                return json.loads(value)
            except ValueError:
                return None
    return None


def client_ip(scope: Mapping[str, Any], behind_web_adapter: bool | None = None) -> str:
    event = scope.get("aws.event")
    if isinstance(event, dict):
        return _source_ip(event.get("requestContext")) or UNKNOWN
    if _BEHIND_WEB_ADAPTER if behind_web_adapter is None else behind_web_adapter:
        return _source_ip(_adapter_context(scope)) or UNKNOWN
    client = scope.get("client")  # the socket peer: the server's own report
    return str(client[0]) if client else UNKNOWN
