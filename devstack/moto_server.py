"""The local AWS: moto's server app in a process of its own, with devstack's patch set
(devstack/moto_patches), served by uvicorn.

uvicorn rather than moto's own werkzeug server: werkzeug ends every response with `Connection: close`,
so each boto3 call opened a TCP connection and moto a thread for it, which AWS never makes a client
do. uvicorn keeps connections alive and runs the same WSGI app in its pool of threads.

    python -m devstack.moto_server PORT
"""

from __future__ import annotations

import sys
import warnings

import uvicorn
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

from devstack import moto_patches


def main(argv: list[str]) -> None:
    moto_patches.install()
    warnings.simplefilter("ignore", DeprecationWarning)  # uvicorn's WSGI interface
    app = DomainDispatcherApplication(create_backend_app)
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=int(argv[0]),
        interface="wsgi",
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=2,
    )


if __name__ == "__main__":
    main(sys.argv[1:])
