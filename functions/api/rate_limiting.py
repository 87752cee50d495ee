"""600 requests a minute per client IP on every API route, counted in DynamoDB across instances.

The IP is the one the platform reports (API Gateway's request context through Mangum or the Lambda
Web Adapter, the socket under uvicorn), never a client's `X-Forwarded-For`: see shared/client_ip.py.
"""

from __future__ import annotations

from anyio import to_thread
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from shared.client_ip import client_ip
from shared.hosting import READINESS_CHECK_PATH
from shared.store.rate_limits import CLIENT_IP, RateLimiter, rate_limited_body


class ClientRateLimit:
    def __init__(self, app: ASGIApp, limiter: RateLimiter) -> None:
        self.app = app
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # The adapter's readiness probes are not clients: counting them would write to the table at
        # every cold start, and a probe answered 429 would not count as ready.
        if scope["type"] == "http" and scope["path"] != READINESS_CHECK_PATH:
            decision = await to_thread.run_sync(self.limiter.hit, CLIENT_IP, client_ip(scope))
            if not decision.allowed:
                response = JSONResponse(
                    rate_limited_body(decision.retry_after),
                    status_code=429,
                    headers={"Retry-After": str(decision.retry_after)},
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
