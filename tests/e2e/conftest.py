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
        self.output = ""

    def start(self) -> dict[str, Any]:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "devstack"],
            cwd=self.workdir,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.process.communicate()[0]
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
            self.output, _ = self.process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.output, _ = self.process.communicate()
            raise AssertionError("make dev did not stop on Ctrl-C") from None
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
