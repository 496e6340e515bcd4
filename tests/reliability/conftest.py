"""Fixtures of the reliability tests: a generated 100,000-event log; logging put back after in-process CLI runs."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

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


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """The CLI configures structlog and the root logger; put both back for the tests that follow."""
    saved = structlog.get_config()
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    yield
    structlog.configure(**saved)
    root.setLevel(level)
    root.handlers[:] = handlers
