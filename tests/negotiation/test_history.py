"""History: validation of batches over the whole timeline, idempotency and bitemporal folds."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Sequence
from unittest import mock

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from events import Event, Party
from negotiation.core import history as timeline
from negotiation.core.errors import EventConflictError, RuleViolationError
from negotiation.core.history import CLOCK_SKEW, STATUS_FOLD, History, checkpoints
from negotiation.core.machine import check, evolve, fold
from negotiation.core.state import NegotiationState, instant
from tests.negotiation.helpers import (
    AI,
    EMPLOYER,
    NEGOTIATION,
    NOW,
    PAY,
    UNION,
    accepted,
    at,
    contract_expired,
    contract_extended,
    history_of,
    ids,
    lockout_declared,
    lockout_ended,
    opened,
    proposal,
    ratification,
    rejected,
    retraction,
    statement,
    strike_authorized,
    strike_called,
    strike_ended,
    talks_held,
    talks_requested,
    talks_resumed,
    talks_scheduled,
    talks_suspended,
    tentative,
    withdrawn,
)

OPEN = opened("open", 0)


def refused(history: History, batch: Sequence[Event], *, now: dt.datetime = NOW) -> RuleViolationError:
    """The RuleViolationError for ``batch``; asserts that the history did not change."""
    before = history.events()
    with pytest.raises(RuleViolationError) as info:
        history.plan(list(batch), now=now)
    assert history.events() == before
    return info.value


def append(history: History, *events: Event, now: dt.datetime = NOW) -> timeline.AppendPlan:
    """Plan and apply one batch; return the plan."""
    plan = history.plan(list(events), now=now)
    history.apply(plan)
    return plan


# --- late events -----------------------------------------------------------------


def test_late_event_accepted_when_timeline_stays_valid() -> None:
    """An event that occurred before stored ones is accepted and folded in valid-time order."""
    history = history_of([OPEN, strike_called("strike", 5), strike_ended("end", 9)])
    append(history, talks_held("held", 3), statement("during", 7))
    assert ids(history.events()) == ["open", "strike", "end", "held", "during"]
    assert [r.event.id for r in history.visible()] == ["open", "held", "strike", "during", "end"]
    assert history.state() == fold([r.event for r in history.visible()])
    assert history.state().events_applied == 5


def test_late_event_that_fixes_a_gap_is_accepted() -> None:
    """A late strike.called before a stored talks.resumed keeps the timeline valid."""
    history = history_of([OPEN, talks_held("held", 1), strike_called("strike", 5), talks_resumed("resume", 10)])
    append(history, statement("s", 8))
    assert history.state().talks == "active"
    assert set(history.state().strikes) == {UNION}


def test_late_event_refused_when_it_breaks_a_stored_event() -> None:
    """A late strike.ended before a stored talks.resumed leaves nothing to resume: refused, naming it."""
    history = history_of([OPEN, talks_held("held", 1), strike_called("strike", 5), talks_resumed("resume", 10)])
    err = refused(history, [strike_ended("end", 8)])
    assert err.event_id == "end"
    assert err.breaks == "resume"
    assert err.rule == "resume-needs-break"
    assert "resume" in str(err)
    assert "end" in str(err)


def test_late_event_breaking_a_later_stoppage_names_it() -> None:
    """A late strike.called before a stored strike.called of the same union breaks the stored one."""
    history = history_of([OPEN, strike_called("strike", 5)])
    err = refused(history, [strike_called("earlier-strike", 2)])
    assert (err.event_id, err.breaks, err.rule) == ("earlier-strike", "strike", "stoppage-not-running")


def test_late_event_refused_for_its_own_rule_has_no_breaks() -> None:
    """A late event that is itself invalid at its place is refused without naming a stored event."""
    history = history_of([OPEN, strike_called("strike", 5)])
    err = refused(history, [strike_ended("end", 3)])
    assert err.event_id == "end"
    assert err.breaks is None
    assert err.rule == "stoppage-running"


def test_batch_blames_the_new_event_before_the_broken_one() -> None:
    """In a batch of late events, the error names the new event that breaks a stored one."""
    history = history_of([OPEN, strike_called("strike", 5)])
    err = refused(history, [statement("harmless", 1), strike_called("culprit", 2)])
    assert (err.event_id, err.breaks) == ("culprit", "strike")


def test_ties_are_ordered_by_append_order() -> None:
    """Events at the same instant count in the order they were appended."""
    history = history_of([OPEN, strike_called("strike", 5)])
    append(history, strike_ended("end", 5))
    assert [r.event.id for r in history.visible()] == ["open", "strike", "end"]
    assert dict(history.state().strikes) == {}


def test_batch_order_within_a_batch_is_validated_in_valid_time() -> None:
    """A batch listed out of valid-time order is valid if its timeline is."""
    history = history_of([OPEN])
    append(history, strike_ended("end", 9), strike_called("strike", 5))
    assert ids(history.events()) == ["open", "end", "strike"]
    assert dict(history.state().strikes) == {}


def test_a_refused_batch_leaves_the_history_usable() -> None:
    """After a refused plan the history accepts a valid batch and answers as before."""
    history = history_of([OPEN, strike_called("strike", 5)])
    state = history.state()
    refused(history, [statement("ok", 6), strike_called("again", 7)])
    assert history.state() == state
    append(history, statement("ok", 6))
    assert history.version == 3


# --- retractions -----------------------------------------------------------------


def test_retraction_drops_the_target_from_the_state() -> None:
    """A retracted strike.ended no longer counts: the strike runs again."""
    history = history_of([OPEN, strike_called("strike", 5), strike_ended("end", 9)])
    append(history, retraction("oops", 10, "end", recorded_at=at(30)))
    assert set(history.state().strikes) == {UNION}
    assert [r.event.id for r in history.visible()] == ["open", "strike", "oops"]


def test_retraction_keeps_earlier_knowledge_answerable() -> None:
    """Known before the retraction was recorded, the target still counts."""
    history = history_of(
        [
            opened(recorded_at=at(0)),
            strike_called("strike", 5, recorded_at=at(5)),
            strike_ended("end", 9, recorded_at=at(9)),
        ]
    )
    append(history, retraction("oops", 20, "end", recorded_at=at(20)))
    assert dict(history.fold(STATUS_FOLD, known_at=at(15)).strikes) == {}
    assert set(history.fold(STATUS_FOLD, known_at=at(25)).strikes) == {UNION}
    assert dict(history.fold(STATUS_FOLD, at_version=3).strikes) == {}


def test_retraction_target_must_exist() -> None:
    """A retraction of an unknown id is refused."""
    err = refused(history_of([OPEN]), [retraction("r", 1, "ghost")])
    assert (err.event_id, err.rule) == ("r", "retraction-target")


def test_retraction_target_may_be_in_the_same_batch() -> None:
    """A batch may hold an event and, after it, its retraction."""
    history = history_of([OPEN])
    append(history, statement("s", 1), retraction("r", 2, "s"))
    assert [r.event.id for r in history.visible()] == ["open", "r"]


def test_retraction_target_must_come_earlier_in_the_batch() -> None:
    """A retraction listed before its target in the same batch is refused."""
    err = refused(history_of([OPEN]), [retraction("r", 2, "s"), statement("s", 1)])
    assert (err.event_id, err.rule) == ("r", "retraction-target")


def test_retraction_only_once() -> None:
    """An event is retracted at most once, across batches and within one."""
    history = history_of([OPEN, statement("s", 1), retraction("r1", 2, "s")])
    assert refused(history, [retraction("r2", 3, "s")]).rule == "retraction-target"
    history = history_of([OPEN, statement("s", 1)])
    err = refused(history, [retraction("r1", 2, "s"), retraction("r2", 3, "s")])
    assert (err.event_id, err.rule) == ("r2", "retraction-target")


def test_retraction_of_a_retraction_is_refused() -> None:
    """A retraction cannot itself be retracted."""
    history = history_of([OPEN, statement("s", 1), retraction("r1", 2, "s")])
    err = refused(history, [retraction("r2", 3, "r1")])
    assert (err.event_id, err.rule) == ("r2", "retraction-target")
    assert "r1" in err.reason


def test_retraction_that_invalidates_a_later_event_is_refused() -> None:
    """Retracting a strike.called that a stored strike.ended needs is refused, naming the strike.ended."""
    history = history_of([OPEN, strike_called("strike", 5), strike_ended("end", 9)])
    err = refused(history, [retraction("oops", 10, "strike")])
    assert (err.event_id, err.breaks, err.rule) == ("oops", "end", "stoppage-running")


def test_retracting_an_accepted_proposal_is_refused() -> None:
    """Retracting a proposal that a stored acceptance refers to is refused, naming the acceptance."""
    history = history_of([OPEN, proposal("offer", 1), accepted("yes", 2, proposal="offer")])
    err = refused(history, [retraction("oops", 3, "offer")])
    assert (err.event_id, err.breaks, err.rule) == ("oops", "yes", "proposal-reference")


def test_retracting_the_opening_is_refused_when_events_follow() -> None:
    """Without the opening every later event breaks; the retraction is refused."""
    history = history_of([OPEN, statement("s", 1)])
    err = refused(history, [retraction("oops", 2, "open")])
    assert (err.event_id, err.breaks, err.rule) == ("oops", "s", "opened-first")


# --- idempotency -----------------------------------------------------------------


def test_same_id_same_content_is_a_no_op() -> None:
    """Re-appending stored events stores nothing and reports them as duplicates."""
    events = [OPEN, statement("s", 1, recorded_at=at(2))]
    history = history_of(events)
    state = history.state()
    plan = append(history, *events)
    assert plan.new == ()
    assert ids(plan.duplicates) == ["open", "s"]
    assert history.version == 2
    assert history.state() == state


def test_duplicate_without_recorded_at_is_a_no_op() -> None:
    """An incoming event without recorded_at matches the stored one that got the append time."""
    history = history_of([OPEN, statement("s", 1)], now=NOW)
    assert history.events()[1].recorded_at == NOW
    plan = history.plan([statement("s", 1)], now=NOW + dt.timedelta(days=3))
    assert plan.new == ()
    assert ids(plan.duplicates) == ["s"]


def test_duplicate_within_a_batch_is_stored_once() -> None:
    """The same event twice in one batch is stored once."""
    history = history_of([OPEN])
    plan = append(history, statement("s", 1), statement("s", 1))
    assert ids(r.event for r in plan.new) == ["s"]
    assert ids(plan.duplicates) == ["s"]
    assert history.version == 2


def test_duplicates_and_new_events_mix() -> None:
    """A batch of stored and new events stores only the new ones."""
    history = history_of([OPEN, statement("s1", 1)])
    plan = append(history, statement("s1", 1), statement("s2", 2))
    assert ids(r.event for r in plan.new) == ["s2"]
    assert [r.seq for r in plan.new] == [3]


def test_same_id_different_content_conflicts() -> None:
    """The same id with other content raises EventConflictError naming the id and unique-id."""
    history = history_of([OPEN, statement("s", 1)])
    with pytest.raises(EventConflictError) as info:
        history.plan([statement("s", 1, text="changed")], now=NOW)
    err = info.value
    assert (err.event_id, err.rule) == ("s", "unique-id")
    assert "s" in str(err)
    assert "unique-id" in str(err)


def test_same_id_other_recorded_at_conflicts() -> None:
    """An explicit recorded_at that differs from the stored one is different content."""
    history = history_of([OPEN, statement("s", 1, recorded_at=at(2))])
    with pytest.raises(EventConflictError):
        history.plan([statement("s", 1, recorded_at=at(3))], now=NOW)


def test_same_id_other_type_conflicts() -> None:
    """An id is unique across event types."""
    history = history_of([OPEN, statement("x", 1)])
    with pytest.raises(EventConflictError):
        history.plan([talks_held("x", 1)], now=NOW)


# --- recording times ---------------------------------------------------------------


def test_recorded_at_defaults_to_now() -> None:
    """An event without recorded_at is stored with the moment of appending."""
    history = history_of([OPEN])
    plan = append(history, statement("s", 1), now=NOW)
    assert plan.new[0].event.recorded_at == NOW
    assert history.events()[-1].recorded_at == NOW


def test_recorded_at_in_the_future_is_refused() -> None:
    """recorded_at beyond now plus the clock skew is refused as recorded-not-future."""
    history = history_of([OPEN])
    err = refused(history, [statement("s", 1, recorded_at=NOW + CLOCK_SKEW + dt.timedelta(microseconds=1))])
    assert (err.event_id, err.rule) == ("s", "recorded-not-future")
    append(history, statement("s", 1, recorded_at=NOW + CLOCK_SKEW))


@pytest.mark.parametrize("opening_stored", [True, False], ids=["tz-stored", "tz-in-batch"])
def test_recorded_before_date_only_occurred_at_in_negotiation_zone(opening_stored: bool) -> None:
    """A date means midnight in the negotiation's zone: recorded_at before that is refused."""
    la = opened(timezone="America/Los_Angeles", recorded_at=at(0))
    # 2023-05-02 00:00 in Los Angeles is 07:00 UTC.
    too_early = statement("s", dt.date(2023, 5, 2), recorded_at=dt.datetime(2023, 5, 2, 6, 59, tzinfo=dt.UTC))
    in_time = statement("s", dt.date(2023, 5, 2), recorded_at=dt.datetime(2023, 5, 2, 7, 0, tzinfo=dt.UTC))
    history = history_of([la]) if opening_stored else History(NEGOTIATION)
    prefix = [] if opening_stored else [la]
    err = refused(history, [*prefix, too_early])
    assert (err.event_id, err.rule) == ("s", "recorded-after-occurred")
    append(history, *prefix, in_time)
    assert history.events()[-1].id == "s"


