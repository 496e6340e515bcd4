"""kill -9 during an import: running it again completes it, byte for byte as a clean import would have."""

from __future__ import annotations

import os
import random
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.reliability import crash
from tests.reliability.conftest import BIG_EVENTS

TRIALS = 3
CHUNK_SIZE = 1000
"""Events per transaction of the storing pass (hidden ``--chunk-size``): ~100 commits, ~100 places to die at."""


@pytest.mark.slow
def test_kill_9_at_random_moments_then_resume(big_log: Path, tmp_path: Path) -> None:
    """Three imports of 100,000 events killed at random points: each resumes to the clean import's rows, export and read models."""
    seed = int(os.environ.get("NEGOTIATION_CRASH_SEED", random.randrange(2**32)))
    print(f"NEGOTIATION_CRASH_SEED={seed}")  # shown when the test fails: reproduce with it
    rng = random.Random(seed)
    targets = [rng.randrange(1, BIG_EVENTS) for _ in range(TRIALS)]

    def one(index: int, target: int, reference: Future[crash.Reference]) -> tuple[crash.Kill, int, int]:
        db = tmp_path / f"trial-{index}.db"
        kill = crash.import_and_kill(big_log, db, chunk_size=CHUNK_SIZE, kill_at=target)
        projected, resumed = crash.recover(reference.result(), db, kill, chunk_size=CHUNK_SIZE)
        return kill, projected, resumed

    with ThreadPoolExecutor(TRIALS + 1) as pool:
        reference = pool.submit(crash.clean_import, big_log, tmp_path / "clean.db", chunk_size=CHUNK_SIZE)
        trials = [pool.submit(one, i, target, reference) for i, target in enumerate(targets)]
        results = [t.result() for t in trials]

    assert reference.result().events == BIG_EVENTS
    for target, (kill, projected, resumed) in zip(targets, results, strict=True):
        assert kill.stored >= target
        assert kill.killed or kill.stored == BIG_EVENTS
        assert projected == kill.stored
        assert kill.stored + resumed == BIG_EVENTS
    assert any(0 < kill.stored < BIG_EVENTS for kill, _, _ in results)
