"""The indexed read side at its edges: pages committed mid-read, skipped negotiations, replaced openings.

``tests/projections/test_indexed.py`` holds the indexed answers to the pure
ones on random timelines; these are the cases it does not draw:

- a projector page committed between two statements of one read (each read
  must see one snapshot: SQLite's WAL snapshot, PostgreSQL's ``REPEATABLE READ``);
- a negotiation the projector skipped (an event it could not project): absent
  from every answer at every time, never answered from the rows it had before;
- a negotiation whose ``negotiation.opened`` was retracted (and, as the rules
  want, replaced), possibly in another time zone, or whose first stored event
  is not its opening: answered exactly as the pure path answers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

from events import Event
from negotiation import Negotiations
from projections.persisted import ReadModels
from projections.persisted.indexed import IndexedReads
from tests.projections.builders import Log

POSTGRES = pytest.param("postgres", marks=pytest.mark.postgres)
NOW = dt.datetime(2031, 6, 1, 12, tzinfo=dt.UTC)


# --- 1. one snapshot per read ------------------------------------------------------------


def _snapshot_scenario() -> tuple[list[Event], list[Event]]:
    """``a`` in talks; then, committed mid-read: ``a`` on strike and ``b`` opened and on strike."""
    a, b = Log("a"), Log("b", tz="America/New_York")
    first = [a.open("2024-01-10T09:00"), a.add("talks.requested", "r", "2024-01-11T09:00", by="wga", to="amptp")]
    later = [
        a.add("strike.called", "s", "2024-02-01T09:00", by="wga"),
        b.open("2024-01-20T09:00"),
        b.add("strike.called", "s", "2024-02-02T09:00", by="wga"),
    ]
    return first, later


QUESTIONS: dict[str, Callable[[IndexedReads], Any]] = {
    "list --at": lambda reads: reads.catalog(as_of=dt.date(2024, 3, 1), now=NOW),
    "list": lambda reads: reads.catalog(now=NOW),
    "stoppages": lambda reads: reads.stoppages(on=dt.date(2024, 3, 1), now=NOW),
}


@pytest.mark.parametrize("store_url", ["sqlite", POSTGRES], indirect=True)
@pytest.mark.parametrize("question", list(QUESTIONS))
def test_a_page_committed_between_two_statements_of_a_read_is_not_half_seen(
    store_url: str, question: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``list`` reads the negotiations, then their rows; ``stoppages`` the negotiations, then the stoppages.

    A projector page committed in between (here: right after the read's first
    statement, from another connection) was half-seen on PostgreSQL, whose
    default ``READ COMMITTED`` takes a snapshot per statement: ``a`` on strike
    but ``b``, opened in the same page, missing. Every read is now one snapshot:
    the answer is the one before the page or the one after, never a mix.
    """
    ask = QUESTIONS[question]
    first, later = _snapshot_scenario()
    with Negotiations(store_url) as app, ReadModels(app) as models:
        app.append(first)
        models.catch_up()
        reads = models.indexed()
        before = ask(reads)
        committed: list[int] = []
        real = IndexedReads._all

        def page_in_between(self: IndexedReads, c: Any, statement: str, params: tuple[Any, ...] = ()) -> list[Any]:
            rows = real(self, c, statement, params)
            if not committed:
                app.append(later)
                committed.append(models.catch_up())  # its own connection and transaction, committed here
            return rows

        monkeypatch.setattr(IndexedReads, "_all", page_in_between)
        during = ask(reads)
        monkeypatch.undo()
        after = ask(reads)
    assert committed == [len(later)]
    assert before != after
    assert during == before  # the snapshot was taken by the first statement, before the page