def test_event_of_another_negotiation_is_a_programming_error() -> None:
    """A History refuses events of another negotiation with ValueError."""
    with pytest.raises(ValueError, match="belongs to"):
        History("other").plan([OPEN], now=NOW)


def test_apply_refuses_a_stale_plan() -> None:
    """A plan made before another batch was applied cannot be applied."""
    history = history_of([OPEN])
    stale = history.plan([statement("a", 1)], now=NOW)
    append(history, statement("b", 2))
    with pytest.raises(ValueError, match="version"):
        history.apply(stale)


# --- bitemporal folds ----------------------------------------------------------------


def test_fold_as_of_valid_time() -> None:
    """fold(as_of) counts only the events that occurred by then."""
    history = history_of([OPEN, strike_called("strike", 5), strike_ended("end", 9)])
    assert dict(history.fold(STATUS_FOLD, as_of=at(4)).strikes) == {}
    assert set(history.fold(STATUS_FOLD, as_of=at(5)).strikes) == {UNION}
    assert dict(history.fold(STATUS_FOLD, as_of=at(9)).strikes) == {}


def test_fold_known_at_a_time_that_saw_only_part_of_a_stoppage() -> None:
    """A knowledge time that knew a strike's end but not its start is answered, not a crash."""
    history = history_of(
        [
            opened(recorded_at=at(0)),
            strike_called("strike", 5, recorded_at=at(20)),
            strike_ended("end", 9, recorded_at=at(10)),
        ]
    )
    known = history.fold(STATUS_FOLD, known_at=at(15))
    assert dict(known.strikes) == {}
    assert known.events_applied == 2
    assert dict(history.fold(STATUS_FOLD, known_at=at(21)).strikes) == {}
    assert set(history.fold(STATUS_FOLD, known_at=at(21), as_of=at(6)).strikes) == {UNION}


