"""`make dev` keeps what it recorded across restarts, stored admin keys included: moto makes a new
local KMS key each start, and an admin key set before a restart still reaches Anthropic after it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from devstack.rehearsal import Rehearsal, rehearse
from devstack.state import StateSnapshot
from shared import aws as shared_aws
from shared.resources import ADMIN_KEY_KMS_ALIAS
from shared.store.bill import AdminKeyStore
from tests.conftest import reset_rehearsed_services

ADMIN_KEY = "sk-ant-admin01-localRestartKey0000000000000000-Rstr"


def _key_arn() -> str:
    arn: str = shared_aws.kms().describe_key(KeyId=ADMIN_KEY_KMS_ALIAS)["KeyMetadata"]["Arn"]
    return arn


def test_an_admin_key_stored_before_a_restart_decrypts_after_it(
    aws: Rehearsal, moto_endpoint: str, stack_template: dict[str, Any], tmp_path: Path
) -> None:
    store = AdminKeyStore(aws.table_name, ADMIN_KEY_KMS_ALIAS)
    with shared_aws.running_as("api"):
        set_before = store.put("tenant_a", ADMIN_KEY)
    snapshot = StateSnapshot(tmp_path / "state", aws.table_name, aws.bodies_bucket, ADMIN_KEY_KMS_ALIAS)
    snapshot.save()
    kept = tmp_path / "state" / "admin-keys.json"
    assert kept.stat().st_mode & 0o777 == 0o600
    assert ADMIN_KEY not in (tmp_path / "state" / "table.jsonl").read_text()
    key_before = _key_arn()

    # A restart: moto starts with no data and no keys; the rehearsal makes a new KMS key.
    reset_rehearsed_services()
    rehearse(moto_endpoint, template=stack_template)
    assert _key_arn() != key_before
    assert snapshot.load() > 0

    with shared_aws.running_as("reconcile"):
        assert store.secret("tenant_a") == ADMIN_KEY
    assert store.status("tenant_a") == set_before  # its hint and the time it was set, unchanged
