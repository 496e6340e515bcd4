"""What an appended event writes to the period tables: only the rows it really changes.

``projections.periods.take`` is the projector's step; these tests count its
writes. A running count in the stored status answer once made every event
write a status row, and every late event rewrite all status rows after it;
``events_applied`` is now counted by the reader, so an event that changes no
part of an answer writes nothing, late or not, however long the history.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import given, settings

from events import Event
from negotiation.core.history import History
from projections import periods
from projections.periods import Change, Tip, take
from projections.positions import POSITIONS_FOLD
from tests.projections.builders import Log
from tests.projections.strategies import Drawn, negotiations

DAYS = 300


def _long_negotiation() -> Log:
    """An opening, a talks request and a statement a day for ``DAYS`` days."""
    log = Log("n")
    log.open("2023-01-01")
    log.add("talks.requested", "req", "2023-01-02", by="wga", to="amptp")
    start = dt.date(2023, 1, 3)
    for day in range(DAYS):
        log.add("statement.issued", f"s{day}", (start + dt.timedelta(days=day)).isoformat(), by="wga", text="x")
    return log


def _taken(events: list[Event]) -> tuple[Tip, list[list[Change]]]:
    """A tip fed ``events`` one at a time, and the writes of each."""
    tip = Tip.of(History("n"))
    return tip, [take(tip, event) for event in events]


def test_an_event_that_changes_no_answer_writes_nothing() -> None:
    """Statements change no status and no position: after the first two events, no writes at all."""
    _, writes = _taken(_long_negotiation().events)
    assert [w.table for w in writes[0]] == ["status"]  # opened
    assert [w.table for w in writes[1]] == ["status"]  # bargaining
    assert all(not w for w in writes[2:])


def test_a_late_event_writes_only_what_it_changes() -> None:
    """A late statement writes nothing; a late proposal writes one position row, not one per later event."""
    log = _long_negotiation()
    tip, _ = _taken(log.events)
    late = log.add("statement.issued", "late-s", "2023-01-10", recorded="2024-01-01", by="amptp", text="y")
    assert take(tip, late) == []
    proposal = log.add(
        "proposal.made", "late-p", "2023-01-10", recorded="2024-01-02", by="wga", issue="wages", terms="7%"
    )
    writes = take(tip, proposal)
    assert [(w.op, w.table) for w in writes] == [("insert", "position")]
    (write,) = writes
    assert write.key[:2] == ("wga", "wages")


def test_a_late_stoppage_rewrites_the_status_it_changes() -> None:
    """A strike called late, and ended a month later, changes the status over that month only."""
    log = _long_negotiation()
    tip, _ = _taken(log.events)
    called = log.add("strike.called", "late-strike", "2023-02-01", recorded="2024-01-01", by="wga")
    ended = log.add("strike.ended", "late-end", "2023-03-01", recorded="2024-01-01", by="wga")
    writes = take(tip, called) + take(tip, ended)
    status = [w for w in writes if w.table == "status"]
    # The strike's start and end are change points of the status answer; no other status row is touched.
    assert len({w.key for w in status}) == 2
    assert all(w.op == "insert" for w in status)


def test_events_at_the_end_reach_the_history_a_run_at_a_time() -> None:
    """In-order events wait in ``Tip.pending``; a late one, or ``flush``, loads them first, in order."""
    log = _long_negotiation()
    tip, _ = _taken(log.events)
    assert tip.history.version + len(tip.pending) == len(log.events)
    assert len(tip.pending) == len(log.events) - 1  # only the opening went in at once: it sets the zone
    assert tip.last is not None
    assert tip.last.event == log.events[-1]
    late = log.add("statement.issued", "late-s", "2023-01-10", recorded="2024-01-01", by="amptp", text="y")
    take(tip, late)
    assert tip.pending == []
    reference = History("n")
    reference.load(log.events)
    assert [r.event for r in tip.history.appended_after(0)] == [r.event for r in reference.appended_after(0)]
    assert tip.history.state() == reference.state() == tip.state


def test_a_late_event_is_derived_only_where_facts_can_change(monkeypatch: pytest.MonkeyPatch) -> None:
    """Knowledge times at which only statements became known are left out of a late proposal's derivation."""
    log = _long_negotiation()
    tip, _ = _taken(log.events)
    asked: list[int | None] = []
    region_facts = periods.region_facts

    def counting(history: History, start: int, known: int | None, **kwargs: Any) -> Any:
        asked.append(known)
        return region_facts(history, start, known, **kwargs)

    monkeypatch.setattr(periods, "region_facts", counting)
    early = log.add(
        "proposal.made", "p-early", "2023-01-10", recorded="2023-01-05", by="wga", issue="wages", terms="7%"
    )
    writes = take(tip, early)
    # Recorded before nearly 300 statements: every later knowledge time holds statements only, so one time is
    # derived (before and after the proposal), not one per statement.
    assert len(asked) == 2
    assert [(w.op, w.table) for w in writes] == [("insert", "position")]


