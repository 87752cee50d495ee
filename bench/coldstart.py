"""Cold start: each Lambda handler module imported in a fresh interpreter, and each bundle's size.

`python -X importtime -c "import <module>"`, several times; the module's cumulative import time is
read from its own line. "Without bytecode" compiles every module from source, as Lambda does with
these bundles (built `--no-compile`, and /var/task is read-only, so no .pyc is ever written there).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from bench.stats import median

HANDLERS = {
    "proxy": "functions.proxy.app",
    "api": "functions.api.handler",
    "usage_ingest": "functions.usage_ingest.handler",
}
TARGETS_MS = {"proxy": 250.0, "api": 600.0, "usage_ingest": 400.0}
# Packages a handler has no use for at start-up; any of them loaded is a finding.
NOT_AT_START = {
    "proxy": ("aws_xray_sdk", "fastapi", "starlette", "mangum", "genai_prices", "jwt"),
    "api": ("aws_xray_sdk", "uvicorn", "genai_prices"),
    "usage_ingest": ("aws_xray_sdk", "fastapi", "starlette", "httpx", "uvicorn"),
}
_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")


@dataclass
class ImportTime:
    function: str
    module: str
    runs_ms: list[float] = field(default_factory=list)
    cold_runs_ms: list[float] = field(default_factory=list)  # without bytecode
    by_package_ms: dict[str, float] = field(default_factory=dict)  # own time of each top-level package
    unneeded: list[str] = field(default_factory=list)

    @property
    def median_ms(self) -> float:
        return median(self.runs_ms)

    @property
    def cold_median_ms(self) -> float:
        return median(self.cold_runs_ms)


def _import_once(module: str, env: dict[str, str]) -> tuple[float, dict[str, float], list[str]]:
    probe = f"import sys, {module}; print(','.join(sorted({{m.split('.')[0] for m in sys.modules}})))"
    done = subprocess.run(  # noqa: S603 - our own interpreter, a fixed module name
        [sys.executable, "-X", "importtime", "-c", probe],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    total = 0.0
    own: dict[str, float] = defaultdict(float)
    for match in _LINE.finditer(done.stderr):
        self_us, cumulative_us, _, name = match.groups()
        own[name.split(".")[0]] += int(self_us) / 1000
        if name == module:
            total = int(cumulative_us) / 1000
    return total, own, done.stdout.strip().split(",")


def measure(runs: int = 5, cold_runs: int = 3) -> list[ImportTime]:
    env = {**os.environ, "POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_METRICS_DISABLED": "true"}
    results = []
    for function, module in HANDLERS.items():
        result = ImportTime(function, module)
        packages: dict[str, float] = defaultdict(float)
        loaded: list[str] = []
        for _ in range(runs):
            total, own, loaded = _import_once(module, env)
            result.runs_ms.append(total)
            for name, value in own.items():
                packages[name] += value
        heaviest = sorted(packages.items(), key=lambda pair: -pair[1])[:6]
        result.by_package_ms = {name: value / runs for name, value in heaviest}
        result.unneeded = [name for name in NOT_AT_START[function] if name in loaded]
        for _ in range(cold_runs):
            with tempfile.TemporaryDirectory() as empty:
                cold_env = {**env, "PYTHONPYCACHEPREFIX": empty, "PYTHONDONTWRITEBYTECODE": "1"}
                result.cold_runs_ms.append(_import_once(module, cold_env)[0])
        results.append(result)
    return results


def bundle_sizes() -> dict[str, int]:
    """`make bundles` (arm64, cp313): bytes per bundle. Wheels are downloaded once, then reused."""
    from infra.bundles import BUNDLES, ROOT, build_all, size_of

    built = build_all(list(BUNDLES), ROOT / "build" / "bundles")
    return {function: size_of(path) for function, path in built.items()}


def bundle_root() -> Path:
    from infra.bundles import ROOT

    return ROOT / "build" / "bundles"
