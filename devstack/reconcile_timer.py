"""The daily bill-check sync in `make dev`: the reconcile handler, run as EventBridge Scheduler runs it.

Once a day at `RECONCILE_AT_UTC` (the stack's schedule). `make dev` runs it as its own process
(`python -m devstack.reconcile_timer`) with the reconcile function's environment and rehearsed role,
as every function has its own; the timer's thread ends with that process. The Admin API it reads
is `CODECOSTS_ANTHROPIC_ADMIN_URL`, as in the stack; `POST /api/reconciliation/refresh` syncs a
tenant at once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from typing import Any

from devstack.poller import LocalLambdaContext
from shared.observability import logger
from shared.resources import RECONCILE_AT_UTC

Handler = Callable[[dict[str, Any], Any], dict[str, int]]


def next_run(now: datetime) -> datetime:
    at = datetime.combine(now.date(), time(*RECONCILE_AT_UTC), tzinfo=UTC)
    return at if at > now else at + timedelta(days=1)


class ReconcileTimer:
    def __init__(
        self, handler: Handler | None = None, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ):
        self.handler = handler
        self.clock = clock
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name="reconcile-timer", daemon=True)

    def start(self) -> ReconcileTimer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopped.set()

    def _run(self) -> None:
        while not self.stopped.wait((next_run(self.clock()) - self.clock()).total_seconds()):
            self.run_once()

    def run_once(self) -> dict[str, int]:
        from functions.reconcile.handler import handler  # as Lambda would: at the first run

        context = LocalLambdaContext(
            function_name="codecosts-reconcile-local",
            invoked_function_arn="arn:aws:lambda:us-east-1:000000000000:function:codecosts-reconcile-local",
        )
        try:
            return (self.handler or handler)({}, context)
        except Exception:  # a failed day is logged; tomorrow's run tries again, as the scheduler would
            logger.exception("local reconcile run failed")
            return {"synced": 0, "failed": 0}


def main() -> None:
    timer = ReconcileTimer().start()
    timer.thread.join()  # until make dev stops this process


if __name__ == "__main__":
    main()