def test_reloaded_history_answers_the_same() -> None:
    """A History loaded from the stored events answers like the one that appended them."""
    history = history_of([OPEN, strike_called("strike", 5)], [statement("late", 2), strike_ended("end", 9)])
    reloaded = History(NEGOTIATION, history.events())
    assert reloaded.state() == history.state()
    assert [r.event for r in reloaded.visible()] == [r.event for r in history.visible()]


# --- property: random valid timelines in random batches --------------------------------

SECOND_UNION = "sag-aftra"
CAST = (
    Party(id=UNION, name="WGA", role="union"),
    Party(id=SECOND_UNION, name="SAG-AFTRA", role="union"),
    Party(id=EMPLOYER, name="AMPTP", role="employer"),
)


def _candidates(state: NegotiationState, event_id: str, day: float) -> list[Event]:
    """One event of every kind that could come next, valid or not."""
    out: list[Event] = [
        statement(event_id, day, by=EMPLOYER),
        talks_requested(event_id, day),
        talks_scheduled(event_id, day),
        talks_held(event_id, day),
        talks_suspended(event_id, day),
        talks_resumed(event_id, day),
        strike_authorized(event_id, day),
        contract_expired(event_id, day),
        contract_extended(event_id, day),
        tentative(event_id, day),
        ratification(event_id, day),
        ratification(event_id, day, outcome="rejected"),
        lockout_declared(event_id, day),
        lockout_ended(event_id, day),
    ]
    for union in (UNION, SECOND_UNION):
        out += [strike_called(event_id, day, by=union), strike_ended(event_id, day, by=union)]
    for by in (UNION, EMPLOYER):
        for issue in (AI, PAY):
            out += [proposal(event_id, day, by=by, issue=issue), withdrawn(event_id, day, by=by, issue=issue)]
    for pid, ref in state.proposals.items():
        by = EMPLOYER if ref.by == UNION else UNION
        out += [accepted(event_id, day, proposal=pid, by=by, issue=ref.issue)]
        out += [rejected(event_id, day, proposal=pid, by=by, issue=ref.issue)]
    return out


