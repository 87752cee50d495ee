"""Where a call's bodies live in the bucket, and writing, reading and deleting them.

Keys, under the bucket's bodies prefix:
- `<tenant>/calls/<usage id>`: one call's bodies (codec.pack), compressed against the base it names
  (the key follows from the record: the record keeps no key, only until when its bodies are kept);
- `<tenant>/bases/<name>`: a session's base, the request of the call that started it (zstd). Its
  name, `<usage id>.<size>.<days>`, says what deciding whether to reuse it needs: when it was made
  (the id), its size, and the retention it was tagged with; records name the base they use.

Writing a call costs two S3 requests at most: a GET of the session's base and the call's PUT, or,
when a new base starts, its PUT and the call's. A read costs the same two GETs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Final

from shared import aws
from shared.bodies import codec
from shared.bodies.retention import tagging
from shared.ids import moment_of

# A base serves a session's later calls for this long (its objects outlive it by a day: retention.py).
BASE_REUSE_HOURS: Final = 24
# A new base starts when the request has grown to this many times the base: what is new since the
# base is what each frame stores, so a base that is too old costs every later call.
BASE_GROWTH: Final = 1.25
_DELETE_BATCH = 1000  # S3 DeleteObjects' limit


@dataclass(frozen=True)
class BaseName:
    usage_id: str
    size: int
    days: int

    def __str__(self) -> str:
        return f"{self.usage_id}.{self.size}.{self.days}"

    @classmethod
    def parse(cls, name: str) -> BaseName | None:
        usage_id, _, rest = name.partition(".")
        size, _, days = rest.partition(".")
        if not (size.isdigit() and days.isdigit()):
            return None
        return cls(usage_id, int(size), int(days))


class BodyStore:
    def __init__(self, bucket: str, prefix: str, s3: Any = None) -> None:
        self.bucket = bucket
        self.prefix = prefix
        self._s3 = s3

    @property
    def s3(self) -> Any:
        if self._s3 is None:
            self._s3 = aws.s3()
        return self._s3

    def call_key(self, tenant_id: str, usage_id: str) -> str:
        return f"{self.prefix}{tenant_id}/calls/{usage_id}"

    def base_key(self, tenant_id: str, base: str) -> str:
        return f"{self.prefix}{tenant_id}/bases/{base}"

    def put_call(self, tenant_id: str, usage_id: str, blob: bytes, days: int) -> str:
        key = self.call_key(tenant_id, usage_id)
        self._put(key, blob, days)
        return key

    def _put(self, key: str, blob: bytes, days: int) -> None:
        self.s3.put_object(
            Bucket=self.bucket,
            Key=key,
            Body=blob,
            ContentType="application/octet-stream",
            Tagging=tagging(days),
        )

    def _get(self, key: str) -> bytes | None:
        try:
            return bytes(self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read())
        except self.s3.exceptions.NoSuchKey:
            return None

    def keep(
        self,
        tenant_id: str,
        usage_id: str,
        days: int,
        request: bytes | None,
        response: bytes | None,
        *,
        in_session: bool,
        previous_base: str | None = None,
    ) -> str | None:
        """Stores a call's bodies; returns the name of the base they were compressed against. A call
        of a session is compressed against `previous_base` (the base of the session's latest call)
        while it fits, else starts a new base; any other call stands alone."""
        if not in_session or request is None:
            self._keep(tenant_id, usage_id, days, request, response, None, None)
            return None
        if previous_base is not None and self._reusable(previous_base, usage_id, len(request), days):
            stored = self._get(self.base_key(tenant_id, previous_base))
            if stored is not None:
                base = codec.decompress(stored)
                self._keep(tenant_id, usage_id, days, request, response, previous_base, base)
                return previous_base
        name = str(BaseName(usage_id, len(request), days))
        self._put(self.base_key(tenant_id, name), codec.compress(request), days)
        self._keep(tenant_id, usage_id, days, request, response, name, request)
        return name

    def _keep(
        self,
        tenant_id: str,
        usage_id: str,
        days: int,
        request: bytes | None,
        response: bytes | None,
        base_name: str | None,
        base: bytes | None,
    ) -> None:
        base_key = self.base_key(tenant_id, base_name) if base_name else None
        self.put_call(tenant_id, usage_id, codec.pack(request, response, base_key, base), days)

    @staticmethod
    def _reusable(base_name: str, usage_id: str, request_size: int, days: int) -> bool:
        name = BaseName.parse(base_name)
        if name is None or name.days != days:
            return False
        age = moment_of(usage_id) - moment_of(name.usage_id)
        fresh = timedelta(0) <= age <= timedelta(hours=BASE_REUSE_HOURS)
        return fresh and name.size <= request_size <= name.size * BASE_GROWTH

    def read(self, tenant_id: str, usage_id: str) -> tuple[bytes | None, bytes | None] | None:
        """A call's request and response bodies; None when its object (or its base) is gone."""
        blob = self._get(self.call_key(tenant_id, usage_id))
        if blob is None:
            return None
        base_key = codec.base_of(blob)
        base = None
        if base_key is not None:
            stored = self._get(base_key)
            if stored is None:
                return None
            base = codec.decompress(stored)
        return codec.unpack(blob, base)

    def delete(self, keys: Iterable[str]) -> None:
        batch: list[str] = []
        for key in keys:
            batch.append(key)
            if len(batch) == _DELETE_BATCH:
                self._delete(batch)
                batch = []
        if batch:
            self._delete(batch)

    def _delete(self, keys: list[str]) -> None:
        response = self.s3.delete_objects(
            Bucket=self.bucket, Delete={"Objects": [{"Key": key} for key in keys], "Quiet": True}
        )
        if response.get("Errors"):
            error = response["Errors"][0]
            raise RuntimeError(f"S3 kept {len(response['Errors'])} body objects: {error.get('Code')}")
