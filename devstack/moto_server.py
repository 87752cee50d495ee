"""The local AWS: moto's server app in a process of its own, with devstack's patch set
(devstack/moto_patches), served by devstack/wsgi_server.py: each kept-alive connection answered by
one thread (see there why neither moto's werkzeug server nor uvicorn).

One addition, for `make dev`'s snapshot (devstack/state.py): `GET /_devstack/tables/<name>` answers a
table's items, one DynamoDB JSON item a line, and `PUT` with such lines puts them back. Read and
written inside moto, a snapshot of 100,000 records takes seconds; through the DynamoDB API (Scan and
BatchWriteItem, each item parsed and serialized attribute by attribute) it took minutes.

    python -m devstack.moto_server PORT
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from moto.core import DEFAULT_ACCOUNT_ID
from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.utilities import DynamoJsonEncoder
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

from devstack import moto_patches, wsgi_server
from devstack.rehearsal import REGION, judge_dynamodb_by_resource
from shared.store.layout import INDEX_SORT_KEY

TABLES_PATH = "/_devstack/tables/"
_READ = 1 << 20

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def _items(table: Any) -> list[Any]:
    while True:
        try:
            return table.all_items()  # type: ignore[no-any-return]
        except RuntimeError:
            continue  # a write changed the table while it was listed: list it again


def _lines(items: list[Any]) -> Iterator[bytes]:
    encoder = DynamoJsonEncoder(separators=(",", ":"))
    batch: list[str] = []
    for item in items:
        batch.append(encoder.encode(item.to_json()["Attributes"]))
        if len(batch) == 1000:
            yield ("\n".join(batch) + "\n").encode()
            batch = []
    if batch:
        yield ("\n".join(batch) + "\n").encode()


_OLD_INDEX_SORT_KEYS = ("gsi1sk", "gsi2sk", "gsi3sk", "gsi4sk")


def upgraded(item: dict[str, Any]) -> dict[str, Any]:
    """An item of a snapshot saved before every index sorted on `gsisk` (shared/resources.py): the
    sort key it had in its index, under the one name."""
    old = [name for name in _OLD_INDEX_SORT_KEYS if name in item]
    if not old:
        return item
    upgraded = {name: value for name, value in item.items() if name not in _OLD_INDEX_SORT_KEYS}
    upgraded.setdefault(INDEX_SORT_KEY, item[old[0]])
    return upgraded


def with_table_snapshots(app: WsgiApp) -> WsgiApp:
    def serve(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path: str = environ.get("PATH_INFO", "")
        if not path.startswith(TABLES_PATH):
            return app(environ, start_response)
        backend = dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION]
        name = path[len(TABLES_PATH) :]
        if name not in backend.tables:
            start_response("404 Not Found", [("content-type", "text/plain")])
            return [b"no such table"]
        if environ["REQUEST_METHOD"] == "GET":
            start_response("200 OK", [("content-type", "application/x-ndjson")])
            return _lines(_items(backend.tables[name]))
        stream = environ["wsgi.input"]
        count, rest = 0, b""
        while chunk := stream.read(_READ):
            *whole, rest = (rest + chunk).split(b"\n")
            for line in whole:
                if line.strip():
                    backend.put_item(name, upgraded(json.loads(line)))
                    count += 1
        if rest.strip():
            backend.put_item(name, upgraded(json.loads(rest)))
            count += 1
        start_response("200 OK", [("content-type", "text/plain")])
        return [str(count).encode()]

    return serve


def main(argv: list[str]) -> None:
    moto_patches.install()
    # The rehearsal's IAM enforcement judges transactions item by item, as AWS does, in the process
    # that serves: without it moto would refuse every transaction (no role grants the whole call).
    judge_dynamodb_by_resource()
    app = with_table_snapshots(DomainDispatcherApplication(create_backend_app))
    wsgi_server.serve(app, "127.0.0.1", int(argv[0]))


if __name__ == "__main__":
    main(sys.argv[1:])
