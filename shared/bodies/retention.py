"""How long a proxy endpoint's bodies are kept, and how every copy is made to go.

Each stored object carries a `retention-days` tag; the bucket has one lifecycle rule per allowed
value (infra/constructs/storage.py), so S3 deletes it without anyone asking. A rule expires objects a
day after the retention: a call's object may be compressed against its session's base, written up to
`BASE_REUSE_HOURS` earlier, which must outlive it. Reads do not wait for S3: a call's bodies read as
absent from `bodies_expire_at` on (the record's own clock), whatever the bucket still holds.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

DEFAULT_RETENTION_DAYS: Final = 30
# 0: bodies are never stored. The others each have a lifecycle rule: a value without one could not
# be honoured, so the API accepts only these.
ALLOWED_RETENTION_DAYS: Final = (0, 1, 3, 7, 14, 30, 60, 90, 180, 365)
RETENTION_TAG: Final = "retention-days"
# An object whose tag went missing still goes: a catch-all rule at the longest retention.
LONGEST_RETENTION_DAYS: Final = max(ALLOWED_RETENTION_DAYS)
# S3 counts lifecycle days from the object's creation, rounded up to the next midnight UTC.
LIFECYCLE_GRACE_DAYS: Final = 1


def tagging(days: int) -> str:
    """The `Tagging` of a PutObject: the URL-encoded tag set the lifecycle rules filter on."""
    return f"{RETENTION_TAG}={days}"


def expires_at(requested_at: datetime, days: int) -> int:
    """Epoch seconds from which a call's bodies are gone."""
    return int((requested_at + timedelta(days=days)).timestamp())
