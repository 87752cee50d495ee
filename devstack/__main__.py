"""`make dev`: the whole Codecosts stack on one machine, one process per function as in AWS.

- moto, the local AWS, in its own process (devstack/moto_server.py, with the patches that keep it
  fast as the data grows), holding the table, queues, bucket and secret that the synthesized template
  declares (devstack/rehearsal.py), each function signing with credentials that carry its own role;
- the proxy and the CSV export started as their run.sh starts them under the Lambda Web Adapter
  (devstack/adapter.py); the API under uvicorn (in AWS: API Gateway and Mangum); the ingest fed by
  pollers in their own processes (devstack/poller.py), as many as the SQS event source runs at once;
  the bill check's daily sync as the reconcile function (devstack/reconcile_timer.py);
- a front door on CODECOSTS_PORT (devstack/frontdoor.py) routing as the function URL and API Gateway
  do;
- a bootstrap user, API key and proxy endpoint written to `.codecosts/dev.json`, and what was
  recorded kept in `.codecosts/state/` across restarts. Ctrl-C stops it all.
"""

from __future__ import annotations

import asyncio
import faulthandler
import json
import os
import secrets
import signal
import sys
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from devstack.adapter import AdaptedFunction
from devstack.frontdoor import FrontDoor, Function, Routes
from devstack.processes import ROOT, Child, base_environment, free_port
from devstack.rehearsal import Rehearsal, rehearse
from devstack.state import StateSnapshot

STATE_ROOT = Path(".codecosts")
DEV_USER_ID = "user_dev"
# A snapshot reads the whole table: written once the stack has been idle this long after a change.
QUIET_SECONDS = 5.0


def _server_secret() -> str:
    if os.environ.get("CODECOSTS_SERVER_SECRET"):
        return os.environ["CODECOSTS_SERVER_SECRET"]
    path = STATE_ROOT / "server-secret"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(32))
        path.chmod(0o600)
    return path.read_text().strip()


def _read_dev_file() -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads((STATE_ROOT / "dev.json").read_text())
        return data
    except (OSError, ValueError):
        return {}


def _bootstrap(settings: Any) -> dict[str, Any]:
    """The dev user's API key and proxy endpoint: kept from the last run when they still exist."""
    from shared.bootstrap import FirstUser, bootstrap
    from shared.credentials import is_well_formed_api_key

    previous = _read_dev_file()
    wanted = settings.dev_api_key.get_secret_value() if settings.dev_api_key else previous.get("api_key")
    if wanted and not is_well_formed_api_key(wanted):
        if settings.dev_api_key:
            sys.exit(
                "CODECOSTS_DEV_API_KEY is not a Codecosts key (make one with: python -m devstack.newkey)"
            )
        wanted = None
    previous_endpoint = previous.get("proxy_endpoint")
    first = FirstUser(
        user_id=DEV_USER_ID,
        email="dev@localhost",
        name="Local developer",
        endpoint_name="local",
        key_name="make dev",
        via="make dev",
    )
    # new_key: the dev stack always prints a working key, so one that no longer works is replaced.
    seeded = bootstrap(
        settings.table_name,
        settings.secret_bytes(),
        first,
        held_key=wanted,
        endpoint_id=previous_endpoint.get("id") if isinstance(previous_endpoint, dict) else None,
        new_key=True,
    )
    endpoint = seeded.endpoint
    dev = {
        "api_key": seeded.api_key,
        "proxy_endpoint": {
            **{name: endpoint[name] for name in ("id", "name", "slug")},
            "url": f"{settings.base_url}/proxy/{endpoint['slug']}",
        },
    }
    path = STATE_ROOT / "dev.json"
    path.write_text(json.dumps(dev, indent=2) + "\n")
    path.chmod(0o600)
    return dev


def _overrides() -> dict[str, str]:
    """The developer's own settings (a fake upstream's or Admin API's URL, Clerk keys): they win over
    the template's values where the template sets them, and reach no function it keeps them from
    (`_function_environment`). The server secret is not one: the functions fetch it from the local
    Secrets Manager, as in AWS."""
    return {
        key: value
        for key, value in os.environ.items()
        if key.startswith(("CODECOSTS_", "CLERK_")) and key != "CODECOSTS_SERVER_SECRET"
    }


# Telemetry a laptop has no X-Ray or CloudWatch for, and a quiet terminal: laid over the template's.
_LOCAL_ADDITIONS = {
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_DISABLED": "true",
    "POWERTOOLS_LOG_LEVEL": os.environ.get("POWERTOOLS_LOG_LEVEL", "WARNING"),
    "UVICORN_LOG_LEVEL": "warning",  # run.sh's uvicorn: no start-up lines around the banner
}


