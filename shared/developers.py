"""Who made a call: the developer behind a Claude Code request, without an extra key per person.

Claude Code sends `metadata.user_id` in every request body, a JSON string
`{"device_id": "<64 hex>", "account_uuid": "<uuid or empty>", "session_id": "<uuid>"}`
(`account_uuid` is empty when it runs on an API key rather than a Claude account; versions before
2.1 sent the same ids as `user_<device id>_account_<account uuid>_session_<uuid>`). The developer is
the account when there is one, else the device. What is kept is `developer_id`: an HMAC of that
value under the server secret, as for Anthropic credentials (shared/credentials.py), so a tenant can
tell its developers apart and name them, while the account and device ids themselves are never
stored: the stored copy of the request body has them replaced by a marker.

Done in the proxy (which holds the server secret), off the event loop, after the reply was relayed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from typing import Any

# The ids Claude Code sends: hex and UUIDs. Anything else is not taken for an identity.
_IDENTITY = re.compile(r"^[A-Za-z0-9-]{8,128}$")
_USER_ID_KEY = b'"user_id"'
_METADATA_KEY = b'"metadata"'
# `"metadata": {"user_id": "<a JSON string>"}` at a `"metadata"` key (never inside a string, where the
# quotes would be escaped).
_METADATA_OBJECT = re.compile(rb'"metadata"\s*:\s*\{\s*"user_id"\s*:\s*(?P<user_id>"(?:[^"\\]|\\.)*")\s*\}')
# Claude Code before 2.1 sent `user_<device id>_account_<account uuid or empty>_session_<uuid>`.
_LEGACY_USER_ID = re.compile(r"^user_(?P<device>[A-Za-z0-9]+)_account_(?P<account>[A-Za-z0-9-]*)_session_")
ACCOUNT_MARKER = b"[REDACTED:claude_code_account]"
DEVICE_MARKER = b"[REDACTED:claude_code_device]"


@dataclass(frozen=True)
class Attribution:
    developer_id: str | None
    stored_body: bytes  # the request body as it may be stored: the account and device ids replaced


def _identity(value: Any) -> str | None:
    return value if isinstance(value, str) and _IDENTITY.match(value) else None


def may_name_a_developer(request_body: bytes) -> bool:
    """False for certain when the body holds no `user_id` key (a byte search, no JSON parse)."""
    return _USER_ID_KEY in request_body


def _user_id(request_body: bytes) -> Any:
    """`metadata.user_id` of the request. Claude Code's `metadata` is `{"user_id": "..."}` alone: when
    exactly one such object occurs, only that string is parsed (a body runs to megabytes, and a whole
    parse costs milliseconds per megabyte); otherwise the whole body is."""
    found: list[bytes] = []
    at = request_body.find(_METADATA_KEY)
    while at >= 0 and len(found) < 2:
        match = _METADATA_OBJECT.match(request_body, at)
        if match:
            found.append(match.group("user_id"))
        at = request_body.find(_METADATA_KEY, at + 1)
    try:
        if len(found) == 1:
            return json.loads(found[0])
        payload = json.loads(request_body)
    except (ValueError, RecursionError):  # not JSON (the upstream refuses it), or nested too deep
        return None
    metadata = payload.get("metadata") if isinstance(payload, dict) else None
    return metadata.get("user_id") if isinstance(metadata, dict) else None


def _claude_code_ids(request_body: bytes) -> tuple[str | None, str | None]:
    """(account uuid, device id) from `metadata.user_id`, each None when absent or not an id."""
    if not may_name_a_developer(request_body):
        return None, None
    user_id = _user_id(request_body)
    if not isinstance(user_id, str):
        return None, None
    legacy = _LEGACY_USER_ID.match(user_id)
    if legacy:
        return _identity(legacy.group("account")), _identity(legacy.group("device"))
    try:
        ids = json.loads(user_id)
    except ValueError:
        return None, None
    if not isinstance(ids, dict):
        return None, None
    return _identity(ids.get("account_uuid")), _identity(ids.get("device_id"))


def fingerprint_developer(kind: str, value: str, secret: bytes) -> str:
    """`developer_id`: stable per account (or device), useless for recovering it."""
    message = f"claude-code-{kind}:{value}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()[:16]


def attribute(request_body: bytes, secret: bytes) -> Attribution:
    """The call's developer (None for a client that sends no Claude Code identity) and the body to
    store, in which every occurrence of the account and device ids is replaced."""
    account, device = _claude_code_ids(request_body)
    if account is None and device is None:
        return Attribution(None, request_body)
    developer_id = (
        fingerprint_developer("account", account, secret)
        if account
        else fingerprint_developer("device", str(device), secret)
    )
    stored = request_body
    for value, marker in ((account, ACCOUNT_MARKER), (device, DEVICE_MARKER)):
        if value:
            # The ids need no JSON escaping: they appear in the body byte for byte.
            stored = stored.replace(value.encode(), marker)
    return Attribution(developer_id, stored)
