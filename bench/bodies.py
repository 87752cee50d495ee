# ruff: noqa: E501 - markdown table rows read best unbroken
"""Bodies: what one Claude Code session's bodies cost to keep, today's design against this one.

A 100-turn session shaped like Claude Code's (system prompt and tools in front, then the whole
conversation, the cache breakpoint moving to the last message each turn, tool results of code, an
SSE reply per call) goes through the real proxy publisher (redaction, compression, the message) and
the real ingest (the session's base, the S3 objects, the record), against an in-process moto. Counted
from the calls the code makes: S3 requests per call on the write path, DynamoDB write units per call
(each item written, sized by DynamoDB's rules, twice in a transaction), bytes kept in S3.

Today's design is applied to the same calls in the same run: its rule (bodies inline in the message
and in a body item of the record's transaction up to `inline_body_limit`, else two uncompressed S3
objects) gives the body item's write units and its S3 requests; its record and aggregates are the
ones measured here, which differ only by the body pointer fields.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import dataclasses
import io
import itertools
import json
import math
import os
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.dynamo import DYNAMODB_ITEM_OVERHEAD, item_size

TURNS = 100
TARGET_RATIO = 10.0
TARGET_S3_REQUESTS = 2
TARGET_WRITE_UNITS = 12
_TENANT = "user_bench"
_ENDPOINT = "01BENCHENDPOINT00000000000"
_BUCKET = "bench-bodies"
_TABLE = "bench-codecosts"
# Today's inline limit (`inline_body_limit` before this design): the whole message, bodies as JSON text.
_TODAY_INLINE_LIMIT = 200_000


# -- a Claude Code-shaped session -------------------------------------------------------------------


class _Writer:
    """Text that compresses like prose and code do (a vocabulary, not random bytes)."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)  # noqa: S311 - reproducible text, not secrets
        letters = "etaoinshrdlcumwfgypbvkjxqz"
        self.words = [
            "".join(self.rng.choices(letters, weights=range(26, 0, -1), k=self.rng.randint(2, 10)))
            for _ in range(3000)
        ]
        self.zipf = list(itertools.accumulate(1 / rank for rank in range(1, len(self.words) + 1)))

    def prose(self, words: int) -> str:
        # Zipf's law, as in any natural text: the r-th most common word comes up 1/r as often.
        picked = self.rng.choices(self.words, cum_weights=self.zipf, k=words)
        return " ".join(word + ("." if self.rng.random() < 0.08 else "") for word in picked)

    def code(self, lines: int) -> str:
        rng, words = self.rng, self.words
        return "\n".join(
            " " * (4 * rng.randint(0, 3))
            + f"{rng.choice(words[:300])}_{rng.choice(words)} = {rng.choice(words[:300])}({rng.choice(words)}, {rng.randint(0, 99)})"
            for _ in range(lines)
        )

    def token(self, size: int) -> str:
        return base64.b64encode(self.rng.randbytes(size)).decode()


def _sse(name: str, payload: dict[str, Any]) -> str:
    return f"event: {name}\ndata: {json.dumps(payload, separators=(',', ':'))}\n\n"


def _reply(writer: _Writer, turn: int, thinking: str, text: str, tool: dict[str, Any]) -> bytes:
    """The streamed reply carrying the assistant turn, in pieces as Anthropic streams them."""
    events = [
        _sse(
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "id": f"msg_{writer.token(12)}",
                    "type": "message",
                    "role": "assistant",
                    "model": "claude-sonnet-4-5-20250929",
                    "content": [],
                    "usage": {
                        "input_tokens": 3,
                        "cache_creation_input_tokens": 1500 + turn,
                        "cache_read_input_tokens": 20_000 + 1200 * turn,
                        "cache_creation": {
                            "ephemeral_5m_input_tokens": 0,
                            "ephemeral_1h_input_tokens": 1500 + turn,
                        },
                        "output_tokens": 1,
                    },
                },
            },
        )
    ]
    for index, (kind, content) in enumerate((("thinking", thinking), ("text", text))):
        events.append(
            _sse(
                "content_block_start",
                {"type": "content_block_start", "index": index, "content_block": {"type": kind, kind: ""}},
            )
        )
        for start in range(0, len(content), 24):
            delta = {"type": f"{kind}_delta", kind: content[start : start + 24]}
            events.append(
                _sse("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta})
            )
        events.append(_sse("content_block_stop", {"type": "content_block_stop", "index": index}))
    arguments = json.dumps(tool["input"])
    events.append(
        _sse(
            "content_block_start",
            {"type": "content_block_start", "index": 2, "content_block": {**tool, "input": {}}},
        )
    )
    events.append(
        _sse(
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 2,
                "delta": {"type": "input_json_delta", "partial_json": arguments},
            },
        )
    )
    events.append(_sse("content_block_stop", {"type": "content_block_stop", "index": 2}))
    events.append(
        _sse(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "tool_use"},
                "usage": {"output_tokens": 300 + len(text) // 4},
            },
        )
    )
    events.append(_sse("message_stop", {"type": "message_stop"}))
    return "".join(events).encode()


