"""Keeps what `make dev` recorded across restarts: moto holds everything in memory, so the table and
the bodies bucket are written to `.codecosts/state/` (after changes and on exit) and loaded at start.
The table goes through devstack's moto server's own route (devstack/moto_server.py), which reads
and writes the items inside moto; the bucket's objects through S3.

Tenants' Anthropic admin keys are KMS ciphertext in the table, and moto makes a new KMS key (new
material) on each start, which nothing outside moto's process can set. So the snapshot keeps the
admin keys themselves in `admin-keys.json` (0600, as the local server secret is kept) and encrypts
them again under the new key when it loads.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import boto3
import httpx
from botocore.exceptions import ClientError

from devstack.moto_server import TABLES_PATH
from shared.observability import logger
from shared.store.bill import AdminKeyStore


class StateSnapshot:
    def __init__(
        self, folder: Path, endpoint_url: str, table_name: str, bucket: str, admin_key_kms_key: str
    ) -> None:
        self.folder = folder
        self.table_url = f"{endpoint_url}{TABLES_PATH}{table_name}"
        self.bucket = bucket
        self._admin_keys = AdminKeyStore(table_name, admin_key_kms_key)
        self._s3 = boto3.client("s3", endpoint_url=endpoint_url)

    @property
    def _items_file(self) -> Path:
        return self.folder / "table.jsonl"

    @property
    def _objects_folder(self) -> Path:
        return self.folder / "bodies"

    @property
    def _admin_keys_file(self) -> Path:
        return self.folder / "admin-keys.json"

    def save(self) -> int:
        """Writes the whole table and bucket; replaces the previous snapshot atomically. Returns items."""
        staging = self.folder.with_name(self.folder.name + ".new")
        shutil.rmtree(staging, ignore_errors=True)
        (staging / "bodies").mkdir(parents=True)
        count = 0
        with (
            (staging / "table.jsonl").open("wb") as out,
            httpx.stream("GET", self.table_url, timeout=600) as reply,
        ):
            reply.raise_for_status()
            for chunk in reply.iter_bytes():
                out.write(chunk)
                count += chunk.count(b"\n")
        for listing in self._s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket):
            for entry in listing.get("Contents", []):
                target = staging / "bodies" / entry["Key"]
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(self._s3.get_object(Bucket=self.bucket, Key=entry["Key"])["Body"].read())
        self._save_admin_keys(staging / self._admin_keys_file.name)
        previous = self.folder.with_name(self.folder.name + ".old")
        shutil.rmtree(previous, ignore_errors=True)
        if self.folder.exists():
            os.replace(self.folder, previous)
        os.replace(staging, self.folder)
        shutil.rmtree(previous, ignore_errors=True)
        return count

    def load(self) -> int:
        """Puts a saved snapshot back into the (empty) embedded AWS. Returns items loaded."""
        if not self._items_file.exists():
            return 0
        with self._items_file.open("rb") as items:
            reply = httpx.put(self.table_url, content=items, timeout=600)
        reply.raise_for_status()
        count = int(reply.text)
        for path in self._objects_folder.rglob("*"):
            if path.is_file():
                key = path.relative_to(self._objects_folder).as_posix()
                self._s3.put_object(Bucket=self.bucket, Key=key, Body=path.read_bytes())
        if self._admin_keys_file.exists():
            for tenant_id, admin_key in json.loads(self._admin_keys_file.read_text()).items():
                self._admin_keys.reseal(tenant_id, admin_key)
        return count

    def _save_admin_keys(self, path: Path) -> None:
        kept = {}
        for tenant_id in self._admin_keys.tenants():
            try:
                kept[tenant_id] = self._admin_keys.secret(tenant_id)
            except ClientError:  # sealed by a key no longer here (a snapshot without this file): lost
                logger.warning("Stored admin key no longer decrypts", extra={"tenant_id": tenant_id})
        # Created 0600, before anything is written to it.
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as out:
            json.dump(kept, out)
