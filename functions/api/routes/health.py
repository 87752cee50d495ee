"""GET /api/health: is the table reachable, and how fast. No credentials."""

from __future__ import annotations

import time

from botocore.exceptions import BotoCoreError, ClientError
from fastapi import APIRouter
from fastapi.responses import JSONResponse

from functions.api.deps import Services
from functions.api.schemas import Health, HealthFailure
from shared.observability import logger
from shared.store import layout

router = APIRouter(tags=["health"])


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
