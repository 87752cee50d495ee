"""The proxy as a bare ASGI app: `POST /proxy/{slug}/v1/messages` and `.../count_tokens`.

No framework sits on this path: every call pays for what runs here, and the target is under 2 ms
added. The same app runs under uvicorn locally and in Lambda behind the Lambda Web Adapter.

One call, in order:
1. route (a body declared over Lambda's request limit is refused here); admit the caller's IP
   (600/min, before the slug is known: guessing slugs is limited too); resolve the slug (cached;
   unknown slugs never reach the upstream); admit the endpoint and its budget; refuse header values
   with control characters;
2. read the request body whole (it is recorded) and forward it byte for byte;
3. relay every upstream chunk to the client as it arrives, reading usage on the side, while a watcher
   waits for the client to leave (then the upstream request is closed at once);
4. publish the usage message, and only then end the response: in Lambda, work left for after the
   response may never run, and the client already has every event by then.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from functions.proxy import content_coding, snapstart
from functions.proxy.budgets import BudgetGuard
from functions.proxy.forwarding import (
    caller_credential,
    has_control_characters,
    request_content_encoding,
    upstream_request_headers,
)
from functions.proxy.limits import Counting, ProxyLimits
from functions.proxy.publisher import CallRecord, UsagePublisher
from functions.proxy.relay import Message, Relay, Send, json_reply
from functions.proxy.side_work import FirstByteGate, SideWork
from functions.proxy.slugs import SlugCache, SlugResolver
from functions.proxy.upstream import (
    COUNT_TOKENS_PATH,
    MESSAGES_PATH,
    InvalidQuery,
    Upstream,
    UpstreamRequest,
    forward_proxy_refusal,
)
from shared import aws
from shared.client_ip import client_ip
from shared.credentials import credential_hint, fingerprint_credential
from shared.developers import attribute, may_name_a_developer
from shared.hosting import (
    LAMBDA_REQUEST_PAYLOAD_BYTES,
    READINESS_CHECK_PATH,
    SNAPSTART_AFTER_RESTORE_PATH,
    SNAPSTART_BEFORE_CHECKPOINT_PATH,
)
from shared.ids import new_id
from shared.models import SlugTarget
from shared.observability import PublishMetrics, logger
from shared.resources import BODIES_BUCKET
from shared.sessions import claude_code_headers
from shared.settings import Settings, get_settings
from shared.store.endpoints import EndpointStore
from shared.store.rate_limits import PROXY_COUNT_TOKENS, PROXY_MESSAGES, RateLimiter, rate_limited_body
from shared.store.usage_records import UsageStore
from shared.timefmt import utc_now

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_SNAPSTART_HOOKS = (SNAPSTART_BEFORE_CHECKPOINT_PATH, SNAPSTART_AFTER_RESTORE_PATH)
_PREFIX = "/proxy/"
# Path after the slug -> (upstream path, whether the call is logged). count_tokens is not logged.
_ROUTES = {
    "/v1/messages": (MESSAGES_PATH, True),
    "/v1/messages/count_tokens": (COUNT_TOKENS_PATH, False),
}
_ROUTE_LIMITS = {MESSAGES_PATH: PROXY_MESSAGES, COUNT_TOKENS_PATH: PROXY_COUNT_TOKENS}
# The record of a call the client abandoned before any reply arrived (nginx's "client closed request").
CLIENT_CLOSED_REQUEST = 499


class _BodyTooLarge(Exception):
    pass


def _declared_too_large(headers: list[tuple[bytes, bytes]]) -> bool:
    """A `content-length` above the limit: refused before a byte of the body is read."""
    for name, value in headers:
        if name == b"content-length":
            return not value.isdigit() or int(value) > LAMBDA_REQUEST_PAYLOAD_BYTES
    return False


async def _read_body(receive: Receive) -> bytes | None:
    """The whole request body; None when the client left before sending it all."""
    message = await receive()
    if message["type"] == "http.disconnect":
        return None
    body: bytes = message.get("body", b"")
    if len(body) > LAMBDA_REQUEST_PAYLOAD_BYTES:
        raise _BodyTooLarge
    if not message.get("more_body"):
        return body  # the common case: one message, no copy
    chunks = [body]
    size = len(body)
    while message.get("more_body"):
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > LAMBDA_REQUEST_PAYLOAD_BYTES:
            raise _BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


async def _client_gone(receive: Receive) -> None:
    """Returns once the client has disconnected (the request body has been read by then)."""
    while (await receive())["type"] != "http.disconnect":
        pass


async def _relay_while_connected(
    relay: Relay, upstream: Upstream, request: UpstreamRequest, receive: Receive
) -> tuple[bool, BaseException | None]:
    """Runs the relay to its end, or until the client leaves, which cancels it and so closes the
    upstream request at once. Returns whether the client left, and what the relay raised if anything."""
    relaying = asyncio.create_task(relay.run(upstream, request))
    watching = asyncio.create_task(_client_gone(receive))
    try:
        await asyncio.wait((relaying, watching), return_when=asyncio.FIRST_COMPLETED)
        client_left = not relaying.done()
        if client_left:
            relaying.cancel()
            await asyncio.wait((relaying,))
    finally:
        watching.cancel()
        if not relaying.done():
            relaying.cancel()  # this request itself was cancelled (server shutting down)
    return client_left, None if relaying.cancelled() else relaying.exception()


async def _send_json(send: Send, status: int, payload: dict[str, Any]) -> None:
    head, body = json_reply(status, payload)
    await send(head)
    await send(body)


async def _reply(send: Send, status: int, error: str) -> None:
    await _send_json(send, status, {"error": error})


async def _request_too_large(send: Send) -> None:
    """Anthropic's own shape for a body too large, so Claude Code and the SDKs show why; not retried."""
    message = (
        f"Request body exceeds {LAMBDA_REQUEST_PAYLOAD_BYTES} bytes, "
        "the most AWS Lambda accepts for a request to the proxy"
    )
    await _send_json(send, 413, {"type": "error", "error": {"type": "request_too_large", "message": message}})


