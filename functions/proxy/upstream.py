"""The connection to Anthropic: one pool of keep-alive HTTP/1.1 connections per process.

A lean client on asyncio's transports and httptools' parser (uvicorn's own), written for the one
exchange the proxy makes: write a request whose body is already in memory, relay the reply's body
as it arrives. httpx spent about a millisecond of CPU per call on top of this (its pool, h11, anyio,
cookies), and its pool dispatched calls that arrive together one after another: 16 at once waited
about 2 ms each for the one ahead (httpcore 1.0.9).

- Made on first use, inside the running event loop, so the same app needs no lifespan hook under
  uvicorn locally and under the Lambda Web Adapter (where warm invocations reuse its connections).
- Only the caller's forwarded headers go upstream, with `Host` and `Content-Length` from this side.
- Idle connections are reused for `KEEPALIVE_SECONDS` at most, and never once the server has closed
  them (the transport says so the moment it happens); a reply's body is read at the caller's pace (the
  socket stops being read while `_MAX_BUFFERED` bytes wait).
- TLS: the certificate chain is checked against `SSL_CERT_FILE`/`SSL_CERT_DIR` or certifi's roots,
  and its name against the configured host (tests/proxy/test_upstream_tls.py).
- No forward proxy: it connects to the upstream directly. With `HTTPS_PROXY` (or `ALL_PROXY`; for an
  http upstream `HTTP_PROXY`) set and `NO_PROXY` not exempting the host, the proxy refuses to start
  (`forward_proxy_refusal`) rather than ignore a policy that all egress goes through it: tunnelling
  (CONNECT, proxy credentials) would be more code on every call's path, for an environment Lambda
  does not have.
- Failures: no connection (refused, DNS, TLS, connect timeout) or no reply at all -> `UpstreamUnreachable`;
  no response head within the read timeout -> `UpstreamTimeout`; the reply breaks off, or stalls for the
  read timeout, mid-body -> `UpstreamBrokeOff`. All are `UpstreamError`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import socket
import ssl
import time
import urllib.request
from collections.abc import AsyncIterator
from typing import NamedTuple, cast
from urllib.parse import urlsplit

import httptools

from shared.settings import Settings

MESSAGES_PATH = b"/v1/messages"
COUNT_TOKENS_PATH = b"/v1/messages/count_tokens"

KEEPALIVE_SECONDS = 5.0  # as httpx's default: an idle connection older than this is not reused
_MAX_IDLE = 32
_MAX_BUFFERED = 1 << 20  # bytes of reply read ahead of the caller before the socket is paused
_ONE_WRITE = 64 * 1024  # request bodies up to this go out in the same write as the head

# What a query may carry as is: printable ASCII but space, `"`, `<`, `>` (percent-encoded, as httpx
# does) and `#` (refused, as httpx does); bytes outside printable ASCII are refused.
_QUERY_ESCAPED = re.compile(rb'[ "<>]')
_QUERY_REFUSED = re.compile(rb"[^\x20-\x7e]|#")


class UpstreamError(Exception):
    pass


class UpstreamUnreachable(UpstreamError):
    pass


class UpstreamTimeout(UpstreamError):
    pass


class UpstreamBrokeOff(UpstreamError):
    pass


class InvalidQuery(ValueError):
    pass


class UpstreamRequest(NamedTuple):
    target: bytes  # path and query, from `Upstream.target`
    headers: list[tuple[bytes, bytes]]  # the caller's, as forwarding.py keeps them
    body: bytes


def forward_proxy_refusal(upstream_url: str) -> str | None:
    """Why the proxy must not start: a forward proxy is set for the upstream in the environment and
    NO_PROXY does not exempt it. None otherwise. The proxy's address is not repeated (it may carry
    credentials)."""
    base = urlsplit(upstream_url)
    host = base.hostname or ""
    proxies = urllib.request.getproxies_environment()
    if not (proxies.get(base.scheme) or proxies.get("all")):
        return None
    if urllib.request.proxy_bypass(host):  # NO_PROXY (on Linux, from the environment only)
        return None
    return (
        f"A forward proxy is set for {host} ({base.scheme.upper()}_PROXY or ALL_PROXY), but the Codecosts "
        f"proxy connects to its upstream directly and cannot go through one. Unset it, or exempt the "
        f"upstream with NO_PROXY={host}."
    )


def _ssl_context() -> ssl.SSLContext:
    """The roots httpx trusted: `SSL_CERT_FILE` or `SSL_CERT_DIR` when set, else certifi's."""
    if os.environ.get("SSL_CERT_FILE"):
        context = ssl.create_default_context(cafile=os.environ["SSL_CERT_FILE"])
    elif os.environ.get("SSL_CERT_DIR"):
        context = ssl.create_default_context(capath=os.environ["SSL_CERT_DIR"])
    else:
        try:
            import certifi  # the proxy's bundle has it (through httpx, in its requirements)

            context = ssl.create_default_context(cafile=certifi.where())
        except ImportError:  # pragma: no cover
            context = ssl.create_default_context()  # the system's roots
    context.set_alpn_protocols(["http/1.1"])
    return context


