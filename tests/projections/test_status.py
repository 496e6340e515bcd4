"""The status read model: phases, stoppages and day counting, at any valid and knowledge time."""

from __future__ import annotations

import datetime as dt

import pytest

from negotiation.core.history import History
from projections import NotOpenedError, Status, status_json, status_of
from projections.errors import InvalidQueryError
from tests.projections.builders import NOW, Log, moment
from tests.projections.timelines import WGA, wga

D = dt.date


def _day(status: Status) -> int:
    assert status.stoppage is not None
    return status.stoppage.day


@pytest.fixture(scope="module")
def history() -> History:
    return wga().history()


def test_strike_on_day_102(history: History) -> None:
    """On 2023-08-11 the writers' strike from 2023-05-02T00:01-07:00 is on its day 102."""
    status = status_of(history, as_of=D(2023, 8, 11), now=NOW)
    assert status.phase == "strike"
    assert status.talks == "active"
    assert status.agreement == "none"
    assert status.contract == "expired"
    assert status.stoppage is not None
    assert status.stoppage.kind == "strike"
    assert status.stoppage.parties == ("wga",)
    assert status.stoppage.since == D(2023, 5, 2)
    assert status.stoppage.day == 102
    assert status.events_applied == 12


def test_day_counts_local_calendar_days(history: History) -> None:
    """Days are counted in the negotiation's zone, not in UTC."""
    late_evening = dt.datetime(2023, 8, 12, 3, 0, tzinfo=dt.UTC)  # Aug 11, 20:00 in Los Angeles
    after_midnight = dt.datetime(2023, 8, 12, 7, 30, tzinfo=dt.UTC)  # Aug 12, 00:30
    assert _day(status_of(history, as_of=late_evening, now=NOW)) == 102
    assert _day(status_of(history, as_of=after_midnight, now=NOW)) == 103


def test_strike_start_day_is_day_one(history: History) -> None:
    """At the strike's first minute it is day 1; a minute earlier no stoppage runs."""
    start = moment("2023-05-02T00:01")
    assert _day(status_of(history, as_of=start, now=NOW)) == 1
    before = status_of(history, as_of=start - dt.timedelta(minutes=1), now=NOW)
    assert before.stoppage is None
    assert before.phase == "impasse"


def test_date_means_end_of_that_day(history: History) -> None:
    """A date counts all of that day's events; a datetime only those up to it."""
    assert status_of(history, as_of=D(2023, 5, 1), now=NOW).contract == "expired"  # 23:59:59 event
    assert status_of(history, as_of=moment("2023-05-01T12:00"), now=NOW).contract == "in_force"
    as_of = status_of(history, as_of=D(2023, 5, 1), now=NOW).as_of
    assert as_of == dt.datetime(2023, 5, 1, 23, 59, 59, 999999, tzinfo=dt.timezone(dt.timedelta(hours=-7)))


def test_tentative_agreement_while_the_strike_runs(history: History) -> None:
    """On the day of the tentative agreement the strike still runs: phase TA, stoppage reported."""
    status = status_of(history, as_of=D(2023, 9, 24), now=NOW)
    assert status.phase == "tentative_agreement"
    assert status.agreement == "tentative"
    assert status.stoppage is not None
    assert status.stoppage.day == 146
    after = status_of(history, as_of=D(2023, 9, 27), now=NOW)
    assert after.phase == "tentative_agreement"
    assert after.stoppage is None


def test_ratified(history: History) -> None:
    """After ratification: phase ratified, new contract, no stoppage."""
    status = status_of(history, as_of=D(2023, 10, 10), now=NOW)
    assert (status.phase, status.agreement, status.contract, status.stoppage) == (
        "ratified",
        "ratified",
        "new",
        None,
    )


