"""Timestamps as the contract writes them: ISO 8601 UTC, millisecond precision, `Z`."""

from __future__ import annotations

from datetime import UTC, date, datetime, time


def utc_now() -> datetime:
    return datetime.now(UTC)


def format_timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_timestamp(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def parse_date_or_datetime(text: str) -> datetime:
    """A query bound: `2026-03-17` means that day's midnight UTC; a datetime without zone is UTC."""
    if len(text) == 10:
        return datetime.combine(date.fromisoformat(text), time(), tzinfo=UTC)
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def month_of(moment: datetime) -> str:
    """The UTC calendar month of a moment, `2026-03`: the period of a monthly budget."""
    return moment.astimezone(UTC).strftime("%Y-%m")
