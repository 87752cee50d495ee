"""What the reliability tests share: a scripted upstream, the full local loop, table and log scans."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field, replace
from typing import Any

import boto3
from botocore.exceptions import ClientError

from devstack.poller import QueuePoller, deployed_event_source
from functions.usage_ingest.handler import handler as ingest_handler
from shared.bodies import codec
from shared.ingest import UsageIngest
from shared.models import Principal
from shared.settings import Settings, get_settings
from shared.store import layout
from shared.store.api_keys import ApiKeyStore
from shared.store.rate_limits import Decision, RateLimit, RateLimiter
from shared.store.usage_records import UsageStore, usage_record
from shared.store.usage_writes import Retries
from shared.usage_record import record_view
from tests.fakes.servers import read_body

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

ANTHROPIC_KEY = "sk-ant-api03-" + "Ab3dEf6h" * 11 + "-Qrst"
REQUEST = b'{"model":"claude-sonnet-4-5","max_tokens":64,"messages":[{"role":"user","content":"Hi"}]}'
STREAM_REQUEST = REQUEST[:-1] + b',"stream":true}'
HEADERS = {"x-api-key": ANTHROPIC_KEY, "content-type": "application/json", "anthropic-version": "2023-06-01"}


@dataclass
class SeenRequest:
    method: str
    target: str  # path and query as received
    headers: dict[str, str]
    body: bytes


@dataclass
class ScriptedUpstream:
    """An HTTP server that records what it receives and always answers the same bytes."""

    status: int = 200
    headers: list[tuple[bytes, bytes]] = field(
        default_factory=lambda: [(b"content-type", b"application/json")]
    )
    body: bytes = b"{}"
    requests: list[SeenRequest] = field(default_factory=list)

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = await read_body(receive)
        target = scope["raw_path"].decode("latin-1")
        if scope["query_string"]:
            target += "?" + scope["query_string"].decode("latin-1")
        headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}
        self.requests.append(SeenRequest(scope["method"], target, headers, body))
        await send({"type": "http.response.start", "status": self.status, "headers": self.headers})
        await send({"type": "http.response.body", "body": self.body})


class GenerousLimiter(RateLimiter):
    """Lets every call through without a table write: for load tests, where one machine is one client
    IP making far more than 300 calls a minute on one endpoint. (The limits themselves are tested in
    tests/proxy and tests/api; here their table writes would only load the embedded AWS.)"""

    def hit(self, rule: RateLimit, subject: str) -> Decision:
        return Decision(True)

    def add(self, rule: RateLimit, subject: str, window: int) -> int | None:
        return None


def api_key_for(tenant_id: str, settings: Settings | None = None) -> str:
    settings = settings or get_settings()
    _, key = ApiKeyStore(settings.table_name, settings.secret_bytes()).create(
        Principal(user_id=tenant_id, tenant_id=tenant_id), "reliability tests", scope="admin"
    )
    return key


def table() -> Any:
    return boto3.resource("dynamodb").Table(get_settings().table_name)


def scan_items() -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    request: dict[str, Any] = {}
    while True:
        page = table().scan(**request)
        items += page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            return items
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def usage_items(tenant_id: str) -> list[dict[str, Any]]:
    """Every usage record of a tenant (records only, not bodies or aggregates)."""
    items: list[dict[str, Any]] = []
    for pk in layout.usage_pks(tenant_id):
        request: dict[str, Any] = {
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :usage)",
            "ExpressionAttributeValues": {":pk": pk, ":usage": "USAGE#"},
        }
        while True:
            page = table().query(**request)
            items += page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                break
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    # With every field: those at their default are not stored.
    return sorted(
        ({**item, **record_view(usage_record(item), None)} for item in items),
        key=lambda item: str(item["sk"]),
    )


def aggregate_requests(tenant_id: str) -> int:
    """Requests counted by the daily aggregates: what the summary shows."""
    settings = get_settings()
    rows = UsageStore(settings.table_name, settings.bodies_bucket).aggregates(tenant_id, None, None, None)
    return sum(int(row.get("requests", 0)) for row in rows)


def wait_for(condition: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return condition()


class IngestLoop:
    """The ingest fed from the real (moto) usage queue, as Lambda's event source feeds it."""

    def __init__(self, queue_url: str | None = None, handler: Any = ingest_handler, threads: int = 1) -> None:
        url = queue_url or get_settings().usage_queue_url or ""
        self.pollers = [QueuePoller(url, handler, deployed_event_source()) for _ in range(threads)]

    def __enter__(self) -> IngestLoop:
        for poller in self.pollers:
            poller.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        for poller in self.pollers:
            poller.stop()

    @property
    def processed(self) -> int:
        return sum(poller.processed for poller in self.pollers)


