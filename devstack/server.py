"""The proxy and the management API on one local port, as one ASGI app."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from functions.api.app import create_app as create_api_app
from functions.proxy.app import create_app as create_proxy_app
from shared.settings import Settings

ASGIApp = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


def create_local_app(settings: Settings, on_write: Callable[[], None] | None = None) -> ASGIApp:
    """`/proxy/...` goes to the proxy app (as the function URL does), the rest to the API (as API Gateway)."""
    proxy: ASGIApp = create_proxy_app(settings)
    api: ASGIApp = create_api_app(settings)

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/proxy/"):
            await proxy(scope, receive, send)
            return
        if on_write and scope["type"] == "http" and scope["method"] not in ("GET", "HEAD", "OPTIONS"):
            on_write()
        await api(scope, receive, send)

    return app
