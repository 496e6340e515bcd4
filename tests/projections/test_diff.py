"""The diff read model: status fields and positions that changed between two valid times."""

from __future__ import annotations

import datetime as dt

import pytest

from negotiation.core.history import History
from projections import NotOpenedError, Stoppage, diff_json, diff_of
from tests.projections.builders import NOW, Log
from tests.projections.timelines import WGA, wga

D = dt.date


@pytest.fixture(scope="module")
def history() -> History:
    return wga().history()


def test_changes_between_two_days(history: History) -> None:
    """From the eve of the strike to the tentative agreement: phase, talks, stoppage, agreement, wages."""
    diff = diff_of(history, start=D(2023, 5, 1), end=D(2023, 9, 24), now=NOW)
    changes = {c.field: (c.before, c.after) for c in diff.status}
    assert set(changes) == {"phase", "talks", "stoppage", "agreement", "events_applied"}
    assert changes["phase"] == ("impasse", "tentative_agreement")
    assert changes["talks"] == ("suspended", "active")
    assert changes["agreement"] == ("none", "tentative")
    assert changes["events_applied"] == (8, 15)
    before, after = changes["stoppage"]
    assert before is None
    assert isinstance(after, Stoppage)
    assert (after.parties, after.day) == (("wga",), 146)
    assert [(c.party, c.issue, c.kind) for c in diff.positions] == [
        ("amptp", "wages", "changed"),
        ("wga", "wages", "changed"),
    ]
    assert [(c.before.event, c.after.event) for c in diff.positions if c.before and c.after] == [
        ("a-pay-1", "a-pay-2"),
        ("w-pay-1", "w-pay-2"),
    ]


def test_another_day_of_the_same_strike_is_no_change(history: History) -> None:
    """The stoppage field changes with its kind, parties or start, not with its day count."""
    diff = diff_of(history, start=D(2023, 8, 12), end=D(2023, 8, 20), now=NOW)
    assert diff.status == ()
    assert diff.positions == ()


def test_known_at_applies_to_both_ends(history: History) -> None:
    """As known on Aug 12, amptp's Aug 11 offer is not a change yet."""
    diff = diff_of(history, start=D(2023, 8, 1), end=D(2023, 8, 11), known_at=D(2023, 8, 12), now=NOW)
    assert diff.positions == ()
    assert {c.field for c in diff.status} == {"talks", "events_applied"}


def test_added_and_removed_positions() -> None:
    """A proposal made is added; a withdrawn one is removed."""
    log = Log("d")
    log.open("2023-01-01")
    log.add("proposal.made", "p1", "2023-01-02", by="wga", issue="ai", terms="ban")
    log.add("proposal.made", "p2", "2023-01-05", by="amptp", issue="ai", terms="talk")
    log.add("proposal.withdrawn", "w1", "2023-01-05", by="wga", issue="ai")
    diff = diff_of(log.history(), start=D(2023, 1, 3), end=D(2023, 1, 5), now=NOW)
    assert [(c.party, c.kind) for c in diff.positions] == [("amptp", "added"), ("wga", "removed")]
    assert [c.party for c in diff.of_kind("removed")] == ["wga"]


def test_start_before_the_opening_compares_with_nothing(history: History) -> None:
    """A start before the opening shows every position as added; both ends before it are refused."""
    diff = diff_of(history, start=D(2023, 1, 1), end=D(2023, 3, 20), now=NOW)
    assert {c.kind for c in diff.positions} == {"added"}
    assert ("events_applied", 0, 4) in {(c.field, c.before, c.after) for c in diff.status}
    with pytest.raises(NotOpenedError):
        diff_of(history, start=D(2023, 1, 1), end=D(2023, 2, 1), now=NOW)


def test_diff_json(history: History) -> None:
    """The JSON diff reports changed fields with before/after and positions by kind."""
    answer = diff_json(diff_of(history, start=D(2023, 5, 1), end=D(2023, 5, 2), now=NOW))
    assert answer == {
        "negotiation": WGA,
        "from": "2023-05-01T23:59:59.999999-07:00",
        "to": "2023-05-02T23:59:59.999999-07:00",
        "known_at": "2024-06-01T05:00:00-07:00",
        "status": {
            "phase": {"before": "impasse", "after": "strike"},
            "stoppage": {
                "before": None,
                "after": {"kind": "strike", "parties": ["wga"], "since": "2023-05-02", "day": 1},
            },
            "events_applied": {"before": 8, "after": 10},
        },
        "positions": {"added": [], "changed": [], "removed": []},
    }
