"""Identifiers that sort by creation time (ULID layout: 48-bit milliseconds + 80 random bits).

Time order lets one DynamoDB query page newest first and turn a date range into a key range.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from shared.timefmt import epoch_ms, utc_now

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32
TIME_CHARS = 10
ID_LENGTH = 26


def _encode(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        value, digit = divmod(value, 32)
        chars.append(_ALPHABET[digit])
    return "".join(reversed(chars))


def time_prefix(moment: datetime) -> str:
    """The first characters of every id made at `moment` (millisecond resolution)."""
    return _encode(max(epoch_ms(moment), 0), TIME_CHARS)


def new_id(moment: datetime | None = None) -> str:
    return time_prefix(moment or utc_now()) + _encode(secrets.randbits(80), ID_LENGTH - TIME_CHARS)


def is_id(text: str) -> bool:
    return len(text) == ID_LENGTH and all(char in _ALPHABET for char in text)


def lowest_id_at(moment: datetime) -> str:
    return time_prefix(moment) + _ALPHABET[0] * (ID_LENGTH - TIME_CHARS)


def highest_id_at(moment: datetime) -> str:
    return time_prefix(moment) + _ALPHABET[-1] * (ID_LENGTH - TIME_CHARS)


def moment_of(identifier: str) -> datetime:
    """When an id was made (millisecond resolution)."""
    value = 0
    for char in identifier[:TIME_CHARS]:
        value = value * 32 + _ALPHABET.index(char)
    return datetime.fromtimestamp(value / 1000, tz=UTC)
