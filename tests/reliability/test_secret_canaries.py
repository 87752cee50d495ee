"""Canaries: an Anthropic API key, an OAuth bearer token, a Codecosts key, and Claude Code's account and
device ids, used throughout a run, and secrets of every kind redaction knows pasted into the prompts (a
`.env` file Claude Code read, an MCP server's authorization token) (streams, plain replies, errors,
abandoned streams, bodies claim-checked to S3, the dead-letter queue and its redrive, the management
API, a key sent to the wrong place), appear nowhere afterwards: not in the table, the bucket, the
queue, the dead-letter queue, or anything the in-process servers logged.

Only what the contract allows is kept: a key's kind and last four characters, and HMAC fingerprints;
a secret in a body is stored as `[REDACTED:<kind>]`. Stored bodies are compressed, so the leak check
reads them decompressed.
"""

from __future__ import annotations

import base64
import json
import random
import threading
import uuid
from collections.abc import Callable

import boto3
import httpx
import pytest

from codecosts_cli.main import main as codecosts
from devstack.moto_patches import transactions
from devstack.rehearsal import Rehearsal
from functions.api.app import create_app as create_api_app
from shared.developers import fingerprint_developer
from shared.settings import get_settings
from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.proxy_server import RunningProxy
from tests.fakes.servers import ServerThread
from tests.reliability.conftest import CapturedLogs
from tests.reliability.support import (
    IngestLoop,
    ThrottledStore,
    api_key_for,
    bucket_objects,
    dumps,
    fast_retries,
    poll_until_empty,
    poller,
    queue_bodies,
    readable_bucket,
    readable_messages,
    scan_items,
    usage_items,
    wait_for,
)

ANTHROPIC_CANARY = "sk-ant-api03-CANARYk3yQ7vXw2Lr9Tz4Mn8Pb5Hd1Jf6Gs0Ac3Ee7Ui2Oy9-CnRy"
OAUTH_CANARY = "sk-ant-oat01-CANARYt0k3nBv8Nq2Wx5Ze7Rt1Yu4Io6Pa9Sd3Fg0Hj2Kl5-OaTh"
# Claude Code's account and device ids (metadata.user_id): kept only as a developer fingerprint.
ACCOUNT_CANARY = "ca7a12ee-0acc-4d07-b1e5-00000000c0de"
DEVICE_CANARY = "de71ce00" + "c4a7a12e" * 7
CLAUDE_CODE_USER = json.dumps(
    {"device_id": DEVICE_CANARY, "account_uuid": ACCOUNT_CANARY, "session_id": str(uuid.uuid4())}
)
# Secrets a prompt may carry, by the kind their marker names.
BODY_CANARIES = {
    "anthropic": "sk-ant-api03-B0DYc4n4ryQ7vXw2Lr9Tz4Mn8Pb5Hd1Jf6Gs0Ac3Ee7-Bdy1",
    "aws_access_key": "AKIACANARY7Q2W3E4R5T",
    "aws_secret_key": "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",
    "github": "ghp_CANARYabcdefghijklmnopqrstuvwxyz012345",
    "stripe": "sk_live_CANARY51HxYzAbCdEfGhIj",
    "openai": "sk-proj-CANARYq1w2e3r4t5y6u7i8o9p0a1s2d3f4",
    "bearer": "eyJhbGciOiJIUzI1NiJ9.CANARYpayload.signature",
    "mcp_authorization_token": "mcp-CANARY-token-4b7d9e",
}
# A `.env` file read into the prompt (JSON-escaped, as Claude Code sends it) and an MCP server.
PASTED = (
    f"AWS_ACCESS_KEY_ID={BODY_CANARIES['aws_access_key']}\\n"
    f"AWS_SECRET_ACCESS_KEY={BODY_CANARIES['aws_secret_key']}\\n"
    f"ANTHROPIC_API_KEY={BODY_CANARIES['anthropic']}\\nGITHUB_TOKEN={BODY_CANARIES['github']}\\n"
    f"STRIPE_KEY={BODY_CANARIES['stripe']}\\nOPENAI_API_KEY={BODY_CANARIES['openai']}\\n"
    'curl -H \\"Authorization: Bearer ' + BODY_CANARIES["bearer"] + '\\"'
)
MCP_SERVERS = (
    '"mcp_servers":[{"type":"url","url":"https://mcp.example.com/sse","name":"tracker",'
    f'"authorization_token":"{BODY_CANARIES["mcp_authorization_token"]}"}}]'
)