def _valid(state: NegotiationState, event: Event) -> bool:
    try:
        check(state, event)
    except RuleViolationError:
        return False
    return True


@st.composite
def valid_timelines(draw: st.DrawFn, max_size: int = 30) -> list[Event]:
    """A rule-valid sequence in valid-time order (ties allowed), each event with a lagging recorded_at."""
    events: list[Event] = [opened("e0", 0, parties=CAST, recorded_at=at(draw(st.sampled_from([0, 2, 40]))))]
    state = fold(events)
    day = 0.0
    for i in range(1, draw(st.integers(0, max_size)) + 1):
        day += draw(st.sampled_from([0.0, 0.25, 1.0, 7.0]))
        options = [e for e in _candidates(state, f"e{i}", day) if _valid(state, e)]
        event = draw(st.sampled_from(options))
        lag = draw(st.sampled_from([0.0, 1.0, 30.0]))
        event = attrs.evolve(event, recorded_at=at(day + lag))
        events.append(event)
        state = evolve(state, event)
    return events


def _valid_time_order(events: Sequence[Event]) -> list[Event]:
    """Events in append order sorted by occurred instant, ties kept in append order."""
    return sorted(events, key=lambda e: instant(e.occurred_at, dt.UTC))


def _splits(draw: st.DrawFn, items: list[Event]) -> list[list[Event]]:
    cuts = sorted(draw(st.sets(st.integers(1, max(len(items) - 1, 1)), max_size=len(items))))
    bounds = [0, *[c for c in cuts if c < len(items)], len(items)]
    return [items[a:b] for a, b in itertools.pairwise(bounds) if b > a]


