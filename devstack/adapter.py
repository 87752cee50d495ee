"""A function started the way the Lambda Web Adapter starts it, ready when the adapter would say so.

In Lambda, the adapter layer's `/opt/bootstrap` (the function's `AWS_LAMBDA_EXEC_WRAPPER`) executes
the handler, `run.sh`, from `LAMBDA_TASK_ROOT`, with the function's environment; `run.sh` starts
uvicorn on `PORT`. The adapter then polls its readiness check every 10 ms and hands over the first
invocation only once it passes. In AWS it never gives up: a check that cannot pass is a function
whose every invocation times out. `AdaptedFunction.start()` does the same, but gives up after a
timeout and says why, with the function's output.

The check's rules are the adapter's (v1.x): `AWS_LWA_READINESS_CHECK_PROTOCOL` `http` (default) or
`tcp`; `GET AWS_LWA_READINESS_CHECK_PATH` (default `/`); healthy statuses from
`AWS_LWA_READINESS_CHECK_HEALTHY_STATUS` (`200`, `200-299,404`, ...), else below the deprecated
`AWS_LWA_READINESS_CHECK_MIN_UNHEALTHY_STATUS`, else 100-499; each also read under its older name
without the `AWS_LWA_` prefix.

What AWS puts in front of these functions (a function URL, API Gateway) refuses request bodies over
its 6 MB payload limit with a 413. Nothing is put in front here: the apps refuse the same bodies
themselves (shared/hosting.py), so a local client sees that limit without a hop that would slow the
proxy's streams.
"""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import NoReturn

from devstack.processes import stop_with_parent

REPO_ROOT = Path(__file__).resolve().parents[1]
ADAPTER_BOOTSTRAP = "/opt/bootstrap"
_POLL_SECONDS = 0.01  # the adapter's own interval
_OUTPUT_LINES = 60  # the end of a function's output kept for an error message


class FunctionNotReady(RuntimeError):
    """The function exited, or its readiness check did not pass in time."""


def _setting(environment: Mapping[str, str], name: str, default: str) -> str:
    """An adapter setting: `AWS_LWA_<name>`, else its older unprefixed name, else the default."""
    return environment.get(f"AWS_LWA_{name}", environment.get(name, default))


def _status_codes(spec: str) -> frozenset[int]:
    """`200`, `200-399`, `200-299,404`: the adapter's list of codes and inclusive ranges."""
    codes: set[int] = set()
    for part in filter(None, (part.strip() for part in spec.split(","))):
        low, _, high = part.partition("-")
        codes.update(range(int(low), int(high or low) + 1))
    return frozenset(codes)


