"""The one place that sets up logs, metrics and traces (Powertools) for every function.

Logs are structured JSON with a correlation id; they never carry credentials or bodies.

The tracer is made on first use (`from shared.observability import tracer`), not at import: it
brings in the X-Ray SDK, about a quarter of a second of every cold start, which a function that does
not trace should not pay.
"""

from __future__ import annotations

import os
from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer

os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "codecosts")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "Codecosts")

logger = Logger()
metrics = Metrics()


@cache
def _tracer() -> Tracer:
    from aws_lambda_powertools import Tracer

    return Tracer()


def __getattr__(name: str) -> Any:
    if name == "tracer":
        return _tracer()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["MetricUnit", "logger", "metrics", "tracer"]  # noqa: F822 - `tracer` comes from __getattr__
