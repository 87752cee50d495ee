"""The proxy's SnapStart hooks: what runs before Lambda snapshots an initialised environment, and
what runs in each environment restored from that snapshot.

Before the snapshot: everything a first call would do that needs no network, done once so that no
caller's cold start pays for it: the lazy imports, botocore's models, serializers and parsers of
each AWS operation on the call path (each operation answered in-process by a `before-call` handler,
so nothing leaves the sandbox and no connection is captured in the snapshot), the TLS context of the
upstream connection, redaction, compression and the usage message of a sample call.

After a restore: what must differ between environments made from one snapshot. `random` is
reseeded (it paces retries; ids come from `secrets`, which reads the OS each time), and any
pooled connection is dropped (none should exist: the warm-up opens none).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from shared import aws
from shared.models import SlugTarget
from shared.observability import logger

if TYPE_CHECKING:
    from functions.proxy.app import ProxyApp

# Canned answers per operation: the shape each caller reads, nothing more.
_ANSWERS: dict[str, dict[str, Any]] = {
    "GetItem": {},
    "UpdateItem": {"Attributes": {"count": {"N": "1"}}},
    "BatchGetItem": {"Responses": {}, "UnprocessedKeys": {}},
    "Query": {"Items": [], "Count": 0},
    "SendMessage": {"MessageId": "warm-up"},
    "SendMessageBatch": {"Successful": [], "Failed": []},
    "PutObject": {},
}

_SAMPLE_REQUEST = (
    b'{"model":"claude-sonnet-4-5","max_tokens":64,"stream":true,'
    b'"metadata":{"user_id":"{\\"device_id\\":\\"warm-up\\",\\"account_uuid\\":\\"warm-up\\"}"},'
    b'"messages":[{"role":"user","content":"export AWS_ACCESS_KEY_ID=AKIAWARMUPWARMUPWARM"}]}'
)
_SAMPLE_REPLY = (
    b'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_warm","type":"message",'
    b'"role":"assistant","model":"claude-sonnet-4-5","content":[],"usage":{"input_tokens":9,'
    b'"output_tokens":1}}}\n\n'
    b'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn"},'
    b'"usage":{"output_tokens":2}}\n\nevent: message_stop\ndata: {"type":"message_stop"}\n\n'
)


@contextmanager
def _answered_in_process(clients: list[Any]) -> Iterator[None]:
    """Each client's calls answered before they are signed or sent."""
    from botocore.awsrequest import AWSResponse, HTTPHeaders

    def answer(model: Any, **_: Any) -> tuple[Any, dict[str, Any]]:
        return AWSResponse("", 200, HTTPHeaders(), None), dict(_ANSWERS.get(model.name, {}))

    for client in clients:
        client.meta.events.register_first("before-call", answer, unique_id="codecosts-warm-up")
    try:
        yield
    finally:
        for client in clients:
            client.meta.events.unregister("before-call", unique_id="codecosts-warm-up")


def before_checkpoint(app: ProxyApp) -> list[str]:
    """Runs a first call's work without the network; the steps that failed (the snapshot is taken
    anyway: a failed step only leaves its work to the first call)."""
    from functions.proxy.publisher import CallRecord
    from shared.developers import attribute
    from shared.ids import new_id
    from shared.store.rate_limits import CLIENT_IP
    from shared.usage import read_stream_usage

    clients = _clients(app)
    now = datetime.now(UTC)
    target = SlugTarget(tenant_id="warm-up", proxy_endpoint_id="warm-up")
    steps = {
        "slug lookup": lambda: app.endpoints.resolve_slug("warm-up"),
        "rate limit": lambda: app.limits.per_ip.limiter.add(CLIENT_IP, "warm-up", 0),
        "budget": lambda: app.spend.month_spend("warm-up", ["warm-up"], now.strftime("%Y-%m")),
        "usage message": lambda: app.publisher.message(
            CallRecord(
                id=new_id(now),
                target=target,
                requested_at=now,
                path="/v1/messages",
                request_body=attribute(_SAMPLE_REQUEST, app.secret).stored_body,
                status_code=200,
                stream=True,
                usage=read_stream_usage(_SAMPLE_REPLY),
                response_chunks=[_SAMPLE_REPLY],
            )
        ),
        "send": lambda: clients[2].send_message(QueueUrl="https://sqs.invalid/0/warm-up", MessageBody="{}"),
        "send batch": lambda: clients[2].send_message_batch(
            QueueUrl="https://sqs.invalid/0/warm-up", Entries=[{"Id": "0", "MessageBody": "{}"}]
        ),
        "bodies": lambda: clients[3].put_object(Bucket="warm-up", Key="warm-up", Body=b"", Tagging="d=1"),
        "upstream TLS": lambda: app.upstream.pool,
    }
    failed = []
    with _answered_in_process(clients):
        for name, step in steps.items():
            try:
                step()
            except Exception as error:  # a slower first call, not a broken proxy
                logger.warning("SnapStart warm-up step failed", extra={"step": name, "error": repr(error)})
                failed.append(name)
    return failed


def after_restore(app: ProxyApp) -> None:
    random.seed()
    for client in _clients(app):
        client._endpoint.http_session.close()  # botocore has no public way to drop its pool


def _clients(app: ProxyApp) -> list[Any]:
    """The AWS clients on a call's path: the slug lookup's (the table resource's own), the rate
    counters' and the budget's, the usage message's, the claim-checked bodies'."""
    table = aws.table(app.settings.table_name)
    return [table.meta.client, aws.dynamodb_typed(), aws.sqs_without_retries(), aws.s3()]
