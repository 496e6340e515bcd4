"""The positions read model: standing proposals, withdrawals, retractions and late knowledge."""

from __future__ import annotations

import datetime as dt

import pytest

from events import Value
from negotiation.core.history import History
from projections import NotOpenedError, positions_json, positions_of
from tests.projections.builders import NOW, Log
from tests.projections.timelines import WGA, wga

D = dt.date


@pytest.fixture(scope="module")
def history() -> History:
    return wga().history()


def _standing(history: History, **query: object) -> dict[tuple[str, str], str]:
    positions = positions_of(history, now=NOW, **query)  # type: ignore[arg-type]
    return {(p.party, p.issue): p.event for p in positions}


def test_standing_proposals_as_of_a_day(history: History) -> None:
    """Each party's latest proposal per issue counts, as of the end of the day asked."""
    assert _standing(history, as_of=D(2023, 8, 11)) == {
        ("amptp", "wages"): "a-pay-2",
        ("wga", "ai"): "w-ai-1",
        ("wga", "wages"): "w-pay-1",
    }
    assert _standing(history, as_of=D(2023, 4, 29)) == {("wga", "ai"): "w-ai-1", ("wga", "wages"): "w-pay-1"}


def test_position_fields(history: History) -> None:
    """Terms, value, local date and event of a position; ``since`` is a local date."""
    position = positions_of(history, as_of=D(2023, 8, 11), now=NOW).get("amptp", "wages")
    assert position is not None
    assert position.terms == "5% / 4% / 3.5%"
    assert position.value == Value(amount=5, unit="percent")
    assert position.since == D(2023, 8, 11)
    assert position.event == "a-pay-2"
    assert position.history[-1].event == "a-pay-1"


def test_late_proposal_counts_only_once_recorded(history: History) -> None:
    """amptp's Aug 11 offer, recorded on Aug 22, is unknown to the Aug 12 view of Aug 11."""
    assert _standing(history, as_of=D(2023, 8, 11), known_at=D(2023, 8, 12))[("amptp", "wages")] == "a-pay-1"
    assert _standing(history, as_of=D(2023, 8, 11), known_at=D(2023, 8, 21))[("amptp", "wages")] == "a-pay-1"
    assert _standing(history, as_of=D(2023, 8, 11), known_at=D(2023, 8, 22))[("amptp", "wages")] == "a-pay-2"


def test_history_lists_earlier_proposals_oldest_first(history: History) -> None:
    """The Python answer keeps the party's earlier proposals on the issue."""
    position = positions_of(history, as_of=D(2023, 9, 21), now=NOW).get("wga", "wages")
    assert position is not None
    assert position.event == "w-pay-2"
    assert [p.event for p in position.history] == ["w-pay-1"]
    assert position.history[0].value == Value(amount=6, unit="percent")


def _withdrawal_log() -> Log:
    log = Log("w")
    log.open("2023-01-01")
    log.add("proposal.made", "p1", "2023-01-02", by="wga", issue="ai", terms="ban")
    log.add("proposal.withdrawn", "w1", "2023-01-03", by="wga", issue="ai")
    log.add("proposal.made", "p2", "2023-01-04", by="wga", issue="ai", terms="consent")
    return log


def test_withdrawn_position_disappears() -> None:
    """After a withdrawal the party has no position; a new proposal stands again, with history."""
    history = _withdrawal_log().history()
    assert positions_of(history, as_of=D(2023, 1, 3), now=NOW).get("wga", "ai") is None
    later = positions_of(history, as_of=D(2023, 1, 4), now=NOW).get("wga", "ai")
    assert later is not None
    assert (later.event, [p.event for p in later.history]) == ("p2", ["p1"])