async def _rate_limited(send: Send, retry_after: int) -> None:
    head, body = json_reply(429, rate_limited_body(retry_after))
    head["headers"].append((b"retry-after", str(retry_after).encode()))
    await send(head)
    await send(body)


async def _anthropic_error(
    send: Send, status: int, kind: str, message: str, headers: list[tuple[bytes, bytes]]
) -> None:
    """Anthropic's own error shape, so Claude Code and the SDKs show the message."""
    head, body = json_reply(status, {"type": "error", "error": {"type": kind, "message": message}})
    head["headers"] += headers
    await send(head)
    await send(body)


async def _over_budget(send: Send, message: str, retry_after: int) -> None:
    """Not retried: the budget holds until the month ends."""
    headers = [(b"x-should-retry", b"false"), (b"retry-after", str(retry_after).encode())]
    await _anthropic_error(send, 429, "rate_limit_error", message, headers)


async def _control_characters(send: Send) -> None:
    message = "A request header carries a control character; nothing was sent to Anthropic."
    await _anthropic_error(send, 400, "invalid_request_error", message, [])


class ProxyApp:
    def __init__(
        self,
        settings: Settings | None,
        publisher: UsagePublisher | None,
        endpoints: SlugResolver | None,
        limiter: RateLimiter | None = None,
        budgets: BudgetGuard | None = None,
    ) -> None:
        self._settings = settings
        self._publisher = publisher
        self._endpoints = endpoints
        self._limiter = limiter
        self._budgets = budgets
        self._ready = False
        self._served = False  # a proxied call arrived (the SnapStart warm-up may no longer run)
        self._warming = asyncio.Lock()  # held while the warm-up answers AWS calls in-process
        self.first_bytes = FirstByteGate()

    def _prepare(self) -> None:
        """Done on the first request, so that importing the app needs no configuration."""
        settings = self.settings = self._settings or get_settings()
        self.secret = settings.secret_bytes()
        self.upstream = Upstream(settings)
        self.endpoints: SlugResolver = self._endpoints or EndpointStore(settings.table_name)
        self.slugs = SlugCache(self.endpoints, settings.lookup_cache_seconds)
        self.publisher = self._publisher or UsagePublisher(
            queue_url=settings.usage_queue_url,
            bucket=settings.bodies_bucket,
            prefix=BODIES_BUCKET.bodies_prefix,
            inline_limit=settings.inline_body_limit,
            table_name=settings.table_name,
        )
        limiter = self._limiter or RateLimiter(settings.table_name)
        self.limits = ProxyLimits(limiter, _ROUTE_LIMITS)
        self.spend = UsageStore(settings.table_name, settings.bodies_bucket)
        self.budgets = self._budgets or BudgetGuard(self.spend, settings.lookup_cache_seconds)
        self._ready = True

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            with aws.running_as("proxy"):
                await self._http(scope, receive, send)
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                refusal = forward_proxy_refusal((self._settings or get_settings()).upstream_url)
                if refusal:
                    logger.error("Proxy not started", extra={"error": refusal})
                    await send({"type": "lifespan.startup.failed", "message": refusal})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self._ready:
                    await self.upstream.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        requested_at = utc_now()
        path: str = scope["path"]
        slug, _, rest = path[len(_PREFIX) :].partition("/")
        route = _ROUTES.get("/" + rest) if path.startswith(_PREFIX) else None
        if route is None or scope["method"] != "POST":
            if path == READINESS_CHECK_PATH and scope["method"] == "GET":
                await _send_json(send, 200, {"status": "ready"})
            elif path in _SNAPSTART_HOOKS and scope["method"] == "POST":
                await self._snapstart(path, send)
            else:
                await _reply(send, 404, "Not found")
            return
        self._served = True
        if self._warming.locked():
            async with self._warming:  # answered in-process until the warm-up ends: wait for it
                pass
        if _declared_too_large(scope["headers"]):
            # Refused before anything else, as AWS refuses it before the function runs.
            await _request_too_large(send)
            return
        upstream_path, logged = route
        if not self._ready:
            try:
                self._prepare()
            except Exception as error:
                logger.error("Proxy not configured", extra={"error": str(error)})
                await _reply(send, 500, "Internal server error")
                return
        gate = self.first_bytes
        gate.arrived()
        waiting = True

        def after_first_byte() -> None:
            nonlocal waiting
            waiting = False
            gate.answered()
            gate.when_quiet(side.start)

        counting = Counting()
        target: SlugTarget | None = None
        # A due re-read of the slug only for a call that found it: a refused caller causes no read.
        side = SideWork(counting, lambda: self.slugs.refresh(slug) if target is not None else None)

        async def refuse(reply: Awaitable[None]) -> None:
            # Counted before the answer goes: in Lambda the instance may be frozen once it has, and a
            # refused caller's calls (a slug guesser's above all) must reach the shared counters.
            await side.settle()
            await reply

        try:
            decision = await self.limits.admit_client(client_ip(scope), counting)
            if not decision.allowed:
                await refuse(_rate_limited(send, decision.retry_after))
                return
            try:
                target = await self.slugs.resolve(slug)
            except Exception as error:
                logger.error("Proxy endpoint lookup failed", extra={"error": type(error).__name__})
                await refuse(_reply(send, 503, "Service unavailable"))
                return
            if target is None:
                await refuse(_reply(send, 404, "Proxy endpoint not found"))
                return
            decision = await self.limits.admit_endpoint(upstream_path, target.proxy_endpoint_id, counting)
            if not decision.allowed:
                await refuse(_rate_limited(send, decision.retry_after))
                return
            if logged and target.budget_action == "block":
                refusal = await self.budgets.refusal(target)
                if refusal is not None:
                    await refuse(_over_budget(send, *refusal))
                    return
            if has_control_characters(scope["headers"]):
                await refuse(_control_characters(send))
                return
            await self._forward(
                scope,
                receive,
                send,
                target,
                upstream_path,
                logged,
                started,
                requested_at,
                after_first_byte,
                side,
            )
        finally:
            if waiting:
                gate.answered()
            await side.settle()

    async def _snapstart(self, path: str, send: Send) -> None:
        """The Lambda Web Adapter's SnapStart hooks (functions/proxy/snapstart.py)."""
        if path == SNAPSTART_BEFORE_CHECKPOINT_PATH:
            if self._served:
                # The warm-up answers AWS calls in-process: never beside a real call.
                await _reply(send, 409, "Calls were served already")
                return
            try:
                if not self._ready:
                    self._prepare()
                async with self._warming:
                    failed = await asyncio.to_thread(snapstart.before_checkpoint, self)
            except Exception as error:
                # Publishing the version fails: a proxy that cannot start must not be snapshotted.
                logger.error("Proxy not configured", extra={"error": str(error)})
                await _reply(send, 500, "Internal server error")
                return
            await _send_json(send, 200, {"warmed": True, "failed": failed})
            return
        if self._ready:
            snapstart.after_restore(self)
        await _send_json(send, 200, {"restored": True})

    async def _forward(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        target: SlugTarget,
        upstream_path: bytes,
        logged: bool,
        started: float,
        requested_at: datetime,
        after_first_byte: Callable[[], None],
        side: SideWork,
    ) -> None:
        try:
            body = await _read_body(receive)
        except _BodyTooLarge:
            await _request_too_large(send)
            return
        if body is None:
            return  # the client left before sending its request: nothing reached the upstream
        try:
            upstream_target = self.upstream.target(upstream_path, scope["query_string"])
        except InvalidQuery:
            await _reply(send, 400, "Invalid query string")
            return
        headers = scope["headers"]
        record = CallRecord(
            id=new_id(requested_at),
            target=target,
            requested_at=requested_at,
            path=upstream_path.decode(),
            request_body=body,
            request_encoding=request_content_encoding(headers),
        )
        relay = Relay(record, send, started, keep_body=logged, after_first_byte=after_first_byte)
        request = UpstreamRequest(upstream_target, upstream_request_headers(headers), body)
        client_left, failure = await _relay_while_connected(relay, self.upstream, request, receive)
        if client_left or failure is not None:
            record.complete = False
            if not relay.responded:
                record.status_code = CLIENT_CLOSED_REQUEST if client_left else 500
        if logged:
            credential = caller_credential(headers)
            if credential:
                record.api_key_id = fingerprint_credential(credential, self.secret)
                record.api_key_hint = credential_hint(credential)
            record.session_header, record.agent_header = claude_code_headers(headers)
            # The side work (started after the first byte) ends with the message, before the response.
            await asyncio.gather(self._attribute_and_publish(record), side.settle())
        else:
            await side.settle()
        if failure is not None:
            raise failure  # recorded; uvicorn answers 500 or drops the connection
        if relay.relayed_all and not client_left:
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        # Otherwise the response stays unfinished: uvicorn closes the connection, so a client whose
        # upstream broke off sees a broken reply, as it would talking to Anthropic directly.

    async def _attribute_and_publish(self, record: CallRecord) -> None:
        applied = content_coding.codings(record.request_encoding)
        if applied:
            await asyncio.to_thread(_decode_request, record, applied)
        # Its size as received (decoded), before the developer's ids or secrets are taken out.
        if record.request_size is None:
            record.request_size = len(record.request_body)
        if may_name_a_developer(record.request_body):
            # A JSON parse of the whole body: in a worker thread, like the publish.
            attribution = await asyncio.to_thread(attribute, record.request_body, self.secret)
            record.developer_id, record.request_body = attribution.developer_id, attribution.stored_body
        await self.publisher.publish(record)


