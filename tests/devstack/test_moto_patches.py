"""devstack's moto (the patch set in devstack/moto_patches, run by make dev, the soak and the bench)
answers as moto does, and its queues lose nothing to threads. Each check runs in a process of its own
(moto_patch_checks.py): the patches are for devstack's moto process, never this one's.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def answers(check: str, mode: str) -> Any:
    done = subprocess.run(
        [sys.executable, "-m", "tests.devstack.moto_patch_checks", check, mode],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0 and not done.stderr, done.stderr[-3000:]
    return json.loads(done.stdout)


def test_devstacks_moto_queues_answer_as_motos_do() -> None:
    patched, moto = answers("queues", "patched"), answers("queues", "moto")
    assert patched == moto
    waiting = {
        "ApproximateNumberOfMessages": "0",
        "ApproximateNumberOfMessagesDelayed": "1",
        "ApproximateNumberOfMessagesNotVisible": "5",
    }
    dead = {
        "ApproximateNumberOfMessages": "14",
        "ApproximateNumberOfMessagesDelayed": "0",
        "ApproximateNumberOfMessagesNotVisible": "0",
    }
    assert moto[-4:] == ["deleted", "invalid", "invalid", [waiting, dead]]


def test_devstacks_moto_queues_lose_nothing_to_threads() -> None:
    # Without the patch's lock, moto drops messages sent while a delete rebuilds the queue's list.
    assert answers("threads", "patched") == [5000, 5000, 0, []]


def test_devstacks_moto_queries_answer_as_motos_do() -> None:
    patched, moto = answers("queries", "patched"), answers("queries", "moto")
    assert patched == moto
    assert [status for status, _, _ in moto] == [200] * 8 + [400] * 2
    assert "LastEvaluatedKey" in moto[-3][2]  # the scan stopped at a megabyte: paging is compared too


def test_devstacks_moto_writes_answer_as_motos_do() -> None:
    patched, moto = answers("writes", "patched"), answers("writes", "moto")
    assert patched == moto
    assert moto[:5] == ["written"] * 5 and all(answer != "written" for answer in moto[5:9])
    assert moto[9:11] == ["put", "put"] and all(answer != "put" for answer in moto[11:15])
    assert [answer["tally"]["N"] for answer in moto[15:24:3]] == ["1", "3", "6"]  # the updates applied
    assert all(answer[0] == "ValidationException" for index in (16, 17) for answer in moto[index:24:3])
    stored = ["agg", "agg2", "kinds", "r0", "r1", "r2", "r3", "r4", "under"]
    assert [item["sk"]["S"] for item in moto[-1]] == stored