def test_events_at_the_last_instant_known_later_are_not_derived_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """Many events on one day, each recorded later than the one before: none refolds that day's events.

    Deriving the day's facts anew for each (``region_facts``) made taking ``n`` events of one day in cost
    about ``n`` squared folds; the folds before the day and after its events decide its facts.
    """
    log = Log("n")
    log.open("2023-01-01")
    log.add("talks.requested", "req", "2023-01-02", by="wga", to="amptp")
    for i in range(200):
        log.add(
            "proposal.made" if i % 2 else "statement.issued",
            f"d{i}",
            "2023-01-05",
            recorded=f"2023-01-05T{i // 60:02d}:{i % 60:02d}:00Z",
            by="wga",
            **({"issue": "wages", "terms": f"{i}%"} if i % 2 else {"text": "x"}),
        )
    events = list(log.events)
    asked: list[object] = []
    region_facts = periods.region_facts

    def counting(*args: Any, **kwargs: Any) -> Any:
        asked.append(args)
        return region_facts(*args, **kwargs)

    monkeypatch.setattr(periods, "region_facts", counting)
    tip, writes = _taken(events)
    assert asked == []
    # Each proposal replaces the wages position of that day: the row written by the one before closes.
    last = writes[-1]
    assert sorted((w.op, w.table) for w in last) == [("close", "position"), ("insert", "position")]
    reference = History("n")
    reference.load(events)
    assert tip.state == reference.state()


def _busy_days(recorded: str) -> Log:
    """Days of several events each: talks, proposals (one replacing another the same day), a strike called
    and ended on one day, another called and running; ``recorded``: "later" (each event recorded after the one
    before) or "together" (every event recorded at one time, as one import of a log without ``recorded_at``)."""
    log = Log("n")
    stamp = iter(f"2023-03-01T{h:02d}:{m:02d}:00Z" for h in range(24) for m in range(60))

    def at(_: str) -> str:
        return next(stamp) if recorded == "later" else "2023-03-01T00:00:00Z"

    parties = [{"id": "wga", "name": "WGA", "role": "union"}, {"id": "amptp", "name": "AMPTP", "role": "employer"}]
    log.add(
        "negotiation.opened",
        "open",
        "2023-01-01",
        recorded=at(""),
        title="Busy days",
        parties=parties,
        issues=[{"id": "wages", "title": "Wages"}],
        timezone=log.tz,
    )
    log.add("talks.requested", "req", "2023-01-02", recorded=at(""), by="wga", to="amptp")
    day = [
        ("talks.held", {}),
        ("proposal.made", {"by": "wga", "issue": "wages", "terms": "7%"}),
        ("proposal.made", {"by": "amptp", "issue": "wages", "terms": "3%"}),
        ("proposal.made", {"by": "wga", "issue": "wages", "terms": "6%"}),
        ("statement.issued", {"by": "wga", "text": "x"}),
    ]
    for d in range(3, 9):
        for i, (kind, data) in enumerate(day):
            log.add(kind, f"d{d}-{i}", f"2023-01-{d:02d}", recorded=at(""), **data)
    log.add("strike.authorized", "auth", "2023-01-09", recorded=at(""), by="wga", yes_share=0.9)
    log.add("strike.called", "call-1", "2023-01-10", recorded=at(""), by="wga")
    log.add("strike.ended", "end-1", "2023-01-10", recorded=at(""), by="wga")
    log.add("strike.called", "call-2", "2023-01-10", recorded=at(""), by="wga")
    log.add("talks.held", "t-11", "2023-01-11", recorded=at(""))
    log.add("proposal.made", "p-11", "2023-01-11", recorded=at(""), by="amptp", issue="wages", terms="4%")
    return log


@pytest.mark.parametrize("recorded", ["later", "together"])
def test_events_at_the_last_instant_write_what_the_general_path_writes(
    recorded: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``_take_same_instant`` writes exactly what deriving the instant anew (``_take_late``) writes."""
    events = _busy_days(recorded).events
    used: list[object] = []
    same_instant = periods._take_same_instant

    def counting(*args: Any) -> Any:
        used.append(args)
        return same_instant(*args)

    monkeypatch.setattr(periods, "_take_same_instant", counting)
    tip, fast = _taken(events)
    assert len(used) == 6 * 4 + 2 + 1  # every event but the first of its day
    monkeypatch.setattr(periods, "_take_same_instant", periods._take_late)
    general_tip, general = _taken(events)
    assert fast == general
    assert tip.state == general_tip.state


@settings(max_examples=150, deadline=None)
@given(negotiations(max_steps=30, proposals=6))
def test_the_tip_holds_the_folds_of_its_whole_history(drawn: Drawn) -> None:
    """After every event, late ones and retractions included, the tip's state and positions are a fresh fold's.

    The projector's cache and an import's derivations rely on it: a late event
    or a retraction refolds them, an event at the end steps them.
    """
    tip = Tip.of(History("n"))
    for taken, event in enumerate(drawn.events, start=1):
        take(tip, event)  # (not flushed here: events at the end wait in ``pending`` as in the projector)
        history = History("n")
        history.load(drawn.events[:taken])
        assert tip.state == history.state()
        fresh = history.fold(POSITIONS_FOLD)
        assert {key: list(link) for key, link in tip.log.links.items()} == {
            key: list(link) for key, link in fresh.links.items()
        }
        assert dict(tip.log.proposals) == dict(fresh.proposals)
