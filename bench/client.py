"""One HTTP/1.1 client for both sides of every comparison, so its own cost cancels out.

A keep-alive connection over raw asyncio streams: it writes a request, reads the chunked reply, and
notes when the first body byte and every event arrived (`time.monotonic_ns()`, the clock the bench
upstream stamps its events with).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from dataclasses import dataclass, field

_STAMP = re.compile(rb'"t":(\d+)')

# What an Anthropic SDK sends, near enough (the proxy forwards these).
_HEADERS = (
    b"content-type: application/json\r\n"
    b"x-api-key: sk-ant-api03-bench-credential-0000000000000000\r\n"
    b"anthropic-version: 2023-06-01\r\n"
    b"user-agent: codecosts-bench\r\n"
)
REQUEST_BODY = (
    b'{"model":"claude-sonnet-4-5-20250929","max_tokens":1024,"stream":true,'
    b'"messages":[{"role":"user","content":"' + b"hello " * 300 + b'"}]}'
)


@dataclass
class Reply:
    status: int
    started: int  # ns, just before the request was written
    first_byte: int = 0  # ns, the first body bytes arrived
    done: int = 0  # ns, the last chunk arrived
    size: int = 0
    arrivals: list[int] = field(default_factory=list)  # ns, per event
    transits: list[int] = field(default_factory=list)  # ns from the upstream's write to arrival, per event

    @property
    def ttfb_ms(self) -> float:
        return (self.first_byte - self.started) / 1e6

    @property
    def total_ms(self) -> float:
        return (self.done - self.started) / 1e6

    def gaps_ms(self) -> list[float]:
        return [(b - a) / 1e6 for a, b in zip(self.arrivals, self.arrivals[1:], strict=False)]


class Connection:
    def __init__(self, host: str, port: int, source_ip: str | None = None) -> None:
        self.host = host
        self.port = port
        self.source_ip = source_ip
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._reader is None or self._writer is None:
            local = (self.source_ip, 0) if self.source_ip else None
            self._reader, self._writer = await asyncio.open_connection(
                self.host, self.port, local_addr=local, limit=1 << 22
            )
        return self._reader, self._writer

    async def post(self, path: str, body: bytes = REQUEST_BODY, keep_events: bool = True) -> Reply:
        reader, writer = await self._open()
        request = (
            f"POST {path} HTTP/1.1\r\nhost: {self.host}:{self.port}\r\n".encode()
            + _HEADERS
            + b"content-length: %d\r\n\r\n" % len(body)
            + body
        )
        reply = Reply(status=0, started=time.monotonic_ns())
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        reply.status = int(head[9:12])
        lowered = head.lower()
        if b"transfer-encoding: chunked" not in lowered:
            match = re.search(rb"content-length: *(\d+)", lowered)
            data = await reader.readexactly(int(match.group(1)) if match else 0)
            reply.first_byte = reply.done = time.monotonic_ns()
            reply.size = len(data)
            if b"connection: close" in lowered:
                await self.close()
            return reply
        while True:
            size = int((await reader.readuntil(b"\r\n"))[:-2], 16)
            chunk = await reader.readexactly(size + 2)
            now = time.monotonic_ns()
            if size == 0:
                reply.done = now
                return reply
            if not reply.first_byte:
                reply.first_byte = now
            reply.size += size
            if keep_events:
                for stamp in _STAMP.findall(chunk):
                    reply.arrivals.append(now)
                    reply.transits.append(now - int(stamp))

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(ConnectionError):
                await self._writer.wait_closed()
        self._reader = self._writer = None
