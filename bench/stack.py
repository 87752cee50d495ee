"""The processes a benchmark runs against: moto (the local AWS), the bench upstream, the proxy.

Each runs in its own process, as in `make dev` and in Lambda: the proxy is started the way
functions/proxy/run.sh starts it (uvicorn, one worker, no access log), and its CPU time and memory
are read from /proc.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TENANT_ID = "tenant_bench"
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_port(port: int, process: subprocess.Popen[bytes], name: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{name} did not listen on port {port} within {timeout:.0f} s")


@dataclass
class Process:
    name: str
    port: int
    popen: subprocess.Popen[bytes]

    @property
    def pid(self) -> int:
        return self.popen.pid

    def cpu_seconds(self) -> float:
        """User + system CPU time so far (threads included)."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS

    def _status(self, key: str) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
        raise KeyError(key)

    def rss(self) -> int:
        return self._status("VmRSS")

    def peak_rss(self) -> int:
        return self._status("VmHWM")

    def open_files(self) -> int:
        """File descriptors the process holds (Lambda allows an environment 1,024)."""
        return len(list(Path(f"/proc/{self.pid}/fd").iterdir()))

    def reset_peak_rss(self) -> bool:
        """Linux resets VmHWM to the current RSS on `5` in clear_refs; False where that is refused."""
        try:
            Path(f"/proc/{self.pid}/clear_refs").write_text("5")
        except OSError:
            return False
        return True

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()


def _start(name: str, args: list[str], env: dict[str, str], port: int) -> Process:
    popen = subprocess.Popen(  # noqa: S603 - our own interpreter and fixed arguments
        [sys.executable, *args], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    process = Process(name, port, popen)
    try:
        _wait_for_port(port, popen, name)
    except BaseException:
        process.stop()
        raise
    return process


@dataclass
class Stack:
    env: dict[str, str]
    moto: Process
    upstream: Process
    proxy: Process | None = None
    queue_url: str = ""
    slugs: list[str] = field(default_factory=list)
    processes: list[Process] = field(default_factory=list)

    def start_proxy(self, app: str = "functions.proxy.app:app") -> Process:
        if self.proxy is not None:
            self.proxy.stop()
        port = free_port()
        # As functions/proxy/run.sh runs it (uvicorn picks uvloop and httptools when installed).
        args = ["-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port)]
        args += ["--no-access-log", "--no-server-header", "--log-level", "warning"]
        self.proxy = _start("proxy", args, self.env, port)
        self.processes.append(self.proxy)
        return self.proxy

    def purge_queue(self) -> None:
        """Drops the usage messages so far (SQS allows one purge a minute; a later one is skipped)."""
        from botocore.exceptions import ClientError

        from shared import aws

        try:
            aws.sqs().purge_queue(QueueUrl=self.queue_url)
        except ClientError as error:
            if "PurgeQueueInProgress" not in str(error):
                raise

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()


def start_stack(endpoints: int) -> Stack:
    """moto with the table, queue and bucket; `endpoints` proxy endpoints; the bench upstream."""
    moto_port = free_port()
    env: dict[str, Any] = {
        **os.environ,
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{moto_port}",
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": "us-east-1",
        "CODECOSTS_SERVER_SECRET": "bench-server-secret",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": "ERROR",
    }
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        env.pop(name, None)
    os.environ.clear()
    os.environ.update(env)
    moto = _start("moto", ["-m", "devstack.moto_server", str(moto_port)], env, moto_port)
    processes = [moto]
    try:
        from devstack.rehearsal import rehearse
        from shared.settings import get_settings
        from shared.store.endpoints import EndpointStore

        resources = rehearse(env["AWS_ENDPOINT_URL"], enforce=False)
        upstream_port = free_port()
        upstream = _start("upstream", ["-m", "bench.upstream", str(upstream_port)], env, upstream_port)
        processes.append(upstream)
        env["CODECOSTS_USAGE_QUEUE_URL"] = resources.usage_queue_url
        env["CODECOSTS_UPSTREAM_URL"] = f"http://127.0.0.1:{upstream_port}"
        os.environ.update(env)
        get_settings.cache_clear()
        store = EndpointStore(resources.table_name)
        slugs = [store.create(TENANT_ID, f"bench {index}")["slug"] for index in range(endpoints)]
    except BaseException:
        for process in processes:
            process.stop()
        raise
    return Stack(env, moto, upstream, queue_url=resources.usage_queue_url, slugs=slugs, processes=processes)
