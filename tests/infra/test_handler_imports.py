"""Each Lambda handler module, imported alone, loads nothing it has no use for at start-up.

What a handler loads at import is paid on every cold start; packages it needs only on rarer paths
load there (bench/coldstart.py says which). Checked in a fresh interpreter per handler: a package
imported by anything else in this test run would hide the import.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.coldstart import HANDLERS, NOT_AT_START

ROOT = Path(__file__).resolve().parents[2]

_PROBE = """
import importlib, json, sys
importlib.import_module(sys.argv[1])
print(json.dumps(sorted({name.partition(".")[0] for name in sys.modules})))
"""


@pytest.mark.parametrize("function", list(HANDLERS))
def test_a_handler_imports_none_of_what_it_needs_only_later(function: str) -> None:
    env = {**os.environ, "POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_METRICS_DISABLED": "true"}
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, HANDLERS[function]],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    loaded = set(json.loads(result.stdout.strip().splitlines()[-1]))
    assert loaded & set(NOT_AT_START[function]) == set()
    # The probe itself is meaningful: each handler does load what it runs on.
    assert {"boto3", "aws_lambda_powertools"} <= loaded
