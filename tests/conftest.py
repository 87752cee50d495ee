"""Test-wide set-up: one embedded moto server for the session, reset before each test that uses AWS."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator

import pytest

pytest_plugins = ["tests.fakes.fixtures"]

# Settings are read from the environment: fix it before any project module reads it.
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "CODECOSTS_SERVER_SECRET": "test-server-secret",
        "POWERTOOLS_SERVICE_NAME": "codecosts-test",
        "POWERTOOLS_METRICS_NAMESPACE": "CodecostsTest",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
)
for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
    os.environ.pop(name, None)
os.environ["NO_PROXY"] = "*"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    os.environ["AWS_ENDPOINT_URL"] = endpoint
    yield endpoint
    server.stop()


@pytest.fixture
def aws(moto_endpoint: str) -> Iterator[object]:
    """A clean embedded AWS with the project's table, queue and bucket; settings pointed at them."""
    import requests

    from devstack.resources import create_resources
    from shared.settings import get_settings

    requests.post(f"{moto_endpoint}/moto-api/reset", timeout=10)
    resources = create_resources(moto_endpoint)
    os.environ["CODECOSTS_USAGE_QUEUE_URL"] = resources.queue_url
    get_settings.cache_clear()
    yield resources
    get_settings.cache_clear()
