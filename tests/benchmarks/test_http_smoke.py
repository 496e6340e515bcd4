"""A tiny run of benchmarks.http (SQLite only), so that it does not rot: every figure present, no timings asserted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import http as bench

pytestmark = pytest.mark.slow


def test_the_http_benchmark_runs(tmp_path: Path) -> None:
    out = tmp_path / "http.json"
    argv = ["--negotiations", "30", "--events-per", "6", "--append-negotiations", "2", "--append-events-per", "300"]
    argv += ["--requests", "60", "--concurrency", "4", "--follows", "5", "--postgres", "", "--json", str(out)]
    assert bench.main(argv) == 0
    report = json.loads(out.read_text(encoding="utf-8"))
    (result,) = report["results"]
    assert result["store"] == "sqlite"
    assert result["status"]["requests"] == 60
    assert result["status"]["errors"] == 0
    assert result["append"]["stored"] == result["append"]["events"] == 600
    assert result["follow"]["arrived"] == 5
    assert set(result["targets"]) == {
        "status >= 1000 req/s",
        "status p99 <= 25 ms",
        "append >= 50% of CLI import",
        "follow p50 <= 150 ms",
    }