def claude_code_session(turns: int = TURNS, seed: int = 7) -> Iterator[tuple[str, bytes, bytes]]:
    """(session id, request body, response body) of each call of one Claude Code session."""
    writer = _Writer(seed)
    session_id = "4f1c2a9e-6b7d-4e21-9c3a-0d5e8f7a6b1c"
    system = [
        {"type": "text", "text": "You are Claude Code, Anthropic's official CLI for Claude."},
        {"type": "text", "text": writer.prose(2600), "cache_control": {"type": "ephemeral", "ttl": "1h"}},
    ]
    tools = [
        {
            "name": writer.rng.choice(writer.words).title(),
            "description": writer.prose(320),
            "input_schema": {
                "type": "object",
                "properties": {
                    writer.rng.choice(writer.words): {"type": "string", "description": writer.prose(18)}
                    for _ in range(5)
                },
                "required": [],
                "additionalProperties": False,
                "$schema": "http://json-schema.org/draft-07/schema#",
            },
        }
        for _ in range(17)
    ]
    metadata = {
        "user_id": json.dumps(
            {"device_id": writer.token(24), "account_uuid": "0b7c-bench", "session_id": session_id}
        )
    }
    messages: list[dict[str, Any]] = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "<system-reminder>" + writer.prose(160) + "</system-reminder>"},
                {"type": "text", "text": writer.prose(40)},
            ],
        }
    ]
    for turn in range(turns):
        # The cache breakpoint sits on the last block of the last message, and moves every turn.
        last = messages[-1]["content"][-1]
        last["cache_control"] = {"type": "ephemeral", "ttl": "1h"}
        request = {
            "model": "claude-sonnet-4-5-20250929",
            "messages": messages,
            "system": system,
            "tools": tools,
            "metadata": metadata,
            "max_tokens": 32000,
            "thinking": {"type": "enabled", "budget_tokens": 31999},
            "stream": True,
        }
        body = json.dumps(request, separators=(",", ":")).encode()
        del last["cache_control"]
        thinking, text = writer.prose(writer.rng.randint(30, 120)), writer.prose(writer.rng.randint(15, 110))
        tool_id = f"toolu_{writer.token(18)}"
        tool = {
            "type": "tool_use",
            "id": tool_id,
            "name": tools[turn % len(tools)]["name"],
            "input": {"file_path": f"/src/{writer.rng.choice(writer.words)}.py"},
        }
        yield session_id, body, _reply(writer, turn, thinking, text, tool)
        messages.append(
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": thinking, "signature": writer.token(240)},
                    {"type": "text", "text": text},
                    tool,
                ],
            }
        )
        messages.append(
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": tool_id,
                        "content": writer.code(writer.rng.randint(20, 150)),
                    }
                ],
            }
        )


# -- the alternative: content-defined chunking -----------------------------------------------------------


def _gear_table() -> list[int]:
    rng = random.Random(1)  # noqa: S311 - a fixed hash table, not a secret
    return [rng.getrandbits(64) for _ in range(256)]


_GEAR = _gear_table()
_MASK = (1 << 13) - 1  # cut where the rolling hash's low 13 bits are zero: 8 KiB chunks on average
_MIN_CHUNK, _MAX_CHUNK = 2048, 65536


