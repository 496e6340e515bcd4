"""The charts' data: what the WGA chart must show, honest to --known-at, and the held-back shapes."""

from __future__ import annotations

import datetime as dt

import pytest

from negotiation import Negotiations
from negotiation.charts.data import MAX_EVENT_MARKS, negotiation_data, stoppages_data


def _steps(panel, party):  # type: ignore[no-untyped-def]
    return [(s["date"], s["amount"]) for s in panel.steps if s["party"] == party and not s["edge"]]


def test_wga_strike_runs_from_may_2_to_sept_27_for_148_days(hollywood: Negotiations) -> None:
    data = negotiation_data(hollywood, "wga-amptp-2023")
    assert (data.start, data.end) == (dt.date(2023, 3, 20), dt.date(2023, 10, 9))
    [strike] = data.stoppages
    assert (strike["start"], strike["end"], strike["kind"], strike["parties"]) == (
        "2023-05-02",
        "2023-09-27",
        "strike",
        "wga",
    )
    assert strike["days"] == 148
    assert strike["label"] == "strike by wga: 148 days"
    assert {"date": "2023-08-11", "label": "day 102", "lane": "stoppage"} in data.day_labels
    resumed = next(e for e in data.events if e["id"] == "wga-023")
    assert (resumed["lane"], resumed["day"]) == ("talks", "day 102")


def test_wga_phases_follow_the_status_answers(hollywood: Negotiations) -> None:
    data = negotiation_data(hollywood, "wga-amptp-2023")
    phases = [(p["start"], p["phase"]) for p in data.phases]
    assert phases[0] == ("2023-03-20", "bargaining")
    assert ("2023-05-01", "impasse") in phases
    assert ("2023-05-02", "strike") in phases
    assert ("2023-09-24", "tentative_agreement") in phases
    assert phases[-1] == ("2023-10-09", "ratified")
    assert data.phases[-1]["end"] == "2023-10-10"  # the last day shown is drawn whole
    for before, after in zip(data.phases, data.phases[1:], strict=False):
        assert before["end"] == after["start"]
    assert data.expiry == ({"date": "2023-05-01", "label": "contract expires"},)


def test_wga_wage_lines_start_at_6_and_4_and_the_employer_moves_to_5(hollywood: Negotiations) -> None:
    data = negotiation_data(hollywood, "wga-amptp-2023")
    [wages] = [p for p in data.panels if p.issue == "wages"]
    assert wages.unit == "percent"
    assert _steps(wages, "wga")[0] == ("2023-03-20", 6)
    assert _steps(wages, "amptp")[:2] == [("2023-04-30", 4), ("2023-08-11", 5)]
    assert wages.gap[0] == {"date": "2023-04-30", "union": 6, "employer": 4}
    # Each party's line reaches the right edge of the chart.
    assert {s["party"] for s in wages.steps if s["edge"]} == {"wga", "amptp"}
    # Spec 1.1: the WGA's acceptance of the 5% offer closes the gap (the positions answer's "accepted").
    assert _steps(wages, "wga")[-1] == ("2023-09-24", 5)
    assert {"date": "2023-09-24", "union": 5, "employer": 5} in wages.gap
    [acceptance] = wages.acceptances
    assert acceptance == {
        "date": "2023-09-24",
        "party": "wga",
        "amount": 5,
        "event": "wga-024",
        "accepted": "wga-041",
    }


def test_known_at_keeps_what_was_not_public_yet_out(hollywood: Negotiations) -> None:
    """On Aug. 12 the AMPTP's Aug. 11 wage offer was not public (it was on Aug. 22)."""
    data = negotiation_data(hollywood, "wga-amptp-2023", end=dt.date(2023, 8, 15), known_at=dt.date(2023, 8, 12))
    [wages] = [p for p in data.panels if p.issue == "wages"]
    assert [a for _, a in _steps(wages, "amptp")] == [4]
    assert "wga-024" not in {e["id"] for e in data.events}
    assert "wga-023" in {e["id"] for e in data.events}  # recorded Aug. 12
    assert data.known_at is not None
    assert data.known_at.startswith("2023-08-12T23:59:59")


def test_range_clips_events_and_moves(hollywood: Negotiations) -> None:
    data = negotiation_data(hollywood, "wga-amptp-2023", start=dt.date(2023, 8, 1), end=dt.date(2023, 8, 31))
    assert all("2023-08-01" <= e["date"] <= "2023-08-31" for e in data.events)
    [wages] = [p for p in data.panels if p.issue == "wages"]
    # The standing amounts at the start of the range begin the lines there.
    assert _steps(wages, "wga") == [("2023-08-01", 6)]
    assert _steps(wages, "amptp") == [("2023-08-01", 4), ("2023-08-11", 5)]
    [strike] = data.stoppages
    assert strike["start"] == "2023-05-02"  # since, as the status says; the chart clips the bar
    assert strike["label"].endswith("(running)")


