"""`make dev`'s daily bill-check sync runs the reconcile handler at the stack's schedule time."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

from devstack.reconcile_timer import ReconcileTimer, next_run


def test_the_next_run_is_todays_schedule_time_or_else_tomorrows() -> None:
    assert next_run(datetime(2026, 11, 30, 1, 0, tzinfo=UTC)) == datetime(2026, 11, 30, 3, 30, tzinfo=UTC)
    assert next_run(datetime(2026, 11, 30, 3, 30, tzinfo=UTC)) == datetime(2026, 12, 1, 3, 30, tzinfo=UTC)
    assert next_run(datetime(2026, 11, 30, 22, 0, tzinfo=UTC)) == datetime(2026, 12, 1, 3, 30, tzinfo=UTC)


def test_at_the_schedule_time_the_handler_runs_with_a_lambda_context() -> None:
    ran = threading.Event()
    seen: list[Any] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, int]:
        seen.append((event, context.function_name))
        ran.set()
        return {"synced": 1, "failed": 0}

    # A clock a moment before 03:30 UTC: the timer waits that moment, then runs.
    moments = iter([datetime(2026, 11, 30, 3, 29, 59, 950_000, tzinfo=UTC)] * 2)
    timer = ReconcileTimer(handler, clock=lambda: next(moments, datetime(2026, 11, 30, 3, 31, tzinfo=UTC)))
    timer.start()
    try:
        assert ran.wait(5)
    finally:
        timer.stop()
    assert seen[0] == ({}, "codecosts-reconcile-local")


def test_a_failing_run_is_logged_and_the_timer_keeps_going() -> None:
    def handler(event: dict[str, Any], context: Any) -> dict[str, int]:
        raise RuntimeError("the table is gone")

    assert ReconcileTimer(handler).run_once() == {"synced": 0, "failed": 0}
