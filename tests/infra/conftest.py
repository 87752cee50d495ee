"""The stack, synthesized once for the infra tests, with placeholder code instead of real bundles."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

# Set as ops would in cdk.json (`clerkPublishableKey`), to see where it goes.
CLERK_PUBLISHABLE_KEY = "pk_test_Y2xlYW4tbW9sZS0xMi5jbGVyay5hY2NvdW50cy5kZXYk"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "bundles: builds the real Lambda bundles (pip, cached under build/)")


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path]:
    """(the stack, the directory of its cloud assembly): cdk-nag has run, synthesis passed."""
    from infra.app import build_app
    from infra.bundles import BUNDLES

    placeholders = tmp_path_factory.mktemp("bundles")
    for function in BUNDLES:
        (placeholders / function).mkdir()
        (placeholders / function / "placeholder.txt").write_text(function)
    outdir = tmp_path_factory.mktemp("cdk.out")
    context = {"bundleDir": str(placeholders), "clerkPublishableKey": CLERK_PUBLISHABLE_KEY}
    app, stack = build_app(context=context, outdir=str(outdir))
    app.synth()
    return stack, outdir


@pytest.fixture(scope="session")
def template(synthesized: tuple[Any, Path]) -> Any:
    from aws_cdk.assertions import Template

    stack, _ = synthesized
    return Template.from_stack(stack)


@pytest.fixture(scope="session")
def template_json(synthesized: tuple[Any, Path]) -> dict[str, Any]:
    _, outdir = synthesized
    return json.loads((outdir / "Codecosts.template.json").read_text())
