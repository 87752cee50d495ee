"""`GET /api/usage/export.csv`: every record `/api/usage` would list, one CSV row per call, streamed.

The rows are written as DynamoDB pages arrive (a few hundred records at a time), so memory stays at
one page whatever the number of rows. Filters are checked before the first byte: a bad one is an
ordinary 400. Mounted before `routes/usage.py`, whose `/usage/{usage_id}` would take `export.csv`.

Gzipped (`Content-Encoding: gzip`) when the client accepts it, page by page, each page flushed so it
reaches the client at once: CSV shrinks about tenfold, and in AWS, where this route streams through
API Gateway from its own function, a Lambda streamed response stops at 200 MB (docs/api.md).
"""

from __future__ import annotations

import csv
import io
import json
import zlib
from collections.abc import Iterable, Iterator
from typing import Any

from fastapi import APIRouter, Header
from fastapi.responses import StreamingResponse

from functions.api.deps import Usage
from functions.api.filters import UsageFilters
from shared.store.usage_records import UsageQuery, UsageStore
from shared.usage_record import record_view, shown_fields

router = APIRouter(prefix="/usage", tags=["usage"])

COLUMNS = tuple(field.name for field in shown_fields("list"))  # the list's record fields, in order
PAGE_SIZE = 1000  # DynamoDB returns at most 1 MB a page anyway
# Text a spreadsheet would run as a formula (CSV injection); such cells get a leading apostrophe.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def csv_rows(store: UsageStore, query: UsageQuery, page_size: int = PAGE_SIZE) -> Iterator[str]:
    """The header, then one chunk of rows per DynamoDB page, newest call first."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    pending = 0
    for record in store.iterate(query, page_size=page_size):
        writer.writerow([_cell(value) for value in record_view(record).values()])
        pending += 1
        if pending >= page_size:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            pending = 0
    yield buffer.getvalue()


def accepts_gzip(accept_encoding: str | None) -> bool:
    """Whether `Accept-Encoding` allows gzip (RFC 9110: a `q` of 0 refuses it; `*` stands for it)."""
    allowed: dict[str, bool] = {}
    for entry in (accept_encoding or "").split(","):
        coding, _, params = entry.strip().partition(";")
        quality = 1.0
        name, _, value = params.strip().partition("=")
        if name.strip().lower() == "q":
            try:
                quality = float(value)
            except ValueError:
                quality = 0.0
        allowed[coding.strip().lower()] = quality > 0
    return allowed.get("gzip", allowed.get("x-gzip", allowed.get("*", False)))


def gzipped(chunks: Iterable[str]) -> Iterator[bytes]:
    """The chunks as one gzip stream; each chunk flushed whole, so the client reads it as it comes."""
    compressor = zlib.compressobj(6, zlib.DEFLATED, 31)  # wbits 31: the gzip container
    for chunk in chunks:
        yield compressor.compress(chunk.encode()) + compressor.flush(zlib.Z_SYNC_FLUSH)
    yield compressor.flush()


@router.get(
    "/export.csv",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}, "description": "One row per call, newest first"}},
)
def export_usage_csv(
    usage: Usage,
    query: UsageFilters,
    accept_encoding: str | None = Header(default=None, include_in_schema=False),
) -> StreamingResponse:
    """The records `/api/usage` lists with the same filters, all of them (no paging), as CSV: the
    record fields as columns, in the order of the API's record, bodies left out. Gzipped when the
    request's `Accept-Encoding` allows it."""
    rows = csv_rows(usage, query, PAGE_SIZE)
    headers = {"Content-Disposition": 'attachment; filename="codecosts-usage.csv"', "Vary": "Accept-Encoding"}
    if accepts_gzip(accept_encoding):
        headers["Content-Encoding"] = "gzip"
        return StreamingResponse(gzipped(rows), media_type="text/csv; charset=utf-8", headers=headers)
    return StreamingResponse(rows, media_type="text/csv; charset=utf-8", headers=headers)
