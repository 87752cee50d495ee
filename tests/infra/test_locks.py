"""What is deployed is what was tested: the locks pin everything pyproject.toml asks for, the runtime
lock (the bundles) pins the same versions as the dev lock, and this environment is the dev lock."""

from __future__ import annotations

import tomllib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from infra.bundles import LAMBDA_PYTHON, RUNTIME_LOCK, LockedPackage, normalize, read_lock

ROOT = Path(__file__).resolve().parents[2]
DEV_LOCK = ROOT / "requirements" / "dev.txt"
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _requirement(package: LockedPackage) -> Requirement:
    return Requirement(package.entry.split(" --hash", 1)[0])


def _applies_here(package: LockedPackage) -> bool:
    marker = _requirement(package).marker
    return marker is None or marker.evaluate()


@pytest.mark.parametrize(
    ("lock", "specs"),
    [
        (RUNTIME_LOCK, PROJECT["dependencies"]),
        (DEV_LOCK, [*PROJECT["dependencies"], *PROJECT["optional-dependencies"]["dev"]]),
    ],
    ids=["runtime", "dev"],
)
def test_the_lock_pins_every_dependency_of_pyproject_at_a_version_it_accepts(
    lock: Path, specs: list[str]
) -> None:
    pins = {package.name: package.version for package in read_lock(lock)}
    for spec in specs:
        requirement = Requirement(spec)
        name = normalize(requirement.name)
        assert name in pins, f"{requirement.name} is not in {lock.name}: run `make lock`"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"{lock.name} pins {name}=={pins[name]}, pyproject.toml asks {spec!r}: run `make lock`"
        )


def test_every_locked_package_is_hash_pinned() -> None:
    for lock in (RUNTIME_LOCK, DEV_LOCK):
        for package in read_lock(lock):
            assert "--hash=sha256:" in package.entry, f"{lock.name}: {package.name} has no hash"


def test_the_bundles_ship_the_versions_the_tests_run_on() -> None:
    dev = {(package.name, package.version) for package in read_lock(DEV_LOCK)}
    differing = [
        f"{package.name}=={package.version}"
        for package in read_lock(RUNTIME_LOCK)
        if (package.name, package.version) not in dev
    ]
    assert not differing, f"the runtime lock pins versions the dev lock does not: {differing}"


def test_runtime_lock_markers_hold_alike_here_and_in_lambda() -> None:
    """pip judges a lock's markers by the machine it runs on, not by the bundle's target platform: a
    marker that Lambda (Linux arm64, CPython 3.13) would judge otherwise picks the wrong packages."""
    lambda_environment = {
        "python_version": LAMBDA_PYTHON,
        "python_full_version": f"{LAMBDA_PYTHON}.0",
        "platform_machine": "aarch64",
        "sys_platform": "linux",
        "platform_system": "Linux",
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
    }
    for package in read_lock(RUNTIME_LOCK):
        marker = _requirement(package).marker
        if marker is not None:
            assert marker.evaluate() == marker.evaluate(lambda_environment), str(_requirement(package))


def test_this_environment_runs_the_locked_versions() -> None:
    """Above all genai-prices, whose package carries the price data: the costs the tests checked are
    the costs the deployed functions compute."""
    prices = {package.name: package.version for package in read_lock(RUNTIME_LOCK)}["genai-prices"]
    assert version("genai-prices") == prices
    stale = []
    for package in filter(_applies_here, read_lock(DEV_LOCK)):
        try:
            installed = version(package.name)
        except PackageNotFoundError:
            installed = "missing"
        if installed != package.version:
            stale.append(f"{package.name} {installed} (locked {package.version})")
    assert not stale, f"not what the lock pins, run `make .venv/.installed`: {stale}"