@dataclass(frozen=True)
class ReadinessCheck:
    protocol: str  # "http" or "tcp"
    host: str
    port: int
    path: str
    healthy: str  # as configured, for messages
    healthy_codes: frozenset[int]

    @classmethod
    def from_environment(cls, environment: Mapping[str, str]) -> ReadinessCheck:
        port = _setting(environment, "PORT", "8080")  # AWS_LWA_PORT, else PORT
        protocol = _setting(environment, "READINESS_CHECK_PROTOCOL", "http").lower()
        healthy = environment.get("AWS_LWA_READINESS_CHECK_HEALTHY_STATUS")
        if healthy is None:
            unhealthy_from = environment.get("AWS_LWA_READINESS_CHECK_MIN_UNHEALTHY_STATUS", "500")
            healthy = f"100-{int(unhealthy_from) - 1}"
        return cls(
            protocol="tcp" if protocol == "tcp" else "http",  # the adapter takes anything else as http
            host=_setting(environment, "HOST", "127.0.0.1"),
            port=int(_setting(environment, "READINESS_CHECK_PORT", port)),
            path=_setting(environment, "READINESS_CHECK_PATH", "/"),
            healthy=healthy,
            healthy_codes=_status_codes(healthy),
        )

    def describe(self) -> str:
        if self.protocol == "tcp":
            return f"a TCP connection to {self.host}:{self.port}"
        return f"GET http://{self.host}:{self.port}{self.path} answered {self.healthy}"

    def probe(self) -> str | None:
        """None when the check passes, else what it saw instead."""
        try:
            if self.protocol == "tcp":
                socket.create_connection((self.host, self.port), timeout=1).close()
                return None
            connection = http.client.HTTPConnection(self.host, self.port, timeout=1)
            try:
                connection.request("GET", self.path)
                response = connection.getresponse()
                if response.status in self.healthy_codes:
                    return None
                return f"{response.status} {response.read(300).decode(errors='replace')}"
            finally:
                connection.close()
        except OSError as error:
            return f"no answer ({error.__class__.__name__})"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class AdaptedFunction:
    """One adapter-fronted function in its own process: `with AdaptedFunction(...) as fn: fn.url`.

    `environment` is all the function sees besides what Lambda itself sets (below): the template's
    variables for it, plus the local stand-ins for what Lambda provides (its role's credentials,
    `AWS_REGION`, `AWS_ENDPOINT_URL`). Nothing else is inherited from this process, so a setting
    the stack does not pass is missing here too, and no developer credentials reach the function.
    """

    def __init__(
        self,
        name: str,
        run_script: Path,
        environment: Mapping[str, str],
        port: int | None = None,
        task_root: Path = REPO_ROOT,
    ) -> None:
        if environment.get("AWS_LAMBDA_EXEC_WRAPPER") != ADAPTER_BOOTSTRAP:
            raise ValueError(
                f"{name}: AWS_LAMBDA_EXEC_WRAPPER is not {ADAPTER_BOOTSTRAP}, so in Lambda the Web Adapter "
                f"would never start {run_script.name}"
            )
        self.name = name
        self.run_script = run_script
        self.task_root = task_root
        self.port = port or _free_port()
        self.environment = self._process_environment(environment)
        self.readiness = ReadinessCheck.from_environment(self.environment)
        self._process: subprocess.Popen[bytes] | None = None
        self._output: deque[str] = deque(maxlen=_OUTPUT_LINES)
        self._reader: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _process_environment(self, environment: Mapping[str, str]) -> dict[str, str]:
        local = {
            **environment,
            # What Lambda sets itself. `python` in run.sh is this interpreter (the venv's).
            "LAMBDA_TASK_ROOT": str(self.task_root),
            "AWS_LAMBDA_FUNCTION_NAME": self.name,
            "PATH": os.pathsep.join((str(Path(sys.executable).parent), os.environ.get("PATH", os.defpath))),
            "LANG": "C.UTF-8",
            "TZ": "UTC",
            # Credentials come from `environment` only, never from a developer's ~/.aws.
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            # The template's port is the sandbox's; here each function needs its own.
            "PORT": str(self.port),
        }
        if "AWS_LWA_PORT" in environment:
            local["AWS_LWA_PORT"] = str(self.port)
        return local

    def start(self, timeout: float = 60) -> None:
        """Starts run.sh and returns once the adapter's readiness check passes."""
        self._process = subprocess.Popen(  # noqa: S603 - the project's own run.sh
            [str(self.run_script)],
            cwd=self.task_root,
            env=self.environment,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            # run.sh execs uvicorn, which keeps this: a killed make dev leaves no function running.
            preexec_fn=stop_with_parent,
        )
        self._reader = threading.Thread(target=self._relay_output, name=f"{self.name}-output", daemon=True)
        self._reader.start()
        deadline = time.monotonic() + timeout
        self._wait_until_ready(deadline, timeout)
        if self.snapstart_hooks:
            self._snapshot_and_restore()
            self._wait_until_ready(deadline, timeout)

    @property
    def snapstart_hooks(self) -> tuple[str, str] | None:
        """(before checkpoint, after restore) paths, when the function has them: the stack sets them
        only on a function that runs under SnapStart."""
        before = self.environment.get("AWS_LWA_SNAPSTART_BEFORE_CHECKPOINT_PATH")
        after = self.environment.get("AWS_LWA_SNAPSTART_AFTER_RESTORE_PATH")
        return (before or "", after or "") if before or after else None

    def _snapshot_and_restore(self) -> None:
        """SnapStart's lifecycle as the adapter drives it: the before-checkpoint hook once the app is
        ready (a failure fails publishing the version), then, as in a restored environment, the
        after-restore hook and the readiness check again before the first invocation. No snapshot is
        taken here: the hooks run in the same process, so a hook that breaks the app breaks it here."""
        assert self.snapstart_hooks is not None
        for moment, path in zip(("before-checkpoint", "after-restore"), self.snapstart_hooks, strict=True):
            if not path:
                continue
            connection = http.client.HTTPConnection(self.readiness.host, self.readiness.port, timeout=60)
            try:
                connection.request("POST", path)
                response = connection.getresponse()
                body = response.read(300).decode(errors="replace")
            except OSError as error:
                self._fail(
                    f"did not answer its SnapStart {moment} hook POST {path} ({error.__class__.__name__})"
                )
            finally:
                connection.close()
            if not 200 <= response.status < 300:
                self._fail(
                    f"answered its SnapStart {moment} hook POST {path} with {response.status} {body}: in AWS "
                    "the adapter fails that phase, and publishing the version fails"
                )

    def _wait_until_ready(self, deadline: float, timeout: float) -> None:
        assert self._process is not None
        while True:
            seen = self.readiness.probe()
            if seen is None:
                return
            exit_code = self._process.poll()
            if exit_code is not None:
                self._fail(f"exited with status {exit_code} before its readiness check passed")
            if time.monotonic() > deadline:
                self._fail(
                    f"was not ready after {timeout:g} s: the adapter's readiness check wants "
                    f"{self.readiness.describe()}, and got {seen}. In AWS the adapter would keep waiting "
                    "and every invocation would time out"
                )
            time.sleep(_POLL_SECONDS)

    def _relay_output(self) -> None:
        """Keeps the end of the function's output for errors and shows it as `[name] line`."""
        assert self._process is not None and self._process.stdout is not None
        for raw in self._process.stdout:
            line = raw.decode(errors="replace").rstrip()
            self._output.append(line)
            if sys.__stderr__ is not None:
                print(f"[{self.name}] {line}", file=sys.__stderr__, flush=True)

    def _fail(self, why: str) -> NoReturn:
        self.stop()
        output = "\n".join(self._output) or "(no output)"
        raise FunctionNotReady(f"{self.name} ({self.run_script}) {why}.\nIts output:\n{output}")

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._reader is not None:
            self._reader.join(timeout=5)

    def __enter__(self) -> AdaptedFunction:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()
