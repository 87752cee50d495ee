"""Lambda entry point behind API Gateway's REST API: the same app, through Mangum.

The REST API serves the app under its stage (`https://<api>/v1/...`), but its event's `path` leaves
the stage out, and so does Mangum. The app is told where it lives (ASGI `root_path` = `/v1`, with the
path made whole as ASGI expects), so the dashboard's page points its assets and API calls at `/v1/`.
"""

from __future__ import annotations

from typing import Any

from mangum import Mangum
from starlette.types import ASGIApp, Receive, Scope, Send

from functions.api.app import app


def stage_prefix(event: dict[str, Any]) -> str:
    """`/v1` when the request came in under the REST API's stage `v1`, else "" (a direct invoke)."""
    context = event.get("requestContext") or {}
    stage, full_path = context.get("stage"), context.get("path") or ""
    prefix = f"/{stage}"
    return prefix if stage and (full_path == prefix or full_path.startswith(f"{prefix}/")) else ""


class UnderStage:
    """ASGI middleware: puts the stage back in front of the path, as the app's `root_path`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        prefix = stage_prefix(scope.get("aws.event") or {}) if scope["type"] == "http" else ""
        if prefix:
            scope = {**scope, "root_path": prefix, "path": prefix + scope["path"]}
        await self.app(scope, receive, send)


def lambda_handler(asgi_app: ASGIApp) -> Mangum:
    # No lifespan: the app has no start-up work, and Lambda may freeze the process between invocations.
    return Mangum(UnderStage(asgi_app), lifespan="off")


handler = lambda_handler(app)
