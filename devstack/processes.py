"""The local stack's child processes: each function and moto in a process of its own, as in AWS.

Children run in a session of their own, so the terminal's Ctrl-C reaches `make dev` alone, which
then stops them in order (the ingest drains its queue and moto keeps its data until the snapshot is
written); on Linux a child also stops if `make dev` itself is killed.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_PR_SET_PDEATHSIG = 1


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop_with_parent() -> None:
    """For `preexec_fn`: the child gets SIGTERM when the thread that started it ends (Linux only)."""
    if sys.platform == "linux":
        ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class Child:
    def __init__(
        self, name: str, args: Sequence[str], env: Mapping[str, str], port: int | None = None
    ) -> None:
        self.name = name
        self.port = port
        self.popen = subprocess.Popen(  # noqa: S603 - our own interpreter or run.sh, fixed arguments
            list(args), cwd=ROOT, env=dict(env), start_new_session=True, preexec_fn=stop_with_parent
        )

    def wait_until_listening(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.popen.returncode} while starting")
            try:
                with socket.create_connection(("127.0.0.1", self.port or 0), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"{self.name} did not listen on port {self.port} within {timeout:.0f} s")

    def stop(self, timeout: float = 10) -> int:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        return self.popen.returncode


def base_environment() -> dict[str, str]:
    """This process's environment without its AWS, Codecosts and Powertools settings: a function is
    told those by its own environment, never by the shell `make dev` was started from."""
    return {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AWS_", "CODECOSTS_", "POWERTOOLS_", "CLERK_"))
    }
