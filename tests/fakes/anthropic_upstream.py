"""A fake Anthropic Messages API: a real HTTP server speaking the real reply shapes.

Serve it with `ServerThread(FakeAnthropic())` (the `fake_upstream` fixture does). It answers
`POST /v1/messages` and `POST /v1/messages/count_tokens`, and records every request it receives
(method, path with query, headers, exact body bytes) in `.requests`. A request body sent with
`Content-Encoding: gzip`, `deflate` or `zstd` is read decoded, as Anthropic's API reads it; any other
coding gets a 400.

Which reply a request gets (first match wins):
1. `fake.scenario`, when a test sets it: every request gets that scenario. For clients that cannot be
   steered per request (Claude Code).
2. The request body's `model`, when it reads `fake:<scenario>` (the proxy forwards the body untouched,
   so the client picks the reply): `model="fake:error/429"`.
3. Otherwise `text`: a short text reply naming the requested model.

Scenarios:
- `text`: a generated text reply; SSE when the request has `"stream": true`, else JSON. Its usage
  follows the fake's `input_tokens`, `cache_writes` (5-minute, 1-hour), `cache_read`,
  `usage_extra` (more `usage` fields: `speed`, `inference_geo`, `server_tool_use`) and
  `thinking_tokens` (`output_tokens_details`, counted in the output). Streamed, it has the real
  shape: `message_start` carries the `cache_creation` split, the final `message_delta` repeats the
  cumulative `input_tokens`, `cache_creation_input_tokens`, `cache_read_input_tokens` (and
  `server_tool_use`, `output_tokens_details`) without it.
- `fixture/<file>`: a file of tests/fixtures/anthropic replayed byte for byte (`.sse` as an event
  stream, one event per chunk; `.json` as a JSON body). Aliases: `cache-1h` (text, 1-hour cache
  write and a cache read), `thinking` (thinking with `signature_delta`, then `tool_use` with
  `input_json_delta`, 5-minute cache write), `web-search`, `error-mid-stream` (`event: error` after a
  200), `long-context` (non-streaming, 250k input tokens).
- `error/<status>`: Anthropic's JSON error body for 400, 401, 403, 404, 413, 429, 500 or 529, with
  `request-id`; 429 and 529 add `retry-after`.
- `break`: a stream that starts, then the connection drops mid-reply.
- `spawn-subagent`: for Claude Code. The first request offering its subagent tool (`Agent`, formerly
  `Task`) without being a subagent itself (no `x-claude-code-agent-id`) gets a `tool_use` of that
  tool, so Claude Code starts a subagent; every other request gets `text`.
- `hang`: no reply at all until the client goes away.
- `refusal`: a classifier refusal before any output (Claude Fable 5 and later): no content block,
  `stop_reason: "refusal"` with `stop_details`, the prompt's tokens and 1 output token in `usage`.
  `refusal-after-text`: the same after the text deltas of `text` (a streaming classifier stepping in).

Billing: every Messages reply it sends is billed to the caller's key (`x-api-key` or bearer) in
`.billing` (a `Ledger`, tests/fakes/anthropic_billing.py), and it answers Anthropic's Admin API from
that ledger: `GET /v1/organizations/usage_report/messages`, `/cost_report` and `/api_keys`, with
`FAKE_ADMIN_KEY` as the organization's admin key.

Timing controls (set on the fake, reset by the fixture):
- `pause`: seconds between two events of a stream.
- `hold_after_events`: after sending that many events, wait for the request's `resume` event (a
  `threading.Event`), so a test can look at the client while the upstream is mid-stream.
Each recorded request carries `holding`, `finished` (its last event was sent) and `disconnected` (the
client closed the connection before the reply ended).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import zlib
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import zstandard

from tests.fakes.anthropic_billing import Ledger

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "anthropic"

ALIASES = {
    "cache-1h": "fixture/text-1h-cache.sse",
    "thinking": "fixture/thinking-tool-use-5m-cache.sse",
    "web-search": "fixture/web-search-cumulative.sse",
    "error-mid-stream": "fixture/error-mid-stream.sse",
    "long-context": "fixture/non-streaming-long-context.json",
}

ERRORS = {
    400: ("invalid_request_error", "messages: at least one message is required"),
    401: ("authentication_error", "invalid x-api-key"),
    403: ("permission_error", "Your API key does not have permission to use the specified resource."),
    404: ("not_found_error", "Not found"),
    413: ("request_too_large", "Request exceeds the maximum allowed number of bytes."),
    429: ("rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit"),
    500: ("api_error", "Internal server error"),
    529: ("overloaded_error", "Overloaded"),
}
RETRY_AFTER = "7"
HOLD_TIMEOUT_SECONDS = 10.0  # a held stream gives up, so a broken proxy fails a test instead of hanging it

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Header = tuple[bytes, bytes]


def _json(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


def sse_event(payload: dict[str, Any]) -> bytes:
    return b"event: " + payload["type"].encode() + b"\ndata: " + _json(payload) + b"\n\n"


def split_events(stream: bytes) -> list[bytes]:
    """An SSE body as its events, each with its blank line; joined again they are the same bytes."""
    parts = stream.split(b"\n\n")
    events = [part + b"\n\n" for part in parts[:-1]]
    if parts[-1]:
        events.append(parts[-1])
    return events


@dataclass
class ReceivedRequest:
    method: str
    path: str  # path and query exactly as received: `/v1/messages?beta=true`
    headers: list[tuple[str, str]]  # names lowercase, in order
    body: bytes
    scenario: str = ""
    holding: threading.Event = field(default_factory=threading.Event)
    resume: threading.Event = field(default_factory=threading.Event)
    finished: threading.Event = field(default_factory=threading.Event)
    disconnected: threading.Event = field(default_factory=threading.Event)

    def header(self, name: str) -> str | None:
        return next((value for key, value in self.headers if key == name.lower()), None)

    @property
    def header_names(self) -> set[str]:
        return {key for key, _ in self.headers}

    def decoded_body(self) -> bytes:
        """The body as the API reads it: Anthropic takes gzip, deflate and zstd request bodies. Raises
        ValueError for any other coding, or data that does not decode."""
        body = self.body
        codings = [part.strip().lower() for part in (self.header("content-encoding") or "").split(",")]
        for coding in reversed([coding for coding in codings if coding and coding != "identity"]):
            try:
                if coding in ("gzip", "deflate"):
                    body = zlib.decompress(body, 32 + zlib.MAX_WBITS)
                elif coding == "zstd":
                    with zstandard.ZstdDecompressor().stream_reader(body) as reader:
                        body = reader.read()
                else:
                    raise ValueError(f"unsupported content coding {coding}")
            except (zlib.error, zstandard.ZstdError) as error:
                raise ValueError(str(error)) from None
        return body

    def json(self) -> Any:
        return json.loads(self.decoded_body())


class FakeAnthropic:
    def __init__(self) -> None:
        self.url = ""  # set by whoever serves it
        self.requests: list[ReceivedRequest] = []
        self._ids = itertools.count(1)
        self.reset()

    def reset(self) -> None:
        self.requests.clear()
        self.scenario: str | None = None
        self.pause = 0.0
        self.hold_after_events: int | None = None
        self.text_deltas = 4
        self.spawned_subagent = False
        self.input_tokens: int | None = None  # None: a quarter of the request's size
        self.cache_writes = (0, 0)  # (5-minute, 1-hour) cache write tokens of a `text` reply
        self.cache_read = 0
        self.usage_extra: dict[str, Any] = {}
        # Output tokens spent thinking, reported in `usage.output_tokens_details` (within the output
        # count); None: the field is left out, as in replies from before Anthropic added it.
        self.thinking_tokens: int | None = None
        self.billing = Ledger()

    @property
    def last_request(self) -> ReceivedRequest:
        assert self.requests, "the fake upstream received no request"
        return self.requests[-1]

    # The ASGI app.
    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        path = scope["raw_path"].decode("latin-1")
        if scope["query_string"]:
            path += "?" + scope["query_string"].decode("latin-1")
        request = ReceivedRequest(
            method=scope["method"],
            path=path,
            headers=[
                (name.decode("latin-1").lower(), value.decode("latin-1")) for name, value in scope["headers"]
            ],
            body=bytes(body),
        )
        self.requests.append(request)
        if scope["method"] == "GET":
            answer = self.billing.answer(
                scope["path"],
                scope["query_string"].decode("latin-1"),
                request.header("x-api-key"),
                request.header("anthropic-beta") or "",
            )
            if answer is not None:
                await _Reply(self, request, send).json(answer.status, _json(answer.body), answer.headers)
                return
        reply = _Reply(self, request, send)
        watcher = asyncio.create_task(reply.watch(receive))
        try:
            await reply.respond(scope["method"], scope["path"])
        finally:
            watcher.cancel()
        if scope["path"] == "/v1/messages" and reply.status == 200:
            self.billing.serve(_caller_key(request), bytes(reply.sent), reply.streamed)

    def next_request_id(self) -> str:
        return f"req_fake{next(self._ids):06d}"


class _Reply:
    """One response of the fake."""

    def __init__(self, fake: FakeAnthropic, request: ReceivedRequest, send: Send) -> None:
        self.fake = fake
        self.request = request
        self.send = send
        self.request_id = fake.next_request_id()
        self.ended = False
        # What was sent, for the bill: the status, the body bytes, whether as a stream.
        self.status: int | None = None
        self.sent = bytearray()
        self.streamed = False

    async def watch(self, receive: Receive) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        if not self.ended:
            self.request.disconnected.set()

    def headers(self, content_type: bytes, extra: Sequence[Header] = ()) -> list[Header]:
        return [
            (b"content-type", content_type),
            (b"request-id", self.request_id.encode()),
            (b"anthropic-organization-id", b"00000000-0000-0000-0000-000000000000"),
            (b"anthropic-ratelimit-requests-limit", b"4000"),
            (b"anthropic-ratelimit-requests-remaining", b"3999"),
            (b"anthropic-ratelimit-requests-reset", b"2026-03-17T01:19:56Z"),
            (b"anthropic-ratelimit-tokens-limit", b"2000000"),
            (b"set-cookie", b"_cfuvid=fake-cookie; path=/; domain=.api.anthropic.com; HttpOnly"),
            (b"cf-ray", b"8f0000000000fake-SJC"),
            (b"via", b"1.1 google"),
            *extra,
        ]

    async def respond(self, method: str, path: str) -> None:
        if method != "POST" or path not in ("/v1/messages", "/v1/messages/count_tokens"):
            await self.error(404)
            return
        try:
            body = self.request.decoded_body()
            payload = json.loads(body)
        except ValueError:
            await self.error(400)
            return
        if path.endswith("/count_tokens"):
            await self.json(200, _json({"input_tokens": max(1, len(body) // 4)}))
            return
        scenario = self.fake.scenario
        model = payload.get("model") if isinstance(payload, dict) else None
        if scenario is None and isinstance(model, str) and model.startswith("fake:"):
            scenario = model[len("fake:") :]
        scenario = ALIASES.get(scenario or "text", scenario or "text")
        self.request.scenario = scenario
        stream = isinstance(payload, dict) and payload.get("stream") is True
        if scenario == "text":
            text = self.text_reply(model, self.fake.text_deltas)
            await (self.events(text.events()) if stream else self.json(200, text.message()))
        elif scenario.startswith("fixture/"):
            name = scenario[len("fixture/") :]
            data = (FIXTURES / name).read_bytes()
            await (self.events(split_events(data)) if name.endswith(".sse") else self.json(200, data))
        elif scenario.startswith("error/"):
            await self.error(int(scenario[len("error/") :]))
        elif scenario == "spawn-subagent":
            tool = self.subagent_tool(payload)
            if tool is None:
                text = self.text_reply(model, self.fake.text_deltas)
                await (self.events(text.events()) if stream else self.json(200, text.message()))
            else:
                await self.events(_tool_use_events(str(model), self.request_id, tool))
        elif scenario == "break":
            text = self.text_reply(model, 4)
            await self.events(text.events()[:3], complete=False)
        elif scenario in ("refusal", "refusal-after-text"):
            deltas = 0 if scenario == "refusal" else self.fake.text_deltas
            text = self.text_reply(model, deltas, refused=True)
            await (self.events(text.events()) if stream else self.json(200, text.message()))
        elif scenario == "hang":
            await self.hold(timeout=30.0)
        else:
            raise ValueError(f"unknown fake scenario {scenario!r}")

    def subagent_tool(self, payload: Any) -> str | None:
        """The subagent tool to call, once per reset, from a main-agent request that offers one."""
        if self.fake.spawned_subagent or self.request.header("x-claude-code-agent-id"):
            return None
        tools = payload.get("tools") if isinstance(payload, dict) else None
        names = {tool.get("name") for tool in tools or [] if isinstance(tool, dict)}
        tool = next((name for name in ("Agent", "Task") if name in names), None)
        if tool is not None:
            self.fake.spawned_subagent = True
        return tool

    def text_reply(self, model: object, deltas: int, refused: bool = False) -> _TextReply:
        name = model if isinstance(model, str) else "claude-sonnet-4-5-20250929"
        size = len(self.request.body)
        return _TextReply(name, "msg_" + self.request_id, size, deltas, self.fake, refused)

    async def json(self, status: int, body: bytes, extra: Sequence[Header] = ()) -> None:
        headers = [*self.headers(b"application/json", extra), (b"content-length", str(len(body)).encode())]
        self.status = status
        self.sent += body
        await self.send({"type": "http.response.start", "status": status, "headers": headers})
        self.ended = True
        self.request.finished.set()
        await self.send({"type": "http.response.body", "body": body})

    async def error(self, status: int) -> None:
        kind, text = ERRORS[status]
        body = _json(
            {"type": "error", "error": {"type": kind, "message": text}, "request_id": self.request_id}
        )
        extra = [(b"x-should-retry", b"true" if status in (429, 500, 529) else b"false")]
        if status in (429, 529):
            extra.append((b"retry-after", RETRY_AFTER.encode()))
        await self.json(status, body, extra)

    async def events(self, events: list[bytes], complete: bool = True) -> None:
        self.status = 200
        self.streamed = True
        await self.send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": self.headers(
                    b"text/event-stream; charset=utf-8", [(b"cache-control", b"no-cache")]
                ),
            }
        )
        for index, event in enumerate(events):
            if index and self.fake.hold_after_events == index:
                await self.hold(timeout=HOLD_TIMEOUT_SECONDS)
            elif index and self.fake.pause:
                await asyncio.sleep(self.fake.pause)
            if self.request.disconnected.is_set():
                return
            await self.send({"type": "http.response.body", "body": event, "more_body": True})
            self.sent += event
        self.request.finished.set()
        if complete:
            self.ended = True
            await self.send({"type": "http.response.body", "body": b""})
        # Not complete: returning mid-response makes uvicorn drop the connection.

    async def hold(self, timeout: float) -> None:
        """Waits for the test's `resume`, or for the client to leave."""
        self.request.holding.set()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not (self.request.resume.is_set() or self.request.disconnected.is_set()):
            if loop.time() > deadline:
                break
            await asyncio.sleep(0.005)
        self.request.holding.clear()


