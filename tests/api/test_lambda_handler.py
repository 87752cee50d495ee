"""The API as Lambda runs it: REST API events through the Mangum handler, and the app under uvicorn."""

from __future__ import annotations

import json

import httpx
import pytest

from devstack.poller import LocalLambdaContext
from functions.api.app import create_app
from functions.api.handler import lambda_handler
from shared.observability import metrics
from shared.settings import Settings
from tests.fakes.api_gateway import rest_api_event
from tests.fakes.servers import ServerThread

# Mangum's handler needs an event loop to get, as Lambda's main thread has.
pytestmark = pytest.mark.usefixtures("main_thread_event_loop")


def test_a_metric_counted_during_a_request_is_published_as_an_emf_line(
    api_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    # The table is unreachable: the per-IP limiter lets the request through and counts that.
    app = create_app(api_settings.model_copy(update={"table_name": "no-such-table"}))
    metrics.clear_metrics()  # what other tests counted outside a request
    result = lambda_handler(app)(rest_api_event("GET", "/api/health"), LocalLambdaContext())
    assert result["statusCode"] == 503

    (blob,) = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    (directive,) = blob["_aws"]["CloudWatchMetrics"]
    # What the alarms in infra/constructs/monitoring.py watch: the namespace, the `service` dimension.
    assert directive["Namespace"] == "CodecostsTest"
    assert directive["Dimensions"] == [["service"]]
    assert blob["service"] == "codecosts-test"
    assert {"Name": "RateLimiterFailOpen", "Unit": "Count"} in directive["Metrics"]
    assert blob["RateLimiterFailOpen"] == [1.0]


def test_a_request_that_counts_nothing_publishes_nothing(
    api_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    metrics.clear_metrics()
    result = lambda_handler(create_app(api_settings))(
        rest_api_event("GET", "/api/health"), LocalLambdaContext()
    )
    assert result["statusCode"] == 200
    assert '"_aws"' not in capsys.readouterr().out


def test_the_app_under_uvicorn_publishes_what_a_request_counted_before_the_response_ends(
    api_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    # The CSV export runs this app under uvicorn (behind the Web Adapter), as does `make dev`.
    app = create_app(api_settings.model_copy(update={"table_name": "no-such-table"}))
    metrics.clear_metrics()
    with ServerThread(app) as server:
        assert httpx.get(f"{server.url}/api/health").status_code == 503
        # The client has its answer: the metrics are already out.
        assert '"RateLimiterFailOpen":[1.0]' in capsys.readouterr().out