def _function_environment(rehearsal: Rehearsal, name: str, endpoint_url: str) -> dict[str, str]:
    """All a function's process sees: what the template gives it (its role's credentials included,
    the developer's values already laid over its variables by the rehearsal), the local additions,
    and the developer's settings the template gives no function. A variable the template passes to
    other functions only (the queue's URL, the secret's ARN) never reaches this one: it would not in
    AWS."""
    function = rehearsal.functions[name]
    in_template = {variable for role in rehearsal.functions.values() for variable in role.environment}
    return {
        **function.process_environment(endpoint_url),
        **_LOCAL_ADDITIONS,
        **{key: value for key, value in _overrides().items() if key not in in_template},
    }


def _use_operator_access(rehearsal: Rehearsal, endpoint_url: str) -> None:
    """This process bootstraps and snapshots, with the operator's credentials, never a real account's."""
    os.environ.update(
        {
            **rehearsal.functions["api"].environment,
            **_LOCAL_ADDITIONS,
            "AWS_ENDPOINT_URL": endpoint_url,
            "AWS_ACCESS_KEY_ID": rehearsal.operator_access_key_id,
            "AWS_SECRET_ACCESS_KEY": rehearsal.operator_secret_access_key,
            "AWS_DEFAULT_REGION": "us-east-1",
        }
    )


def _write_local_aws(rehearsal: Rehearsal, endpoint_url: str) -> None:
    """Where the local AWS answers and the operator's credentials: for the aws CLI and `make bench`."""
    path = STATE_ROOT / "aws.json"
    access = {
        "endpoint_url": endpoint_url,
        "region": "us-east-1",
        "access_key_id": rehearsal.operator_access_key_id,
        "secret_access_key": rehearsal.operator_secret_access_key,
    }
    path.write_text(json.dumps(access, indent=2) + "\n")
    path.chmod(0o600)


def _port(url: str) -> int:
    return int(urlsplit(url).port or 0)


def _queued(queue_url: str) -> int:
    """Usage messages not yet ingested (waiting or being ingested)."""
    from shared import aws

    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    counts = aws.sqs().get_queue_attributes(QueueUrl=queue_url, AttributeNames=names)["Attributes"]
    return sum(int(counts[name]) for name in names)


def _save_when_settled(
    door: FrontDoor, snapshot: StateSnapshot, queue_url: str, stop: threading.Event
) -> None:
    """Writes a snapshot after changes, once requests have paused and the ingest has caught up."""
    from shared.observability import logger

    saved = 0
    while not stop.wait(1):
        writes = door.writes
        if writes == saved or time.monotonic() - door.last_request_at < QUIET_SECONDS:
            continue
        try:
            if _queued(queue_url) == 0:
                snapshot.save()
                saved = writes
        except Exception:
            logger.exception("state snapshot failed; retried after the next change")
            saved = writes


def _banner(settings: Any, dev: Mapping[str, Any], restored: int) -> str:
    endpoint = dev["proxy_endpoint"]
    return f"""
Codecosts is running on {settings.base_url}  ({restored} stored items restored)

  API key:        {dev["api_key"]}
  Proxy endpoint: {endpoint["name"]} ({endpoint["id"]})
  Dashboard:      {settings.base_url}/  (sign in with the API key)

Point Claude Code or the Anthropic SDK at it:

  export ANTHROPIC_BASE_URL={endpoint["url"]}

See what it recorded:

  curl -H "Authorization: Bearer {dev["api_key"]}" {settings.base_url}/api/usage

(also in {STATE_ROOT / "dev.json"}; Ctrl-C stops, `make dev-reset` starts afresh)
"""