def _caller_key(request: ReceivedRequest) -> str:
    """The credential a call was made with: the key Anthropic bills it to."""
    bearer = request.header("authorization") or ""
    return request.header("x-api-key") or bearer.removeprefix("Bearer ").strip()


def _tool_use_events(model: str, request_id: str, tool: str) -> list[bytes]:
    """A streamed reply calling Claude Code's subagent tool."""
    arguments = {
        "description": "Count files",
        "prompt": "List the files in the current directory and say how many there are.",
        "subagent_type": "general-purpose",
    }
    usage = {
        "input_tokens": 12,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": 1,
    }
    start = {
        "id": "msg_" + request_id,
        "type": "message",
        "role": "assistant",
        "content": [],
        "model": model,
        "stop_reason": None,
        "stop_sequence": None,
        "usage": usage,
    }
    return [
        sse_event({"type": "message_start", "message": start}),
        sse_event(
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "tool_use", "id": "toolu_" + request_id, "name": tool, "input": {}},
            }
        ),
        sse_event(
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "input_json_delta", "partial_json": json.dumps(arguments)},
            }
        ),
        sse_event({"type": "content_block_stop", "index": 0}),
        sse_event(
            {
                "type": "message_delta",
                "delta": {"stop_reason": "tool_use", "stop_sequence": None},
                "usage": {"output_tokens": 30},
            }
        ),
        sse_event({"type": "message_stop"}),
    ]