def queue_bodies(queue_url: str) -> list[str]:
    """Every message body in a queue, read without deleting: each is visible again afterwards."""
    sqs = boto3.client("sqs")
    bodies: dict[str, str] = {}
    handles: list[str] = []
    for _ in range(1000):
        reply = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0, VisibilityTimeout=60
        )
        messages = reply.get("Messages", [])
        if not messages:
            break
        for message in messages:
            bodies[message["MessageId"]] = message["Body"]
            handles.append(message["ReceiptHandle"])
    for handle in handles:
        sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=handle, VisibilityTimeout=0)
    return list(bodies.values())


def bucket_objects(bucket: str) -> dict[str, bytes]:
    s3 = boto3.client("s3")
    objects: dict[str, bytes] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for entry in page.get("Contents", []):
            objects[entry["Key"]] = s3.get_object(Bucket=bucket, Key=entry["Key"])["Body"].read()
    return objects


def readable_bucket(bucket: str) -> dict[str, str]:
    """Every object of the bodies bucket as text: a call's bodies unpacked (with its base), a base
    decompressed; what a leak check must read, since compressed bytes never contain a secret's text."""
    objects = bucket_objects(bucket)
    texts: dict[str, str] = {}
    for key, blob in objects.items():
        if blob.startswith(codec.MAGIC):
            base_key = codec.base_of(blob)
            base = codec.decompress(objects[base_key]) if base_key else None
            parts = codec.unpack(blob, base)
            texts[key] = "\n".join(part.decode("utf-8", "replace") for part in parts if part is not None)
        else:
            texts[key] = codec.decompress(blob).decode("utf-8", "replace")
    return texts


def readable_messages(messages: list[str]) -> list[str]:
    """Usage messages with the bodies they carry decompressed."""
    readable = []
    for message in messages:
        event = json.loads(message)
        for name in ("request_body", "response_body"):
            carried = (event.get(name) or {}).get("zstd")
            if carried:
                event[name]["zstd"] = codec.decompress(base64.b64decode(carried)).decode("utf-8", "replace")
        readable.append(json.dumps(event))
    return readable


def dumps(items: Any) -> str:
    return json.dumps(items, default=str)


class ThrottledStore(UsageStore):
    """The table, throttling the first `failures` transactions as DynamoDB does under load (the
    ingest's own retries wait no time here).

    `after_commit`: the transaction commits and then the call fails (a timeout after the commit), so
    the retry finds its records there.
    """

    def __init__(self, failures: int, after_commit: bool = False) -> None:
        super().__init__(
            get_settings().table_name, get_settings().bodies_bucket, Retries(sleep=lambda _: None)
        )
        self.failures = failures
        self.after_commit = after_commit
        self.attempts = 0

    def _transact(self, actions: list[dict[str, Any]]) -> None:
        self.attempts += 1
        if self.failures <= 0:
            return super()._transact(actions)
        self.failures -= 1
        if self.after_commit:
            super()._transact(actions)
        raise ClientError(
            {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "Rate exceeded"}},
            "TransactWriteItems",
        )


def fast_retries(queue_url: str) -> None:
    boto3.client("sqs").set_queue_attributes(QueueUrl=queue_url, Attributes={"VisibilityTimeout": "0"})


def poller(queue_url: str, store: UsageStore | None = None) -> QueuePoller:
    ingest = UsageIngest(store) if store else None
    # No batching window: these tests are about what is kept, not when (Lambda's default window is 0).
    return QueuePoller(
        queue_url,
        lambda event, context: ingest_handler(event, context, ingest=ingest),
        replace(deployed_event_source(), window_seconds=0),
        wait_seconds=0,
    )


def poll_until_empty(feeder: QueuePoller, max_rounds: int = 50) -> int:
    """Polls until the queue gives nothing; returns how many rounds received something."""
    for rounds in range(max_rounds):
        if not feeder.poll_once():
            return rounds
    raise AssertionError(f"the queue still had messages after {max_rounds} rounds")
