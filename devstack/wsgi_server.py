"""A WSGI server for make dev's moto: each kept-alive connection is read, answered and written by one
thread of its own.

Every AWS call of a function is one HTTP request to moto, and on this project's two cores the time a
call waits is mostly wake-ups, not work: werkzeug's server closes each connection (a TCP handshake and
a new thread per call), and uvicorn's WSGI bridge hands each request from its event loop to a worker
thread and the answer back (three wake-ups, each waiting for a time slice on a busy machine). Here
the thread that blocks reading a connection runs the app and writes the answer: one wake-up a call.
boto3 keeps its connections alive, so a function's client keeps its thread.

HTTP/1.1 only as far as AWS clients use it: requests with `Content-Length` or chunked bodies,
answers with `Content-Length` or, for a streamed body (the table snapshot), chunked.
"""

from __future__ import annotations

import signal
import socket
import sys
import threading
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BytesIO
from typing import Any

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

_STREAM_AFTER = 1 << 20  # an answer up to this size is written at once, with its length


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128
    app: WsgiApp

    def server_bind(self) -> None:
        super().server_bind()
        self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _Connection(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        # An answer is written in one piece: without this, Nagle's algorithm and the client's
        # delayed ACK could hold a second write for 40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def handle_one_request(self) -> None:
        try:
            self.raw_requestline = self.rfile.readline(65537)
        except (ConnectionError, TimeoutError):
            self.close_connection = True
            return
        if not self.raw_requestline or not self.parse_request():
            self.close_connection = True
            return
        try:
            self._answer()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _body(self) -> bytes:
        if self.headers.get("transfer-encoding", "").lower() == "chunked":
            parts = []
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                parts.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass  # trailers
            return b"".join(parts)
        return self.rfile.read(int(self.headers.get("content-length") or 0))

    def _environ(self, body: bytes) -> dict[str, Any]:
        path, _, query = self.path.partition("?")
        host, port = self.server.server_address[:2]
        environ: dict[str, Any] = {
            "REQUEST_METHOD": self.command,
            "SCRIPT_NAME": "",
            "PATH_INFO": _latin1(path),
            "QUERY_STRING": query,
            "SERVER_NAME": host,
            "SERVER_PORT": str(port),
            "SERVER_PROTOCOL": self.request_version,
            "REMOTE_ADDR": self.client_address[0],
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        for name, value in self.headers.items():
            key = name.upper().replace("-", "_")
            if key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                if key == "CONTENT_TYPE":
                    environ[key] = value
                continue
            if key == "TRANSFER_ENCODING":
                continue  # the body is read whole: the app sees its length
            field = f"HTTP_{key}"
            environ[field] = f"{environ[field]},{value}" if field in environ else value
        return environ

    def _answer(self) -> None:
        body = self._body()
        started: list[Any] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            started[:] = [status, headers]
            return lambda data: None  # the legacy write() callable: moto does not use it

        result = self.server.app(self._environ(body), start_response)
        try:
            chunks = iter(result)
            buffered: list[bytes] = []
            size = 0
            streaming = False
            for chunk in chunks:
                buffered.append(chunk)
                size += len(chunk)
                if size > _STREAM_AFTER:
                    streaming = True
                    break
            status, headers = started
            head = [f"HTTP/1.1 {status}"]
            head += [
                f"{name}: {value}"
                for name, value in headers
                if name.lower() not in ("content-length", "transfer-encoding", "connection")
            ]
            if self.close_connection:
                head.append("Connection: close")
            if not streaming:
                head.append(f"Content-Length: {size}")
                payload = b"".join(buffered) if self.command != "HEAD" else b""
                self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + payload)
                return
            head.append("Transfer-Encoding: chunked")
            self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
            for chunk in (*buffered, *chunks):
                if chunk:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            self.wfile.write(b"0\r\n\r\n")
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()

    def log_message(self, format: str, *args: Any) -> None:
        pass  # no access log, as before


def _latin1(path: str) -> str:
    """PATH_INFO as WSGI wants it: the percent-decoded bytes, read as latin-1."""
    from urllib.parse import unquote_to_bytes

    return unquote_to_bytes(path).decode("latin-1")


def serve(app: WsgiApp, host: str, port: int) -> None:
    """Serves until SIGTERM or SIGINT; a connection's request under way is not waited for."""
    server = _Server((host, port), _Connection)
    server.app = app

    def stop(*_: object) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        server.serve_forever(poll_interval=0.5)
    finally:
        server.server_close()
