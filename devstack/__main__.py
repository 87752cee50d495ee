"""`make dev`: the whole Codecosts stack on one machine.

Embedded AWS (moto) rehearsing the CDK stack's synthesized template (devstack/rehearsal.py), IAM
enforced; the proxy and the API on one port; the ingest handler fed from the queue as Lambda would
be; a bootstrap user, API key and proxy endpoint written to `.codecosts/dev.json`. Ctrl-C stops it;
what was recorded is kept.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import sys
import threading
from pathlib import Path
from typing import Any

STATE_ROOT = Path(".codecosts")
DEV_USER_ID = "user_dev"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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


def main() -> None:
    STATE_ROOT.mkdir(exist_ok=True)
    moto_port = _free_port()
    # Everything AWS goes to the embedded moto server: never to a real account by accident.
    os.environ.update(
        {
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{moto_port}",
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_DEFAULT_REGION": "us-east-1",
            "CODECOSTS_SERVER_SECRET": _server_secret(),
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_DISABLED": "true",
            "POWERTOOLS_LOG_LEVEL": os.environ.get("POWERTOOLS_LOG_LEVEL", "WARNING"),
        }
    )
    os.environ.pop("AWS_PROFILE", None)
    os.environ.pop("AWS_SESSION_TOKEN", None)

    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's per-request access log

    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=moto_port, verbose=False)
    moto.start()

    import uvicorn

    from devstack.poller import QueuePoller
    from devstack.reconcile_timer import ReconcileTimer
    from devstack.rehearsal import rehearse
    from devstack.server import create_local_app
    from devstack.state import StateSnapshot
    from functions.usage_ingest.handler import handler as ingest_handler
    from shared import aws
    from shared.settings import get_settings

    # The deployment's resources and roles, IAM enforced. This process (bootstrap, snapshots) is the
    # operator; the proxy, the API and the ingest each sign as their own function (shared.aws).
    resources = rehearse(os.environ["AWS_ENDPOINT_URL"])
    os.environ["AWS_ACCESS_KEY_ID"] = resources.operator_access_key_id
    os.environ["AWS_SECRET_ACCESS_KEY"] = resources.operator_secret_access_key
    aws.use_function_credentials(resources.function_credentials())
    os.environ["CODECOSTS_USAGE_QUEUE_URL"] = resources.usage_queue_url
    os.environ["CODECOSTS_DEAD_LETTER_QUEUE_URL"] = resources.dead_letter_queue_url
    get_settings.cache_clear()
    settings = get_settings()
    from functions.proxy.upstream import forward_proxy_refusal

    # The local app's lifespan is the API's: the proxy's start-up refusal is made here.
    refusal = forward_proxy_refusal(settings.upstream_url)
    if refusal:
        moto.stop()
        sys.exit(refusal)

    # The snapshot keeps stored admin keys readable under the new local KMS key moto makes each start.
    snapshot = StateSnapshot(
        STATE_ROOT / "state", resources.table_name, resources.bodies_bucket, settings.admin_key_kms_key
    )
    restored = snapshot.load()
    dev = _bootstrap(settings)

    poller = QueuePoller(resources.usage_queue_url, ingest_handler)
    poller.start()
    ReconcileTimer().start()  # the bill check's daily sync (devstack/reconcile_timer.py)

    dirty = threading.Event()
    stop_saving = threading.Event()
    last_processed = 0

    def save_when_changed() -> None:
        nonlocal last_processed
        while not stop_saving.wait(10):
            if dirty.is_set() or poller.processed != last_processed:
                dirty.clear()
                last_processed = poller.processed
                snapshot.save()

    saver = threading.Thread(target=save_when_changed, name="state-snapshot", daemon=True)
    saver.start()

    endpoint = dev["proxy_endpoint"]
    print(
        f"""
Codecosts is running on {settings.base_url}  ({restored} stored items restored)

  API key:        {dev["api_key"]}
  Proxy endpoint: {endpoint["name"]} ({endpoint["id"]})
  Dashboard:      {settings.base_url}/  (sign in with the API key)

Point Claude Code or the Anthropic SDK at it:

  export ANTHROPIC_BASE_URL={endpoint["url"]}

See what it recorded:

  curl -H "Authorization: Bearer {dev["api_key"]}" {settings.base_url}/api/usage

(also in {STATE_ROOT / "dev.json"}; Ctrl-C stops, `make dev-reset` starts afresh)
""",
        flush=True,
    )

    app = create_local_app(settings, on_write=dirty.set)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=settings.port, log_level="warning", lifespan="on")
    )
    try:
        server.run()
    except KeyboardInterrupt:
        pass  # uvicorn re-raises Ctrl-C once it has shut down; stopping is what was asked for
    finally:
        stop_saving.set()
        poller.stop()
        poller.drain()
        snapshot.save()
        moto.stop()
        print("Codecosts stopped; recorded usage kept in .codecosts/", flush=True)


if __name__ == "__main__":
    main()
