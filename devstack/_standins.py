"""TEMPORARY stand-ins for devstack/rehearsal.py and devstack/adapter.py (being written in parallel),
with their interfaces: the integrator deletes this file and imports the real modules in __main__.py.

What they do not do (the real modules will): read the synthesized template (grants, environment),
enforce IAM (every function signs with the same full-access credentials), and the Lambda Web
Adapter's readiness check and request limits (a TCP connect stands in for readiness).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from devstack.processes import ROOT, Child, free_port
from devstack.resources import create_resources

_KEY = "local"


@dataclass
class FunctionRole:
    environment: dict[str, str]

    def process_environment(self, endpoint_url: str) -> dict[str, str]:
        return {
            **self.environment,
            "AWS_ACCESS_KEY_ID": _KEY,
            "AWS_SECRET_ACCESS_KEY": _KEY,
            "AWS_ENDPOINT_URL": endpoint_url,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
        }


@dataclass
class Rehearsal:
    table_name: str
    usage_queue_url: str
    dead_letter_queue_url: str
    bodies_bucket: str
    functions: dict[str, FunctionRole] = field(default_factory=dict)
    operator_access_key_id: str = _KEY
    operator_secret_access_key: str = _KEY


def rehearse(endpoint_url: str, *, overrides: Mapping[str, str] = {}, enforce: bool = True) -> Rehearsal:
    os.environ.update(AWS_ACCESS_KEY_ID=_KEY, AWS_SECRET_ACCESS_KEY=_KEY)  # create_resources signs with these
    made = create_resources(endpoint_url)
    environment = {
        "CODECOSTS_TABLE_NAME": made.table_name,
        "CODECOSTS_USAGE_QUEUE_URL": made.queue_url,
        "CODECOSTS_DEAD_LETTER_QUEUE_URL": made.dead_letter_queue_url,
        "CODECOSTS_BODIES_BUCKET": made.bucket,
        **overrides,
    }
    functions = {
        name: FunctionRole(dict(environment)) for name in ("proxy", "api", "usage_export", "usage_ingest")
    }
    return Rehearsal(made.table_name, made.queue_url, made.dead_letter_queue_url, made.bucket, functions)


class AdaptedFunction:
    def __init__(
        self,
        name: str,
        run_script: Path,
        environment: Mapping[str, str],
        port: int | None = None,
        task_root: Path = ROOT,
    ) -> None:
        self.name = name
        self.run_script = run_script
        self.environment = environment
        self.port = port or free_port()
        self.task_root = task_root
        self.url = f"http://127.0.0.1:{self.port}"
        self._child: Child | None = None

    def start(self, timeout: float = 60) -> None:
        env = {
            **self.environment,
            "PORT": str(self.port),
            "LAMBDA_TASK_ROOT": str(self.task_root),
            "PATH": f"{Path(sys.executable).parent}:{self.environment.get('PATH', '')}",
        }
        self._child = Child(self.name, ["bash", str(self.run_script)], env, self.port)
        self._child.wait_until_listening(timeout)

    def stop(self) -> None:
        if self._child:
            self._child.stop()

    def __enter__(self) -> AdaptedFunction:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
