"""A 100,000-event negotiation: the chart finishes and stays small (aggregated), whatever the format.

The bound: at most ``MAX_EVENT_MARKS`` event marks (beyond, counts per lane and
period), ``MAX_STEPS`` moves per numeric panel (beyond, the last per party and
period), status sampled at ``MAX_SAMPLES`` dates; every output under 5 MB.
Timing is measured by ``benchmarks/charts.py``, not here.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks.generate import generate
from negotiation import Negotiations
from negotiation.charts import negotiation_chart, render
from negotiation.charts.data import MAX_EVENT_MARKS, MAX_STEPS, negotiation_data

pytestmark = pytest.mark.slow

FIVE_MB = 5 * 1024 * 1024


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Negotiations, str]]:
    path = tmp_path_factory.mktemp("big") / "big.jsonl"
    generate(path, negotiations=1, events_per=100_000, seed=1)
    with Negotiations(f"sqlite:///{Path(path).with_suffix('.db')}") as app:
        report = app.import_files([path])
        assert report.stored == 100_000
        yield app, app.negotiation_ids()[0]


def test_100k_events_are_aggregated(big: tuple[Negotiations, str]) -> None:
    app, negotiation = big
    data = negotiation_data(app, negotiation)
    assert data.total_events > 99_000
    assert data.events == ()
    assert 0 < len(data.event_counts) <= MAX_EVENT_MARKS
    assert sum(c["count"] for c in data.event_counts) == data.total_events
    assert data.panels
    assert all(len(p.steps) <= MAX_STEPS + 10 for p in data.panels)
    assert any("counts per" in note for note in data.notes)


@pytest.mark.parametrize("fmt", ["svg", "html", "png"])
def test_100k_chart_is_under_5_mb(big: tuple[Negotiations, str], fmt: str) -> None:
    app, negotiation = big
    output = render(negotiation_chart(app, negotiation), fmt)
    assert 1000 < len(output) < FIVE_MB
