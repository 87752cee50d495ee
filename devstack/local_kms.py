"""Keeps the local admin-key KMS key the same across `make dev` restarts.

moto makes a new key (id and material) every time the local stack starts, and the state snapshot
keeps the table, not moto's KMS: without this, admin keys stored before a restart would no longer
decrypt (a ciphertext names its key). The key's id and material are kept in `.codecosts/` (0600, like
the server secret) and put back into the in-process moto server's key: this reaches into moto's
backend, which works only because `make dev` runs moto in this process, and is for `make dev` alone.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import boto3
from moto.core import DEFAULT_ACCOUNT_ID
from moto.kms.models import kms_backends

from shared.resources import ADMIN_KEY_KMS_ALIAS


def keep_admin_key_material(state_root: Path, region: str = "us-east-1") -> None:
    created = boto3.client("kms", region_name=region).describe_key(KeyId=ADMIN_KEY_KMS_ALIAS)["KeyMetadata"]
    backend = kms_backends[DEFAULT_ACCOUNT_ID][region]
    key = backend.keys[created["KeyId"]]
    path = state_root / "admin-key-kms.json"
    if not path.exists():
        path.write_text(
            json.dumps({"key_id": key.id, "material": base64.b64encode(key.key_material).decode()})
        )
        path.chmod(0o600)
        return
    kept = json.loads(path.read_text())
    key.key_material = base64.b64decode(kept["material"])
    if kept["key_id"] != key.id:
        backend.keys[kept["key_id"]] = backend.keys.pop(key.id)
        key.arn = key.arn.replace(key.id, kept["key_id"])
        key.id = kept["key_id"]
