"""A small run of ``benchmarks.derive``: it times every run and digests the same rows every time."""

from __future__ import annotations

from pathlib import Path

from benchmarks import derive


def test_the_derivation_benchmark_runs_and_its_digest_is_stable(tmp_path: Path) -> None:
    first = derive.bench_derive(12, 20, tmp_path, runs=2)
    again = derive.bench_derive(12, 20, tmp_path, runs=1)  # the store of the first call is reused
    assert first["events"] == again["events"] == 12 * 20
    assert len(first["us_per_event"]) == 2
    assert all(x > 0 for x in first["us_per_event"])
    assert first["best_us_per_event"] == min(first["us_per_event"])
    assert first["rows"] == again["rows"]
    assert len(first["rows"]) == 64
