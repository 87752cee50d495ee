"""Pytest fixtures shared by every test module (registered in tests/conftest.py)."""

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from functions.proxy.app import create_app
from functions.proxy.budgets import BudgetGuard
from functions.proxy.publisher import UsagePublisher
from functions.proxy.slugs import SlugResolver
from shared.settings import get_settings
from shared.store.endpoints import EndpointStore
from shared.store.rate_limits import RateLimiter
from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.proxy_server import RunningProxy, UsageQueue
from tests.fakes.servers import ServerThread
from tests.fakes.webhook_receiver import WebhookReceiver

PROXY_TENANT_ID = "tenant_proxy_test"


@pytest.fixture(scope="session")
def fake_upstream_server() -> Iterator[FakeAnthropic]:
    fake = FakeAnthropic()
    with ServerThread(fake) as server:
        fake.url = server.url
        yield fake


@pytest.fixture
def fake_upstream(fake_upstream_server: FakeAnthropic) -> FakeAnthropic:
    """The fake Anthropic API (see tests/fakes/anthropic_upstream.py): `.url`, `.requests`,
    `.scenario`, `.pause`, `.hold_after_events`; reset for every test."""
    fake_upstream_server.reset()
    return fake_upstream_server


@pytest.fixture
def start_proxy(aws: Any, fake_upstream: FakeAnthropic) -> Iterator[Callable[..., RunningProxy]]:
    """Starts the proxy under uvicorn, pointed at the fake upstream, with a new proxy endpoint.

    `start_proxy(publisher=None, endpoints=None, limiter=None, budgets=None, **settings)`: the first
    four replace the real ones (see `create_app`); keyword arguments override settings fields
    (`inline_body_limit=1000`, `upstream_url=...`, `usage_queue_url=...`).
    """
    servers: list[ServerThread] = []

    def start(
        publisher: UsagePublisher | None = None,
        endpoints: SlugResolver | None = None,
        limiter: RateLimiter | None = None,
        budgets: BudgetGuard | None = None,
        **overrides: Any,
    ) -> RunningProxy:
        settings = get_settings().model_copy(update={"upstream_url": fake_upstream.url, **overrides})
        endpoint = EndpointStore(settings.table_name).create(PROXY_TENANT_ID, "Test laptop")
        app = create_app(
            settings=settings, publisher=publisher, endpoints=endpoints, limiter=limiter, budgets=budgets
        )
        # As functions/proxy/run.sh runs it.
        server = ServerThread(app, server_header=False).start()
        servers.append(server)
        queue = UsageQueue(get_settings().usage_queue_url or "")
        return RunningProxy(server, settings, endpoint, PROXY_TENANT_ID, queue, app)

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def proxy_server(start_proxy: Callable[..., RunningProxy]) -> RunningProxy:
    """The proxy on a free port: `.base_url` (`<url>/proxy/<slug>`), `.url`, `.endpoint`, `.queue`."""
    return start_proxy()


@pytest.fixture(scope="session")
def webhook_receiver_server() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    with ServerThread(receiver) as server:
        receiver.url = f"{server.url}/services/T0/B0/hook-secret"
        yield receiver


@pytest.fixture
def webhook(webhook_receiver_server: WebhookReceiver) -> WebhookReceiver:
    """A real webhook receiver on loopback (tests/fakes/webhook_receiver.py), reset for every test."""
    webhook_receiver_server.reset()
    return webhook_receiver_server
