"""Builds one Lambda code bundle per function, without Docker.

A bundle is a folder (the CDK asset) holding the function's runtime dependencies, installed as
binary wheels for the Lambda platform, plus `functions/<fn>/`, `functions/__init__.py` and `shared/`.
Nothing else: no aws-cdk-lib, moto or pytest, no other function's code.

    python -m infra.bundles                       # build/bundles/<fn>, for Lambda (arm64, cp313)
    python -m infra.bundles --platform manylinux2014_x86_64 --out build/host-bundles

What is installed is pinned: requirements/runtime.txt (`make lock`) holds every runtime package's
version and the hashes of its wheels for every platform, and pip installs only with `--require-hashes`,
so a deploy ships the packages (and the genai-prices price data) that the tests ran on.

Speed: every locked wheel is downloaded once into a wheelhouse under build/wheels/ (keyed by platform
and Python version) and installed from there offline; a bundle whose locked packages have not changed
keeps its installed dependencies and only gets fresh code.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNTIME_LOCK = ROOT / "requirements" / "runtime.txt"
LAMBDA_PLATFORM = "manylinux2014_aarch64"
LAMBDA_PYTHON = "3.13"


def lambda_python() -> tuple[str, str]:
    """An interpreter of Lambda's Python version when one is installed here (pyenv or PATH), else this
    one: (its path, its version). For checks that import a bundle's bytecode as Lambda would."""
    candidates = sorted(Path.home().glob(f".pyenv/versions/{LAMBDA_PYTHON}.*/bin/python{LAMBDA_PYTHON}"))
    for candidate in [*map(str, candidates), shutil.which(f"python{LAMBDA_PYTHON}")]:
        if candidate is None:
            continue
        # A pyenv shim may exist without the version behind it: ask the interpreter itself.
        probe = subprocess.run(  # noqa: S603 - a version probe of a local interpreter
            [candidate, "-I", "-S", "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            check=False,
        )
        if probe.returncode == 0 and probe.stdout.strip() == LAMBDA_PYTHON:
            return candidate, LAMBDA_PYTHON
    return sys.executable, f"{sys.version_info.major}.{sys.version_info.minor}"


@dataclass(frozen=True)
class BundleSpec:
    # Names from [project] dependencies (extras come from there, versions from requirements/runtime.txt).
    requirements: tuple[str, ...]
    root_scripts: tuple[str, ...] = ()  # files of the function's folder that must also sit at the bundle root
    # Modules the function imports only on a rarer path, not at start (the bundle test imports them too,
    # so that each one still finds what it needs in the bundle).
    lazy_modules: tuple[str, ...] = ()


# A plain Lambda handler that prices tokens and calls out over HTTPS: the ingest and the reconcile function.
_PRICING_HANDLER = (
    "aws-lambda-powertools",
    "boto3",
    "pydantic",
    "pydantic-settings",
    "genai-prices",
    "httpx",
)

# The one place that says which runtime dependencies each function carries.
BUNDLES: dict[str, BundleSpec] = {
    # A bare ASGI app under uvicorn behind the Lambda Web Adapter (run.sh is its Lambda handler);
    # its upstream client is asyncio + httptools, trusting certifi's roots; zstandard compresses the
    # bodies it sends; genai-prices prices a record it writes itself when the usage queue is down
    # (loaded only then).
    "proxy": BundleSpec(
        requirements=(
            "aws-lambda-powertools",
            "boto3",
            "certifi",
            "httptools",
            "pydantic",
            "pydantic-settings",
            "uvicorn",
            "genai-prices",
            "zstandard",
        ),
        root_scripts=("run.sh",),
        lazy_modules=("shared.ingest",),
    ),
    # FastAPI: through Mangum (the API function) and under uvicorn behind the Lambda Web Adapter (run.sh:
    # the export function, streamed). Verifies Clerk JWTs (keys fetched from the JWKS URL with httpx);
    # genai-prices prices the 1-hour cache writes a session never read back. PyJWT, httpx and
    # genai-prices load on first use (a Clerk session token; a session with such writes), not at start;
    # zstandard at the first call detail (its stored bodies) or bodies deletion.
    "api": BundleSpec(
        requirements=(
            "aws-lambda-powertools",
            "boto3",
            "httpx",
            "pydantic",
            "pydantic-settings",
            "pyjwt",
            "mangum",
            "fastapi",
            "genai-prices",
            "uvicorn",
            "zstandard",
        ),
        # The export function runs the same app under uvicorn behind the Lambda Web Adapter.
        root_scripts=("run.sh",),
        lazy_modules=(
            "jwt",
            "cryptography.hazmat.primitives.serialization",
            "httpx",
            "shared.pricing",
            "shared.bodies.store",
        ),
    ),
    # Daily bill check (EventBridge Scheduler): reads Anthropic's Admin API with httpx, prices billed
    # tokens with genai-prices; its alerts go to tenants' webhooks with httpx too.
    "reconcile": BundleSpec(
        requirements=_PRICING_HANDLER,
        # httpx at the first Admin API call, the price data at the first comparison.
        lazy_modules=("httpx", "shared.reconciliation"),
    ),
    # SQS batch handler; prices each call with genai-prices, keeps its bodies with zstandard; calls a
    # tenant's alert webhook with httpx when a budget threshold is reached (loaded then only).
    "usage_ingest": BundleSpec(requirements=(*_PRICING_HANDLER, "zstandard"), lazy_modules=("httpx",)),
}

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*")


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def project_dependencies(pyproject: Path = ROOT / "pyproject.toml") -> dict[str, str]:
    """`[project] dependencies` by normalized name -> the full requirement (extras, version)."""
    specs = tomllib.loads(pyproject.read_text())["project"]["dependencies"]
    result: dict[str, str] = {}
    for spec in specs:
        match = _NAME.match(spec)
        if not match:
            raise ValueError(f"unreadable requirement in pyproject.toml: {spec!r}")
        result[normalize(match.group(0))] = spec
    return result


def requirements_for(function: str, dependencies: dict[str, str] | None = None) -> list[str]:
    dependencies = dependencies if dependencies is not None else project_dependencies()
    missing = [name for name in BUNDLES[function].requirements if normalize(name) not in dependencies]
    if missing:
        raise ValueError(f"{function}: {missing} are not in [project] dependencies of pyproject.toml")
    return [dependencies[normalize(name)] for name in BUNDLES[function].requirements]


@dataclass(frozen=True)
class LockedPackage:
    name: str  # normalized
    version: str
    entry: str  # the lock's requirement as pip reads it: pin, marker and every wheel's hash


_PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==(?P<version>[^\s;]+)")


def read_lock(lock: Path = RUNTIME_LOCK) -> list[LockedPackage]:
    """A lock's pinned requirements, in order (a name appears twice when markers split its version)."""
    packages = []
    for line in lock.read_text().replace("\\\n", " ").splitlines():
        requirement = line.split("#", 1)[0].strip()
        if not requirement:
            continue
        match = _PIN.match(requirement)
        if not match:
            raise ValueError(f"{lock.name}: not a pinned requirement: {requirement!r}")
        packages.append(
            LockedPackage(normalize(match["name"]), match["version"], " ".join(requirement.split()))
        )
    return packages


def _pip(*args: str) -> None:
    # Only our own fixed arguments, paths and requirement strings from pyproject.toml reach pip.
    subprocess.run([sys.executable, "-m", "pip", *args], check=True)  # noqa: S603


def _binary_options(platform: str, python_version: str) -> list[str]:
    return [
        "--platform",
        platform,
        "--python-version",
        python_version,
        "--implementation",
        "cp",
        "--only-binary=:all:",
    ]


def _digest(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def fill_wheelhouse(wheelhouse: Path, lock: Path, platform: str, python_version: str) -> None:
    """Downloads the locked wheels, hash-checked, once; reruns with the same lock stay offline. Only
    the locked versions are ever in it, so a resolution against it can pick nothing else."""
    stamp = wheelhouse / ".requirements"
    digest = _digest(lock.read_text(), platform, python_version)
    if stamp.exists() and stamp.read_text() == digest:
        return
    shutil.rmtree(wheelhouse, ignore_errors=True)
    wheelhouse.mkdir(parents=True)
    _pip(
        "download",
        "--quiet",
        "--require-hashes",
        "--no-deps",
        "--dest",
        str(wheelhouse),
        *_binary_options(platform, python_version),
        "--requirement",
        str(lock),
    )
    stamp.write_text(digest)


def _resolve(requirements: list[str], wheelhouse: Path, platform: str, python_version: str) -> set[str]:
    """The names of every package the requirements pull in, as pip resolves them from the wheelhouse."""
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "report.json"
        _pip(
            "install",
            "--dry-run",
            "--quiet",
            "--report",
            str(report),
            "--no-index",
            "--find-links",
            str(wheelhouse),
            "--target",
            str(Path(scratch) / "target"),
            *_binary_options(platform, python_version),
            *requirements,
        )
        return {normalize(item["metadata"]["name"]) for item in json.loads(report.read_text())["install"]}


def build_bundle(
    function: str,
    out: Path,
    wheelhouse: Path,
    platform: str,
    python_version: str,
    dependencies: dict[str, str],
    lock: Path,
) -> Path:
    """The function's bundle: its packages installed from the lock's own lines, hashes required."""
    bundle = out / function
    stamp = out / f".{function}.requirements"
    requirements = requirements_for(function, dependencies)
    digest = _digest(requirements, lock.read_text(), platform, python_version)
    if not (bundle.is_dir() and stamp.exists() and stamp.read_text() == digest):
        shutil.rmtree(bundle, ignore_errors=True)
        stamp.unlink(missing_ok=True)
        needed = _resolve(requirements, wheelhouse, platform, python_version)
        locked = read_lock(lock)
        unlocked = needed - {package.name for package in locked}
        if unlocked:
            raise ValueError(f"{function} needs {sorted(unlocked)}, not in {lock.name}: run `make lock`")
        with tempfile.TemporaryDirectory() as scratch:
            pins = Path(scratch) / f"{function}.txt"
            pins.write_text("".join(f"{package.entry}\n" for package in locked if package.name in needed))
            _pip(
                "install",
                "--quiet",
                "--require-hashes",
                "--no-deps",  # `needed` is the whole closure already
                "--no-index",
                "--find-links",
                str(wheelhouse),
                "--no-compile",  # .pyc made by this interpreter would not match Lambda's
                "--target",
                str(bundle),
                *_binary_options(platform, python_version),
                "--requirement",
                str(pins),
            )
        # Console scripts point at this machine's interpreter: useless in Lambda.
        shutil.rmtree(bundle / "bin", ignore_errors=True)
        stamp.write_text(digest)
    _copy_code(function, bundle)
    _compile(bundle, python_version)
    return bundle


def _compile(bundle: Path, python_version: str) -> None:
    """Bytecode for the runtime's Python: /var/task is read-only, so without it every cold start
    compiles every module it imports. Unchecked-hash .pyc stay valid whatever the zip does to mtimes.
    Skipped (with a note) where no interpreter of that version is installed."""
    interpreter = _pyenv_python(python_version) or shutil.which(f"python{python_version}")
    if interpreter is None:
        print(f"note: no python{python_version} here; bundle {bundle.name} ships without bytecode")
        return
    subprocess.run(  # noqa: S603 - our own interpreter and our own folder
        [
            interpreter,
            "-m",
            "compileall",
            "-q",
            "-j",
            "0",
            "--invalidation-mode",
            "unchecked-hash",
            str(bundle),
        ],
        check=True,
    )


def _pyenv_python(python_version: str) -> str | None:
    """pyenv's own interpreter (its shim on PATH fails unless that version is selected)."""
    versions = sorted(Path.home().glob(f".pyenv/versions/{python_version}.*/bin/python{python_version}"))
    return str(versions[-1]) if versions else None


def _copy_code(function: str, bundle: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for stale in ("functions", "shared"):
        shutil.rmtree(bundle / stale, ignore_errors=True)
    (bundle / "functions").mkdir()
    shutil.copy2(ROOT / "functions" / "__init__.py", bundle / "functions" / "__init__.py")
    shutil.copytree(ROOT / "functions" / function, bundle / "functions" / function, ignore=ignore)
    shutil.copytree(ROOT / "shared", bundle / "shared", ignore=ignore)
    for script in BUNDLES[function].root_scripts:
        target = bundle / script
        shutil.copy2(ROOT / "functions" / function / script, target)
        target.chmod(0o755)


def size_of(path: Path) -> int:
    return sum(file.stat().st_size for file in path.rglob("*") if file.is_file())


def build_all(
    functions: list[str],
    out: Path,
    platform: str = LAMBDA_PLATFORM,
    python_version: str = LAMBDA_PYTHON,
    lock: Path = RUNTIME_LOCK,
) -> dict[str, Path]:
    dependencies = project_dependencies()
    wheelhouse = ROOT / "build" / "wheels" / f"{platform}-cp{python_version.replace('.', '')}"
    fill_wheelhouse(wheelhouse, lock, platform, python_version)
    out.mkdir(parents=True, exist_ok=True)
    return {
        function: build_bundle(function, out, wheelhouse, platform, python_version, dependencies, lock)
        for function in functions
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("functions", nargs="*", help=f"some of {', '.join(BUNDLES)} (default: all)")
    parser.add_argument(
        "--platform", default=LAMBDA_PLATFORM, help=f"wheel platform (default {LAMBDA_PLATFORM})"
    )
    parser.add_argument("--python-version", default=LAMBDA_PYTHON, help=f"default {LAMBDA_PYTHON}")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "bundles")
    args = parser.parse_args(argv)
    unknown = set(args.functions) - set(BUNDLES)
    if unknown:
        parser.error(f"unknown functions: {', '.join(sorted(unknown))}")
    bundles = build_all(args.functions or list(BUNDLES), args.out, args.platform, args.python_version)
    for function, path in bundles.items():
        print(f"{function:<14} {size_of(path) / 1_048_576:7.1f} MiB  {path}")


if __name__ == "__main__":
    main()