def chunks(data: bytes) -> Iterator[bytes]:
    """Content-defined chunks (a gear rolling hash, as FastCDC uses): a change moves only the cuts
    around it, so the bytes repeated from the previous request fall into the same chunks."""
    gear, mask, start, digest = _GEAR, _MASK, 0, 0
    bound = (1 << 64) - 1
    for position, byte in enumerate(data):
        digest = ((digest << 1) + gear[byte]) & bound
        size = position - start + 1
        if (size >= _MIN_CHUNK and not digest & mask) or size >= _MAX_CHUNK:
            yield data[start : position + 1]
            start, digest = position + 1, 0
    if start < len(data):
        yield data[start:]


@dataclass
class ChunkingResult:
    stored_bytes: int = 0  # each call's new chunks, zstd-compressed together (one pack a call)
    packs_per_read: list[int] = field(default_factory=list)  # objects a read of each call gathers from


def chunked(session: list[tuple[bytes, bytes]]) -> ChunkingResult:
    """What the session would keep with content-defined chunking: each call stores the chunks its
    session has not stored yet, in one pack; a read gathers its chunks from every pack holding one."""
    import hashlib

    from shared.bodies import codec

    result = ChunkingResult()
    home: dict[bytes, int] = {}  # chunk digest -> the call whose pack holds it
    for turn, (request, response) in enumerate(session):
        new = []
        packs = set()
        for piece in (*chunks(request), response):
            digest = hashlib.blake2b(piece, digest_size=16).digest()
            if digest not in home:
                home[digest] = turn
                new.append(piece)
            packs.add(home[digest])
        result.stored_bytes += len(codec.compress(b"".join(new)))
        result.packs_per_read.append(len(packs))
    return result


# S3 bills these at the PUT rate ("PUT, COPY, POST, LIST requests"); GetObject and HeadObject at the GET rate.
_PUT_PRICED = frozenset(
    {"PutObject", "CopyObject", "ListObjectsV2", "PutObjectTagging", "CreateMultipartUpload"}
)


def write_units(size: int, transactional: bool) -> int:
    return max(1, math.ceil(size / 1024)) * (2 if transactional else 1)


# -- the run -------------------------------------------------------------------------------------------


@dataclass
class BodiesResult:
    turns: int
    naive_bytes: int = 0
    stored_bytes: int = 0
    objects: int = 0
    per_call_compressed_bytes: int = 0  # each call compressed alone: what the base saves over that
    message_bytes: list[int] = field(default_factory=list)
    s3_requests: list[int] = field(default_factory=list)  # proxy + ingest, per call
    s3_puts: list[int] = field(default_factory=list)  # of which priced as PUTs (the rest are GETs)
    write_units: list[int] = field(default_factory=list)  # the ingest's writes, per call
    body_write_units_today: list[int] = field(default_factory=list)
    s3_requests_today: list[int] = field(default_factory=list)
    proxy_ms: list[float] = field(default_factory=list)  # redaction + compression
    ingest_ms: list[float] = field(default_factory=list)  # the whole ingest of the call, AWS calls included
    reassembled: bool = False
    body_field_bytes: int = 0  # what the record holds of its bodies: until when, and its base's name
    chunked_bytes: int = 0  # the same session under content-defined chunking (chunked())
    chunked_packs_per_read: list[int] = field(default_factory=list)
    request_bytes: list[int] = field(default_factory=list)  # per call, as the client sent it
    # What the session left in the table, as DynamoDB bills its storage: each item and each index
    # entry (every index projects all attributes) with 100 bytes of overhead.
    table_bytes: int = 0  # the items themselves (what point-in-time recovery backs up)
    index_bytes: int = 0

    @property
    def first_request_bytes(self) -> int:
        return self.request_bytes[0]

    @property
    def last_request_bytes(self) -> int:
        return self.request_bytes[-1]

    def at_request_bytes(self, per_call: Sequence[float], request_bytes: int) -> float:
        """`per_call` (a figure of each call) for a call of `request_bytes`: the least-squares line
        through the session's calls, whose requests grow turn by turn (the cost model's call is
        smaller than the session's average)."""
        fit = statistics.linear_regression(self.request_bytes, per_call)
        return fit.intercept + fit.slope * request_bytes

    @property
    def ratio(self) -> float:
        return self.naive_bytes / self.stored_bytes

    @property
    def write_units_today(self) -> list[int]:
        # Today's record and aggregates are this run's, plus the body item that it also wrote.
        return [
            units + body for units, body in zip(self.write_units, self.body_write_units_today, strict=True)
        ]