# A fragment shorter than this could sit in a log's random ids by chance: a 4-character one did, once
# in a fresh clone's run (the AWS key canary's middle, `2W3E`, inside a moto request id).
_DISTINCT = 10


def fragments(secret: str) -> list[str]:
    """The secret, and its middle: what must never be stored, even cut or re-encoded."""
    middle = secret[12:-4] if len(secret) - 16 >= _DISTINCT else secret[4:-4]
    cut = [secret, middle, base64.b64encode(secret.encode()).decode()[4:-4]]
    return [fragment for fragment in cut if len(fragment) >= _DISTINCT]


def calls(proxy: RunningProxy, codecosts_key: str, rounds: int) -> None:
    """Every kind of call, with each credential; `rounds` times over."""
    api_key = {
        "x-api-key": ANTHROPIC_CANARY,
        "content-type": "application/json",
        "anthropic-version": "2023-06-01",
    }
    oauth = {
        "authorization": f"Bearer {OAUTH_CANARY}",
        "content-type": "application/json",
        "anthropic-beta": "oauth-2025-04-20",
    }
    wrong_place = {"x-api-key": codecosts_key, "content-type": "application/json"}
    # Random text compresses little: over the inline limit below, the bodies go to S3 from the proxy.
    big = base64.b64encode(random.Random(14).randbytes(3_000)).decode() + " " + PASTED
    with httpx.Client(base_url=proxy.base_url, timeout=20) as client:
        for _ in range(rounds):
            for headers in (api_key, oauth, wrong_place):
                for model, stream in (
                    ("fake:cache-1h", True),
                    ("claude-haiku-4-5", False),
                    ("fake:error/401", False),
                ):
                    body = (
                        f'{{"model":"{model}","max_tokens":9,"stream":{str(stream).lower()},'
                        f'{MCP_SERVERS},"messages":[{{"role":"user","content":"{big}"}}],'
                        f'"metadata":{{"user_id":{json.dumps(CLAUDE_CODE_USER)}}}}}'
                    )
                    reply = client.post("/v1/messages?beta=true", content=body, headers=headers)
                    assert reply.status_code in (200, 401)
                client.post(
                    "/v1/messages/count_tokens", content=b'{"model":"m","messages":[]}', headers=headers
                )
            with client.stream(
                "POST",
                "/v1/messages",
                content=b'{"model":"fake:cache-1h","max_tokens":9,"stream":true,"messages":[]}',
                headers=oauth,
            ) as abandoned:
                next(abandoned.iter_raw())


def use_the_api(url: str, key: str, tenant_id: str) -> None:
    auth = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=url, timeout=20) as api:
        usage = api.get("/api/usage?limit=100", headers=auth).json()["items"]
        for record in usage[:5]:
            assert api.get(f"/api/usage/{record['id']}", headers=auth).status_code == 200
        assert api.get("/api/usage/summary", headers=auth).status_code == 200
        assert api.get("/api/usage?cursor=forged", headers=auth).status_code == 400
        # The last character changed for sure: a key may itself end in the replacement.
        forged = key[:-1] + ("y" if key.endswith("x") else "x")
        assert api.get("/api/usage", headers={"Authorization": f"Bearer {forged}"}).status_code == 401
        assert api.get("/api/usage", headers={"Cookie": f"__session={key}"}).status_code == 401
        assert api.post("/api/api-keys", json={"name": "another"}, headers=auth).status_code == 201


