"""Keeps what `make dev` recorded across restarts: moto holds everything in memory, so the table and
the bodies bucket are written to `.codecosts/state/` (after changes and on exit) and loaded at start.
The table goes through devstack's moto server's own route (devstack/moto_server.py), which reads
and writes the items inside moto; the bucket's objects through S3.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import boto3
import httpx

from devstack.moto_server import TABLES_PATH


class StateSnapshot:
    def __init__(self, folder: Path, endpoint_url: str, table_name: str, bucket: str) -> None:
        self.folder = folder
        self.table_url = f"{endpoint_url}{TABLES_PATH}{table_name}"
        self.bucket = bucket
        self._s3 = boto3.client("s3", endpoint_url=endpoint_url)

    @property
    def _items_file(self) -> Path:
        return self.folder / "table.jsonl"

    @property
    def _objects_folder(self) -> Path:
        return self.folder / "bodies"

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
        return count
