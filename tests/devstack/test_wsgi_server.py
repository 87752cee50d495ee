"""devstack's WSGI server for moto: kept-alive connections, bodies in both framings, big answers streamed."""

from __future__ import annotations

import http.client
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest

from devstack import wsgi_server
from devstack.processes import free_port


def _app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    body = environ["wsgi.input"].read()
    if environ["PATH_INFO"] == "/big":
        start_response("200 OK", [("content-type", "text/plain")])
        return (bytes([65 + n % 26]) * 500_000 for n in range(5))
    start_response("201 Created", [("content-type", "text/plain"), ("x-seen", environ["PATH_INFO"])])
    return [f"{environ['REQUEST_METHOD']} {environ.get('HTTP_X_NAME', '')} {len(body)} ".encode(), body]


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    port = free_port()
    server = wsgi_server._Server(("127.0.0.1", port), wsgi_server._Connection)
    server.app = _app
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield port
    server.shutdown()
    server.server_close()


def test_one_connection_carries_many_requests(port: int) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port)
    for index in range(3):
        connection.request("POST", f"/a%20b/{index}", body=b"x" * index, headers={"x-name": "n"})
        reply = connection.getresponse()
        assert reply.status == 201
        assert reply.getheader("x-seen") == f"/a b/{index}"
        assert reply.read() == f"POST n {index} ".encode() + b"x" * index
    sock = connection.sock
    connection.request("GET", "/again")
    assert connection.getresponse().read() == b"GET  0 "
    assert connection.sock is sock  # kept alive: no new connection


def test_a_chunked_request_body_is_read_whole(port: int) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port)
    connection.request("PUT", "/lines", body=iter([b"one\n", b"two\n"]), encode_chunked=True)
    assert connection.getresponse().read() == b"PUT  8 one\ntwo\n"


def test_a_big_answer_is_streamed_in_chunks(port: int) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port)
    connection.request("GET", "/big")
    reply = connection.getresponse()
    assert reply.getheader("transfer-encoding") == "chunked"
    body = reply.read()
    assert len(body) == 2_500_000 and body.startswith(b"A") and body.endswith(b"E")
    connection.request("GET", "/after")  # the connection is still usable after a chunked answer
    assert connection.getresponse().status == 201
