"""History's public queries: what other modules ask instead of reading its internal lists."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from events import Event
from negotiation.core.history import History
from tests.negotiation.helpers import NOW, at, history_of, ids, opened, retraction, statement


def _history() -> History:
    return history_of(
        [opened("open", 0, recorded_at=at(0))],
        [statement("s1", 1, recorded_at=at(1)), statement("s3", 3, recorded_at=at(3))],
        [statement("s2", 2, recorded_at=at(10))],  # late: known on day 10
        [retraction("r", 4, target="s3", recorded_at=at(5))],
    )


def test_between_is_valid_time_inclusive_with_retracted_events() -> None:
    """Both bounds count; ``None`` is unbounded; retracted events are there for ``counts`` to filter."""
    history = _history()
    assert [r.event.id for r in history.between(at(1), at(3))] == ["s1", "s2", "s3"]
    assert [r.event.id for r in history.between(None, at(1))] == ["open", "s1"]
    assert [r.event.id for r in history.between(at(3), None)] == ["s3", "r"]
    assert [r.event.id for r in history.between(at(3.5), at(3.9))] == []


def test_counts_is_the_rule_of_visible() -> None:
    """A recorded-later event and a retracted one count only where the fold would see them."""
    history = _history()
    s2, s3 = history.between(at(2), at(3))
    assert not history.counts(s2, known_at=at(9))
    assert history.counts(s2, known_at=at(10))
    assert history.counts(s3, known_at=at(4))  # the retraction is not known yet
    assert not history.counts(s3)
    assert history.counts(s3, at_version=3)  # before the retraction was appended
    assert history.retraction_of("s3") is not None
    assert history.retraction_of("s1") is None


@settings(max_examples=30, deadline=None)
@given(st.sampled_from([None, 0.5, 2, 3, 4.5, 20]), st.sampled_from([None, 2, 9, 10, 30]), st.integers(0, 6))
def test_counts_agrees_with_visible(as_of: float | None, known: float | None, version: int) -> None:
    """Filtering ``between`` with ``counts`` gives exactly ``visible`` at every point."""
    history = _history()
    end = None if as_of is None else at(as_of)
    known_at = None if known is None else at(known)
    filtered = [r for r in history.between(None, end) if history.counts(r, known_at=known_at, at_version=version)]
    assert filtered == list(history.visible(as_of=end, known_at=known_at, at_version=version))


def test_appended_after_and_the_end_of_the_timeline() -> None:
    """``appended_after`` is append order; ``follows_end``/``ends_with`` tell late events from new ones."""
    history = _history()
    assert ids(r.event for r in history.appended_after(3)) == ["s2", "r"]
    assert history.appended_after(5) == []
    late = history.plan([statement("late", 0.5)], now=NOW).new
    on_time = history.plan([statement("a", 30), statement("b", 31)], now=NOW).new
    assert not history.follows_end(late)
    assert history.follows_end(on_time)
    assert not history.follows_end(list(reversed(on_time)))
    history.apply(history.plan([statement("a", 30), statement("b", 31)], now=NOW))
    added = history.appended_after(5)
    assert history.ends_with(added)
    history.apply(history.plan([statement("c", 0.5)], now=NOW))
    assert not history.ends_with(history.appended_after(7))


def test_an_empty_history() -> None:
    """Nothing stored: nothing between, everything follows the end."""
    history = History("n")
    events: list[Event] = []
    assert history.between() == []
    assert history.follows_end([])
    assert history.ends_with([])
    assert history.events() == events
