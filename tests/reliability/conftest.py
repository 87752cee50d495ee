"""Fixtures of the reliability tests: every log line of the in-process servers, kept as text."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from devstack.rehearsal import Rehearsal
from shared.observability import logger
from shared.settings import get_settings
from tests.reliability.support import fast_retries


class CapturedLogs:
    def __init__(self, level: int) -> None:
        self.stream = io.StringIO()
        self.handler = logging.StreamHandler(self.stream)
        self.handler.setLevel(level)
        # Powertools' own JSON lines, extras included, for every logger (uvicorn, httpx, botocore too).
        self.handler.setFormatter(logger.registered_formatter)

    @property
    def text(self) -> str:
        return self.stream.getvalue()

    def lines(self, level: str) -> list[str]:
        return [line for line in self.text.splitlines() if f'"level":"{level}"' in line]


# uvicorn's loggers do not propagate to the root: they get the handler too.
_TOP_LOGGERS = ("", "uvicorn", "uvicorn.access")


@pytest.fixture
def captured_logs() -> Iterator[CapturedLogs]:
    """Every record at WARNING and above, from any logger of this process (its threads included)."""
    captured = CapturedLogs(logging.WARNING)
    for name in _TOP_LOGGERS:
        logging.getLogger(name).addHandler(captured.handler)
    yield captured
    for name in _TOP_LOGGERS:
        logging.getLogger(name).removeHandler(captured.handler)


@pytest.fixture
def all_logs() -> Iterator[CapturedLogs]:
    """Every record down to DEBUG, from any logger of this process: for the secret canaries."""
    captured = CapturedLogs(logging.DEBUG)
    root = logging.getLogger()
    previous_root, previous_ours = root.level, logger.log_level
    for name in _TOP_LOGGERS:
        logging.getLogger(name).addHandler(captured.handler)
    root.setLevel(logging.DEBUG)
    logger.setLevel(logging.DEBUG)
    yield captured
    for name in _TOP_LOGGERS:
        logging.getLogger(name).removeHandler(captured.handler)
    root.setLevel(previous_root)
    logger.setLevel(previous_ours)


@pytest.fixture
def redrive_env(aws: Rehearsal, monkeypatch: pytest.MonkeyPatch) -> Rehearsal:
    """Clean AWS, `codecosts redrive-dlq` configured, and failed messages back at once (visibility 0)."""
    monkeypatch.setenv("CODECOSTS_DEAD_LETTER_QUEUE_URL", aws.dead_letter_queue_url)
    get_settings.cache_clear()
    fast_retries(aws.usage_queue_url)
    return aws
