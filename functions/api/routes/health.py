"""GET /api/health: is the table reachable, and how fast. No credentials.

GET /ready (outside `/api`): the Lambda Web Adapter's readiness check, answered without any I/O.
"""

from __future__ import annotations

import time

from botocore.exceptions import BotoCoreError, ClientError
from fastapi import APIRouter
from fastapi.responses import JSONResponse

from functions.api.deps import Services
from functions.api.schemas import Health, HealthFailure
from shared.hosting import READINESS_CHECK_PATH
from shared.observability import logger
from shared.store import layout

router = APIRouter(tags=["health"])
# Included at the root, not under /api: it is the adapter's, not the API's (no schema, no rate limit).
readiness_router = APIRouter(include_in_schema=False)


@readiness_router.get(READINESS_CHECK_PATH)
async def ready() -> dict[str, str]:
    """The app is serving: the adapter may send it invocations. Nothing it depends on is checked here,
    so that a cold start waits on nothing but the import, and a probe costs no DynamoDB write."""
    return {"status": "ready"}


@router.get(
    "/health",
    response_model=Health,
    responses={503: {"model": HealthFailure, "description": "The table is unreachable"}},
)
def health(services: Services) -> Health | JSONResponse:
    started = time.perf_counter()
    try:
        # One key read: needs no more permission than the API already has (DescribeTable would).
        services.health_client.get_item(
            TableName=services.settings.table_name,
            Key={"pk": {"S": layout.user_pk("health-check")}, "sk": {"S": layout.SINGLETON_SK}},
        )
    except (BotoCoreError, ClientError) as error:
        logger.error("health check: table unreachable", extra={"error": type(error).__name__})
        return JSONResponse({"status": "error", "error": "Database unreachable"}, status_code=503)
    return Health(status="ok", dbLatencyMs=round((time.perf_counter() - started) * 1000, 1))