def _text_delta(text: str) -> dict[str, str]:
    return {"type": "text_delta", "text": text}


class _TextReply:
    """A generated text reply in the Messages API's shapes."""

    def __init__(
        self,
        model: str,
        message_id: str,
        request_size: int,
        deltas: int,
        fake: FakeAnthropic,
        refused: bool = False,
    ) -> None:
        self.model = model
        self.id = message_id
        self.input_tokens = fake.input_tokens if fake.input_tokens is not None else max(1, request_size // 4)
        self.cache_5m, self.cache_1h = fake.cache_writes
        self.cache_read = fake.cache_read
        self.extra = dict(fake.usage_extra)
        self.pieces = ["Hello", " from", " the", " fake", " upstream", "."] * (deltas // 6 + 1)
        # A refusal may come before any output; a reply otherwise has some.
        self.pieces = self.pieces[: deltas if refused else max(1, deltas)]
        self.thinking_tokens = fake.thinking_tokens
        self.output_tokens = len(self.pieces) + 1 + (self.thinking_tokens or 0)
        self.stop: dict[str, Any] = {"stop_reason": "end_turn", "stop_sequence": None}
        if refused:
            self.stop = {
                "stop_reason": "refusal",
                "stop_sequence": None,
                "stop_details": {
                    "type": "refusal",
                    "category": "cyber",
                    "explanation": "This request was declined because it could enable cyber harm.",
                },
            }

    def usage(self, output_tokens: int) -> dict[str, Any]:
        return {
            "input_tokens": self.input_tokens,
            "cache_creation_input_tokens": self.cache_5m + self.cache_1h,
            "cache_read_input_tokens": self.cache_read,
            "cache_creation": {
                "ephemeral_5m_input_tokens": self.cache_5m,
                "ephemeral_1h_input_tokens": self.cache_1h,
            },
            "output_tokens": output_tokens,
            **self._details(output_tokens),
            "service_tier": "standard",
            **self.extra,
        }

    def _details(self, output_tokens: int) -> dict[str, Any]:
        """`output_tokens_details` as of `output_tokens` counted so far: none spent yet at the start."""
        if self.thinking_tokens is None:
            return {}
        spent = self.thinking_tokens if output_tokens == self.output_tokens else 0
        return {"output_tokens_details": {"thinking_tokens": spent}}

    def final_delta_usage(self) -> dict[str, Any]:
        """The cumulative counts a real final `message_delta` repeats: no split, no speed or geo."""
        usage: dict[str, Any] = {
            "input_tokens": self.input_tokens,
            "cache_creation_input_tokens": self.cache_5m + self.cache_1h,
            "cache_read_input_tokens": self.cache_read,
            "output_tokens": self.output_tokens,
            **self._details(self.output_tokens),
        }
        if "server_tool_use" in self.extra:
            usage["server_tool_use"] = self.extra["server_tool_use"]
        return usage

    def message(self) -> bytes:
        return _json(
            {
                "id": self.id,
                "type": "message",
                "role": "assistant",
                "model": self.model,
                "content": [{"type": "text", "text": "".join(self.pieces)}] if self.pieces else [],
                **self.stop,
                "usage": self.usage(self.output_tokens),
            }
        )

    def events(self) -> list[bytes]:
        start: dict[str, Any] = {
            "id": self.id,
            "type": "message",
            "role": "assistant",
            "content": [],
            "model": self.model,
            "stop_reason": None,
            "stop_sequence": None,
            "usage": self.usage(1),
        }
        events = [sse_event({"type": "message_start", "message": start})]
        if self.pieces:
            events += [
                sse_event(
                    {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
                ),
                sse_event({"type": "ping"}),
            ]
            events += [
                sse_event({"type": "content_block_delta", "index": 0, "delta": _text_delta(piece)})
                for piece in self.pieces
            ]
            events.append(sse_event({"type": "content_block_stop", "index": 0}))
        events += [
            sse_event({"type": "message_delta", "delta": self.stop, "usage": self.final_delta_usage()}),
            sse_event({"type": "message_stop"}),
        ]
        return events