def run_canary(
    start_proxy: Callable[..., RunningProxy],
    resources: Rehearsal,
    logs: CapturedLogs,
    capfd: pytest.CaptureFixture[str],
    rounds: int,
) -> None:
    settings = get_settings()
    proxy = start_proxy(inline_body_limit=2_000)
    codecosts_key = api_key_for(proxy.tenant_id)
    fast_retries(resources.usage_queue_url)

    calls(proxy, codecosts_key, rounds)
    expected = rounds * 10  # 9 calls + 1 abandoned stream per round (count_tokens is not recorded)
    sqs = boto3.client("sqs")
    assert wait_for(
        lambda: (
            int(
                sqs.get_queue_attributes(
                    QueueUrl=resources.usage_queue_url, AttributeNames=["ApproximateNumberOfMessages"]
                )["Attributes"]["ApproximateNumberOfMessages"]
            )
            >= expected
        ),
        timeout=30,
    )
    queued = queue_bodies(resources.usage_queue_url)
    assert len(queued) == expected

    # The table throttles until every message is in the dead-letter queue; then it is redriven.
    poll_until_empty(
        poller(resources.usage_queue_url, ThrottledStore(failures=10**9)), max_rounds=10 * expected
    )
    dead_letters = queue_bodies(resources.dead_letter_queue_url)
    assert len(dead_letters) == expected
    assert codecosts(["redrive-dlq"]) == 0
    with IngestLoop():
        # Asked once a second: moto answers a query for hundreds of records slowly, in this process.
        assert wait_for(lambda: len(usage_items(proxy.tenant_id)) == expected, timeout=60, interval=1), (
            f"{len(usage_items(proxy.tenant_id))} of {expected} records after the redrive"
        )

    api = create_api_app(settings)
    with ServerThread(api, access_log=True, log_level="debug") as server:
        use_the_api(server.url, codecosts_key, proxy.tenant_id)

    stored = {
        "table": dumps(scan_items()),
        "bucket": dumps(readable_bucket(settings.bodies_bucket)),
        "queue": dumps(readable_messages(queued + queue_bodies(resources.usage_queue_url))),
        "dead-letter queue": dumps(
            readable_messages(dead_letters + queue_bodies(resources.dead_letter_queue_url))
        ),
        "logs": logs.text,
    }
    output = capfd.readouterr()
    stored["stdout and stderr"] = output.out + output.err
    assert len(bucket_objects(settings.bodies_bucket)) >= expected  # the S3 path was exercised
    assert "sk-ant-api03-...CnRy" in stored["table"] and "sk-ant-oat01-...OaTh" in stored["table"]
    assert fingerprint_developer("account", ACCOUNT_CANARY, settings.secret_bytes()) in stored["table"]
    assert len(logs.text) > 1000, "nothing was logged: the log capture is not working"
    # The bodies were stored (readable, so the check below reads them), each secret as its marker.
    for kind in BODY_CANARIES:
        assert f"[REDACTED:{kind}]" in stored["bucket"], kind
    for where, text in stored.items():
        for secret in (
            ANTHROPIC_CANARY,
            OAUTH_CANARY,
            codecosts_key,
            ACCOUNT_CANARY,
            DEVICE_CANARY,
            *BODY_CANARIES.values(),
        ):
            for fragment in fragments(secret):
                at = text.find(fragment)
                assert at < 0, f"a credential leaked into the {where}: ...{text[max(0, at - 300) : at + 80]}"


def test_no_credential_is_kept_anywhere(
    start_proxy: Callable[..., RunningProxy],
    fake_upstream: FakeAnthropic,
    redrive_env: Rehearsal,
    all_logs: CapturedLogs,
    capfd: pytest.CaptureFixture[str],
) -> None:
    run_canary(start_proxy, redrive_env, all_logs, capfd, rounds=1)
    assert threading.active_count() < 100


@pytest.mark.soak
@pytest.mark.timeout(900)
def test_no_credential_is_kept_anywhere_after_a_long_run(
    start_proxy: Callable[..., RunningProxy],
    fake_upstream: FakeAnthropic,
    redrive_env: Rehearsal,
    all_logs: CapturedLogs,
    capfd: pytest.CaptureFixture[str],
) -> None:
    # 300 records: moto's own transactions would copy the whole table for each
    # (devstack/moto_patches/transactions.py).
    with transactions.installed():
        run_canary(start_proxy, redrive_env, all_logs, capfd, rounds=30)
