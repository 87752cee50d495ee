"""The local stack as a separate process, exactly as `make dev` runs it, and the fake upstream it uses."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from devstack.processes import base_environment
from tests.conftest import free_port
from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.servers import ServerThread


class DevStack:
    def __init__(self, workdir: Path, upstream_url: str) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = base_environment()  # a developer's shell: no AWS or Codecosts settings of its own
        self.env.update({"CODECOSTS_PORT": str(self.port), "CODECOSTS_UPSTREAM_URL": upstream_url})
        self.process: subprocess.Popen[str] | None = None
        # To a file, not a pipe: the stack's own children write there too, and a pipe they hold open
        # would keep a stopped (or killed) stack's output from ever ending.
        self.log = workdir / "devstack.log"
        self.output = ""

    def start(self) -> dict[str, Any]:
        with self.log.open("a") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "devstack"],
                cwd=self.workdir,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                text=True,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()
            try:
                if httpx.get(f"{self.url}/api/health", timeout=1).status_code == 200:
                    return json.loads((self.workdir / ".codecosts" / "dev.json").read_text())
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise AssertionError("make dev did not come up within 60 s")

    def stop(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGINT)  # what Ctrl-C sends
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.send_signal(signal.SIGUSR1)  # devstack prints where each thread waits
            time.sleep(1)
            self.process.kill()
            self.process.wait()
            tail = self.log.read_text()[-6000:]
            raise AssertionError(f"make dev did not stop on Ctrl-C:\n{tail}") from None
        finally:
            self.output = self.log.read_text()
        return self.process.returncode


def wait_for_usage(base: str, api_key: str, count: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        response = httpx.get(f"{base}/api/usage", headers={"Authorization": f"Bearer {api_key}"})
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        if len(items) >= count:
            return items
        time.sleep(0.25)
    raise AssertionError(f"expected {count} usage records within 20 s")


class Upstream(ServerThread):
    def __init__(self, fake: FakeAnthropic) -> None:
        super().__init__(fake)
        self.fake = fake


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    with Upstream(FakeAnthropic()) as server:
        yield server
