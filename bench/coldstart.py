"""Cold start: each Lambda handler module imported in a fresh interpreter, and each bundle's size.

`python -X importtime -c "import <module>"`, several times; the module's cumulative import time is
read from its own line. Measured where Lambda imports it from: the function's bundle, built by
`infra/bundles.py` exactly as `make bundles` builds it but for this machine's platform (the deployable
bundles are arm64, whose compiled wheels cannot load here), with its bytecode compiled by Python 3.13
as shipped, imported by Python 3.13 with nothing but the bundle on the path (`-I -S -B`). The dev
venv's figure is measured too, for comparison: it has other packages (httpx's command line pulls in
`rich` there, for one) and another Python.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
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
# Packages a handler has no use for at start-up; any of them loaded is a finding (and fails
# tests/infra/test_handler_imports.py). Some load later, on the paths that need them:
# - proxy: pydantic and genai_prices when the usage queue is down and it writes a record itself;
# - api: PyJWT, cryptography and httpx at the first Clerk session token, genai_prices at the first
#   session with unread 1-hour cache writes.
NOT_AT_START = {
    "proxy": (
        "aws_xray_sdk",
        "fastapi",
        "starlette",
        "mangum",
        "genai_prices",
        "jwt",
        "cryptography",
    ),
    "api": ("aws_xray_sdk", "uvicorn", "genai_prices", "jwt", "cryptography", "httpx"),
    "usage_ingest": ("aws_xray_sdk", "fastapi", "starlette", "httpx", "uvicorn", "jwt"),
}
# A handler Lambda runs inside a server (run.sh: uvicorn behind the Lambda Web Adapter) is also
# measured after the server's own imports, as it is loaded there: its share of the start-up.
SERVERS = {"proxy": "uvicorn.main"}
HOST_PLATFORM = "manylinux2014_x86_64"
_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")


@dataclass
class ImportTime:
    function: str
    module: str
    python: str = ""  # the interpreter that imported it from the bundle, e.g. "3.13"
    runs_ms: list[float] = field(default_factory=list)  # from the bundle
    venv_runs_ms: list[float] = field(default_factory=list)  # from the dev venv
    in_server_runs_ms: list[float] = field(default_factory=list)  # from the bundle, after SERVERS
    by_package_ms: dict[str, float] = field(default_factory=dict)  # own time of each top-level package
    unneeded: list[str] = field(default_factory=list)

    @property
    def median_ms(self) -> float:
        return median(self.runs_ms)

    @property
    def venv_median_ms(self) -> float:
        return median(self.venv_runs_ms)

    @property
    def in_server_median_ms(self) -> float | None:
        return median(self.in_server_runs_ms) if self.in_server_runs_ms else None


def _import_once(
    command: list[str], module: str, env: dict[str, str], path: Path | None = None, after: str = ""
) -> tuple[float, dict[str, float], list[str]]:
    setup = f"sys.path.insert(0, {str(path)!r}); " if path else ""
    setup += f"import {after}; " if after else ""
    listing = "print(','.join(sorted({m.split('.')[0] for m in sys.modules})))"
    probe = f"import sys; {setup}import {module}; {listing}"
    done = _run_probe([*command, "-c", probe], env, f"importing {module}")
    total = 0.0
    own: dict[str, float] = defaultdict(float)
    for match in _LINE.finditer(done.stderr):
        self_us, cumulative_us, _, name = match.groups()
        own[name.split(".")[0]] += int(self_us) / 1000
        if name == module:
            total = int(cumulative_us) / 1000
    return total, own, done.stdout.strip().splitlines()[-1].split(",")


def _proxy_environment() -> dict[str, str]:
    """What a probe of the proxy runs with: nothing of this process's AWS or Codecosts settings."""
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(Path.home()),
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_DISABLED": "true",
    }


def _run_probe(command: list[str], env: dict[str, str], what: str) -> subprocess.CompletedProcess[str]:
    """A probe in a fresh interpreter of ours; its error output when it fails."""
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)  # noqa: S603
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed:\n{done.stderr[-4000:]}")
    return done


def host_bundles(python_version: str) -> dict[str, Path]:
    """The bundles built for this machine (the same ones tests/infra/test_bundles.py imports)."""
    from infra.bundles import BUNDLES, ROOT, build_all

    out = ROOT / "build" / "host-bundles" / f"cp{python_version.replace('.', '')}"
    return build_all(list(BUNDLES), out, platform=HOST_PLATFORM, python_version=python_version)


