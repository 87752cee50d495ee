"""Secrets that pass through Codecosts: its own API keys, and the Anthropic credentials it forwards.

Neither is ever stored: an API key is kept as an HMAC (looked up by it), an Anthropic credential as
a short fingerprint and a hint a person can recognise.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import zlib

API_KEY_PREFIX = "sk_"
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_RANDOM_CHARS = 32  # 62**32 is about 2**190: well over the 128 bits the contract asks for
_CHECKSUM_CHARS = 6  # CRC32 fits in 6 base62 characters
API_KEY_LENGTH = len(API_KEY_PREFIX) + _RANDOM_CHARS + _CHECKSUM_CHARS


def _base62(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        value, digit = divmod(value, 62)
        chars.append(_BASE62[digit])
    return "".join(reversed(chars))


def _checksum(body: str) -> str:
    return _base62(zlib.crc32(body.encode()), _CHECKSUM_CHARS)


def generate_api_key() -> str:
    body = "".join(secrets.choice(_BASE62) for _ in range(_RANDOM_CHARS))
    return API_KEY_PREFIX + body + _checksum(body)


def is_well_formed_api_key(key: str) -> bool:
    """Format and checksum: a mistyped or made-up key is refused without reading the table."""
    if len(key) != API_KEY_LENGTH or not key.startswith(API_KEY_PREFIX):
        return False
    body = key[len(API_KEY_PREFIX) : -_CHECKSUM_CHARS]
    if any(char not in _BASE62 for char in body):
        return False
    return hmac.compare_digest(key[-_CHECKSUM_CHARS:], _checksum(body))


def api_key_prefix(key: str) -> str:
    return key[:8] + "..."


def hash_api_key(key: str, pepper: bytes) -> str:
    return hmac.new(pepper, key.encode(), hashlib.sha256).hexdigest()


def fingerprint_credential(credential: str, secret: bytes) -> str:
    """`api_key_id`: stable per Anthropic credential, useless for recovering it."""
    return hmac.new(secret, b"anthropic-credential:" + credential.encode(), hashlib.sha256).hexdigest()[:16]


_ANTHROPIC_KIND = re.compile(r"^(sk-ant-[a-z]+\d*-)")


def credential_hint(credential: str) -> str:
    """`sk-ant-api03-...Wxyz`: the kind of credential and its last four characters."""
    match = _ANTHROPIC_KIND.match(credential)
    kind = match.group(1) if match else ""
    tail = credential[-4:] if len(credential) >= 12 else ""
    return f"{kind}...{tail}"
