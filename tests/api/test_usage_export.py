"""`GET /api/usage/export.csv`: the list's filters, one row per call, streamed with bounded memory."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from devstack.rehearsal import Rehearsal
from functions.api.routes.usage_export import COLUMNS as PUBLIC_FIELDS
from shared.ids import new_id
from shared.models import Principal
from shared.settings import Settings, get_settings
from shared.store import layout
from shared.store.api_keys import ApiKeyStore
from shared.timefmt import format_timestamp
from tests.conftest import free_port

T0 = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
EP1 = "01JP0000000000000000000001"
EP2 = "01JP0000000000000000000002"
WriteUsage = Callable[..., dict[str, Any]]


def _rows(response: httpx.Response) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(response.text)))


def test_export_has_every_record_field_and_the_lists_filters(
    client: TestClient, alice: dict[str, str], bob: dict[str, str], write_usage: WriteUsage
) -> None:
    first = write_usage("user_alice", EP1, T0, model="claude-opus-4-6", session_id="s-1", agent="main")
    second = write_usage(
        "user_alice",
        EP2,
        T0 + timedelta(hours=1),
        cost_cents=None,
        server_tool_use={"web_search_requests": 2},
    )
    write_usage("user_bob", EP1, T0)
    response = client.get("/api/usage/export.csv", headers=alice)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == 'attachment; filename="codecosts-usage.csv"'
    assert response.text.splitlines()[0] == ",".join(PUBLIC_FIELDS)
    rows = _rows(response)
    assert [row["id"] for row in rows] == [second["id"], first["id"]]  # newest first, as the list
    newest, oldest = rows
    assert newest["cost_cents"] == "" and newest["cost_unknown"] == "true"
    assert newest["server_tool_use"] == '{"web_search_requests":2}'
    assert oldest["cost_cents"] == "1.500000" and oldest["requested_at"] == "2026-03-10T12:00:00.000Z"
    assert (oldest["session_id"], oldest["agent"]) == ("s-1", "main")

    # The rows are those `/api/usage` lists with the same filters.
    for params in (
        {"model": "claude-opus"},
        {"proxy_endpoint_id": EP2},
        {"session_id": "s-1"},
        {"from": "2026-03-10T12:30:00Z"},
        {"to": "2026-03-10T12:30:00Z"},
        {"api_key_id": "0123456789abcdef", "proxy_endpoint_id": EP1},
    ):
        listed = client.get("/api/usage", params=params, headers=alice).json()["items"]
        exported = _rows(client.get("/api/usage/export.csv", params=params, headers=alice))
        assert [row["id"] for row in exported] == [item["id"] for item in listed], params
    assert len(_rows(client.get("/api/usage/export.csv", headers=bob))) == 1


def test_export_refuses_bad_filters_before_streaming_and_needs_auth(
    client: TestClient, alice: dict[str, str]
) -> None:
    bad = client.get("/api/usage/export.csv", params={"api_key_id": "nope"}, headers=alice)
    assert bad.status_code == 400 and bad.json()["details"][0]["field"] == "api_key_id"
    reversed_range = client.get(
        "/api/usage/export.csv", params={"from": "2026-03-02", "to": "2026-03-01"}, headers=alice
    )
    assert reversed_range.status_code == 400
    assert client.get("/api/usage/export.csv").status_code == 401
    # Not taken for a record id by `/api/usage/{id}`; an empty export is just the header.
    empty = client.get("/api/usage/export.csv", headers=alice)
    assert empty.status_code == 200 and empty.text == ",".join(PUBLIC_FIELDS) + "\r\n"


def test_export_neutralises_spreadsheet_formulas(
    client: TestClient, alice: dict[str, str], write_usage: WriteUsage
) -> None:
    write_usage("user_alice", EP1, T0, model='=HYPERLINK("http://evil")', stop_reason="+1")
    [row] = _rows(client.get("/api/usage/export.csv", headers=alice))
    assert row["model"] == '\'=HYPERLINK("http://evil")' and row["stop_reason"] == "'+1"


def seed_records(api_settings: Settings, tenant: str, count: int) -> None:
    """`count` lean records put straight into the embedded DynamoDB's in-process backend.

    Moto answers a query at several milliseconds per item and attribute (its response serializer),
    and a batch write costs about as much: through its HTTP interface 100,000 full records would
    take many minutes. The records here carry what a CSV row shows most (the other columns are empty).
    """
    from boto3.dynamodb.types import TypeSerializer
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    backend = dynamodb_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]
    serialize = TypeSerializer().serialize
    for index in range(count):
        at = T0 + timedelta(milliseconds=index * 7)
        usage_id = new_id(at)
        item = {
            "pk": layout.usage_pk(tenant, usage_id),
            "sk": layout.usage_sk(usage_id),
            "id": usage_id,
            "tenant_id": tenant,
            "requested_at": format_timestamp(at),
            "model": "claude-sonnet-4-5-20250929",
            "proxy_endpoint_id": EP1,
            "status_code": 200,
            "input_tokens": index,
            "output_tokens": 20,
            "cost_cents": "1.500000",
            "session_id": "5e5510n-0000-4000-8000-000000000000",
        }
        backend.put_item(api_settings.table_name, {name: serialize(value) for name, value in item.items()})


def as_export_function(aws: Rehearsal) -> dict[str, str]:
    """The environment of a process run as the export function: its template variables and its role's
    credentials (the server secret read from Secrets Manager under that role, as in AWS)."""
    environment = {
        **os.environ,
        **aws.functions["usage_export"].process_environment(os.environ["AWS_ENDPOINT_URL"]),
    }
    environment.pop("CODECOSTS_SERVER_SECRET")
    return environment


@pytest.fixture
def traced_api(aws: Rehearsal) -> Iterator[tuple[str, dict[str, str]]]:
    """The API in its own process (tests/api/traced_api.py) against the tests' embedded AWS, and an
    API key for it."""
    _, key = ApiKeyStore(get_settings().table_name, get_settings().secret_bytes()).create(
        Principal(user_id="user_alice", tenant_id="user_alice"), "export test"
    )
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.api.traced_api", str(port)],
        cwd=Path(__file__).resolve().parents[2],
        env=as_export_function(aws),
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None and time.monotonic() < deadline, "the API did not start"
            try:
                if httpx.get(f"{url}/api/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        yield url, {"Authorization": f"Bearer {key}"}
    finally:
        process.terminate()
        process.wait(timeout=10)


def export_rows(url: str, headers: dict[str, str], **params: str) -> tuple[int, int, int]:
    """Streams the export, counting rows without keeping them: (rows, CSV bytes, the API's peak bytes)."""
    httpx.get(f"{url}/__peak")
    started = time.monotonic()
    count = size = 0
    with httpx.stream(
        "GET", f"{url}/api/usage/export.csv", params=params, headers=headers, timeout=900
    ) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            count += 1
            size += len(line) + 2
    peak = int(httpx.get(f"{url}/__peak").text)
    elapsed = time.monotonic() - started
    print(f"exported {count - 1} rows ({size / 1e6:.1f} MB) in {elapsed:.1f} s; API peak {peak / 1e6:.1f} MB")
    return count - 1, size, peak


def assert_streamed(traced_api: tuple[str, dict[str, str]], rows: int) -> None:
    """The API's memory peak for all `rows` is that of one DynamoDB page (1,000 records): held whole,
    the rows would add their CSV text and the records they are made from for every further page."""
    url, headers = traced_api
    # The first 1,000 records (7 ms apart from T0): one page. Also loads all an export needs.
    one_page = (T0 + timedelta(milliseconds=7 * 1000)).isoformat()
    assert export_rows(url, headers, to=one_page)[0] == 1000
    _, _, page_peak = export_rows(url, headers, to=one_page)
    exported, size, peak = export_rows(url, headers)
    assert exported == rows
    # Held whole, even the CSV text alone would add `size` bytes (2 MB for 10,000 rows).
    assert peak < page_peak * 1.25 and peak - page_peak < size, (peak, page_peak, size)


def test_export_of_10k_rows_streams_with_bounded_memory(
    api_settings: Settings, traced_api: tuple[str, dict[str, str]]
) -> None:
    seed_records(api_settings, "user_alice", 10_000)
    assert_streamed(traced_api, 10_000)


@pytest.mark.soak
@pytest.mark.timeout(1800)
def test_export_of_100k_rows_streams_with_bounded_memory(
    api_settings: Settings, traced_api: tuple[str, dict[str, str]]
) -> None:
    seed_records(api_settings, "user_alice", 100_000)
    assert_streamed(traced_api, 100_000)


@pytest.mark.parametrize(
    ("accept_encoding", "gzip"),
    [
        (None, False),
        ("identity", False),
        ("gzip", True),
        ("gzip, deflate, br", True),
        ("br;q=1.0, gzip;q=0.5", True),
        ("gzip;q=0", False),
        ("gzip;q=0.0, identity", False),
        ("*", True),
        ("*, gzip;q=0", False),
        ("x-gzip", True),
        ("gzip;q=bad", False),
    ],
)
def test_gzip_is_used_only_where_accept_encoding_allows_it(accept_encoding: str | None, gzip: bool) -> None:
    from functions.api.routes.usage_export import accepts_gzip

    assert accepts_gzip(accept_encoding) is gzip


def test_export_is_gzipped_for_clients_that_accept_it_with_the_same_rows(
    client: TestClient, alice: dict[str, str], write_usage: WriteUsage
) -> None:
    import zlib

    for minute in range(3):
        write_usage("user_alice", EP1, T0 + timedelta(minutes=minute))
    plain = client.get("/api/usage/export.csv", headers={**alice, "Accept-Encoding": "identity"})
    assert plain.status_code == 200 and "content-encoding" not in plain.headers
    assert plain.headers["vary"] == "Accept-Encoding"
    with client.stream(
        "GET", "/api/usage/export.csv", headers={**alice, "Accept-Encoding": "gzip"}
    ) as zipped:
        assert zipped.headers["content-encoding"] == "gzip"
        raw = b"".join(zipped.iter_raw())
    assert raw[:2] == b"\x1f\x8b"  # a gzip member, not plain text
    assert zlib.decompress(raw, wbits=31).decode() == plain.text
    assert len(_rows(plain)) == 3


def test_export_streams_through_the_export_functions_entry_point(
    aws: Rehearsal, api_settings: Settings, tmp_path: Path
) -> None:
    """`functions/api/run.sh` is what the Lambda Web Adapter runs for the streamed export in AWS: the
    same app under uvicorn. Started here as the adapter starts it (PORT, LAMBDA_TASK_ROOT), it serves
    the export in chunks (no content-length), gzipped for a client that accepts it."""
    _, key = ApiKeyStore(api_settings.table_name, api_settings.secret_bytes()).create(
        Principal(user_id="user_alice", tenant_id="user_alice"), "run.sh test"
    )
    seed_records(api_settings, "user_alice", 2500)
    root = Path(__file__).resolve().parents[2]
    port = free_port()
    env = {
        **as_export_function(aws),
        "PORT": str(port),
        "LAMBDA_TASK_ROOT": str(root),
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
    }
    log = tmp_path / "run.log"
    with log.open("wb") as out:
        process = subprocess.Popen([str(root / "functions/api/run.sh")], env=env, stdout=out, stderr=out)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "run.sh did not start uvicorn"
            try:
                if httpx.get(f"{url}/api/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        headers = {"Authorization": f"Bearer {key}", "Accept-Encoding": "gzip"}
        with httpx.stream("GET", f"{url}/api/usage/export.csv", headers=headers, timeout=120) as response:
            assert response.status_code == 200
            assert response.headers["content-encoding"] == "gzip"
            assert "content-length" not in response.headers
            assert response.headers["transfer-encoding"] == "chunked"
            lines = list(response.iter_lines())  # httpx decodes the gzip stream as it comes
        assert lines[0] == ",".join(PUBLIC_FIELDS)
        assert len(lines) - 1 == 2500
    finally:
        process.terminate()
        process.wait(timeout=10)
