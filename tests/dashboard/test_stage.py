"""The dashboard as AWS serves it: under the REST API's stage (`<api>/v1/`), through the API
function's Mangum handler, its page, assets and API calls all inside the stage's path."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from devstack.poller import LocalLambdaContext
from functions.api.app import create_app
from functions.api.dashboard import STATIC_DIR
from functions.api.handler import lambda_handler
from shared.settings import Settings, get_settings
from tests.api.conftest import DASHBOARD, ISSUER, SigningKey, make_signing_key, session_claims
from tests.dashboard.conftest import screenshot
from tests.fakes.api_gateway import RestApiStage, response_body, response_headers, rest_api_event
from tests.fakes.servers import ServerThread

# Mangum's handler needs an event loop to get, as Lambda's main thread has.
pytestmark = pytest.mark.usefixtures("main_thread_event_loop")

Handler = Any


@pytest.fixture(scope="module")
def clerk_key() -> SigningKey:
    return make_signing_key()


@pytest.fixture
def handler(aws: object, clerk_key: SigningKey) -> Handler:
    if not (STATIC_DIR / "index.html").is_file():
        pytest.fail("The dashboard is not built: `make test` builds it (or `make dashboard`)")
    settings: Settings = get_settings().model_copy(
        update={
            "clerk_jwt_key": clerk_key.public_pem,
            "clerk_issuer": ISSUER,
            "clerk_authorized_parties": DASHBOARD,
        }
    )
    return lambda_handler(create_app(settings))


def invoke(handler: Handler, path: str, **request: Any) -> tuple[int, dict[str, str], bytes]:
    result = handler(rest_api_event(request.pop("method", "GET"), path, **request), LocalLambdaContext())
    return result["statusCode"], dict(response_headers(result)), response_body(result)


def test_the_page_and_its_assets_are_served_under_the_stage(handler: Handler) -> None:
    for path in ("/", "/calls", "/calls/abc123"):
        status, headers, body = invoke(handler, path)
        assert status == 200 and headers["content-type"].startswith("text/html"), path
        page = body.decode()
        # Every URL of the page is relative to its base: the stage's path.
        assert '<base href="/v1/" />' in page
        assert "base-uri 'self'" in headers["content-security-policy"]
        assert not re.search(r'(?:src|href)="/', page.replace('<base href="/v1/" />', ""))

    page = invoke(handler, "/")[2].decode()
    (script,) = re.findall(r'src="\./(assets/[^"]+\.js)"', page)
    for asset in (script, "favicon.svg"):
        status, headers, body = invoke(handler, f"/{asset}")
        assert status == 200, asset
        # The bytes of the built file, text or not: the icon comes base64-encoded and is decoded.
        assert body == (STATIC_DIR / asset).read_bytes(), asset

    status, _, body = invoke(handler, "/api/nothing-here")
    assert status == 404 and body == b'{"error":"Not found"}'
    status, headers, _ = invoke(handler, "/api/health", method="DELETE")
    assert status == 405 and headers["allow"] == "GET"


@pytest.fixture
def stage(handler: Handler) -> Iterator[str]:
    """API Gateway's stage `v1` in front of the handler, on a local port: `<url>/v1/`."""
    with ServerThread(RestApiStage(handler)) as server:
        yield server.url


def test_the_dashboard_works_through_the_stage_path(
    browser: Any, stage: str, clerk_key: SigningKey, tmp_path: Path
) -> None:
    session = jwt.encode(
        session_claims("user_carol", exp=2**31 - 1), clerk_key.private_pem, algorithm="RS256"
    )
    created = httpx.post(
        f"{stage}/v1/api/api-keys", json={"name": "stage"}, headers={"Authorization": f"Bearer {session}"}
    )
    assert created.status_code == 201, created.text
    requested: list[str] = []
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    context.on("request", lambda request: requested.append(request.url))
    page = context.new_page()
    page.set_default_timeout(10_000)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        page.goto(f"{stage}/v1/")
        page.get_by_label("Codecosts API key").fill(created.json()["key"])
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("heading", name="Overview").wait_for()
        page.get_by_role("link", name="Calls").click()
        page.get_by_role("heading", name="Calls").wait_for()
        assert page.url == f"{stage}/v1/calls"
        page.reload()
        page.get_by_role("heading", name="Calls").wait_for()
        screenshot(page, "stage-calls")
        page.get_by_role("link", name="Sessions").click()
        page.get_by_role("heading", name="Sessions", exact=True).wait_for()
        assert page.url == f"{stage}/v1/sessions"
        page.get_by_role("link", name="Bill check").click()
        page.get_by_role("heading", name="Connect your Anthropic organization").wait_for()
        assert page.url == f"{stage}/v1/bill-check"
    finally:
        context.close()
    assert errors == []
    assert requested and all(url.startswith(f"{stage}/v1/") for url in requested), requested
    paths = {httpx.URL(url).path for url in requested}
    assert {
        "/v1/api/profile",
        "/v1/api/usage/summary",
        "/v1/api/usage",
        "/v1/api/usage/sessions",
        "/v1/api/anthropic-admin-key",
    } <= paths, paths
    assert any(re.fullmatch(r"/v1/assets/.+\.js", path) for path in paths), paths