def test_late_event_changes_answers_only_from_its_recorded_at(history: History) -> None:
    """What did we know on Aug 11 and Aug 12 about Aug 11: the resumed talks were recorded on Aug 12."""
    on_11 = status_of(history, as_of=D(2023, 8, 11), known_at=D(2023, 8, 11), now=NOW)
    on_12 = status_of(history, as_of=D(2023, 8, 11), known_at=D(2023, 8, 12), now=NOW)
    everything = status_of(history, as_of=D(2023, 8, 11), now=NOW)
    assert (on_11.talks, on_11.events_applied) == ("suspended", 10)
    assert (on_12.talks, on_12.events_applied) == ("active", 11)
    assert (everything.talks, everything.events_applied) == ("active", 12)
    assert on_11.phase == on_12.phase == "strike"


def test_at_version_counts_appended_events(history: History) -> None:
    """``at_version`` n folds the first n appended events only."""
    assert status_of(history, at_version=8, now=NOW).phase == "impasse"
    assert status_of(history, at_version=9, now=NOW).phase == "strike"
    assert status_of(history, at_version=9, now=NOW).events_applied == 9
    assert status_of(history, at_version=10_000, now=NOW).phase == "ratified"


def test_not_open_yet(history: History) -> None:
    """Before the opening (valid time, knowledge time or version) the negotiation did not exist."""
    with pytest.raises(NotOpenedError, match="was not open as of 2023-03-19"):
        status_of(history, as_of=D(2023, 3, 19), now=NOW)
    with pytest.raises(NotOpenedError):
        status_of(history, known_at=D(2023, 3, 19), now=NOW)
    with pytest.raises(NotOpenedError, match="at version 0"):
        status_of(history, at_version=0, now=NOW)


def test_negative_version_is_refused(history: History) -> None:
    """A negative version is a usage error, not an empty answer."""
    with pytest.raises(InvalidQueryError):
        status_of(history, at_version=-1, now=NOW)


def test_rejected_ratification_returns_to_bargaining() -> None:
    """A failed vote keeps the strike going; bargaining resumes and a second vote ratifies."""
    log = Log("iatse-2023")
    log.open("2023-01-10", unions=("iatse",))
    log.add("talks.held", "t1", "2023-01-10")
    log.add("strike.called", "s1", "2023-02-01", by="iatse")
    log.add("agreement.tentative", "ta1", "2023-03-01")
    log.add("ratification.completed", "r1", "2023-03-10", by="iatse", yes_share=0.41, outcome="rejected")
    log.add("talks.resumed", "t2", "2023-03-12")
    log.add("proposal.made", "p1", "2023-03-12", by="iatse", issue="wages", terms="7%")
    log.add("strike.ended", "s2", "2023-03-20", by="iatse")
    log.add("agreement.tentative", "ta2", "2023-04-01")
    log.add("ratification.completed", "r2", "2023-04-10", by="iatse", yes_share=0.8, outcome="ratified")
    history = log.history()
    rejected = status_of(history, as_of=D(2023, 3, 10), now=NOW)
    assert (rejected.phase, rejected.agreement) == ("strike", "rejected")
    assert rejected.stoppage is not None
    assert rejected.stoppage.day == 38
    back = status_of(history, as_of=D(2023, 3, 20), now=NOW)
    assert (back.phase, back.talks, back.agreement, back.stoppage) == ("bargaining", "active", "rejected", None)
    done = status_of(history, as_of=D(2023, 4, 10), now=NOW)
    assert (done.phase, done.agreement, done.contract) == ("ratified", "ratified", "new")