async def _serve(door: FrontDoor, port: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await door.serve(port, stop)


def main() -> None:
    from functions.proxy.upstream import forward_proxy_refusal
    from shared.settings import get_settings

    # `kill -USR1 <pid>` prints where each thread is: for a stack that does not stop or answer.
    faulthandler.register(signal.SIGUSR1, all_threads=True)

    # The proxy's process is given the template's environment, not this shell's: the shell's forward
    # proxy would never reach it, so the refusal the proxy makes at start-up is made here.
    refusal = forward_proxy_refusal(get_settings().upstream_url)
    if refusal:
        sys.exit(refusal)
    # Before the rehearsal's first client: a developer's profile (or one that is missing) and session
    # token never apply to the local AWS.
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        os.environ.pop(name, None)
    STATE_ROOT.mkdir(exist_ok=True)
    # The rehearsal stores it as the server secret that the functions fetch from Secrets Manager: the
    # same value on every start, so the API keys saved in .codecosts/ keep working.
    os.environ["CODECOSTS_SERVER_SECRET"] = _server_secret()
    moto_port = free_port()
    endpoint_url = f"http://127.0.0.1:{moto_port}"
    python = sys.executable
    moto = Child(
        "moto", [python, "-m", "devstack.moto_server", str(moto_port)], base_environment(), moto_port
    )
    functions: list[Child | AdaptedFunction] = []
    pollers: list[Child] = []
    snapshot: StateSnapshot | None = None
    saving = threading.Event()
    try:
        moto.wait_until_listening()
        rehearsal = rehearse(endpoint_url, overrides=_overrides())
        _use_operator_access(rehearsal, endpoint_url)
        _write_local_aws(rehearsal, endpoint_url)

        def environment(name: str) -> dict[str, str]:
            return _function_environment(rehearsal, name, endpoint_url)

        def child_environment(name: str) -> dict[str, str]:
            """For the functions not started through the adapter, which inherits nothing itself."""
            return {**base_environment(), **environment(name)}

        api_port = free_port()
        uvicorn_args = [
            "--host",
            "127.0.0.1",
            "--port",
            str(api_port),
            "--no-access-log",
            "--no-server-header",
        ]
        api = Child(
            "api",
            [python, "-m", "uvicorn", "functions.api.app:app", *uvicorn_args],
            child_environment("api"),
            api_port,
        )
        pollers = [
            Child(
                "usage_ingest",
                [
                    python,
                    "-m",
                    "devstack.poller",
                    rehearsal.usage_queue_url,
                    *rehearsal.event_source.arguments(),
                ],
                child_environment("usage_ingest"),
            )
            for _ in range(rehearsal.event_source.max_concurrency)
        ]
        proxy = AdaptedFunction("proxy", ROOT / "functions/proxy/run.sh", environment("proxy"))
        export = AdaptedFunction("usage_export", ROOT / "functions/api/run.sh", environment("usage_export"))
        # The bill check's daily sync (devstack/reconcile_timer.py), as the reconcile function.
        reconcile = Child(
            "reconcile", [python, "-m", "devstack.reconcile_timer"], child_environment("reconcile")
        )
        functions = [api, proxy, export, reconcile]

        get_settings.cache_clear()
        settings = get_settings()
        # The snapshot keeps stored admin keys readable under the new local KMS key moto makes each start.
        snapshot = StateSnapshot(
            STATE_ROOT / "state",
            endpoint_url,
            rehearsal.table_name,
            rehearsal.bodies_bucket,
            settings.admin_key_kms_key,
        )
        # The snapshot loads while the functions start, from this thread: on Linux the children it
        # started stop when the thread that started them ends (processes.py).
        with ThreadPoolExecutor(1) as pool:
            loaded = pool.submit(snapshot.load)
            for adapted in (proxy, export):
                adapted.start()
            restored = loaded.result()
        dev = _bootstrap(settings)
        api.wait_until_listening()

        door = FrontDoor(
            Routes(
                proxy=Function("proxy", _port(proxy.url), "function_url"),
                api=Function("api", api_port, "rest_api"),
                export=Function("usage_export", _port(export.url), "rest_api"),
            )
        )
        saver = threading.Thread(
            target=_save_when_settled,
            args=(door, snapshot, rehearsal.usage_queue_url, saving),
            name="state-snapshot",
            daemon=True,
        )
        saver.start()
        print(_banner(settings, dev, restored), flush=True)
        import uvloop

        uvloop.run(_serve(door, settings.port))
    except KeyboardInterrupt:
        pass  # Ctrl-C while starting: stop what has started
    finally:
        saving.set()
        # Together: each may take up to 10 s to stop, and Ctrl-C waits for the slowest, not the sum.
        if functions:
            with ThreadPoolExecutor(len(functions)) as pool:
                list(pool.map(lambda function: function.stop(), functions))
        for poller in pollers:
            poller.popen.terminate()  # each ingests what is still queued first, all at once
        for poller in pollers:
            poller.stop(timeout=60)
        if snapshot is not None and moto.popen.poll() is None:
            snapshot.save()
        moto.stop()
    print("Codecosts stopped; recorded usage kept in .codecosts/", flush=True)


if __name__ == "__main__":
    main()