def test_retracted_withdrawal_restores_the_position() -> None:
    """Retracting a withdrawal brings the withdrawn proposal back, from the retraction's recorded_at."""
    log = _withdrawal_log()
    log.add("event.retracted", "r1", "2023-02-01", target="w1", reason="never happened")
    history = log.history()
    assert _standing(history, as_of=D(2023, 1, 3)) == {("wga", "ai"): "p1"}
    assert _standing(history, as_of=D(2023, 1, 3), known_at=D(2023, 1, 31)) == {}


def _retraction_log() -> Log:
    log = Log("r")
    log.open("2023-03-20")
    log.add("proposal.made", "p1", "2023-03-20", by="wga", issue="wages", terms="6%")
    log.add("proposal.made", "p2", "2023-06-01", by="wga", issue="wages", terms="7%")
    log.add("event.retracted", "r1", "2023-06-10T09:00", target="p2", reason="misreported")
    return log


def test_retraction_falls_back_to_the_previous_proposal() -> None:
    """A retracted proposal gives way to the party's previous one; earlier knowledge is kept."""
    history = _retraction_log().history()
    assert _standing(history, as_of=D(2023, 6, 5), known_at=D(2023, 6, 5)) == {("wga", "wages"): "p2"}
    assert _standing(history, as_of=D(2023, 6, 5), known_at=D(2023, 6, 9)) == {("wga", "wages"): "p2"}
    assert _standing(history, as_of=D(2023, 6, 5), known_at=D(2023, 6, 10)) == {("wga", "wages"): "p1"}
    assert _standing(history, as_of=D(2023, 6, 5)) == {("wga", "wages"): "p1"}
    before = dt.datetime(2023, 6, 10, 8, 59, tzinfo=dt.timezone(dt.timedelta(hours=-7)))
    assert _standing(history, as_of=D(2023, 6, 5), known_at=before) == {("wga", "wages"): "p2"}


def test_retraction_seen_at_an_earlier_version() -> None:
    """``at_version`` before the retraction was appended still shows the retracted proposal."""
    history = _retraction_log().history()
    assert _standing(history, at_version=3) == {("wga", "wages"): "p2"}
    assert _standing(history, at_version=4) == {("wga", "wages"): "p1"}


def test_positions_json_is_the_spec_shape(history: History) -> None:
    """Keys, nesting and value forms follow spec section 3 exactly."""
    answer = positions_json(positions_of(history, as_of=D(2023, 5, 1), known_at=D(2023, 6, 1), now=NOW))
    assert answer == {
        "negotiation": WGA,
        "as_of": "2023-05-01T23:59:59.999999-07:00",
        "known_at": "2023-06-01T23:59:59.999999-07:00",
        "positions": {
            "amptp": {
                "wages": {
                    "terms": "4% / 3% / 2%",
                    "value": {"amount": 4, "unit": "percent"},
                    "since": "2023-04-30",
                    "event": "a-pay-1",
                }
            },
            "wga": {
                "ai": {"terms": "AI is not a writer", "value": None, "since": "2023-03-20", "event": "w-ai-1"},
                "wages": {
                    "terms": "6% / 5% / 5%",
                    "value": {"amount": 6, "unit": "percent"},
                    "since": "2023-03-20",
                    "event": "w-pay-1",
                },
            },
        },
    }
    assert list(answer) == ["negotiation", "as_of", "known_at", "positions"]
    assert list(answer["positions"]["wga"]["ai"]) == ["terms", "value", "since", "event"]


def test_since_is_the_local_date() -> None:
    """A proposal made late in the evening in Los Angeles is dated that day, not the UTC day."""
    log = Log("late-evening")
    log.open("2023-01-01")
    log.add("proposal.made", "p1", "2023-01-02T22:30", by="wga", issue="ai", terms="x")
    answer = positions_json(positions_of(log.history(), now=NOW))
    assert answer["positions"]["wga"]["ai"]["since"] == "2023-01-02"


def test_not_open_yet(history: History) -> None:
    """Positions before the opening are refused like the status."""
    with pytest.raises(NotOpenedError):
        positions_of(history, as_of=D(2023, 3, 1), now=NOW)