class _Counter:
    """Counts a boto3 client's API calls by operation, and keeps their parameters."""

    def __init__(self, client: Any) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        client.meta.events.register("provide-client-params", self._seen)

    def _seen(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        self.calls.append((model.name, params))

    def take(self) -> list[tuple[str, dict[str, Any]]]:
        taken, self.calls = self.calls, []
        return taken


def _create_table(dynamodb: Any) -> None:
    from shared.resources import TABLE

    dynamodb.create_table(**TABLE.create_table_arguments(_TABLE))


def _units_written(calls: list[tuple[str, dict[str, Any]]], table: Any) -> int:
    """Write units of the DynamoDB writes made: each item as it stands after the write, in the table
    (twice inside a transaction) and once more in each index whose key it carries."""
    from shared.resources import TABLE

    units = 0
    for operation, params in calls:
        if operation == "TransactWriteItems":
            writes = [(*action.items(), True) for action in params["TransactItems"]]
        elif operation in ("PutItem", "UpdateItem", "DeleteItem"):
            writes = [((operation.removesuffix("Item"), params), False)]
        else:
            continue
        for (kind, spec), transactional in writes:
            item = _item_after(kind, spec, table)
            size = item_size(item)
            units += write_units(size, transactional=transactional)
            units += sum(
                write_units(size, transactional=False)
                for index in TABLE.indexes
                if index.partition_key in item
            )
    return units


def _item_after(kind: str, spec: dict[str, Any], table: Any) -> dict[str, Any]:
    from boto3.dynamodb.types import TypeDeserializer

    if kind == "Put":
        item = spec["Item"]
        if item and isinstance(next(iter(item.values())), dict) and len(next(iter(item.values()))) == 1:
            deserializer = TypeDeserializer()
            typed = all(isinstance(value, dict) and len(value) == 1 for value in item.values())
            if typed:
                item = {name: deserializer.deserialize(value) for name, value in item.items()}
        return dict(item)
    key = spec["Key"]
    if all(isinstance(value, dict) for value in key.values()):
        key = {name: TypeDeserializer().deserialize(value) for name, value in key.items()}
    return dict(table.get_item(Key=key).get("Item") or key)


def _today_body_item(request: bytes, response: bytes) -> tuple[int, int]:
    """(body item write units, S3 requests) of a call under today's rule, for the same bodies."""
    texts = {"request_body": request.decode(), "response_body": response.decode()}
    message_size = len(json.dumps(texts).encode()) + 1500  # the rest of the message
    if message_size > _TODAY_INLINE_LIMIT:
        return 0, 2  # both bodies claim-checked, uncompressed, one object each
    item = {"pk": f"TENANT#{_TENANT}", "sk": "BODY#01J0000000000000000000000", "type": "usage_body", **texts}
    return write_units(item_size(item), transactional=True), 0


def measure(turns: int = TURNS) -> BodiesResult:
    """`run` in a child process: its in-process moto and the AWS clients it caches stay there."""
    reply = subprocess.run(  # noqa: S603 - this interpreter, this module
        [sys.executable, "-m", "bench.bodies", "--turns", str(turns), "--json"],
        cwd=Path(__file__).resolve().parent.parent,
        capture_output=True,
        text=True,
        check=True,
        timeout=1800,
    )
    return BodiesResult(**json.loads(reply.stdout.strip().splitlines()[-1]))


def run(turns: int = TURNS) -> BodiesResult:
    """In this process, inside moto's in-process mock (it replaces any AWS endpoint set)."""
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
    )
    os.environ.pop("AWS_ENDPOINT_URL", None)
    from moto import mock_aws

    with mock_aws():
        return _run(turns)


