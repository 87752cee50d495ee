"""Test-wide set-up: one embedded moto server for the session, reset before each test that uses AWS."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from devstack.rehearsal import Rehearsal

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
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's per-request access log
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    os.environ["AWS_ENDPOINT_URL"] = endpoint
    yield endpoint
    server.stop()


@pytest.fixture(scope="session")
def stack_template() -> dict[str, Any]:
    """The synthesized template, once per session (cached on disk between sessions)."""
    from devstack.rehearsal import load_template

    return load_template()


# What the rehearsal creates; the rest of moto (IAM: the functions' users) lives across tests.
_DATA_SERVICES = ("dynamodb", "sqs", "s3", "secretsmanager", "kms", "sns")


def reset_rehearsed_services() -> None:
    """What a restart of moto loses, except the identities: the data services and the KMS keys."""
    from moto.backends import get_backend

    for service in _DATA_SERVICES:
        # Per account (BackendDict.reset, a classmethod, would reset every service, IAM included).
        for account in get_backend(service).values():  # type: ignore[call-overload]
            account.reset()


@pytest.fixture
def aws(moto_endpoint: str, stack_template: dict[str, Any]) -> Iterator[Rehearsal]:
    """A clean embedded AWS rehearsing the deployment: the template's table, queues, bucket and
    secret, IAM enforced, each function's clients signing with its own role's grants (shared.aws),
    and this process (the test's set-up and checks) signing as the operator."""
    from devstack.rehearsal import rehearse
    from shared import aws as shared_aws
    from shared.settings import get_settings

    reset_rehearsed_services()
    rehearsal = rehearse(moto_endpoint, template=stack_template)
    os.environ["AWS_ACCESS_KEY_ID"] = rehearsal.operator_access_key_id
    os.environ["AWS_SECRET_ACCESS_KEY"] = rehearsal.operator_secret_access_key
    os.environ["CODECOSTS_USAGE_QUEUE_URL"] = rehearsal.usage_queue_url
    shared_aws.use_function_credentials(rehearsal.function_credentials())
    get_settings.cache_clear()
    yield rehearsal
    get_settings.cache_clear()


@pytest.fixture
def main_thread_event_loop() -> Iterator[asyncio.AbstractEventLoop]:
    """An event loop set for the main thread, as a Lambda process has one to get: Mangum's handler
    asks for it (`asyncio.get_event_loop()`), and an earlier test's `asyncio.run` leaves none set."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    yield loop
    asyncio.set_event_loop(None)
    loop.close()
