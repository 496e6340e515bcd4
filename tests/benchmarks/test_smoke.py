"""A small run of the benchmarks in the suite, so that they do not rot: sections and sane numbers, no timings."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from benchmarks import run as bench

pytestmark = pytest.mark.slow

SECTIONS = ("meta", "datasets", "import", "floor", "peer", "asof", "catchup", "targets")


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("bench")
    return bench.run("small", out_dir=out, json_path=out / "report.json")


def test_report_has_every_section(report: dict[str, Any]) -> None:
    """The report holds every section and its JSON file was written."""
    assert all(section in report for section in SECTIONS)
    assert Path(report["meta"]["json"]).stat().st_size > 0


def test_datasets_have_the_requested_size(report: dict[str, Any]) -> None:
    """Both data sets hold negotiations x events-per events, some of them recorded late."""
    scale = bench.SCALES["small"]
    multi, single = report["datasets"]["multi"], report["datasets"]["single"]
    assert multi["events"] == scale.negotiations * scale.events_per
    assert single["events"] == scale.single
    assert multi["late"] > 0
    assert single["late"] > 0


def test_every_import_stored_every_event(report: dict[str, Any]) -> None:
    """Each import exits 0, stores exactly the file's events, at a positive rate and RSS."""
    rows = report["import"]
    if os.environ.get("NEGOTIATION_REQUIRE_POSTGRES") == "1":
        assert not report.get("postgres_note"), report.get("postgres_note")
    backends = {"sqlite"} if report.get("postgres_note") else {"sqlite", "postgres"}
    assert {(r["dataset"], r["backend"]) for r in rows} == {(d, b) for d in ("multi", "single") for b in backends}
    for row in rows:
        assert row["exit"] == 0, row
        assert row["stored"] == row["events"] == report["datasets"][row["dataset"]]["events"]
        assert row["events_per_s"] > 0
        assert row["peak_rss_mb"] > 0


def test_floor_stores_the_same_rows(report: dict[str, Any]) -> None:
    """The floor inserts as many rows as there are events, at positive rates."""
    for row in report["floor"]:
        assert row["exit"] == 0
        assert row["stored"] == row["events"]
        assert min(row["events_per_s"], row["json_parse_events_per_s"], row["orjson_parse_events_per_s"]) > 0


def test_peer_saves_every_event(report: dict[str, Any]) -> None:
    """The textbook peer saves the requested prefix in each style, at a positive rate."""
    scale = bench.SCALES["small"]
    expected = {("cached", "file"): scale.peer, ("get", "file"): scale.peer_get, ("cached", "memory"): scale.peer}
    assert {(p["style"], p["sqlite"]): p["events"] for p in report["peer"]} == expected
    assert all(p["events_per_s"] > 0 for p in report["peer"])


def test_asof_covers_every_point_and_agrees_with_a_refold(report: dict[str, Any]) -> None:
    """Status and positions at 10/50/90%, with and without a knowledge time, match the refold."""
    asof = report["asof"]
    assert asof["events"] == bench.SCALES["small"].single
    keys = {(r["query"], r["point"], r["known_at"]) for r in asof["rows"]}
    assert len(keys) == 12
    for row in asof["rows"]:
        assert row["consistent"], row
        assert 0 < row["p50_ms"] <= row["p99_ms"]
        assert row["refold_p50_ms"] > 0
        assert row["speedup"] > 0


def test_catchup_is_measured_or_explained(report: dict[str, Any]) -> None:
    """Catch-up has a positive rate when a persisted projection exists, else a note why not."""
    catchup = report["catchup"]
    if catchup["available"]:
        assert catchup["events_per_s"] > 0
    else:
        assert catchup["note"]


def test_every_target_has_a_verdict(report: dict[str, Any]) -> None:
    """Each target of the issue is reported with PASS, FAIL or n/a, and the table renders."""
    names = " ".join(t["target"] for t in report["targets"])
    for word in ("import multi", "floor", "peer", "peak RSS", "as-of p50", "refold", "catch-up"):
        assert word in names
    assert {t["result"] for t in report["targets"]} <= {"PASS", "FAIL", "n/a"}
    assert "Targets" in bench.render(report)