def measure(runs: int = 5, venv_runs: int = 3) -> list[ImportTime]:
    from infra.bundles import lambda_python

    python, version = lambda_python()
    bundles = host_bundles(version)
    base = {"PATH": os.environ.get("PATH", ""), "HOME": str(Path.home())}
    flags = {"POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_METRICS_DISABLED": "true"}
    results = []
    command = [python, "-X", "importtime", "-I", "-S", "-B"]
    for function, module in HANDLERS.items():
        result = ImportTime(function, module, python=version)
        packages: dict[str, float] = defaultdict(float)
        loaded: list[str] = []
        for _ in range(runs):
            total, own, loaded = _import_once(command, module, {**base, **flags}, bundles[function])
            result.runs_ms.append(total)
            if function in SERVERS:
                result.in_server_runs_ms.append(
                    _import_once(command, module, {**base, **flags}, bundles[function], SERVERS[function])[0]
                )
            for name, value in own.items():
                packages[name] += value
        heaviest = sorted(packages.items(), key=lambda pair: -pair[1])[:6]
        result.by_package_ms = {name: value / runs for name, value in heaviest}
        result.unneeded = [name for name in NOT_AT_START[function] if name in loaded]
        for _ in range(venv_runs):
            venv_env = {**os.environ, **flags}
            venv_command = [sys.executable, "-X", "importtime"]
            result.venv_runs_ms.append(_import_once(venv_command, module, venv_env)[0])
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


# What the proxy's first request builds before it can answer: the clients of its slug lookup (the
# table resource), its rate limit counters (the plain client) and its usage message (SQS).
_FIRST_REQUEST = (
    "from shared import aws; aws.table('codecosts'); aws.dynamodb_typed(); aws.sqs_without_retries()"
)


def proxy_cold_cpu_ms(runs: int = 5) -> list[float]:
    """CPU time (ms) of a cold proxy from its bundle: the interpreter, uvicorn, the app and the clients
    its first request makes, as `functions/proxy/run.sh` starts it (fresh interpreters)."""
    from infra.bundles import lambda_python

    python, version = lambda_python()
    bundle = host_bundles(version)["proxy"]
    env = _proxy_environment()
    probe = (
        f"import sys, time; sys.path.insert(0, {str(bundle)!r}); import {SERVERS['proxy']}; "
        f"import {HANDLERS['proxy']}; {_FIRST_REQUEST}; print(time.process_time())"
    )
    times = []
    for _ in range(runs):
        done = subprocess.run(  # noqa: S603 - our own interpreter, a fixed probe
            [python, "-I", "-S", "-B", "-c", probe], capture_output=True, text=True, env=env, check=True
        )
        times.append(float(done.stdout.strip().splitlines()[-1]) * 1000)
    return times


# A restored proxy's first call (bench/restored_probe.py), in a fresh interpreter from the bundle.
def proxy_restored_cpu_ms(runs: int = 5) -> list[float]:
    """CPU time (ms) a SnapStart restore leaves to a caller: the after-restore hook and the first
    call (a Claude-shaped stream from the bench upstream), measured after the before-checkpoint hook
    ran in the same process, as it runs before the snapshot. AWS's own calls are answered
    in-process (bench/restored_probe.py says what that leaves out)."""
    from devstack.processes import free_port
    from infra.bundles import lambda_python

    python, version = lambda_python()
    bundle = host_bundles(version)["proxy"]
    port = free_port()
    root = Path(__file__).resolve().parents[1]
    upstream = subprocess.Popen(  # noqa: S603 - this interpreter, the bench's own upstream
        [sys.executable, "-m", "bench.upstream", str(port)], cwd=root
    )
    try:
        env = {
            **_proxy_environment(),
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "CODECOSTS_TABLE_NAME": "codecosts",
            "CODECOSTS_BODIES_BUCKET": "bodies",
            "CODECOSTS_USAGE_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/codecosts-usage",
            "CODECOSTS_SERVER_SECRET": "bench-secret-" + "0" * 32,
            "CODECOSTS_UPSTREAM_URL": f"http://127.0.0.1:{port}",
        }
        probe = root / "bench" / "restored_probe.py"
        times = []
        for _ in range(runs):
            done = _run_probe([python, "-I", "-S", "-B", str(probe), str(bundle)], env, "the restored proxy")
            times.append(float(done.stdout.strip().splitlines()[-1]))
        return times
    finally:
        upstream.terminate()
        upstream.wait()
