"""The dashboard: the single-page app built from dashboard/ into functions/api/static/, served at `/`.

`index.html` answers `/` and every client route (`/calls/<id>`, `/endpoints`, ...), never cached, with
the Clerk publishable key written into it; the hashed files under `assets/` are cached for a year.
`docs.html` (Swagger UI, bundled from swagger-ui-dist) answers `/api/docs`, under the same strict
Content-Security-Policy as the dashboard without Clerk: nothing it loads comes from another origin.
Nothing under `/api/` or `/proxy/` is the dashboard's: an unknown API path stays a JSON 404.

The page's URLs are relative to its `<base href>`, which says where the app is mounted: `/` locally,
`/v1/` under the REST API's stage (the request's ASGI `root_path`, functions/api/handler.py).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from html import escape
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from starlette.convertors import Convertor, register_url_convertor
from starlette.exceptions import HTTPException

from functions.api.errors import error_response
from shared.settings import Settings

STATIC_DIR = Path(__file__).resolve().parent / "static"
# What the build leaves in index.html for the server to fill in (dashboard/index.html).
CONFIG_PLACEHOLDER = (
    '<script id="codecosts-config" type="application/json">{"clerkPublishableKey":null}</script>'
)
# Where the build leaves the page's base for the server to fill in (dashboard/index.html).
BASE_PLACEHOLDER = '<base href="/" />'
IMMUTABLE = "public, max-age=31536000, immutable"
# The build's pages, served only at their routes, with their headers: the dashboard and the API docs.
PAGES = ("index.html", "docs.html")
_HOST = re.compile(r"^[a-z0-9.-]+$", re.IGNORECASE)


class DashboardPath(Convertor[str]):
    """Any path but the API's and the proxy's, so their unknown routes keep answering 404/405 in JSON."""

    regex = r"(?!api(?:/|$)|proxy(?:/|$)).*"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("dashboard_path", DashboardPath())


def clerk_frontend_api(publishable_key: str) -> str | None:
    """The Frontend API host a Clerk publishable key encodes (`pk_live_<base64("host$")>`)."""
    match = re.fullmatch(r"pk_(?:test|live)_([A-Za-z0-9+/=_-]+)", publishable_key)
    if not match:
        return None
    encoded = match.group(1)
    try:
        decoded = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    host = decoded.removesuffix("$")
    return host if decoded.endswith("$") and _HOST.match(host) else None


def content_security_policy(clerk_host: str | None) -> str:
    """Locally the page may talk to its own origin only; with Clerk, also to what Clerk's sign-in needs."""
    sources = {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],  # the server's own <base href>, nothing elsewhere
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
    if clerk_host:
        clerk = f"https://{clerk_host}"
        sources["script-src"] += [clerk, "https://challenges.cloudflare.com"]
        sources["connect-src"].append(clerk)
        sources["img-src"].append("https://img.clerk.com")
        sources["style-src"].append("'unsafe-inline'")  # Clerk's components style themselves inline
        sources["frame-src"] = ["https://challenges.cloudflare.com"]
        sources["worker-src"] = ["'self'", "blob:"]
    return "; ".join(f"{name} {' '.join(values)}" for name, values in sources.items())


def _page(static_dir: Path, clerk_publishable_key: str | None) -> str:
    index = static_dir / "index.html"
    html = index.read_text()
    if CONFIG_PLACEHOLDER not in html or BASE_PLACEHOLDER not in html:
        raise RuntimeError(f"{index} has no configuration or base placeholder: rebuild the dashboard")
    config = json.dumps({"clerkPublishableKey": clerk_publishable_key})
    # JSON inside <script>: no `<` may close the element early.
    config_tag = CONFIG_PLACEHOLDER.replace(
        '{"clerkPublishableKey":null}', config.replace("<", "\\u003c").replace(">", "\\u003e")
    )
    return html.replace(CONFIG_PLACEHOLDER, config_tag)


def mount_dashboard(app: FastAPI, settings: Settings, static_dir: Path = STATIC_DIR) -> None:
    """Adds the dashboard's routes after the API's; call it once the API routers are included."""
    publishable_key = settings.clerk_publishable_key or None
    clerk_host = clerk_frontend_api(publishable_key) if publishable_key else None
    if publishable_key and not clerk_host:
        raise ValueError("CLERK_PUBLISHABLE_KEY is not a Clerk publishable key (pk_test_... or pk_live_...)")
    built = (static_dir / "index.html").is_file()
    page = _page(static_dir, publishable_key) if built else ""
    files = (
        {
            path.relative_to(static_dir).as_posix(): path
            for path in static_dir.rglob("*")
            if path.is_file() and path.name not in PAGES and not path.name.startswith(".")
        }
        if built
        else {}
    )
    page_headers = _page_headers(content_security_policy(clerk_host))
    # Swagger UI, bundled from swagger-ui-dist: its own origin only (no Clerk on this page).
    docs_file = static_dir / "docs.html"
    docs_page = docs_file.read_text() if docs_file.is_file() else None  # None: a build from before it
    docs_headers = _page_headers(content_security_policy(None))

    @app.get("/api/docs", include_in_schema=False)
    def api_docs(request: Request) -> Response:
        if docs_page is None:
            return _not_built()
        return HTMLResponse(_with_base(docs_page, request), headers=docs_headers)

    @app.api_route("/{path:dashboard_path}", methods=["GET", "HEAD"], include_in_schema=False)
    def dashboard(path: str, request: Request) -> Response:
        if not built:
            return _not_built()
        file = files.get(path)
        if file is not None:
            cache = IMMUTABLE if path.startswith("assets/") else "public, max-age=3600"
            return FileResponse(file, headers={"Cache-Control": cache, "X-Content-Type-Options": "nosniff"})
        if "." in path.rsplit("/", 1)[-1]:
            # A missing file, never the page in its place: a browser would read HTML as a script.
            raise HTTPException(404)
        return HTMLResponse(_with_base(page, request), headers=page_headers)


def _page_headers(policy: str) -> dict[str, str]:
    return {
        "Cache-Control": "no-cache",
        "Content-Security-Policy": policy,
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "no-referrer",
    }


def _with_base(page: str, request: Request) -> str:
    base = f'<base href="{escape(request.scope.get("root_path", ""))}/" />'
    return page.replace(BASE_PLACEHOLDER, base, 1)


def _not_built() -> Response:
    return error_response(
        503, "The dashboard is not built", "Run `make dashboard` (`make dev` and `make test` do it)."
    )
