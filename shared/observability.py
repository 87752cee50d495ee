"""The one place that sets up logs, metrics and traces (Powertools) for every function.

Logs are structured JSON with a correlation id; they never carry credentials or bodies.

Metrics are CloudWatch embedded metric format (EMF) lines on stdout, in the `Codecosts` namespace with
one dimension, `service` (the function's POWERTOOLS_SERVICE_NAME): infra/constructs/monitoring.py
alarms on exactly that. A metric counted but never flushed is never seen: the ingest flushes per
invocation (`log_metrics`), the ASGI apps per request (`PublishMetrics`).

The tracer is made on first use (`from shared.observability import tracer`), not at import: it
brings in the X-Ray SDK, about a quarter of a second of every cold start, which a function that does
not trace should not pay.
"""

from __future__ import annotations

import os
import sys
from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from aws_lambda_powertools import Tracer

    # Any ASGI app: Starlette's and the proxy's own (whose scope is a plain dict).
    ASGIApp = Callable[[Any, Any, Any], Awaitable[None]]

os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "codecosts")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "Codecosts")

logger = Logger()
metrics = Metrics()


@cache
def _tracer() -> Tracer:
    from aws_lambda_powertools import Tracer

    return Tracer()


def publish_metrics() -> None:
    """Writes what was counted so far as one EMF line, now; nothing when nothing was counted."""
    if metrics.metric_set:
        metrics.flush_metrics()
        # Under uvicorn stdout is a pipe, buffered: the line must leave before Lambda freezes the process.
        sys.stdout.flush()


class PublishMetrics:
    """ASGI middleware: what a request counted is published before its response ends (in Lambda the
    process may be frozen as soon as it has), and once more when the app returns, whatever happened."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def publishing_send(message: Any) -> None:
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                publish_metrics()
            await send(message)

        try:
            await self.app(scope, receive, publishing_send)
        finally:
            publish_metrics()


def __getattr__(name: str) -> Any:
    if name == "tracer":
        return _tracer()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["MetricUnit", "PublishMetrics", "logger", "metrics", "publish_metrics", "tracer"]  # noqa: F822 - `tracer` comes from __getattr__