def test_lockout_outranks_a_strike() -> None:
    """While a lockout runs the stoppage is a lockout; all stopped parties are listed by start."""
    log = Log("nhl-2012", tz="America/New_York")
    log.open("2012-09-01", unions=("nhlpa",), employers=("nhl",))
    log.add("lockout.declared", "l1", "2012-09-16", by="nhl")
    log.add("strike.called", "s1", "2012-10-01", by="nhlpa")
    log.add("lockout.ended", "l2", "2013-01-12", by="nhl")
    history = log.history()
    locked = status_of(history, as_of=D(2012, 9, 20), now=NOW)
    assert locked.phase == "lockout"
    assert locked.stoppage is not None
    assert (locked.stoppage.kind, locked.stoppage.parties, locked.stoppage.day) == ("lockout", ("nhl",), 5)
    both = status_of(history, as_of=D(2012, 10, 1), now=NOW)
    assert both.stoppage is not None
    assert (both.stoppage.kind, both.stoppage.parties, both.stoppage.since) == (
        "lockout",
        ("nhl", "nhlpa"),
        D(2012, 9, 16),
    )
    strike = status_of(history, as_of=D(2013, 1, 12), now=NOW)
    assert strike.phase == "strike"
    assert strike.stoppage is not None
    assert (strike.stoppage.kind, strike.stoppage.parties, strike.stoppage.since) == (
        "strike",
        ("nhlpa",),
        D(2012, 10, 1),
    )


def test_two_unions_strike_one_employer() -> None:
    """Parties are sorted by start, then id; ``since`` is the earliest start."""
    log = Log("hollywood-2023")
    log.open("2023-03-20", unions=("wga", "sag-aftra"))
    log.add("strike.called", "s1", "2023-05-02T00:01", by="wga")
    log.add("strike.called", "s2", "2023-07-14T00:01", by="sag-aftra")
    status = status_of(log.history(), as_of=D(2023, 8, 11), now=NOW)
    assert status.stoppage is not None
    assert status.stoppage.parties == ("wga", "sag-aftra")
    assert (status.stoppage.since, status.stoppage.day) == (D(2023, 5, 2), 102)

    same = Log("same-minute")
    same.open("2023-03-20", unions=("wga", "sag-aftra"))
    same.add("strike.called", "s1", "2023-05-02T00:01", by="wga")
    same.add("strike.called", "s2", "2023-05-02T00:01", by="sag-aftra")
    tied = status_of(same.history(), as_of=D(2023, 5, 2), now=NOW)
    assert tied.stoppage is not None
    assert tied.stoppage.parties == ("sag-aftra", "wga")


def test_status_json_is_the_spec_shape(history: History) -> None:
    """Keys, order and value forms follow spec section 3 exactly."""
    answer = status_json(status_of(history, as_of=D(2023, 8, 11), known_at=D(2023, 8, 12), now=NOW))
    assert answer == {
        "negotiation": WGA,
        "as_of": "2023-08-11T23:59:59.999999-07:00",
        "known_at": "2023-08-12T23:59:59.999999-07:00",
        "phase": "strike",
        "talks": "active",
        "stoppage": {"kind": "strike", "parties": ["wga"], "since": "2023-05-02", "day": 102},
        "agreement": "none",
        "contract": "expired",
        "events_applied": 11,
        "ratified_by": [],
    }
    assert list(answer) == [
        "negotiation",
        "as_of",
        "known_at",
        "phase",
        "talks",
        "stoppage",
        "agreement",
        "contract",
        "events_applied",
        "ratified_by",
    ]
    assert list(answer["stoppage"]) == ["kind", "parties", "since", "day"]


def test_defaults_report_now_in_the_negotiation_zone(history: History) -> None:
    """Without as_of/known_at the answer covers everything and reports now, in local time."""
    answer = status_json(status_of(history, now=NOW))
    assert answer["as_of"] == answer["known_at"] == "2024-06-01T05:00:00-07:00"
    assert answer["phase"] == "ratified"
    assert answer["stoppage"] is None


def test_stoppage_day_uses_now_by_default() -> None:
    """A strike still running today counts its days up to now."""
    log = Log("running")
    log.open("2024-05-01")
    log.add("strike.called", "s1", "2024-05-02T06:00", by="wga")
    status = status_of(log.history(), now=NOW)  # 2024-06-01 05:00 in Los Angeles
    assert status.stoppage is not None
    assert status.stoppage.day == 31
