"""moto's server as `python -m moto.server` runs it, but speaking HTTP/1.1 with keep-alive.

Werkzeug's development server answers HTTP/1.0 and closes every connection, so each boto3 call
would open a new TCP connection, which DynamoDB, SQS and S3 never make it do: that would bill the
proxy for work it does not do in AWS.

    python -m bench.moto_server PORT
"""

from __future__ import annotations

import sys

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import run_simple


class _KeepAliveHandler(MotoRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_request(self, *args: object, **kwargs: object) -> None:
        pass


def main() -> None:
    app = DomainDispatcherApplication(create_backend_app)
    run_simple("127.0.0.1", int(sys.argv[1]), app, threaded=True, request_handler=_KeepAliveHandler)


if __name__ == "__main__":
    main()
