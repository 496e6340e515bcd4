"""The gap read model: distance between the sides' numbers and who conceded how much."""

from __future__ import annotations

import datetime as dt

import pytest

from negotiation.core.history import History
from projections import gaps_json, gaps_of
from tests.projections.builders import NOW, Log
from tests.projections.timelines import WGA, wga

D = dt.date


@pytest.fixture(scope="module")
def history() -> History:
    return wga().history()


def test_gap_and_moves(history: History) -> None:
    """wga 6 -> 5.5 and amptp 4 -> 5 percent: a 0.5 point gap; each side's concessions add up."""
    (gap,) = gaps_of(history, as_of=D(2023, 9, 21), now=NOW)
    assert (gap.issue, gap.unit, gap.distance) == ("wages", "percent", 0.5)
    assert (gap.union.party, gap.union.amount, gap.union.event) == ("wga", 5.5, "w-pay-2")
    assert (gap.employer.party, gap.employer.amount, gap.employer.event) == ("amptp", 5, "a-pay-2")
    assert [(m.party, m.before, m.after, m.concession, m.distance) for m in gap.moves] == [
        ("wga", None, 6, None, None),
        ("amptp", None, 4, None, 2),
        ("amptp", 4, 5, 1, 1),
        ("wga", 6, 5.5, 0.5, 0.5),
    ]
    assert [m.date for m in gap.moves] == [D(2023, 3, 20), D(2023, 4, 30), D(2023, 8, 11), D(2023, 9, 20)]
    assert (gap.union.conceded, gap.employer.conceded) == (0.5, 1)


def test_gap_as_known_before_a_late_offer(history: History) -> None:
    """Before amptp's Aug 11 offer was recorded (Aug 22) the gap was still 2 points."""
    (gap,) = gaps_of(history, as_of=D(2023, 8, 11), known_at=D(2023, 8, 12), now=NOW)
    assert gap.distance == 2
    assert len(gap.moves) == 2


def test_no_gap_without_numbers_on_both_sides(history: History) -> None:
    """Only issues where both sides' standing proposals carry a number count."""
    assert gaps_of(history, as_of=D(2023, 4, 29), now=NOW) == []
    assert {g.issue for g in gaps_of(history, now=NOW)} == {"wages"}


def _log() -> Log:
    log = Log("g")
    log.open("2023-01-01", unions=("u",), employers=("e1", "e2"), issues=("pay",))
    log.add("proposal.made", "u1", "2023-01-02", by="u", issue="pay", terms="10", value={"amount": 10, "unit": "usd"})
    log.add("proposal.made", "a1", "2023-01-03", by="e1", issue="pay", terms="2", value={"amount": 2, "unit": "usd"})
    log.add("proposal.made", "b1", "2023-01-03", by="e2", issue="pay", terms="3", value={"amount": 3, "unit": "pct"})
    log.add("proposal.made", "u2", "2023-01-04", by="u", issue="pay", terms="12", value={"amount": 12, "unit": "usd"})
    log.add("proposal.made", "u3", "2023-01-05", by="u", issue="pay", terms="9", value={"amount": 9, "unit": "usd"})
    log.add("proposal.withdrawn", "w1", "2023-01-06", by="e1", issue="pay")
    return log


def test_moving_away_is_a_negative_concession() -> None:
    """Raising a demand away from the other side counts against the party; units must match."""
    history = _log().history()
    (gap,) = gaps_of(history, as_of=D(2023, 1, 5), now=NOW)  # e2's number is in another unit
    assert (gap.union.party, gap.employer.party, gap.distance) == ("u", "e1", 7)
    assert [(m.event, m.concession) for m in gap.moves] == [("u1", None), ("a1", None), ("u2", -2), ("u3", 3)]
    assert gap.union.conceded == 1


def test_withdrawal_closes_the_gap_question() -> None:
    """Once a side withdraws its number there is no gap on that pair."""
    assert gaps_of(_log().history(), now=NOW) == []


def test_gaps_json(history: History) -> None:
    """The JSON gap names both sides, the distance and every move with from/to."""
    answer = gaps_json(gaps_of(history, as_of=D(2023, 9, 21), now=NOW))
    assert answer["negotiation"] == WGA
    (gap,) = answer["gaps"]
    assert gap["union"] == {
        "party": "wga",
        "amount": 5.5,
        "event": "w-pay-2",
        "since": "2023-09-20",
        "conceded": 0.5,
        "accepted": None,
    }
    assert gap["moves"][-1] == {
        "at": "2023-09-20T15:00:00-07:00",
        "date": "2023-09-20",
        "party": "wga",
        "event": "w-pay-2",
        "from": 6,
        "to": 5.5,
        "concession": 0.5,
        "distance": 0.5,
    }
    assert gaps_json([], negotiation=WGA) == {"negotiation": WGA, "gaps": []}
