"""The soak tests' own processes, so the proxy's memory can be read from /proc and nothing else
shares its event loop or its GIL:

    python -m tests.reliability.soak_processes moto PORT        # the local AWS of make dev:
                                                                # devstack/moto_server.py
    python -m tests.reliability.soak_processes proxy PORT       # env: AWS_ENDPOINT_URL, CODECOSTS_*
    python -m tests.reliability.soak_processes upstream PORT [PAUSE_SECONDS]

The proxy gets a `GenerousLimiter` that lets every call through (the contract's limits are 300 a
minute per endpoint and 600 per client IP, and a load test comes from one IP): that is the way to
load-test the proxy locally, `create_app(limiter=...)`.
"""

from __future__ import annotations

import sys

import uvicorn

from devstack import moto_server
from functions.proxy.app import create_app
from shared.settings import get_settings
from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.reliability.support import GenerousLimiter


def main(argv: list[str]) -> None:
    role, port = argv[0], int(argv[1])
    if role == "moto":
        moto_server.main([str(port)])
        return
    if role == "proxy":
        settings = get_settings()
        app = create_app(settings, limiter=GenerousLimiter(settings.table_name))
    elif role == "upstream":
        app = FakeAnthropic()
        app.pause = float(argv[2]) if len(argv) > 2 else 0.0
    else:
        raise SystemExit(f"unknown role {role!r}")
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=2,
        backlog=2048,
    )


if __name__ == "__main__":
    main(sys.argv[1:])
