"""The API in a process of its own, with its Python allocations traced (tracemalloc): `GET /__peak`
answers the peak since the previous `/__peak`. Run as `python -m tests.api.traced_api <port>`; the
embedded AWS of the tests stays in the test process, so only the API's own memory is measured."""

from __future__ import annotations

import sys
import tracemalloc
from typing import Any

import uvicorn

from functions.api.app import create_app

tracemalloc.start()
api = create_app()


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "http" and scope["path"] == "/__peak":
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]}
        )
        await send({"type": "http.response.body", "body": str(peak).encode()})
        return
    await api(scope, receive, send)


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", lifespan="off")
