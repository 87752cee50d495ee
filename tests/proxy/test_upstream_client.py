"""The proxy's own HTTP/1.1 client to Anthropic, against scripted servers on raw sockets."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from functions.proxy.upstream import (
    InvalidQuery,
    Upstream,
    UpstreamBrokeOff,
    UpstreamRequest,
    UpstreamResponse,
    UpstreamTimeout,
    UpstreamUnreachable,
)
from shared.settings import Settings
from tests.conftest import free_port

Reader = asyncio.StreamReader
Writer = asyncio.StreamWriter
CHUNKED_HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"


class Server:
    """Serves each connection with `script`; remembers the connections and every request head."""

    def __init__(self, script: Callable[[Reader, Writer], Awaitable[None]]) -> None:
        self.script = script
        self.connections = 0
        self.requests: list[bytes] = []
        self.closed = asyncio.Event()  # a connection ended (from either side)

    async def read_request(self, reader: Reader) -> bytes:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length")
        )
        body = await reader.readexactly(length)
        self.requests.append(head + body)
        return head

    async def _serve(self, reader: Reader, writer: Writer) -> None:
        self.connections += 1
        try:
            await self.script(reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
            self.closed.set()


async def _start(
    script: Callable[[Server, Reader, Writer], Awaitable[None]], **settings: float
) -> AsyncIterator[tuple[Server, Upstream]]:
    server = Server(lambda reader, writer: script(server, reader, writer))
    listening = await asyncio.start_server(server._serve, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    upstream = Upstream(Settings(upstream_url=f"http://127.0.0.1:{port}/base/", **settings))
    try:
        yield server, upstream
    finally:
        await upstream.aclose()
        listening.close()


def _request(body: bytes = b'{"model":"m"}') -> UpstreamRequest:
    return UpstreamRequest(b"/base/v1/messages?beta=true", [(b"x-api-key", b"k")], body)


async def _body(response: UpstreamResponse) -> bytes:
    return b"".join([chunk async for chunk in response.chunks()])


async def _keep_alive_sse(server: Server, reader: Reader, writer: Writer) -> None:
    while True:
        await server.read_request(reader)
        writer.write(CHUNKED_HEAD + b"5\r\nhello\r\n")
        await writer.drain()
        await asyncio.sleep(0.01)
        writer.write(b"6\r\n world\r\n0\r\n\r\n")
        await writer.drain()


async def test_a_reply_streams_and_the_connection_is_reused() -> None:
    async for server, upstream in _start(_keep_alive_sse):
        for _ in range(3):
            response = await upstream.post(_request())
            assert response.status_code == 200
            assert response.header(b"content-type") == "text/event-stream"
            assert await _body(response) == b"hello world"
            await response.aclose()
        assert server.connections == 1
        assert server.requests[0] == (
            b"POST /base/v1/messages?beta=true HTTP/1.1\r\nhost: 127.0.0.1:%d\r\nx-api-key: k\r\n"
            b'content-length: 13\r\n\r\n{"model":"m"}' % upstream.pool.port
        )


async def test_calls_at_once_each_get_a_connection_of_their_own() -> None:
    async for server, upstream in _start(_keep_alive_sse):
        responses = await asyncio.wait_for(asyncio.gather(*(upstream.post(_request()) for _ in range(16))), 5)
        assert [await _body(response) for response in responses] == [b"hello world"] * 16
        assert server.connections == 16
        await asyncio.gather(*(upstream.post(_request()) for _ in range(16)))
        assert server.connections == 16  # all kept alive and reused


async def test_content_length_and_connection_close_bodies() -> None:
    async def script(server: Server, reader: Reader, writer: Writer) -> None:
        await server.read_request(reader)
        if server.connections == 1:
            writer.write(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 7\r\nrequest-id: r1\r\n\r\n{oops}\n")
            await server.read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\r\n{}")
        await writer.drain()  # no length, no chunking: the body ends with the connection

    async for server, upstream in _start(script):
        first = await upstream.post(_request())
        assert (first.status_code, first.header(b"request-id"), await _body(first)) == (
            400,
            "r1",
            b"{oops}\n",
        )
        second = await upstream.post(_request())
        assert await _body(second) == b"{}"
        assert server.connections == 1
        third = await upstream.post(_request())  # the closed connection is never reused
        assert await _body(third) == b"{}"
        assert server.connections == 2


async def test_no_head_in_time_is_a_timeout_and_a_stall_mid_body_a_break() -> None:
    async def script(server: Server, reader: Reader, writer: Writer) -> None:
        await server.read_request(reader)
        if server.connections == 1:
            await reader.read()  # no reply: until the proxy closes
            return
        writer.write(CHUNKED_HEAD + b"5\r\nhello\r\n")
        await asyncio.sleep(5)

    async for server, upstream in _start(script, upstream_read_timeout=0.2):
        with pytest.raises(UpstreamTimeout):
            await upstream.post(_request())
        await asyncio.wait_for(server.closed.wait(), 1)  # the request was closed at once
        response = await upstream.post(_request())
        chunks = response.chunks()
        assert await chunks.__anext__() == b"hello"
        with pytest.raises(UpstreamBrokeOff):
            await chunks.__anext__()


async def test_a_reply_that_breaks_off_mid_body() -> None:
    async def script(server: Server, reader: Reader, writer: Writer) -> None:
        await server.read_request(reader)
        writer.write(CHUNKED_HEAD + b"5\r\nhello\r\n")
        await writer.drain()

    async for _, upstream in _start(script):
        response = await upstream.post(_request())
        with pytest.raises(UpstreamBrokeOff):
            await _body(response)


async def test_no_reply_at_all_and_no_server_are_unreachable() -> None:
    async def script(server: Server, reader: Reader, writer: Writer) -> None:
        await server.read_request(reader)

    async for _, upstream in _start(script):
        with pytest.raises(UpstreamUnreachable):
            await upstream.post(_request())
    nobody = Upstream(Settings(upstream_url=f"http://127.0.0.1:{free_port()}"))
    with pytest.raises(UpstreamUnreachable):
        await nobody.post(_request())


async def test_a_caller_that_stops_waiting_closes_the_request() -> None:
    async def script(server: Server, reader: Reader, writer: Writer) -> None:
        await server.read_request(reader)
        await reader.read()  # until the proxy closes

    async for server, upstream in _start(script):
        waiting = asyncio.ensure_future(upstream.post(_request()))
        await asyncio.sleep(0.1)
        waiting.cancel()
        await asyncio.wait_for(server.closed.wait(), 1)


async def test_a_reply_left_unread_closes_its_connection() -> None:
    async def script(server: Server, reader: Reader, writer: Writer) -> None:
        await server.read_request(reader)
        writer.write(CHUNKED_HEAD + b"5\r\nhello\r\n")
        await reader.read()

    async for server, upstream in _start(script):
        response = await upstream.post(_request())
        await response.aclose()
        await asyncio.wait_for(server.closed.wait(), 1)


def test_the_query_is_kept_as_sent_except_what_a_url_cannot_carry() -> None:
    upstream = Upstream(Settings(upstream_url="https://api.anthropic.com"))
    assert upstream.target(b"/v1/messages", b"") == b"/v1/messages"
    assert (
        upstream.target(b"/v1/messages", b"beta=true&x=%2F&@=1&y=a b")
        == b"/v1/messages?beta=true&x=%2F&@=1&y=a%20b"
    )
    assert upstream.target(b"/v1/messages", b'q="<x>"') == b"/v1/messages?q=%22%3Cx%3E%22"
    for query in (b"a=\x00", b"a=\n", b"a=\xc3\xa9", b"a=b#frag", b"a=\x7f"):
        with pytest.raises(InvalidQuery):
            upstream.target(b"/v1/messages", query)
