"""Bitemporal properties of the read models over generated, rule-valid negotiations.

Checkpoints are made every few events here (``CHECKPOINT_INTERVAL`` patched
down) so that short generated histories cross many of them.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
from collections.abc import Iterator, Sequence
from typing import Any

import immutables
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from events import Event, ProposalAccepted, ProposalMade, ProposalWithdrawn
from negotiation.core.history import STATUS_FOLD, Fold, History
from negotiation.core.history import checkpoints as core_checkpoints
from projections import POSITIONS_FOLD, STATEMENTS_FOLD, positions_json, positions_of, status_json, timeline_of
from projections.errors import NotOpenedError
from projections.status import status_of
from projections.timeline import StatementLink, statements_of
from tests.projections.builders import history_of
from tests.projections.strategies import NEGOTIATION, Drawn, negotiations

NOW = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
FOLDS: tuple[Fold[Any], ...] = (STATUS_FOLD, POSITIONS_FOLD, STATEMENTS_FOLD)
US = dt.timedelta(microseconds=1)


@pytest.fixture(autouse=True, scope="module")
def small_checkpoints() -> Iterator[None]:
    """A checkpoint every 3 events."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(core_checkpoints, "CHECKPOINT_INTERVAL", 3)
        yield


def _loaded(events: Sequence[Event], cuts: Sequence[int] = ()) -> History:
    history = History(NEGOTIATION)
    bounds = [0, *sorted(set(cuts)), len(events)]
    for lo, hi in itertools.pairwise(bounds):
        if hi > lo:
            history.load(events[lo:hi])
    return history


def _valid_times(drawn: Drawn) -> st.SearchStrategy[dt.datetime | None]:
    """None, an occurred instant (ties matter) or a moment around one."""
    instants = sorted({e.occurred_at for e in drawn.events if isinstance(e.occurred_at, dt.datetime)})
    near = st.sampled_from(instants).flatmap(
        lambda t: st.sampled_from((t, t - US, t + US, t + dt.timedelta(hours=5), t - dt.timedelta(days=1)))
    )
    return st.none() | near


def _knowledge_instants(drawn: Drawn) -> st.SearchStrategy[dt.datetime]:
    """A recorded_at instant or a moment around one."""
    instants = sorted({e.recorded_at for e in drawn.events if e.recorded_at is not None})
    return st.sampled_from(instants).flatmap(lambda t: st.sampled_from((t, t - US, t + US)))


def _knowledge_times(drawn: Drawn) -> st.SearchStrategy[dt.datetime | None]:
    """None, or as ``_knowledge_instants``."""
    return st.none() | _knowledge_instants(drawn)


def _naive(history: History, fold: Fold[Any], **query: Any) -> Any:
    return functools.reduce(fold.step, history.visible(**query), fold.initial())


def _comparable(state: Any) -> Any:
    """Fold states with their linked lists spelled out (links compare only their own step)."""
    if isinstance(state, StatementLink):
        return list(state)
    if isinstance(state, immutables.Map):
        return {key: list(link) for key, link in state.items()}
    return state


@settings(max_examples=80)
@given(drawn=negotiations(max_steps=45), data=st.data())
def test_checkpointed_folds_equal_a_full_fold(drawn: Drawn, data: st.DataObject) -> None:
    """History.fold from checkpoints equals folding every visible event, for every read model."""
    cuts = data.draw(st.lists(st.integers(1, len(drawn.events)), max_size=4), label="cuts")
    history = History(NEGOTIATION)
    bounds = [0, *sorted(set(cuts)), len(drawn.events)]
    for lo, hi in itertools.pairwise(bounds):
        if hi <= lo:
            continue
        history.load(drawn.events[lo:hi])  # appends invalidate checkpoints between queries
        for _ in range(data.draw(st.integers(1, 4), label="queries")):
            query = {
                "as_of": data.draw(_valid_times(drawn), label="as_of"),
                "known_at": data.draw(_knowledge_times(drawn), label="known_at"),
                "at_version": data.draw(st.none() | st.integers(0, len(history)), label="at_version"),
            }
            for fold in FOLDS:
                got, expected = history.fold(fold, **query), _naive(history, fold, **query)
                assert _comparable(got) == _comparable(expected), fold.name


@settings(max_examples=60)
@given(drawn=negotiations(max_steps=40), data=st.data())
def test_known_at_answers_what_was_recorded_by_then(drawn: Drawn, data: st.DataObject) -> None:
    """Answers as known at k equal the answers of a store holding only what was recorded by k."""
    known_at = data.draw(_knowledge_instants(drawn), label="known_at")
    as_of = data.draw(_valid_times(drawn), label="as_of")
    full = _loaded(drawn.events, data.draw(st.lists(st.integers(1, len(drawn.events)), max_size=3)))
    assert full.state()  # checkpoints of the full-knowledge fold exist before the query
    then = _loaded([e for e in drawn.events if e.recorded_at is not None and e.recorded_at <= known_at])
    try:
        expected_status = status_json(status_of(then, as_of=as_of, known_at=known_at, now=NOW))
    except NotOpenedError:
        with pytest.raises(NotOpenedError):
            status_of(full, as_of=as_of, known_at=known_at, now=NOW)
        return
    assert status_json(status_of(full, as_of=as_of, known_at=known_at, now=NOW)) == expected_status
    assert positions_json(positions_of(full, as_of=as_of, known_at=known_at, now=NOW)) == positions_json(
        positions_of(then, as_of=as_of, known_at=known_at, now=NOW)
    )


