"""`GET /api/usage/export.csv`: every record `/api/usage` would list, one CSV row per call, streamed.

The rows are written as DynamoDB pages arrive (a few hundred records at a time), so memory stays at
one page whatever the number of rows. Filters are checked before the first byte: a bad one is an
ordinary 400. Mounted before `routes/usage.py`, whose `/usage/{usage_id}` would take `export.csv`.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from functions.api.deps import CurrentPrincipal, Usage
from functions.api.errors import error_responses
from functions.api.routes.usage import (
    CredentialFilter,
    EndpointFilter,
    From,
    ModelFilter,
    SessionFilter,
    To,
    usage_query,
    usage_view,
)
from shared.store.usage_records import PUBLIC_FIELDS, UsageQuery, UsageStore

router = APIRouter(prefix="/usage", tags=["usage"], responses=error_responses(400, 401, 500))

COLUMNS = PUBLIC_FIELDS
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
    for item in store.iterate(query, page_size=page_size):
        record = usage_view(item)
        writer.writerow([_cell(record[name]) for name in COLUMNS])
        pending += 1
        if pending >= page_size:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            pending = 0
    yield buffer.getvalue()


@router.get(
    "/export.csv",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}, "description": "One row per call, newest first"}},
)
def export_usage_csv(
    principal: CurrentPrincipal,
    usage: Usage,
    model: ModelFilter = None,
    start: From = None,
    end: To = None,
    proxy_endpoint_id: EndpointFilter = None,
    api_key_id: CredentialFilter = None,
    session_id: SessionFilter = None,
) -> StreamingResponse:
    """The records `/api/usage` lists with the same filters, all of them (no paging), as CSV: the
    record fields as columns, in the order of the API's record, bodies left out."""
    query = usage_query(principal.tenant_id, model, start, end, proxy_endpoint_id, api_key_id, session_id)
    return StreamingResponse(
        csv_rows(usage, query, PAGE_SIZE),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="codecosts-usage.csv"'},
    )