def _decode_request(record: CallRecord, applied: list[str]) -> None:
    """The record keeps the request as Anthropic reads it: decoded from its Content-Encoding (`applied`,
    its codings), or, when that cannot be read here, a note in its place (the call and its usage are
    recorded either way)."""
    encoding = record.request_encoding or b""
    try:
        record.request_body = content_coding.decode(record.request_body, applied)
    except content_coding.Unreadable as error:
        logger.warning(
            "Request body not recorded: unreadable content coding",
            extra={
                "call_id": record.id,
                "content_encoding": encoding.decode("latin-1")[:100],
                "error": str(error),
            },
        )
        record.request_size = len(record.request_body)
        record.request_body = (
            f"[NOT RECORDED: a request body sent with Content-Encoding: {encoding.decode('latin-1')[:100]} "
            f"that Codecosts could not read ({error})]"
        ).encode()


def create_app(
    settings: Settings | None = None,
    publisher: UsagePublisher | None = None,
    endpoints: SlugResolver | None = None,
    limiter: RateLimiter | None = None,
    budgets: BudgetGuard | None = None,
) -> ASGIApp:
    """The proxy ASGI app. Anything not given is built from settings on the first request."""
    return PublishMetrics(ProxyApp(settings, publisher, endpoints, limiter, budgets))


app = create_app()