@settings(max_examples=60)
@given(drawn=negotiations(max_steps=40), data=st.data())
def test_at_version_answers_what_was_appended_by_then(drawn: Drawn, data: st.DataObject) -> None:
    """Folding at version n equals folding a history of the first n appended events."""
    n = data.draw(st.integers(1, len(drawn.events)), label="n")
    as_of = data.draw(_valid_times(drawn), label="as_of")
    full = _loaded(drawn.events)
    full.state()
    prefix = _loaded(drawn.events[:n])
    for fold in FOLDS:
        got, expected = full.fold(fold, as_of=as_of, at_version=n), prefix.fold(fold, as_of=as_of)
        assert _comparable(got) == _comparable(expected), fold.name


@settings(max_examples=60)
@given(drawn=negotiations(max_steps=40, retractions=False), data=st.data())
def test_knowledge_only_grows(drawn: Drawn, data: st.DataObject) -> None:
    """Without retractions, a later knowledge time never forgets: counts grow, positions only move on news."""
    k1, k2 = sorted(data.draw(st.lists(_knowledge_instants(drawn), min_size=2, max_size=2), label="k1, k2"))
    as_of = data.draw(_valid_times(drawn), label="as_of")
    history = _loaded(drawn.events)
    try:
        s1 = status_of(history, as_of=as_of, known_at=k1, now=NOW)
    except NotOpenedError:
        return
    s2 = status_of(history, as_of=as_of, known_at=k2, now=NOW)
    assert s1.events_applied <= s2.events_applied
    seen1 = {e.id for e in timeline_of(history, end=as_of, known_at=k1)}
    seen2 = {e.id for e in timeline_of(history, end=as_of, known_at=k2)}
    assert seen1 <= seen2
    assert {e.id for e in statements_of(history, as_of=as_of, known_at=k1, now=NOW)} <= seen1
    news = {
        (e.by, e.issue)
        for e in history.events()
        if isinstance(e, ProposalMade | ProposalWithdrawn) and e.id in seen2 - seen1
    }
    # Spec 1.1: an acceptance moves the acceptor's position, when it or the accepted proposal is news.
    news |= {
        (e.by, e.issue)
        for e in history.events()
        if isinstance(e, ProposalAccepted) and {e.id, e.proposal} & (seen2 - seen1)
    }
    p1 = {(p.party, p.issue): p.event for p in positions_of(history, as_of=as_of, known_at=k1, now=NOW)}
    p2 = {(p.party, p.issue): p.event for p in positions_of(history, as_of=as_of, known_at=k2, now=NOW)}
    for key in p1.keys() | p2.keys():
        if p1.get(key) != p2.get(key):
            assert key in news, key


@settings(max_examples=60)
@given(drawn=negotiations(min_steps=5, max_steps=40), data=st.data())
def test_a_retraction_does_not_change_what_was_known_before(drawn: Drawn, data: st.DataObject) -> None:
    """Before a retraction's recorded_at, answers are those of a store without the retraction."""
    if not drawn.retractions:
        return
    retraction_id = data.draw(st.sampled_from(drawn.retractions), label="retraction")
    (retraction,) = [e for e in drawn.events if e.id == retraction_id]
    assert retraction.recorded_at is not None
    known_at = retraction.recorded_at - US
    as_of = data.draw(_valid_times(drawn), label="as_of")
    with_it = _loaded(drawn.events)
    without = _loaded([e for e in drawn.events if e.id != retraction_id])
    try:
        expected = status_json(status_of(without, as_of=as_of, known_at=known_at, now=NOW))
    except NotOpenedError:
        return
    assert status_json(status_of(with_it, as_of=as_of, known_at=known_at, now=NOW)) == expected
    assert positions_json(positions_of(with_it, as_of=as_of, known_at=known_at, now=NOW)) == positions_json(
        positions_of(without, as_of=as_of, known_at=known_at, now=NOW)
    )
    # From its recorded_at on, the target no longer counts.
    target = retraction.target  # type: ignore[attr-defined]
    assert target not in {e.id for e in timeline_of(with_it, known_at=retraction.recorded_at)}


@settings(max_examples=60)
@given(drawn=negotiations(max_steps=40), data=st.data())
def test_timeline_lists_the_visible_events(drawn: Drawn, data: st.DataObject) -> None:
    """The timeline's range and knowledge filters agree with History.visible."""
    history = _loaded(drawn.events)
    known_at = data.draw(_knowledge_times(drawn), label="known_at")
    start, end = data.draw(_valid_times(drawn), label="start"), data.draw(_valid_times(drawn), label="end")
    expected = [
        r.event.id
        for r in history.visible(known_at=known_at)
        if (start is None or r.at >= start) and (end is None or r.at <= end)
    ]
    assert [e.id for e in timeline_of(history, start=start, end=end, known_at=known_at)] == expected


@settings(max_examples=30)
@given(drawn=negotiations(max_steps=40))
def test_generated_negotiations_are_valid(drawn: Drawn) -> None:
    """The strategy's sequences pass the store's validation as one batch (a check of the strategy)."""
    history = history_of(drawn.events, NEGOTIATION, now=NOW)
    assert len(history) == len(drawn.events)