def _run(turns: int) -> BodiesResult:
    from functions.proxy.publisher import CallRecord, UsagePublisher
    from shared import aws
    from shared.bodies import codec
    from shared.credentials import credential_hint, fingerprint_credential
    from shared.developers import attribute
    from shared.ids import new_id
    from shared.ingest import UsageIngest
    from shared.models import SlugTarget
    from shared.resources import BODIES_BUCKET
    from shared.settings import get_settings
    from shared.store.usage_records import UsageStore, usage_item
    from shared.usage import read_stream_usage

    s3 = aws.s3()
    s3.create_bucket(Bucket=_BUCKET)
    _create_table(aws.dynamodb_client())
    store = UsageStore(_TABLE, _BUCKET)
    ingest = UsageIngest(store)
    inline_limit = get_settings().inline_body_limit
    publisher = UsagePublisher(None, _BUCKET, BODIES_BUCKET.bodies_prefix, inline_limit, s3=s3)
    s3_calls, table_calls = _Counter(s3), _Counter(store.table.meta.client)
    result = BodiesResult(turns=turns)
    target = SlugTarget(_TENANT, _ENDPOINT)
    started = datetime.now(UTC) - timedelta(hours=1)
    hashes: dict[str, str] = {}
    kept: list[tuple[bytes, bytes]] = []
    # As the proxy records a Claude Code call: the paying key (gsi2) and the developer (gsi4 and
    # the developer's own item) are on the record.
    secret = b"bench-server-secret"
    credential = "sk-ant-api03-" + "b" * 80 + "AAAA"
    for turn, (session_id, request, response) in enumerate(claude_code_session(turns)):
        attribution = attribute(request, secret)
        record = CallRecord(
            id=new_id(started + timedelta(seconds=20 * turn)),
            target=target,
            requested_at=started + timedelta(seconds=20 * turn),
            path="/v1/messages",
            request_body=attribution.stored_body,
            api_key_id=fingerprint_credential(credential, secret),
            api_key_hint=credential_hint(credential),
            developer_id=attribution.developer_id,
            status_code=200,
            stream=True,
            duration_ms=20_000,
            session_header=session_id,
            usage=read_stream_usage(response),
            response_chunks=[response],
        )
        began = time.process_time()
        event, message = publisher.message(record)
        result.proxy_ms.append((time.process_time() - began) * 1000)
        proxy_s3 = s3_calls.take()
        began = time.process_time()
        assert ingest.ingest(event)
        result.ingest_ms.append((time.process_time() - began) * 1000)
        made = [operation for operation, _ in proxy_s3 + s3_calls.take()]
        result.s3_requests.append(len(made))
        result.s3_puts.append(sum(operation in _PUT_PRICED for operation in made))
        result.write_units.append(_units_written(table_calls.take(), store.table))
        body_units, today_s3 = _today_body_item(request, response)
        result.body_write_units_today.append(body_units)
        result.s3_requests_today.append(today_s3)
        result.message_bytes.append(len(message.encode()))
        result.naive_bytes += len(request) + len(response)
        result.per_call_compressed_bytes += len(codec.compress(request)) + len(codec.compress(response))
        hashes[record.id] = _digest(attribution.stored_body, response)
        kept.append((request, response))
        result.request_bytes.append(len(request))
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=_BUCKET):
        for entry in page.get("Contents", []):
            result.stored_bytes += entry["Size"]
            result.objects += 1
    result.table_bytes, result.index_bytes = _table_storage(store.table)
    alternative = chunked(kept)
    result.chunked_bytes, result.chunked_packs_per_read = alternative.stored_bytes, alternative.packs_per_read
    stored = store.get(_TENANT, record.id)
    assert stored is not None, "the session's last call was stored"
    last = usage_item(stored)
    result.body_field_bytes = item_size({name: last[name] for name in ("bodies_expire_at", "bodies_base")})
    # Every call read back through the API's read path, byte for byte (no secrets in these bodies).
    result.reassembled = all(
        _digest(*(part.encode() if part else b"" for part in _bodies(store, usage_id))) == digest
        for usage_id, digest in hashes.items()
    )
    return result


def _table_storage(table: Any) -> tuple[int, int]:
    """Billed storage bytes of every item in `table` and of their index entries."""
    from shared.resources import TABLE

    items = indexed = 0
    # The resource's client: its items come back as Python values already.
    for page in table.meta.client.get_paginator("scan").paginate(TableName=table.name):
        for item in page["Items"]:
            size = item_size(item) + DYNAMODB_ITEM_OVERHEAD
            items += size
            indexed += size * sum(index.partition_key in item for index in TABLE.indexes)
    return items, indexed


def _bodies(store: Any, usage_id: str) -> tuple[str | None, str | None]:
    item = store.get(_TENANT, usage_id)
    bodies = store.bodies(item)
    return bodies.request_body, bodies.response_body