@settings(max_examples=150)
@given(data=st.data())
def test_in_order_batches_fold_like_the_machine(data: st.DataObject) -> None:
    """Valid events appended in order, in any batches, give the machine's fold at every valid and knowledge time."""
    events = data.draw(valid_timelines())
    with mock.patch.object(checkpoints, "CHECKPOINT_INTERVAL", 4):
        history = History(NEGOTIATION)
        for batch in _splits(data.draw, events):
            history.apply(history.plan(batch, now=NOW))
        assert history.state() == fold(events)
        assert History(NEGOTIATION, history.events()).state() == fold(events)
        days = sorted({0.0, *(d for d in data.draw(st.lists(st.floats(-1, 250), max_size=4)))})
        for day in days:
            as_of = [e for e in events if instant(e.occurred_at, dt.UTC) <= at(day)]
            assert history.fold(STATUS_FOLD, as_of=at(day)) == fold(as_of)
            known = [e for e in events if e.recorded_at is not None and e.recorded_at <= at(day)]
            assert history.fold(STATUS_FOLD, known_at=at(day)) == fold(known, checked=False)
        version = data.draw(st.integers(0, len(events)))
        assert history.fold(STATUS_FOLD, at_version=version) == fold(_valid_time_order(events[:version]))


@settings(max_examples=150)
@given(data=st.data())
def test_shuffled_batches_are_accepted_exactly_when_the_timeline_stays_valid(data: st.DataObject) -> None:
    """In any append order, a batch is accepted iff the merged timeline is valid; the end state is the fold."""
    events = [attrs.evolve(e, recorded_at=None) for e in data.draw(valid_timelines(max_size=20))]
    order = data.draw(st.permutations(events))
    with mock.patch.object(checkpoints, "CHECKPOINT_INTERVAL", 4):
        history = History(NEGOTIATION)
        stored: list[Event] = []
        for batch in _splits(data.draw, order):
            try:
                fold(_valid_time_order([*stored, *batch]))
            except RuleViolationError:
                expect_accepted = False
            else:
                expect_accepted = True
            if expect_accepted:
                history.apply(history.plan(batch, now=NOW))
                stored += batch
            else:
                err = refused(history, batch)
                assert err.event_id in ids(batch)
                assert err.breaks is None or err.breaks in ids(stored)
        assert ids(history.events()) == ids(stored)
        assert history.state() == fold(_valid_time_order(stored))


