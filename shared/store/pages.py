"""Opaque page cursors, bound to the tenant and the query that made them.

A cursor is the DynamoDB key to resume from plus a hash of (tenant, query), signed with the server
secret: a tampered cursor, or one replayed by another tenant or for another query, is refused.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any


class BadCursor(ValueError):
    pass


def _binding(tenant_id: str, query: dict[str, Any]) -> str:
    canonical = json.dumps([tenant_id, query], sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:24]


def _sign(payload: bytes, secret: bytes) -> str:
    return hmac.new(secret, payload, hashlib.sha256).hexdigest()[:32]


def encode_cursor(key: dict[str, Any], tenant_id: str, query: dict[str, Any], secret: bytes) -> str:
    payload = json.dumps({"k": key, "b": _binding(tenant_id, query)}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(payload).decode().rstrip("=") + "." + _sign(payload, secret)


def decode_cursor(cursor: str, tenant_id: str, query: dict[str, Any], secret: bytes) -> dict[str, Any]:
    try:
        body, signature = cursor.rsplit(".", 1)
        payload = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (ValueError, TypeError) as error:
        raise BadCursor("malformed cursor") from error
    # Compared as bytes: compare_digest refuses str with non-ASCII characters (a TypeError, not a 400).
    if not hmac.compare_digest(signature.encode(), _sign(payload, secret).encode()):
        raise BadCursor("cursor is not valid")
    decoded = json.loads(payload)
    if decoded.get("b") != _binding(tenant_id, query) or not isinstance(decoded.get("k"), dict):
        raise BadCursor("cursor belongs to another query")
    key: dict[str, Any] = decoded["k"]
    return key
