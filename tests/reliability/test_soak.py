"""Load through the full local loop (`make soak`): client -> proxy (its own process) -> fake upstream
(its own process), proxy -> moto SQS -> QueuePoller (four of them) -> ingest handler -> table.

- 200 concurrent streams: every one completes, and the table holds exactly 200 records.
- 10,000 mixed calls (streamed, plain, upstream errors, broken streams, client aborts, count_tokens):
  no record lost or doubled, the proxy's RSS flat after warm-up (< 10 % growth), no error logged that
  the scenario did not cause.

Every loop is bounded in count and in time. The proxy's rate limits are lifted by injecting a limiter
that lets every call through (see soak_processes.py). moto runs in its own process too, as make dev
runs it, with the patches that keep its queue safe under concurrent calls and its cost per call flat
as the queue and the table grow (devstack/moto_patches).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from devstack.rehearsal import rehearse
from shared import aws
from shared.settings import get_settings
from shared.store.endpoints import EndpointStore
from tests.conftest import free_port
from tests.reliability.conftest import CapturedLogs
from tests.reliability.support import ANTHROPIC_KEY, IngestLoop, aggregate_requests, usage_items, wait_for

pytestmark = [pytest.mark.soak, pytest.mark.timeout(5400)]

TENANT = "tenant_soak"
# Lambda's SQS event source polls with several batches in flight (five at first); one poller would
# leave the embedded AWS idle while this process builds each batch's records.
INGEST_POLLERS = 4
ROOT = Path(__file__).resolve().parents[2]
HEADERS = {"x-api-key": ANTHROPIC_KEY, "content-type": "application/json", "anthropic-version": "2023-06-01"}


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


@dataclass
class Stack:
    proxy_url: str  # <proxy>/proxy/<slug>
    proxy: subprocess.Popen[bytes]
    upstream: subprocess.Popen[bytes]
    logs: Path
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def proxy_log(self) -> str:
        return (self.logs / "proxy.log").read_text(errors="replace")


def _spawn(args: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "tests.reliability.soak_processes", *args],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _wait_listening(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, "a soak process exited at start"
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError(f"{url} did not start")


@pytest.fixture
def stack_factory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """Starts moto, the fake upstream and the proxy, each in its own process; this process keeps
    only the load, the ingest poller and the checks (one GIL could not carry all of it)."""
    started: list[subprocess.Popen[bytes]] = []

    def start(pause: float = 0.0) -> Stack:
        moto_port, upstream_port, proxy_port = free_port(), free_port(), free_port()
        moto = _spawn(["moto", str(moto_port)], tmp_path / "moto.log", dict(os.environ))
        started.append(moto)
        _wait_listening(f"http://127.0.0.1:{moto_port}/moto-api/", moto)
        endpoint = f"http://127.0.0.1:{moto_port}"
        resources = rehearse(endpoint, enforce=False)
        monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
        monkeypatch.setenv("CODECOSTS_USAGE_QUEUE_URL", resources.usage_queue_url)
        _forget_clients()
        env = {
            **os.environ,
            "CODECOSTS_UPSTREAM_URL": f"http://127.0.0.1:{upstream_port}",
            "POWERTOOLS_LOG_LEVEL": "INFO",
            "POWERTOOLS_METRICS_DISABLED": "true",
        }
        upstream = _spawn(["upstream", str(upstream_port), str(pause)], tmp_path / "upstream.log", env)
        proxy = _spawn(["proxy", str(proxy_port)], tmp_path / "proxy.log", env)
        started.extend((upstream, proxy))
        _wait_listening(f"http://127.0.0.1:{upstream_port}/", upstream)
        _wait_listening(f"http://127.0.0.1:{proxy_port}/", proxy)
        slug = EndpointStore(resources.table_name).create(TENANT, "Soak")["slug"]
        return Stack(f"http://127.0.0.1:{proxy_port}/proxy/{slug}", proxy, upstream, tmp_path)

    yield start
    for process in started:  # only the processes this fixture started, by their handles
        process.terminate()
    for process in started:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
    _forget_clients()  # the next test's clients go to the session's moto again


def _forget_clients() -> None:
    """boto3 clients are made once per process: made again, they read the endpoint anew."""
    for cached in (*vars(aws).values(), get_settings):
        if hasattr(cached, "cache_clear"):
            cached.cache_clear()


def body(model: str, stream: bool) -> bytes:
    flag = "true" if stream else "false"
    return (
        f'{{"model":"{model}","max_tokens":64,"stream":{flag},'
        '"messages":[{"role":"user","content":"How much does this cost?"}]}'
    ).encode()


def queue_is_empty() -> bool:
    """Nothing waiting, in flight or delayed on the usage queue: every message was ingested and deleted."""
    counts = aws.sqs().get_queue_attributes(
        QueueUrl=get_settings().usage_queue_url,
        AttributeNames=[
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ],
    )["Attributes"]
    return not any(int(count) for count in counts.values())


def kinds(items: list[dict[str, object]]) -> dict[str, int]:
    """How many records of each kind of call, to tell which kind a missing record was."""
    return dict(
        sorted(
            Counter(
                f"{item['model']} {item['status_code']} stream={item['stream']} complete={item['complete']}"
                for item in items
            ).items()
        )
    )


def assert_records_exact(expected: int, timeout: float) -> list[dict[str, object]]:
    """Waits for the ingest, then: exactly `expected` records, no id twice, aggregates agree.

    Waits on the queue first, not on the table: the embedded AWS answers a query for thousands of
    records slowly, and asking it every second would take that time from the ingest it waits for."""
    assert wait_for(queue_is_empty, timeout=timeout, interval=1), "the usage queue did not drain"
    assert wait_for(lambda: len(usage_items(TENANT)) >= expected, timeout=30, interval=1), (
        f"{len(usage_items(TENANT))} of {expected} records arrived: {kinds(usage_items(TENANT))}"
    )
    time.sleep(3)  # anything extra (a double) would arrive by now
    items = usage_items(TENANT)
    ids = Counter(str(item["id"]) for item in items)
    assert len(items) == expected, f"{len(items)} records for {expected} calls: {kinds(items)}"
    assert max(ids.values()) == 1
    assert aggregate_requests(TENANT) == expected
    return items


def test_200_concurrent_streams_all_complete_and_are_all_recorded(
    stack_factory: object, captured_logs: CapturedLogs
) -> None:
    stack = stack_factory(pause=0.02)  # type: ignore[operator]
    count = 200

    async def one(client: httpx.AsyncClient, index: int) -> bytes:
        model = "fake:cache-1h" if index % 2 else "claude-sonnet-4-5"
        async with client.stream("POST", "/v1/messages", content=body(model, True), headers=HEADERS) as reply:
            assert reply.status_code == 200
            return b"".join([chunk async for chunk in reply.aiter_raw()])

    async def all_at_once() -> list[bytes]:
        limits = httpx.Limits(max_connections=count, max_keepalive_connections=count)
        async with httpx.AsyncClient(base_url=stack.proxy_url, limits=limits, timeout=60) as client:
            return await asyncio.wait_for(
                asyncio.gather(*(one(client, i) for i in range(count))), timeout=120
            )

    started = time.monotonic()
    replies = asyncio.run(all_at_once())
    elapsed = time.monotonic() - started
    assert len(replies) == count
    assert all(reply.rstrip().endswith(b'data: {"type":"message_stop"}') for reply in replies)
    with IngestLoop(threads=INGEST_POLLERS):
        items = assert_records_exact(count, timeout=120)
    assert all(item["complete"] is True and item["status_code"] == 200 for item in items)
    assert not captured_logs.lines("ERROR")
    assert '"level":"ERROR"' not in stack.proxy_log() and "Traceback" not in stack.proxy_log()
    print(f"\n200 concurrent streams: {elapsed:.1f} s")


class IngestRate:
    """How fast the ingest goes: messages processed, sampled every `every` seconds, for the report."""

    def __init__(self, ingest: IngestLoop, every: float = 30) -> None:
        self.ingest, self.every = ingest, every
        self.samples = [0]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ingest-rate", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.samples.append(self.ingest.processed)

    def rates(self) -> list[int]:
        return [round((b - a) / self.every) for a, b in zip(self.samples, self.samples[1:], strict=False)]

    def __enter__(self) -> IngestRate:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


# One round of the mix: what kind of call, and how many of them in 20.
MIX = ["stream"] * 8 + ["json"] * 5 + ["error"] * 3 + ["abort"] * 2 + ["break"] + ["count_tokens"]
ERROR_MODELS = ("fake:error/429", "fake:error/500", "fake:error/529", "fake:error/400")


def test_a_soak_of_10000_mixed_calls_loses_nothing_and_keeps_memory_flat(
    stack_factory: object, captured_logs: CapturedLogs
) -> None:
    stack = stack_factory()  # type: ignore[operator]
    total, warm_up, concurrency, deadline_seconds, ingest_seconds = 10_000, 1_000, 32, 900, 900
    outcomes: Counter[str] = Counter()
    rss: dict[str, int] = {}

    async def call(client: httpx.AsyncClient, index: int) -> None:
        kind = MIX[index % len(MIX)]
        if kind == "count_tokens":
            reply = await client.post("/v1/messages/count_tokens", content=body("m", False), headers=HEADERS)
            outcomes[f"{kind} {reply.status_code}"] += 1
            return
        model = {
            "stream": "fake:cache-1h" if index % 3 else "claude-sonnet-4-5",
            "json": "claude-haiku-4-5",
            "error": ERROR_MODELS[index % len(ERROR_MODELS)],
            "abort": "fake:thinking",
            "break": "fake:break",
        }[kind]
        stream = kind in ("stream", "abort", "break")
        async with client.stream(
            "POST", "/v1/messages", content=body(model, stream), headers=HEADERS
        ) as reply:
            try:
                async for _ in reply.aiter_raw():
                    if kind == "abort":
                        break  # leaving the block closes the connection mid-stream
            except httpx.RemoteProtocolError:
                assert kind == "break"
            outcomes[f"{kind} {reply.status_code}"] += 1

    async def run() -> None:
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        async with httpx.AsyncClient(base_url=stack.proxy_url, limits=limits, timeout=30) as client:
            next_index = 0
            stop_at = time.monotonic() + deadline_seconds

            async def worker() -> None:
                nonlocal next_index
                while next_index < total and time.monotonic() < stop_at:
                    index = next_index
                    next_index += 1
                    await call(client, index)
                    if index == warm_up:
                        rss["after warm-up"] = rss_kib(stack.proxy.pid)

            await asyncio.gather(*(worker() for _ in range(concurrency)))

    rss["at start"] = rss_kib(stack.proxy.pid)
    started = time.monotonic()
    with IngestLoop(threads=INGEST_POLLERS) as ingest, IngestRate(ingest) as rate:
        asyncio.run(run())
        elapsed = time.monotonic() - started
        rss["at the end"] = rss_kib(stack.proxy.pid)
        sent = sum(outcomes.values())
        print(f"\nsoak: {sent} calls in {elapsed:.0f} s; {dict(sorted(outcomes.items()))}; RSS KiB {rss}")
        assert sent == total, f"only {sent} of {total} calls within {deadline_seconds} s"
        recorded_calls = total - outcomes["count_tokens 200"]
        # The load outpaces the ingest (one process sends, the same two cores ingest): the queue drains
        # after the load.
        items = assert_records_exact(recorded_calls, timeout=ingest_seconds)
        print(
            f"soak: all {recorded_calls} records ingested {time.monotonic() - started:.0f} s after the start;"
            f" ingest, messages a second, every {rate.every:.0f} s: {rate.rates()}"
        )

    assert outcomes["count_tokens 200"] == total // len(MIX)
    assert sum(n for kind, n in outcomes.items() if kind.startswith("error ")) == total * 3 // len(MIX)
    statuses = Counter(int(item["status_code"]) for item in items)  # type: ignore[call-overload]
    assert statuses[499] == 0  # every abort came after the reply had started
    assert rss["at the end"] < rss["after warm-up"] * 1.10, f"the proxy's memory grew: {rss}"

    # Only what the scenario causes: each broken stream's warning, and uvicorn's line for the reply the
    # proxy leaves unfinished on purpose then (so the caller sees a broken reply, not a finished one).
    proxy_log = stack.proxy_log().splitlines()
    breaks = outcomes["break 200"]
    assert not [line for line in proxy_log if '"level":"ERROR"' in line or "Traceback" in line], proxy_log[
        -20:
    ]
    warnings = Counter(
        line.split('"message":"')[1].split('"')[0] for line in proxy_log if '"WARNING"' in line
    )
    assert warnings == Counter({"Upstream broke off the reply": breaks}), warnings
    plain = Counter(line for line in proxy_log if not line.startswith("{"))
    assert plain == Counter({"ERROR:    ASGI callable returned without completing response.": breaks}), plain
    assert not captured_logs.lines("ERROR"), captured_logs.lines("ERROR")[:3]