def test_a_knowledge_time_before_an_old_correction_keeps_checkpoints_of_its_own() -> None:
    """Asked as known before a late correction near the start, answers equal a naive fold and reuse one series."""
    late = statement("late", 1, recorded_at=at(300))
    events = [
        opened("open", 0, recorded_at=at(0)),
        late,
        *(statement(f"s{i}", 2 + i, recorded_at=at(2 + i)) for i in range(60)),
    ]
    with mock.patch.object(checkpoints, "CHECKPOINT_INTERVAL", 4):
        history = history_of(events)
        known_at = at(100)
        for day in (20, 40, 61):
            visible = [e for e in events if instant(e.occurred_at, dt.UTC) <= at(day) and e is not late]
            assert history.fold(STATUS_FOLD, as_of=at(day), known_at=known_at) == fold(visible, checked=False)
        # One series for that knowledge time, reused by the three questions (white-box: the cache).
        assert list(history._known) == [(STATUS_FOLD.name, timeline.micros(known_at))]
        history.apply(history.plan([statement("new", 70, recorded_at=at(70))], now=NOW))
        assert not history._known, "new events drop the knowledge-time series"


@settings(max_examples=100)
@given(data=st.data())
def test_any_checkpoint_interval_folds_alike(data: st.DataObject) -> None:
    """A history with closer checkpoints (as the read models' derivation keeps) answers as one with the default.

    The events are loaded in a drawn append order and in drawn runs, so later
    runs hold late events that drop and rebuild the checkpoints behind them.
    """
    events = data.draw(valid_timelines())
    order = data.draw(st.permutations(events))
    interval = data.draw(st.integers(1, 5))
    default, close = History(NEGOTIATION), History(NEGOTIATION, checkpoint_interval=interval)
    assert close._checkpoints.interval == interval  # white-box: the interval asked for is the one used
    days = sorted(set(data.draw(st.lists(st.floats(-1, 250), min_size=1, max_size=4))))
    for run in _splits(data.draw, order):
        default.load(run)
        close.load(run)
        assert close.state() == default.state()
        for as_of, known_at in itertools.product([None, *map(at, days)], repeat=2):
            assert close.fold(STATUS_FOLD, as_of=as_of, known_at=known_at) == default.fold(
                STATUS_FOLD, as_of=as_of, known_at=known_at
            )


@pytest.mark.parametrize("interval", [0, -1])
def test_a_checkpoint_interval_below_one_event_is_refused(interval: int) -> None:
    """Folds would never advance past a checkpoint: the history refuses such an interval at once."""
    with pytest.raises(ValueError, match="at least 1 event"):
        History(NEGOTIATION, checkpoint_interval=interval)
