"""moto's server app (what `python -m moto.server` serves), made to behave like AWS where it matters
for the proxy's numbers:

- Connections stay open. Werkzeug's development server, which `moto.server` uses, ends every
  response with `Connection: close`, so each boto3 call opened a new TCP connection and moto started
  a thread for it, which DynamoDB, SQS and S3 never make a client do. uvicorn (HTTP/1.1 keep-alive)
  runs the same WSGI app here, in its pool of threads.
- SendMessage costs the same however many messages the queue holds. moto's reads one flag from the
  queue's attributes, and building them counts every message held (visible, delayed, in flight): a
  send took 2-3 ms of moto's CPU more per 100 messages waiting, and the bench leaves hundreds waiting.
  On a standard queue that flag does not exist (it is a FIFO attribute), so during a send the
  attributes are not built.

    python -m bench.moto_server PORT
"""

from __future__ import annotations

import sys
import threading
import warnings
from typing import Any

import uvicorn
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from moto.sqs.models import Queue, SQSBackend

_sending = threading.local()
_queue_attributes = Queue.attributes
_send_message = SQSBackend.send_message


def _attributes(queue: Queue) -> dict[str, Any]:
    if getattr(_sending, "active", False) and not queue.fifo_queue:
        return {}  # what a send reads of a standard queue's attributes: nothing
    return _queue_attributes.fget(queue)  # type: ignore[attr-defined,no-any-return]


def _send(backend: SQSBackend, *args: Any, **kwargs: Any) -> Any:
    _sending.active = True
    try:
        return _send_message(backend, *args, **kwargs)
    finally:
        _sending.active = False


def main() -> None:
    Queue.attributes = property(_attributes)  # type: ignore[method-assign,assignment]
    SQSBackend.send_message = _send  # type: ignore[method-assign,assignment]
    warnings.simplefilter("ignore", DeprecationWarning)  # uvicorn's WSGI interface
    app = DomainDispatcherApplication(create_backend_app)
    uvicorn.run(
        app, host="127.0.0.1", port=int(sys.argv[1]), interface="wsgi", log_level="warning", access_log=False
    )


if __name__ == "__main__":
    main()
