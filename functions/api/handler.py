"""Lambda entry point behind API Gateway (REST or HTTP API): the same app, through Mangum."""

from __future__ import annotations

from mangum import Mangum

from functions.api.app import app

# No lifespan: the app has no start-up work, and Lambda may freeze the process between invocations.
handler = Mangum(app, lifespan="off")
