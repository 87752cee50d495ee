"""The dashboard as the API function serves it: the page at / and at every client route, its assets
cached for good, the API's own unknown paths still JSON, and the Clerk key handed to the page."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from functions.api.app import create_app
from functions.api.dashboard import STATIC_DIR, clerk_frontend_api, mount_dashboard
from shared.settings import Settings, get_settings


@pytest.fixture(autouse=True)
def built_dashboard() -> None:
    if not (STATIC_DIR / "index.html").is_file():
        pytest.fail("The dashboard is not built: `make test` builds it (or `make dashboard`)")


CLERK_KEY = "pk_test_" + base64.b64encode(b"clean-mole-12.clerk.accounts.dev$").decode()


@pytest.fixture
def settings(aws: object) -> Settings:
    return get_settings()


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def page_config(html: str) -> dict[str, object]:
    match = re.search(r'<script id="codecosts-config" type="application/json">(.*?)</script>', html)
    assert match, html
    config: dict[str, object] = json.loads(match.group(1))
    return config


def test_the_page_answers_at_root_and_client_routes_never_cached(client: TestClient) -> None:
    for path in ("/", "/calls", "/calls/abc123", "/endpoints", "/audit?x=1"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.headers["content-type"].startswith("text/html")
        assert response.headers["cache-control"] == "no-cache"
        assert "connect-src 'self';" in response.headers["content-security-policy"]
        assert page_config(response.text) == {"clerkPublishableKey": None}


def test_assets_are_cached_and_missing_files_are_404_not_the_page(client: TestClient) -> None:
    html = client.get("/").text
    script = re.search(r'src="\./(assets/[^"]+\.js)"', html)
    assert script, html
    asset = client.get(f"/{script.group(1)}")
    assert asset.status_code == 200
    assert "javascript" in asset.headers["content-type"]
    assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
    missing = client.get("/assets/gone-123.js")
    assert missing.status_code == 404
    assert missing.json() == {"error": "Not found"}
    assert client.get("/assets/../../app.py").status_code == 404


def test_api_and_proxy_paths_stay_json(client: TestClient) -> None:
    assert client.get("/api/nothing-here").json() == {"error": "Not found"}
    assert client.get("/api").status_code == 404
    assert client.put("/api/health").status_code == 405
    assert client.get("/proxy/some-slug/v1/messages").json() == {"error": "Not found"}
    assert client.get("/api/health").json()["status"] == "ok"


def test_the_api_reference_is_served_from_this_origin_only(settings: Settings) -> None:
    """Even where the dashboard signs in with Clerk, the API reference allows nothing but its origin."""
    app = create_app(settings.model_copy(update={"clerk_publishable_key": CLERK_KEY}))
    with TestClient(app) as client:
        response = client.get("/api/docs")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/html")
        policy = response.headers["content-security-policy"]
        assert "clerk" not in policy and "unsafe" not in policy and "script-src 'self';" in policy
        sources = re.findall(r'(?:src|href)="([^"]+)"', response.text)
        assert sources and all(source.startswith(("./", "/")) for source in sources), sources
        for source in sources:
            if source.startswith("./assets/"):
                assert client.get(source.removeprefix(".")).status_code == 200, source
        assert client.get("/docs.html").status_code == 404  # only at its route, with its policy


def test_the_clerk_publishable_key_reaches_the_page_and_its_policy(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"clerk_publishable_key": CLERK_KEY}))
    with TestClient(app) as client:
        response = client.get("/")
    assert page_config(response.text) == {"clerkPublishableKey": CLERK_KEY}
    policy = response.headers["content-security-policy"]
    assert "script-src 'self' https://clean-mole-12.clerk.accounts.dev" in policy
    assert clerk_frontend_api(CLERK_KEY) == "clean-mole-12.clerk.accounts.dev"
    assert clerk_frontend_api("pk_test_" + base64.b64encode(b"evil.com/x$").decode()) is None


def test_a_missing_build_says_how_to_make_it(tmp_path: Path, settings: Settings) -> None:
    app = FastAPI()
    mount_dashboard(app, settings, static_dir=tmp_path)
    for path in ("/", "/api/docs"):
        response = TestClient(app).get(path)
        assert response.status_code == 503
        assert "make dashboard" in response.json()["details"]
