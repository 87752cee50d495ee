"""The local stand-in for the function URL and API Gateway: one port that routes each request to the
process of the function AWS would invoke, and streams the reply back as it comes.

- `/proxy/...` goes to the proxy (its function URL), `GET /api/usage/export.csv` to the export function
  (the REST API's streaming route), everything else to the API (the REST API's other routes).
- The request is read whole before it is passed on, as Lambda receives it; the reply is relayed chunk
  by chunk, never buffered.
- The caller's IP reaches the function as the platform reports it: in the request context that the
  Lambda Web Adapter passes in `x-amzn-request-context` (`http.sourceIp` for a function URL,
  `identity.sourceIp` for API Gateway; see shared/client_ip.py). A context sent by the caller is
  dropped.
- A caller that goes away closes its function's connection, which the function sees as a disconnect.

Bare asyncio streams and httptools (uvicorn's parser), with keep-alive connections both ways: about
0.1 ms of work per request, measured by `make bench`.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import httptools

_READ = 64 * 1024
_STOP_SECONDS = 5.0  # how long Ctrl-C lets the calls under way finish
_IDLE_SECONDS = 4.0  # below uvicorn's keep-alive timeout (5 s): a pooled connection is never stale
_CONTEXT_HEADER = b"x-amzn-request-context"
# Not passed on: the connection's own framing, and what only the platform may set.
_REQUEST_DROPPED = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"upgrade",
        b"transfer-encoding",
        b"content-length",
        b"expect",
        _CONTEXT_HEADER,
    }
)
_RESPONSE_DROPPED = frozenset({b"connection", b"keep-alive", b"transfer-encoding"})
_BAD_GATEWAY = b'{"message":"Internal Server Error"}'  # what a function URL answers for a failed function


class _Message:
    """One HTTP message as httptools parses it."""

    def __init__(self) -> None:
        self.url = b""
        self.reason = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.body: list[bytes] = []
        self.head_done = False
        self.complete = False
        self.method = b""
        self.keep_alive = True
        self.version = "1.1"

    def header(self, name: bytes) -> bytes | None:
        return next((value for key, value in self.headers if key.lower() == name), None)


class _Requests:
    """httptools callbacks for a client connection: every request it sends, in order (pipelining)."""

    def __init__(self, on_complete: Callable[[_Message], None], on_continue: Callable[[], None]) -> None:
        self.parser = httptools.HttpRequestParser(self)
        self.current = _Message()
        self._on_complete = on_complete
        self._on_continue = on_continue

    def on_message_begin(self) -> None:
        self.current = _Message()

    def on_url(self, url: bytes) -> None:
        self.current.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.current.headers.append((name, value))

    def on_headers_complete(self) -> None:
        message = self.current
        message.head_done = True
        message.method = self.parser.get_method()
        message.keep_alive = self.parser.should_keep_alive()
        message.version = self.parser.get_http_version()
        if (message.header(b"expect") or b"").lower() == b"100-continue":
            self._on_continue()

    def on_body(self, body: bytes) -> None:
        self.current.body.append(body)

    def on_message_complete(self) -> None:
        self.current.complete = True
        self._on_complete(self.current)


class _Response(_Message):
    def on_status(self, reason: bytes) -> None:
        self.reason += reason

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        self.head_done = True

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        self.complete = True


@dataclass
class Function:
    """One function's local process, as its AWS front end invokes it."""

    name: str
    port: int
    via: str  # "function_url" or "rest_api": the shape of the request context it is given
    _idle: list[tuple[float, asyncio.StreamReader, asyncio.StreamWriter]] = field(default_factory=list)

    async def connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, bool]:
        """A connection to the function's server, and whether it was reused from the pool."""
        now = time.monotonic()
        while self._idle:
            since, reader, writer = self._idle.pop()
            if now - since < _IDLE_SECONDS and not writer.is_closing() and not reader.at_eof():
                return reader, writer, True
            writer.close()
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port, limit=_READ)
        _no_delay(writer)
        return reader, writer, False

    def release(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._idle.append((time.monotonic(), reader, writer))

    def context(self, request: _Message, client_ip: str, path: bytes) -> bytes:
        """The request context the Lambda Web Adapter would pass, with the parts the code reads."""
        method = request.method.decode()
        common = {"requestId": str(uuid.uuid4()), "requestTimeEpoch": int(time.time() * 1000)}
        if self.via == "function_url":
            http = {"method": method, "path": path.decode("latin-1"), "sourceIp": client_ip}
            return json.dumps({**common, "stage": "$default", "http": http}).encode()
        identity = {"sourceIp": client_ip}
        return json.dumps({**common, "stage": "v1", "httpMethod": method, "identity": identity}).encode()


@dataclass(frozen=True)
class Routes:
    proxy: Function
    api: Function
    export: Function

    def pick(self, method: bytes, path: bytes) -> Function:
        if path.startswith(b"/proxy/"):
            return self.proxy
        if path == b"/api/usage/export.csv" and method in (b"GET", b"HEAD"):
            return self.export
        return self.api


class FrontDoor:
    def __init__(self, routes: Routes) -> None:
        self.routes = routes
        self.last_request_at = 0.0  # time.monotonic() of the last request received
        self.writes = 0  # requests that may have changed what is stored (all but GET, HEAD, OPTIONS)
        self._callers: dict[asyncio.Task[None], asyncio.StreamWriter] = {}  # connections being served

    async def serve(self, port: int, stop: asyncio.Event) -> None:
        server = await asyncio.start_server(self._client, "127.0.0.1", port, limit=_READ, backlog=1024)
        async with server:
            await stop.wait()
            server.close()
            # Ctrl-C: each caller's connection (a kept-alive one waits for its next request) ends as
            # when the caller leaves, so its handler returns instead of being cancelled at the loop's
            # end, which printed a traceback per connection.
            for writer in self._callers.values():
                writer.close()
            if self._callers:
                await asyncio.wait(list(self._callers), timeout=_STOP_SECONDS)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        handler = asyncio.current_task()
        assert handler is not None
        self._callers[handler] = writer
        _no_delay(writer)
        peer = writer.get_extra_info("peername")
        client_ip = str(peer[0]) if peer else "unknown"
        waiting: collections.deque[_Message] = collections.deque()
        arrived = asyncio.Event()
        in_flight: list[asyncio.StreamWriter] = []  # the function connection of the current exchange

        def complete(message: _Message) -> None:
            waiting.append(message)
            arrived.set()

        requests = _Requests(complete, lambda: writer.write(b"HTTP/1.1 100 Continue\r\n\r\n"))
        gone = False

        async def read() -> None:
            nonlocal gone
            try:
                while data := await reader.read(_READ):
                    requests.parser.feed_data(data)
            except (httptools.HttpParserError, OSError):
                pass
            gone = True  # the caller closed (or spoke nonsense): its exchange in flight ends too
            for function_writer in in_flight:
                function_writer.close()
            arrived.set()

        reading = asyncio.create_task(read())
        try:
            while True:
                while not waiting and not gone:
                    arrived.clear()
                    await arrived.wait()
                if not waiting:
                    return
                request = waiting.popleft()
                if not await self._exchange(request, client_ip, writer, in_flight) or not request.keep_alive:
                    return
        except OSError:
            pass  # the caller went away mid-reply
        finally:
            reading.cancel()
            writer.close()
            self._callers.pop(handler, None)

    async def _exchange(
        self,
        request: _Message,
        client_ip: str,
        client: asyncio.StreamWriter,
        in_flight: list[asyncio.StreamWriter],
    ) -> bool:
        """One request to its function and its reply back; False when the caller's connection must end."""
        self.last_request_at = time.monotonic()
        if request.method not in (b"GET", b"HEAD", b"OPTIONS"):
            self.writes += 1
        path = httptools.parse_url(request.url).path
        function = self.routes.pick(request.method, path)
        body = b"".join(request.body)
        head = [request.method, b" ", request.url, b" HTTP/1.1\r\n"]
        for name, value in request.headers:
            if name.lower() not in _REQUEST_DROPPED:
                head += (name, b": ", value, b"\r\n")
        head += (_CONTEXT_HEADER, b": ", function.context(request, client_ip, path), b"\r\n")
        head += (b"content-length: ", b"%d" % len(body), b"\r\n\r\n")
        outgoing = b"".join(head) + body
        for _ in range(2):  # a reused connection the function has just closed: once more on a new one
            try:
                reader, writer, reused = await function.connect()
            except OSError:
                return _refuse(client)
            in_flight[:] = [writer]
            writer.write(outgoing)
            try:
                sent, kept = await _relay(reader, client, request)
            except httptools.HttpParserError:
                sent, kept = False, False
            finally:
                in_flight.clear()
            if kept:
                function.release(reader, writer)
            else:
                writer.close()
            if sent:
                return True
            if not reused or client.is_closing():
                break
        return _refuse(client)


async def _relay(
    reader: asyncio.StreamReader, client: asyncio.StreamWriter, request: _Message
) -> tuple[bool, bool]:
    """The function's reply to the caller as it arrives: (a reply was sent, the function's connection
    can be reused)."""
    response = _Response()
    parser = httptools.HttpResponseParser(response)
    chunked = framed = False
    started = False
    while True:
        data = await reader.read(_READ)
        if not data:
            if started and not framed:
                client.close()  # a reply that ends with its connection ends the caller's too
                return True, False
            if started:
                client.close()  # broken off mid-reply: the caller sees it broken off too
            return started, False
        parser.feed_data(data)
        if response.head_done and not started:
            status = parser.get_status_code()
            if status < 200:
                response = _Response()  # an interim reply: not relayed
                parser = httptools.HttpResponseParser(response)
                continue
            framed = response.header(b"content-length") is not None or status in (204, 304)
            chunked = not framed and request.version == "1.1" and request.method != b"HEAD"
            framed = framed or chunked or request.method == b"HEAD"
            client.write(_head(status, response, chunked, request))
            started = True
        if response.body:
            for piece in response.body:
                client.write(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
            response.body.clear()
            await client.drain()
        if started and (response.complete or request.method == b"HEAD"):
            if chunked:
                client.write(b"0\r\n\r\n")
                await client.drain()
            return True, response.complete and parser.should_keep_alive()


def _head(status: int, response: _Response, chunked: bool, request: _Message) -> bytes:
    reason = response.reason or b"OK"
    lines = [b"HTTP/1.1 %d %s\r\n" % (status, reason)]
    for name, value in response.headers:
        if name.lower() not in _RESPONSE_DROPPED:
            lines += (name, b": ", value, b"\r\n")
    if chunked:
        lines.append(b"transfer-encoding: chunked\r\n")
    if not request.keep_alive:
        lines.append(b"connection: close\r\n")
    lines.append(b"\r\n")
    return b"".join(lines)


def _refuse(client: asyncio.StreamWriter) -> bool:
    with contextlib.suppress(OSError):
        client.write(
            b"HTTP/1.1 502 Bad Gateway\r\ncontent-type: application/json\r\n"
            b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (len(_BAD_GATEWAY), _BAD_GATEWAY)
        )
    return False


def _no_delay(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