class UpstreamResponse:
    """One reply: status and headers once the head has arrived, then the body as it arrives."""

    def __init__(self, connection: _Connection, read_timeout: float) -> None:
        self._connection = connection
        self._read_timeout = read_timeout
        self.status_code = 0
        self.headers: list[tuple[bytes, bytes]] = []  # as received, names in their own case
        self._has_head = False
        self._framed = True  # the body ends by its length or chunking, not by the connection closing
        self._body: list[bytes] = []
        self._buffered = 0
        self._complete = False
        self._error: UpstreamError | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._timer: asyncio.TimerHandle | None = None

    def header(self, name: bytes) -> str | None:
        """A header's value (several joined with ", "), the name in any case; None if absent."""
        values = [value for key, value in self.headers if key.lower() == name]
        return b", ".join(values).decode("latin-1") if values else None

    async def chunks(self) -> AsyncIterator[bytes]:
        """The body as it arrives: everything received since the last chunk, in one piece."""
        while True:
            if self._body:
                data = self._body[0] if len(self._body) == 1 else b"".join(self._body)
                self._body.clear()
                if self._buffered > _MAX_BUFFERED:
                    self._connection.resume_reading()
                self._buffered = 0
                yield data
            elif self._error is not None:
                raise self._error
            elif self._complete:
                return
            else:
                await self._wait()

    async def aclose(self) -> None:
        """Done with the reply: a connection whose reply was not read to its end is closed."""
        if not self._complete:
            self._connection.close()
        self._cancel_timer()

    async def _wait(self) -> None:
        loop = asyncio.get_running_loop()
        self._waiter = loop.create_future()
        self._timer = loop.call_later(self._read_timeout, self._timed_out)
        try:
            await self._waiter
        finally:
            self._waiter = None
            self._cancel_timer()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _timed_out(self) -> None:
        self._timer = None
        if self._has_head:
            self._fail(UpstreamBrokeOff("no bytes within the read timeout"))
        else:
            self._fail(UpstreamTimeout("no response head within the read timeout"))
        self._connection.close()

    # Called by the connection as the reply is parsed.
    def _head(self, status: int) -> None:
        self.status_code = status
        self._has_head = True
        framing = {key.lower() for key, _ in self.headers}
        self._framed = b"content-length" in framing or b"transfer-encoding" in framing or status in (204, 304)
        self._wake()

    def _feed(self, data: bytes) -> None:
        self._body.append(data)
        self._buffered += len(data)
        if self._buffered > _MAX_BUFFERED:
            self._connection.pause_reading()
        self._wake()

    def _finish(self) -> None:
        self._complete = True
        self._wake()

    def _fail(self, error: UpstreamError) -> None:
        if self._complete or self._error is not None:
            return
        self._error = error
        self._wake()

    def _lost(self, error: Exception | None) -> None:
        if self._has_head and not self._framed:
            self._finish()  # a body that ends with the connection has ended
        elif self._has_head:
            self._fail(UpstreamBrokeOff(f"connection lost mid-reply: {error!r}"))
        else:
            self._fail(UpstreamUnreachable(f"connection lost before a reply: {error!r}"))


