"""Each Lambda bundle holds what its function imports: nothing missing, nothing extra.

The deployable bundles are aarch64 (their compiled wheels cannot load on this x86_64 machine), so the
import check runs on bundles built by the same script for the host platform, in a clean interpreter
(`-I -S -B`: no site-packages, no environment, no bytecode written) with only the bundle on sys.path.
Wheels are cached under build/, so only the first run downloads anything.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from infra.bundles import BUNDLES, LAMBDA_PYTHON, build_all, lambda_python, normalize

ROOT = Path(__file__).resolve().parents[2]
HOST_PLATFORM = "manylinux2014_x86_64"

# How Lambda starts each function of a bundle: run.sh's uvicorn target, or the handler setting.
# The api bundle serves two functions: the API (Mangum) and the streamed export (run.sh).
ENTRY_POINTS = {
    "proxy": [("asgi", "functions.proxy.app:app")],
    "api": [("handler", "functions.api.handler.handler"), ("asgi", "functions.api.app:app")],
    "usage_ingest": [("handler", "functions.usage_ingest.handler.handler")],
    "reconcile": [("handler", "functions.reconcile.handler.handler")],
}
NEVER_BUNDLED = (
    "aws_cdk",
    "cdk_nag",
    "constructs",
    "jsii",
    "moto",
    "pytest",
    "_pytest",
    "cfnlint",
    "devstack",
    "infra",
    "tests",
)

_IMPORT_CHECK = """
import importlib, json, sys
from importlib.metadata import packages_distributions
bundle, kind, target, *lazy = sys.argv[1:]
sys.path.insert(0, bundle)
if kind == "asgi":
    from uvicorn.importer import import_from_string
    entry = import_from_string(target)
else:
    module, name = target.rsplit(".", 1)
    entry = getattr(importlib.import_module(module), name)
assert callable(entry), target
for module in lazy:
    importlib.import_module(module)
owners = packages_distributions()
loaded = {dist for module in list(sys.modules) for dist in owners.get(module.partition(".")[0], [])}
print(json.dumps(sorted(loaded)))
"""


@pytest.fixture(scope="module")
def host_bundles() -> tuple[dict[str, Path], str]:
    python, version = lambda_python()
    out = ROOT / "build" / "host-bundles" / f"cp{version.replace('.', '')}"
    return build_all(list(BUNDLES), out, platform=HOST_PLATFORM, python_version=version), python


@pytest.mark.bundles
@pytest.mark.timeout(900)
@pytest.mark.parametrize("function", list(BUNDLES))
def test_bundle_holds_its_function_and_nothing_it_must_not(
    host_bundles: tuple[dict[str, Path], str], function: str
) -> None:
    bundles, _ = host_bundles
    bundle = bundles[function]
    assert (bundle / "functions" / "__init__.py").is_file()
    assert {p.name for p in (bundle / "functions").iterdir() if p.is_dir()} - {"__pycache__"} == {function}
    assert (bundle / "shared" / "settings.py").is_file()
    present = {p.name for p in bundle.iterdir()}
    assert not present & set(NEVER_BUNDLED)
    # Bytecode is shipped (Lambda's task root is read-only), compiled for the bundle's Python only.
    tags = {pyc.name.split(".")[-2] for pyc in bundle.rglob("*.pyc")}
    assert tags <= {f"cpython-{LAMBDA_PYTHON.replace('.', '')}"}, tags
    for kind, target in ENTRY_POINTS[function]:
        if kind == "asgi":
            run = bundle / "run.sh"
            assert run.is_file() and os.access(run, os.X_OK)
            assert target in run.read_text()


@pytest.mark.bundles
@pytest.mark.timeout(900)
@pytest.mark.parametrize("function", list(BUNDLES))
def test_handler_imports_from_its_bundle_alone_and_uses_every_dependency(
    host_bundles: tuple[dict[str, Path], str], function: str, tmp_path: Path
) -> None:
    bundles, python = host_bundles
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "CODECOSTS_SERVER_SECRET": "bundle-test-secret",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
    loaded: set[str] = set()
    for kind, target in ENTRY_POINTS[function]:
        result = subprocess.run(
            [
                python,
                *("-I", "-S", "-B", "-c", _IMPORT_CHECK),
                *(str(bundles[function]), kind, target, *BUNDLES[function].lazy_modules),
            ],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr[-4000:]
        loaded |= {normalize(name) for name in json.loads(result.stdout.strip().splitlines()[-1])}
    # Every dependency is imported by one of the bundle's entry points.
    unused = {normalize(name) for name in BUNDLES[function].requirements} - loaded
    assert not unused, f"{function} bundles dependencies its code never imports: {sorted(unused)}"


@pytest.mark.bundles
@pytest.mark.timeout(900)
def test_deployable_bundles_carry_lambda_arm64_cp313_binaries() -> None:
    bundles = build_all(list(BUNDLES), ROOT / "build" / "bundles")
    for function, bundle in bundles.items():
        binaries = [p.name for p in bundle.rglob("*.so")]
        assert binaries, function
        assert not [name for name in binaries if "x86_64" in name], function
    pydantic_core = [p.name for p in (bundles["api"] / "pydantic_core").glob("*.so")]
    assert pydantic_core and all("cpython-313-aarch64-linux-gnu" in name for name in pydantic_core)