def _digest(request: bytes, response: bytes) -> str:
    import hashlib

    return hashlib.sha256(request + b"\0" + response).hexdigest()


def render(result: BodiesResult) -> list[str]:
    def met(ok: bool) -> str:
        return "met" if ok else "**missed**"

    def spread(values: list[float] | list[int]) -> str:
        return f"{statistics.mean(values):.1f} (max {max(values)})"

    def cpu(values: list[float]) -> str:
        ordered = sorted(values)
        return (
            f"{statistics.median(ordered):.1f} ms median, {ordered[int(len(ordered) * 0.95) - 1]:.1f} ms p95"
        )

    ratio_today = result.naive_bytes / result.naive_bytes
    return [
        "## Bodies: one 100-turn Claude Code session",
        "",
        f"{result.turns} calls of one session (`bench/bodies.py`): requests from {result.first_request_bytes / 1000:.0f} KB to "
        f"{result.last_request_bytes / 1000:.0f} KB (system prompt, 17 tools, the conversation; the cache breakpoint moves every turn),",
        "an SSE reply each. Through the real publisher and ingest, against an in-process moto; today's design applied to the",
        "same calls in the same run (its body item sized by DynamoDB's rules; its record and aggregates are this run's).",
        "",
        "| Measure | Today | Now | Target | |",
        "|---|---|---|---|---|",
        f"| Bytes kept for the session (naive: {result.naive_bytes / 1e6:.1f} MB) | {result.naive_bytes / 1e6:.1f} MB ({ratio_today:.0f}x, table and S3) | "
        f"{result.stored_bytes / 1e6:.2f} MB in {result.objects} S3 objects ({result.ratio:.1f}x smaller) | >= {TARGET_RATIO:.0f}x smaller | {met(result.ratio >= TARGET_RATIO)} |",
        f"| S3 requests per call, write path | {spread(result.s3_requests_today)} | {spread(result.s3_requests)} | <= {TARGET_S3_REQUESTS} | {met(max(result.s3_requests) <= TARGET_S3_REQUESTS)} |",
        f"| DynamoDB write units per call, one call at a time (the session alone: nothing shares its aggregates; with a key and a developer, as Claude Code's calls) | {spread(result.write_units_today)} | {spread(result.write_units)} | <= {TARGET_WRITE_UNITS} | {met(max(result.write_units) <= TARGET_WRITE_UNITS)} |",
        f"| of which for bodies | {spread(result.body_write_units_today)} (the body item) | 0: no body item; the record's body fields are {result.body_field_bytes} bytes | | |",
        f"| Usage message bytes per call | | {spread(result.message_bytes)} | | |",
        f"| Reassembled byte for byte (SHA-256 of every call's bodies, read back) | | {'yes' if result.reassembled else '**no**'} | yes | {met(result.reassembled)} |",
        "",
        f"- Each call compressed alone (zstd level 3, no base) would keep {result.per_call_compressed_bytes / 1e6:.2f} MB "
        f"({result.naive_bytes / result.per_call_compressed_bytes:.1f}x): the session's base does the rest.",
        f"- Content-defined chunking instead (gear hash, 8 KiB average chunks, each call's new chunks in one zstd pack): "
        f"{result.chunked_bytes / 1e6:.2f} MB ({result.naive_bytes / result.chunked_bytes:.1f}x), manifests not counted; "
        f"a read would gather from {spread(result.chunked_packs_per_read)} objects (here: 2), and a pack would hold chunks later calls "
        "still use when its own call's bodies are deleted or expire (docs/data-model.md, Bodies).",
        f"- CPU per call: proxy (redaction and compression, after the reply has been relayed) {cpu(result.proxy_ms)}; "
        f"ingest (the whole call: record, base, S3, table, against moto) {cpu(result.ingest_ms)}.",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=TURNS)
    parser.add_argument("--json", action="store_true", help="the raw result, one JSON line (for measure())")
    args = parser.parse_args()
    with contextlib.redirect_stdout(io.StringIO()):  # the ingest's metrics (EMF lines on stdout)
        result = run(args.turns)
    print(json.dumps(dataclasses.asdict(result)) if args.json else "\n".join(render(result)))


if __name__ == "__main__":
    main()
