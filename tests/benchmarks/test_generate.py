"""The synthetic feed generator: deterministic, in the spec's form, a feed in recorded_at order."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import orjson

from benchmarks.generate import generate
from negotiation import Negotiations


def _lines(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line and not line.startswith(b"#")]


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    """Two runs with one seed write identical files; another seed writes another file."""
    a, b, c = tmp_path / "a.jsonl", tmp_path / "b.jsonl", tmp_path / "c.jsonl"
    generate(a, negotiations=5, events_per=30, seed=7)
    generate(b, negotiations=5, events_per=30, seed=7)
    generate(c, negotiations=5, events_per=30, seed=8)
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()


def test_feed_is_in_recorded_order_with_every_recorded_at(tmp_path: Path) -> None:
    """Every line carries recorded_at, never before occurred_at, and the file is sorted by it."""
    path = tmp_path / "feed.jsonl"
    stats = generate(path, negotiations=8, events_per=40, seed=3)
    lines = _lines(path)
    assert len(lines) == stats["events"] == 320
    recorded = [dt.datetime.fromisoformat(obj["recorded_at"]) for obj in lines]
    assert recorded == sorted(recorded)
    for obj, known in zip(lines, recorded, strict=True):
        if len(obj["occurred_at"]) > 10:
            assert known >= dt.datetime.fromisoformat(obj["occurred_at"])
    assert len({obj["negotiation"] for obj in lines}) == 8


def test_generated_feed_imports_without_a_refusal(tmp_path: Path) -> None:
    """The state machine accepts every generated line, late ones included."""
    path = tmp_path / "feed.jsonl"
    stats = generate(path, negotiations=6, events_per=120, seed=11)
    assert stats["late"] > 0
    with Negotiations("memory:") as app:
        report = app.import_files([path])
    assert report.ok, report.refused[:3]
    assert report.stored == stats["events"]
