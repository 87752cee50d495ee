"""A fast stand-in for Anthropic's Messages API, for benchmarks only (tests use tests/fakes/).

A bare asyncio HTTP/1.1 server (keep-alive, chunked replies) so that the baseline it gives the
direct calls is as thin as it can be. `POST /v1/messages?events=64&gap_ms=20&delta_bytes=40` streams
`events` SSE events, one per chunk, `gap_ms` apart, shaped like a Claude reply (message_start with
usage, content deltas, message_delta with usage, message_stop). Every event's JSON carries `"t"`:
`time.monotonic_ns()` when it was written, so a client on the same machine can tell how long each
event took to reach it. A request without `"stream":true` gets the whole message as JSON at once.

    python -m bench.upstream PORT
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from urllib.parse import parse_qs

_HEAD = (
    b"HTTP/1.1 200 OK\r\n"
    b"content-type: text/event-stream; charset=utf-8\r\n"
    b"request-id: req_bench\r\n"
    b"transfer-encoding: chunked\r\n"
    b"\r\n"
)


def _event(name: str, payload: dict[str, object]) -> bytes:
    payload["t"] = time.monotonic_ns()
    data = f"event: {name}\ndata: {json.dumps(payload, separators=(',', ':'))}\n\n".encode()
    return b"%x\r\n%s\r\n" % (len(data), data)


def _events(count: int, delta_bytes: int) -> list[tuple[str, dict[str, object]]]:
    """The reply's events without their timestamps: at least 5 (start, block, delta, stops)."""
    text = "x" * delta_bytes
    deltas = max(1, count - 5)
    return [
        (
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "id": "msg_bench",
                    "type": "message",
                    "role": "assistant",
                    "model": "claude-sonnet-4-5-20250929",
                    "content": [],
                    "stop_reason": None,
                    "usage": {
                        "input_tokens": 1200,
                        "output_tokens": 1,
                        "cache_creation_input_tokens": 0,
                        "cache_read_input_tokens": 30000,
                    },
                },
            },
        ),
        (
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text"}},
        ),
        *[
            (
                "content_block_delta",
                {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}},
            )
            for _ in range(deltas)
        ],
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        (
            "message_delta",
            {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 400}},
        ),
        ("message_stop", {"type": "message_stop"}),
    ]


def _message(delta_bytes: int) -> bytes:
    """A whole non-streaming reply: the message the events above add up to."""
    usage = {
        "input_tokens": 1200,
        "output_tokens": 400,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 30000,
    }
    message = {
        "id": "msg_bench",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5-20250929",
        "content": [{"type": "text", "text": "x" * delta_bytes}],
        "stop_reason": "end_turn",
        "usage": usage,
    }
    body = json.dumps(message, separators=(",", ":")).encode()
    return (
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nrequest-id: req_bench\r\n"
        b"content-length: %d\r\n\r\n%s" % (len(body), body)
    )


async def _serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            request_line, *header_lines = head.decode("latin-1").split("\r\n")
            length = 0
            for line in header_lines:
                name, _, value = line.partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            body = await reader.readexactly(length) if length else b""
            _, target, _ = request_line.split(" ", 2)
            query = {k: v[0] for k, v in parse_qs(target.partition("?")[2]).items()}
            count = int(query.get("events", "64"))
            gap = float(query.get("gap_ms", "20")) / 1000
            delta_bytes = int(query.get("delta_bytes", "40"))
            if b'"stream":true' not in body:
                writer.write(_message(delta_bytes))
                await writer.drain()
                continue
            writer.write(_HEAD)
            for index, (name, payload) in enumerate(_events(count, delta_bytes)):
                if index and gap:
                    await asyncio.sleep(gap)
                writer.write(_event(name, payload))
                if writer.transport.get_write_buffer_size() > 1 << 20:
                    await writer.drain()
            writer.write(b"0\r\n\r\n")
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def _main(port: int) -> None:
    server = await asyncio.start_server(_serve, "127.0.0.1", port, backlog=1024)
    async with server:
        await server.serve_forever()


def main() -> None:
    import uvloop

    uvloop.run(_main(int(sys.argv[1])))


if __name__ == "__main__":
    main()
