"""`make dev` keeps its admin-key KMS key across restarts, so a stored admin key still decrypts."""

from __future__ import annotations

from pathlib import Path

import boto3
import requests

from devstack.local_kms import keep_admin_key_material
from devstack.resources import create_resources
from shared.settings import get_settings
from shared.store.bill import AdminKeyStore
from shared.store.layout import anthropic_admin_key_sk, tenant_pk

ADMIN_KEY = "sk-ant-admin01-localRestartKey0000000000000000-Rstr"


def test_an_admin_key_stored_before_a_restart_decrypts_after_it(
    aws: object, moto_endpoint: str, tmp_path: Path
) -> None:
    settings = get_settings()
    keep_admin_key_material(tmp_path)
    store = AdminKeyStore(settings.table_name, settings.admin_key_kms_key)
    store.put("tenant_a", ADMIN_KEY)
    table = boto3.resource("dynamodb").Table(settings.table_name)
    saved = table.get_item(Key={"pk": tenant_pk("tenant_a"), "sk": anthropic_admin_key_sk()})["Item"]

    # A restart: moto starts empty and makes a new key; the snapshot puts the table back.
    requests.post(f"{moto_endpoint}/moto-api/reset", timeout=10)
    create_resources(moto_endpoint)
    keep_admin_key_material(tmp_path)
    table.put_item(Item=saved)

    assert AdminKeyStore(settings.table_name, settings.admin_key_kms_key).secret("tenant_a") == ADMIN_KEY
    assert (tmp_path / "admin-key-kms.json").stat().st_mode & 0o777 == 0o600
