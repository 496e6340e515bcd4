"""Fixtures of the reliability tests: a generated 100,000-event log, the console script, stores."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.generate import generate

BIG_NEGOTIATIONS = 1000
BIG_EVENTS_PER = 100
BIG_EVENTS = BIG_NEGOTIATIONS * BIG_EVENTS_PER


@pytest.fixture(scope="session")
def big_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A deterministic 100,000-event log: 1,000 negotiations of 100 events (late events and retractions included)."""
    path = tmp_path_factory.mktemp("big") / "big.jsonl"
    stats = generate(path, negotiations=BIG_NEGOTIATIONS, events_per=BIG_EVENTS_PER, seed=2024)
    assert stats["events"] == BIG_EVENTS
    return path
