"""The one place that sets up logs, metrics and traces (Powertools) for every function.

Logs are structured JSON with a correlation id; they never carry credentials or bodies.
"""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "codecosts")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "Codecosts")

logger = Logger()
metrics = Metrics()
tracer = Tracer()

__all__ = ["MetricUnit", "logger", "metrics", "tracer"]
