"""Which headers cross the proxy, in each direction (API.md, "Proxy").

Requests keep what Anthropic's clients need (credentials, `anthropic-*`, Claude Code's own headers)
and lose what belongs to this hop (cookies, host, `x-forwarded-*`, hop-by-hop). Replies keep what
describes the body and the caller's limits; length and encoding are the proxy's own business, since
it may re-frame the body.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

Header = tuple[bytes, bytes]

# Control bytes (C0 but tab, and DEL) have no place in a header (RFC 9110). CR or LF written to the
# upstream would let a caller add headers or a whole request of its own there; the others are refused
# by some front servers and passed by others (uvicorn's h11 parser passes \x01-\x08, \x0e-\x1f, DEL).
_CONTROL = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")

_REQUEST_NAMES = frozenset(
    {
        b"x-api-key",
        b"authorization",
        b"x-app",
        b"user-agent",
        b"accept",
        b"accept-language",
        b"content-type",
        # The body goes on byte for byte, so its coding goes with it (functions/proxy/content_coding.py).
        b"content-encoding",
    }
)
_REQUEST_PREFIXES = (b"anthropic-", b"x-stainless-", b"x-claude-code-")

# The relayed bytes must be the bytes Anthropic sent: no compression on the upstream hop.
_IDENTITY = (b"accept-encoding", b"identity")

_RESPONSE_NAMES = frozenset({b"content-type", b"request-id", b"retry-after"})
_RESPONSE_PREFIXES = (b"anthropic-ratelimit-",)


def has_control_characters(headers: Iterable[Header]) -> bool:
    return any(_CONTROL.search(name) or _CONTROL.search(value) for name, value in headers)


def upstream_request_headers(headers: Iterable[Header]) -> list[Header]:
    """The caller's headers the upstream sees (ASGI header names are already lowercase)."""
    kept = [
        (name, value)
        for name, value in headers
        if name in _REQUEST_NAMES or name.startswith(_REQUEST_PREFIXES)
    ]
    kept.append(_IDENTITY)
    return kept


def client_response_headers(headers: Iterable[Header]) -> list[Header]:
    """The upstream's reply headers the caller sees, names lowercased as ASGI wants them."""
    kept = []
    for name, value in headers:
        lowered = name.lower()
        if lowered in _RESPONSE_NAMES or lowered.startswith(_RESPONSE_PREFIXES):
            kept.append((lowered, value))
    return kept


def request_content_encoding(headers: Iterable[Header]) -> bytes | None:
    """The request body's `Content-Encoding`, its values joined as HTTP joins a repeated field."""
    values = [value for name, value in headers if name == b"content-encoding"]
    return b", ".join(values) if values else None


def caller_credential(headers: Iterable[Header]) -> str | None:
    """The Anthropic credential that pays for the call: `x-api-key`, else the bearer token."""
    bearer = None
    for name, value in headers:
        if name == b"x-api-key" and value:
            return value.decode("latin-1")
        if name == b"authorization" and bearer is None:
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                bearer = token.strip()
    return bearer