class _Connection(asyncio.Protocol):
    def __init__(self, pool: _Pool) -> None:
        self.pool = pool
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.response: UpstreamResponse | None = None
        self.closed = False
        self.idle_since = 0.0
        self._paused = False

    # asyncio
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not asyncio.Transport subclasses
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError, AttributeError):  # not a TCP socket
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        response = self.response
        if response is None:
            self.close()  # nothing was asked: a server talking out of turn
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as error:
            response._fail(
                UpstreamBrokeOff(f"unreadable reply: {error}")
                if response._has_head
                else UpstreamUnreachable(f"unreadable reply: {error}")
            )
            self.close()

    def eof_received(self) -> bool:
        return False  # the transport closes itself; connection_lost follows

    def connection_lost(self, error: Exception | None) -> None:
        self.closed = True
        if self.response is not None:
            self.response._lost(error)
            self.response = None

    # httptools
    # A reply nobody asked for (bytes after the end of the last one) closes the connection.
    def on_message_begin(self) -> None:
        if self.response is None:
            self.close()

    def on_header(self, name: bytes, value: bytes) -> None:
        if self.response is not None:
            self.response.headers.append((name, value))

    def on_headers_complete(self) -> None:
        if self.response is None:
            return
        status = self.parser.get_status_code()
        if 100 <= status < 200:
            self.response.headers.clear()  # an interim reply (100 Continue, 103 Early Hints): skipped
            return
        self.response._head(status)

    def on_body(self, body: bytes) -> None:
        if self.response is not None:
            self.response._feed(body)

    def on_message_complete(self) -> None:
        response = self.response
        if response is None or not response._has_head:
            return  # the end of an interim reply
        self.response = None
        response._finish()
        if self.parser.should_keep_alive() and not self._paused:
            self.pool.release(self)
        else:
            self.close()

    # the pool's side
    def usable(self, now: float) -> bool:
        return (
            not self.closed
            and self.transport is not None
            and not self.transport.is_closing()
            and now - self.idle_since < KEEPALIVE_SECONDS
        )

    def pause_reading(self) -> None:
        if not self._paused and self.transport is not None and not self.transport.is_closing():
            self._paused = True
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        if self._paused and self.transport is not None and not self.transport.is_closing():
            self._paused = False
            self.transport.resume_reading()

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class _Pool:
    def __init__(self, host: str, port: int, tls: ssl.SSLContext | None, connect_timeout: float) -> None:
        self.host = host
        self.port = port
        self.tls = tls
        self.connect_timeout = connect_timeout
        self.idle: list[_Connection] = []

    async def acquire(self) -> _Connection:
        now = time.monotonic()
        while self.idle:
            connection = self.idle.pop()  # the most recently used: the least likely to have expired
            if connection.usable(now):
                return connection
            connection.close()
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.connect_timeout):
                _, connection = await loop.create_connection(
                    lambda: _Connection(self),
                    self.host,
                    self.port,
                    ssl=self.tls,
                    server_hostname=self.host if self.tls else None,
                )
        except (OSError, TimeoutError, ssl.SSLError) as error:
            raise UpstreamUnreachable(f"{type(error).__name__}: {error}") from error
        return connection

    def release(self, connection: _Connection) -> None:
        connection.idle_since = time.monotonic()
        if len(self.idle) >= _MAX_IDLE:
            self.idle.pop(0).close()
        self.idle.append(connection)

    def close(self) -> None:
        for connection in self.idle:
            connection.close()
        self.idle.clear()


class Upstream:
    def __init__(self, settings: Settings) -> None:
        base = urlsplit(settings.upstream_url)
        if base.scheme not in ("http", "https") or not base.hostname:
            raise ValueError(f"CODECOSTS_UPSTREAM_URL must be an http(s) URL, not {settings.upstream_url!r}")
        refusal = forward_proxy_refusal(settings.upstream_url)
        if refusal:
            raise ValueError(refusal)
        self._tls = base.scheme == "https"
        self._host = base.hostname
        self._port = base.port or (443 if self._tls else 80)
        default_port = self._port == (443 if self._tls else 80)
        host = f"[{self._host}]" if ":" in self._host else self._host
        self._host_header = (host if default_port else f"{host}:{self._port}").encode("ascii")
        self._prefix = base.path.rstrip("/").encode("ascii")
        self._connect_timeout = settings.upstream_connect_timeout
        self._read_timeout = settings.upstream_read_timeout
        self._pool: _Pool | None = None

    def target(self, path: bytes, query_string: bytes) -> bytes:
        """The request target: path from configuration, the caller's query kept byte-exact except the
        few bytes a URL may not carry as they are (`"`, `<`, `>`, space: percent-encoded).

        Raises `InvalidQuery` for a query no URL can carry (control bytes, non-ASCII, `#`).
        """
        target = self._prefix + path
        if not query_string:
            return target
        if _QUERY_REFUSED.search(query_string):
            raise InvalidQuery("the query has bytes a URL cannot carry")
        return target + b"?" + _QUERY_ESCAPED.sub(lambda match: b"%%%02X" % match[0][0], query_string)

    @property
    def pool(self) -> _Pool:
        if self._pool is None:
            tls = _ssl_context() if self._tls else None
            self._pool = _Pool(self._host, self._port, tls, self._connect_timeout)
        return self._pool

    async def post(self, request: UpstreamRequest) -> UpstreamResponse:
        """Sends the request and returns once the response head has arrived (the body follows)."""
        connection = await self.pool.acquire()
        response = UpstreamResponse(connection, self._read_timeout)
        connection.response = response
        body = request.body
        head = [b"POST ", request.target, b" HTTP/1.1\r\nhost: ", self._host_header, b"\r\n"]
        for name, value in request.headers:
            head += (name, b": ", value, b"\r\n")
        head += (b"content-length: ", b"%d" % len(body), b"\r\n\r\n")
        assert connection.transport is not None
        if len(body) <= _ONE_WRITE:
            connection.transport.write(b"".join(head) + body)
        else:
            connection.transport.writelines((b"".join(head), body))
        try:
            while not response._has_head:
                if response._error is not None:
                    raise response._error
                await response._wait()
        except BaseException:
            connection.close()  # cancelled (the client left) or failed: the request ends here
            raise
        return response

    async def aclose(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None
