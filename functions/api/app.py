"""The management API: one FastAPI app under `/api`, served by Mangum in Lambda and by uvicorn locally."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from functions.api import openapi
from functions.api.dashboard import mount_dashboard
from functions.api.errors import error_response, install_error_handlers
from functions.api.rate_limiting import ClientRateLimit
from functions.api.routes import (
    alerts,
    anthropic_admin_key,
    api_keys,
    audit_logs,
    developers,
    health,
    prices,
    profile,
    proxy_endpoints,
    reconciliation,
    sessions,
    usage,
    usage_export,
)
from functions.api.services import ApiServices
from shared.aws import RunningAs
from shared.observability import PublishMetrics
from shared.settings import Settings, get_settings

# Management bodies are a name or two; anything near this size is a mistake or an attack.
MAX_BODY_BYTES = 64 * 1024


class BodySizeLimit:
    """413 for a body above the limit: a declared one before any of it is read, a chunked one (no
    `content-length`) as soon as it passes the limit, so no body is ever read whole past it."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = dict(scope["headers"])
            length = headers.get(b"content-length")
            if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
                await self._refuse(scope, receive, send)
                return
            if length is None and b"transfer-encoding" in headers:
                body = await self._read_chunked(receive)
                if body is None:
                    await self._refuse(scope, receive, send)
                    return
                receive = _replay(body, receive)
        await self.app(scope, receive, send)

    async def _read_chunked(self, receive: Receive) -> bytes | None:
        """The body, at most `max_bytes` of it (small by definition); None when it is larger."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break  # the client left: the app sees an empty body and then the disconnect
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                return None
            chunks.append(chunk)
            if not message.get("more_body"):
                break
        return b"".join(chunks)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(413, "Body too large", f"At most {self.max_bytes} bytes")
        await response(scope, receive, send)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands over the body read already, then waits as the original would."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def replayed() -> Message:
        return pending.pop() if pending else await receive()

    return replayed


def create_app(settings: Settings | None = None, function: str = "api") -> FastAPI:
    """Creating the app reads configuration only: no AWS call, no secret, until a request needs one.

    `function`: which of the stack's functions serves it ("api" through Mangum, "usage_export" under
    the Lambda Web Adapter), so that its AWS calls carry that function's grants in the rehearsal."""
    settings = settings or get_settings()
    app = FastAPI(
        title="Codecosts API",
        version="1",
        description="Cost meter for the Anthropic API: proxy endpoints, usage, cost summary, API keys.",
        openapi_url="/api/openapi.json",
        docs_url=None,  # /api/docs: Swagger UI from the dashboard's build (functions/api/dashboard.py)
        redoc_url=None,
    )
    app.state.services = ApiServices(settings)
    install_error_handlers(app)
    api = APIRouter(prefix="/api")
    # sessions and usage_export before usage: its `/usage/{usage_id}` would take their paths.
    for module in (
        health,
        proxy_endpoints,
        sessions,
        usage_export,
        usage,
        api_keys,
        profile,
        audit_logs,
        prices,
        developers,
    ):
        api.include_router(module.router)
    for module in (anthropic_admin_key, reconciliation):  # the bill check
        api.include_router(module.router)
    api.include_router(alerts.router)
    app.include_router(api)
    app.include_router(health.readiness_router)
    mount_dashboard(app, settings)
    app.add_middleware(BodySizeLimit, max_bytes=MAX_BODY_BYTES)
    # Added late, so it runs early: a refused client costs one counter update and nothing else.
    app.add_middleware(ClientRateLimit, limiter=app.state.services.rate_limiter)
    # What any part of the request counted (the rate limiter's fail-open among them) is published
    # before the response ends; nothing else flushes metrics in the API or the export.
    app.add_middleware(PublishMetrics)
    # Outermost: everything a request does, its counter update included, runs as this function.
    app.add_middleware(RunningAs, function=function)
    app.openapi = lambda: openapi.document(app)  # type: ignore[method-assign]
    return app


app = create_app()