def test_stoppages_across_the_store_overlap_in_summer_2023(hollywood: Negotiations) -> None:
    data = stoppages_data(hollywood, start=dt.date(2023, 1, 1), end=dt.date(2023, 12, 31))
    bars = {b["negotiation"]: b for b in data.bars}
    assert set(bars) == {"wga-amptp-2023", "sag-aftra-amptp-2023"}
    wga, sag = bars["wga-amptp-2023"], bars["sag-aftra-amptp-2023"]
    assert (wga["start"], wga["end"], wga["days"]) == ("2023-05-02", "2023-09-27", 148)
    assert (sag["start"], sag["end"], sag["days"]) == ("2023-07-14", "2023-11-09", 118)
    assert wga["label"] == "wga vs amptp: 148 days"
    assert sag["label"] == "sag-aftra vs amptp: 118 days"
    assert wga["span"] == "May 2 to Sep 27, 2023"
    assert sag["start"] < wga["end"]  # they overlap


def test_stoppages_outside_the_range_are_left_out(hollywood: Negotiations) -> None:
    assert stoppages_data(hollywood, start=dt.date(2022, 1, 1), end=dt.date(2022, 12, 31)).bars == ()
    data = stoppages_data(hollywood, start=dt.date(2023, 9, 1), end=dt.date(2023, 9, 30))
    wga = next(b for b in data.bars if b["negotiation"] == "wga-amptp-2023")
    assert (wga["start"], wga["since"]) == ("2023-09-01", "2023-05-02")


def test_lockout(shapes: Negotiations) -> None:
    data = negotiation_data(shapes, "nhl-2012")
    [lockout] = data.stoppages
    assert (lockout["kind"], lockout["parties"], lockout["start"], lockout["end"]) == (
        "lockout",
        "nhl",
        "2012-09-16",
        "2013-01-12",
    )
    assert lockout["days"] == 118
    assert "lockout" in {p["phase"] for p in data.phases}
    [share] = data.panels
    assert _steps(share, "nhl")[-1] == ("2012-10-16", 50)
    bars = stoppages_data(shapes, start=dt.date(2012, 1, 1), end=dt.date(2013, 12, 31)).bars
    assert [(b["kind"], b["parties"], b["against"]) for b in bars] == [("lockout", "nhl", "nhlpa")]


def test_two_unions_striking_together(shapes: Negotiations) -> None:
    data = negotiation_data(shapes, "hotels-2023")
    [strike] = data.stoppages
    assert strike["parties"] == "local-11, teamsters"
    assert (strike["start"], strike["end"], strike["days"]) == ("2023-07-02", "2023-07-30", 28)
    # One panel per issue, both unions' lines on it.
    [wages] = data.panels
    assert {s["party"] for s in wages.steps} == {"local-11", "teamsters", "hotels"}
    assert wages.unit == "USD/hour"


def test_rejected_tentative_agreement(shapes: Negotiations) -> None:
    data = negotiation_data(shapes, "boeing-2024")
    phases = [p["phase"] for p in data.phases]
    assert phases.count("tentative_agreement") == 2
    assert phases[-1] == "ratified"
    votes = [e for e in data.events if e["type"] == "ratification.completed"]
    assert [v["lane"] for v in votes] == ["agreement and votes", "agreement and votes"]
    [strike] = data.stoppages
    assert (strike["start"], strike["end"]) == ("2024-09-13", "2024-11-04")


def test_no_numeric_issue_gives_no_panel_but_a_timeline(shapes: Negotiations) -> None:
    data = negotiation_data(shapes, "words-2023")
    assert data.panels == ()
    assert [e["id"] for e in data.events] == ["open", "w-2", "w-3", "w-4", "w-5"]


def test_single_event(shapes: Negotiations) -> None:
    data = negotiation_data(shapes, "lonely-2023")
    assert (data.start, data.end) == (dt.date(2023, 4, 1), dt.date(2023, 4, 1))
    assert [e["type"] for e in data.events] == ["negotiation.opened"]
    assert [p["phase"] for p in data.phases] == ["opened"]
    assert data.stoppages == data.panels == ()


def test_an_empty_range_still_has_a_frame(shapes: Negotiations) -> None:
    data = negotiation_data(shapes, "lonely-2023", start=dt.date(2023, 6, 1), end=dt.date(2023, 6, 30))
    assert data.events == ()
    assert [p["phase"] for p in data.phases] == ["opened"]


def test_many_events_are_counted_not_drawn(monkeypatch: pytest.MonkeyPatch, hollywood: Negotiations) -> None:
    """Above the bound, events become counts per lane and period (the bound itself is lowered here)."""
    monkeypatch.setattr("negotiation.charts.data.MAX_EVENT_MARKS", 12)
    data = negotiation_data(hollywood, "wga-amptp-2023")
    assert data.events == ()
    assert sum(c["count"] for c in data.event_counts) == data.total_events == 46
    assert len(data.event_counts) <= 12
    assert any("counts per" in note for note in data.notes)
    assert MAX_EVENT_MARKS == 1500


def test_hostile_text_is_made_printable(shapes: Negotiations) -> None:
    data = negotiation_data(shapes, "hostile-2023")
    texts = [e["summary"] for e in data.events] + [p["name"] for p in data.parties] + [data.title]
    assert all("\x1b" not in t and "\x07" not in t and "\u202e" not in t for t in texts)
    assert any("\\x1b[31mRED" in t for t in texts)
    assert any("<script>window.__pwned = 1</script>" in t for t in texts)
