"""`make dev` keeps what it recorded across restarts, stored admin keys included: moto makes a new
local KMS key each start, and an admin key set before a restart still reaches Anthropic after it.

Run against devstack's own moto server process (the snapshot reads the table through its route),
stopped and started again as `make dev` does."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest

from devstack.rehearsal import Rehearsal, rehearse
from devstack.state import StateSnapshot
from shared import aws as shared_aws
from shared.resources import ADMIN_KEY_KMS_ALIAS
from shared.store.bill import AdminKeyStore
from tests.conftest import free_port

ADMIN_KEY = "sk-ant-admin01-localRestartKey0000000000000000-Rstr"


@contextmanager
def devstack_moto(port: int) -> Iterator[str]:
    """devstack/moto_server.py in its own process, as `make dev` starts it."""
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen([sys.executable, "-m", "devstack.moto_server", str(port)])
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, "devstack's moto server exited"
            try:
                httpx.get(f"{url}/moto-api/data.json", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "devstack's moto server did not start"
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def as_make_dev(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """`rehearsed(url)`: this process then signs as make dev's operator against that moto, and each
    function's clients as that function, as the `aws` fixture does against the tests' own moto."""

    def rehearsed(url: str, template: dict[str, Any]) -> Rehearsal:
        monkeypatch.setenv("AWS_ENDPOINT_URL", url)
        rehearsal = rehearse(url, template=template)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", rehearsal.operator_access_key_id)
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", rehearsal.operator_secret_access_key)
        # boto3's default session keeps the credentials it first found: a new operator needs a new one.
        boto3.DEFAULT_SESSION = None
        shared_aws.use_function_credentials(rehearsal.function_credentials())
        return rehearsal

    yield rehearsed
    # Clients and credentials made here are for a server that is gone: the next test makes new ones.
    boto3.DEFAULT_SESSION = None
    shared_aws.use_function_credentials({})


def _snapshot(tmp_path: Path, url: str, aws: Rehearsal) -> StateSnapshot:
    return StateSnapshot(tmp_path / "state", url, aws.table_name, aws.bodies_bucket, ADMIN_KEY_KMS_ALIAS)


def _key_arn() -> str:
    arn: str = shared_aws.kms().describe_key(KeyId=ADMIN_KEY_KMS_ALIAS)["KeyMetadata"]["Arn"]
    return arn


def test_an_admin_key_stored_before_a_restart_decrypts_after_it(
    as_make_dev: Any, stack_template: dict[str, Any], tmp_path: Path
) -> None:
    with devstack_moto(free_port()) as url:
        aws = as_make_dev(url, stack_template)
        store = AdminKeyStore(aws.table_name, ADMIN_KEY_KMS_ALIAS)
        with shared_aws.running_as("api"):
            set_before = store.put("tenant_a", ADMIN_KEY)
        snapshot = _snapshot(tmp_path, url, aws)
        assert snapshot.save() > 0
        key_before = _key_arn()
    kept = tmp_path / "state" / "admin-keys.json"
    assert kept.stat().st_mode & 0o777 == 0o600
    assert ADMIN_KEY not in (tmp_path / "state" / "table.jsonl").read_text()

    # A restart: a new moto process (on a new port, as make dev picks one) with no data and no keys;
    # the rehearsal makes a new KMS key.
    with devstack_moto(free_port()) as url:
        aws = as_make_dev(url, stack_template)
        assert _key_arn() != key_before
        snapshot = _snapshot(tmp_path, url, aws)
        assert snapshot.load() > 0
        store = AdminKeyStore(aws.table_name, ADMIN_KEY_KMS_ALIAS)
        with shared_aws.running_as("reconcile"):
            assert store.secret("tenant_a") == ADMIN_KEY
        assert store.status("tenant_a") == set_before  # its hint and the time it was set, unchanged
