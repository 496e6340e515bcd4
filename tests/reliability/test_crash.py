"""kill -9 during an import: running it again completes it, byte for byte as a clean import would have."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.reliability.conftest import BIG_EVENTS

ROOT = Path(__file__).resolve().parents[2]
TRIALS = 3
CHUNK_SIZE = 1000
"""Events per transaction of the storing pass (hidden ``--chunk-size``): ~100 commits, ~100 places to die at."""


def _worker(*args: object) -> subprocess.Popen[bytes]:
    """``python -m tests.reliability.crash ARGS...`` in a process of its own (all cores, no coverage tracer)."""
    return subprocess.Popen(
        [sys.executable, "-m", "tests.reliability.crash", *map(str, args)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _outcome(process: subprocess.Popen[bytes]) -> dict[str, Any]:
    out, err = process.communicate(timeout=300)
    assert b"Traceback" not in err, err.decode(errors="replace")
    outcome: dict[str, Any] = orjson.loads(out.splitlines()[-1])
    assert "error" not in outcome, outcome["error"]
    assert process.returncode == 0
    return outcome


@pytest.mark.slow
def test_kill_9_at_random_moments_then_resume(big_log: Path, tmp_path: Path) -> None:
    """Imports of 100,000 events killed at random points resume to the clean import's rows, export and read models."""
    seed = int(os.environ.get("NEGOTIATION_CRASH_SEED", random.randrange(2**32)))
    print(f"NEGOTIATION_CRASH_SEED={seed}")  # shown when the test fails: reproduce with it
    rng = random.Random(seed)
    targets = [rng.randrange(1, BIG_EVENTS) for _ in range(TRIALS)]
    clean = tmp_path / "clean.db"

    reference = _worker("reference", big_log, clean, CHUNK_SIZE)
    trials = [
        _worker("trial", big_log, clean, tmp_path / f"trial-{i}.db", CHUNK_SIZE, f"at:{target}")
        for i, target in enumerate(targets)
    ]
    assert _outcome(reference)["events"] == BIG_EVENTS
    outcomes = [_outcome(t) for t in trials]

    for target, outcome in zip(targets, outcomes, strict=True):
        assert outcome["stored"] >= target
        assert outcome["killed"] or outcome["stored"] == BIG_EVENTS
        assert outcome["projected"] == outcome["stored"]  # the read models caught up with the partial store
        assert outcome["stored"] + outcome["resumed"] == BIG_EVENTS
    assert any(0 < outcome["stored"] < BIG_EVENTS for outcome in outcomes)
