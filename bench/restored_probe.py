"""Run by bench/coldstart.py's proxy_restored_cpu_ms in a fresh interpreter from the proxy's bundle:
`python restored_probe.py <bundle>` prints the CPU milliseconds of a SnapStart-restored proxy's
after-restore hook plus its first call.

What the snapshot holds is what ran before it: uvicorn's and the app's imports, and the
before-checkpoint hook (functions/proxy/snapstart.py). The first call then goes to the bench upstream
(plain HTTP, on this machine); its AWS calls (slug lookup, rate-limit counts, usage message) are
answered in-process after botocore has built and serialized each request. Left out, because nothing
here can make them: signing and sending those requests, and the TLS handshakes of the new
connections to DynamoDB, SQS and Anthropic.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import MutableMapping
from typing import Any

sys.path.insert(0, sys.argv[1])

import uvicorn.main  # noqa: F401 - imported before the snapshot, as run.sh's uvicorn does

from functions.proxy import snapstart
from functions.proxy.app import app
from shared import aws
from shared.hosting import SNAPSTART_AFTER_RESTORE_PATH, SNAPSTART_BEFORE_CHECKPOINT_PATH

_BODY = (
    b'{"model":"claude-sonnet-4-5","max_tokens":512,"stream":true,'
    b'"messages":[{"role":"user","content":"Say hello."}]}'
)
_ENDPOINT = {
    "Item": {
        "tenant_id": {"S": "tenant_bench"},
        "proxy_endpoint_id": {"S": "ep_bench"},
        "body_retention_days": {"N": "30"},
    }
}


async def _call(path: str, body: bytes = b"", headers: tuple[tuple[bytes, bytes], ...] = ()) -> int:
    status = 0
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.Event().wait()  # the client stays until the response ends
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    scope = {
        "type": "http",
        "method": "POST",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": list(headers),
        "client": ("203.0.113.9", 40000),
    }
    await app(scope, receive, send)
    return status


async def main() -> float:
    assert await _call(SNAPSTART_BEFORE_CHECKPOINT_PATH) == 200
    clients = [aws.table("codecosts").meta.client, aws.dynamodb_typed(), aws.sqs_without_retries()]
    snapstart._ANSWERS["GetItem"] = _ENDPOINT  # the slug's endpoint
    began = time.process_time()
    assert await _call(SNAPSTART_AFTER_RESTORE_PATH) == 200
    with snapstart._answered_in_process(clients):
        headers = ((b"x-api-key", b"sk-ant-bench"), (b"content-type", b"application/json"))
        status = await _call("/proxy/bench-0000000000000000/v1/messages", _BODY, headers)
    spent = time.process_time() - began
    assert status == 200, status
    return spent * 1000


print(f"{asyncio.run(main()):.1f}")
