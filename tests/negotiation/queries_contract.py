"""The contract of ``negotiation.queries.Queries``, written once for every implementation.

An implementation's test module subclasses ``QueriesContract`` and provides the
``make_queries`` fixture: given a ``Negotiations`` holding the WGA and SAG-AFTRA
2023 negotiations, the implementation answering over the same store. The
``store`` fixture says which store that is (``memory:`` unless a subclass
overrides it). The in-memory ``HistoryQueries`` is tested this way
(``tests/negotiation/test_queries.py``); the SQL-indexed ``IndexedQueries``
subclasses the same class once per store kind
(``tests/negotiation/test_indexed_queries.py``) and also checks
``same_answers`` against ``HistoryQueries`` at many points.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator

import pytest

from negotiation import NegotiationNotFoundError, Negotiations
from negotiation.queries import Queries
from projections import (
    NotOpenedError,
    catalog_json,
    diff_json,
    gaps_json,
    positions_json,
    statements_json,
    status_json,
    stoppages_json,
    timeline_json,
)
from tests.projections.timelines import SAG, WGA, sag, wga

D = dt.date
MakeQueries = Callable[[Negotiations], Queries]
NOW = dt.datetime(2024, 6, 1, tzinfo=dt.UTC)
"""A fixed "now" for implementations that take a clock: answers without times report it."""


def _answers(queries: Queries, negotiation: str, when: dt.date, known_at: dt.date) -> dict[str, object]:
    """Every query's JSON answer at one point, ``NotOpenedError`` and all."""
    out: dict[str, object] = {}
    asks: dict[str, Callable[[], object]] = {
        "status": lambda: status_json(queries.status(negotiation, as_of=when, known_at=known_at)),
        "positions": lambda: positions_json(queries.positions(negotiation, as_of=when, known_at=known_at)),
        "gaps": lambda: gaps_json(queries.gaps(negotiation, as_of=when, known_at=known_at)),
        "timeline": lambda: timeline_json(queries.timeline(negotiation, end=when, known_at=known_at)),
        "statements": lambda: statements_json(queries.statements(negotiation, as_of=when, known_at=known_at)),
        "diff": lambda: diff_json(
            queries.diff(negotiation, start=when - dt.timedelta(days=30), end=when, known_at=known_at)
        ),
        "catalog": lambda: catalog_json(queries.catalog(as_of=when, known_at=known_at)),
        "stoppages": lambda: stoppages_json(queries.stoppages(on=when, known_at=known_at)),
        "involving": lambda: catalog_json(queries.involving("amptp", as_of=when, known_at=known_at)),
    }
    for name, ask in asks.items():
        try:
            out[name] = ask()
        except NotOpenedError as e:
            out[name] = f"not opened: {e}"
    return out


def same_answers(reference: Queries, other: Queries, points: Iterable[tuple[str, dt.date, dt.date]]) -> None:
    """Assert that two implementations give identical JSON answers at every ``(negotiation, as_of, known_at)``.

    ``known_at`` is given at every point: an answer without it reports "now", which moves between calls.
    """
    for negotiation, when, known_at in points:
        assert _answers(other, negotiation, when, known_at) == _answers(reference, negotiation, when, known_at), (
            negotiation,
            when,
            known_at,
        )


class QueriesContract:
    """Answers every implementation of ``Queries`` gives for the WGA and SAG-AFTRA 2023 negotiations."""

    @pytest.fixture
    def make_queries(self) -> MakeQueries:
        """The implementation under test, over a facade's store (subclasses provide it)."""
        raise NotImplementedError

    @pytest.fixture
    def store(self) -> str:
        """The store URL the negotiations are appended to (subclasses may choose another)."""
        return "memory:"

    @pytest.fixture
    def queries(self, make_queries: MakeQueries, store: str) -> Iterator[Queries]:
        with Negotiations(store) as app:
            app.append([*wga().events, *sag().events])
            yield make_queries(app)

    def test_status_and_positions(self, queries: Queries) -> None:
        """Dates mean the end of the day; at_version counts the first n appended events."""
        status = queries.status(WGA, as_of=D(2023, 8, 11))
        assert (status.phase, status.events_applied) == ("strike", 12)
        assert status.stoppage is not None
        assert status.stoppage.day == 102
        known = queries.status(WGA, as_of=D(2023, 8, 11), known_at=D(2023, 8, 12))
        assert status_json(known)["known_at"] == "2023-08-12T23:59:59.999999-07:00"
        assert queries.status(WGA, at_version=9).phase == "strike"
        amptp = queries.positions(WGA, as_of=D(2023, 8, 11), known_at=D(2023, 8, 12)).get("amptp", "wages")
        assert amptp is not None
        assert amptp.event == "a-pay-1"

    def test_the_other_answers(self, queries: Queries) -> None:
        """Timeline, statements, gaps, diff and the questions across negotiations."""
        assert [e.id for e in queries.timeline(WGA, start=D(2023, 9, 24), end=D(2023, 9, 24))] == ["w-ta"]
        assert [e.id for e in queries.statements(WGA, party="amptp")] == ["a-st-1"]
        (gap,) = queries.gaps(WGA, as_of=D(2023, 9, 21))
        assert gap.distance == 0.5
        diff = queries.diff(WGA, start=D(2023, 5, 1), end=D(2023, 5, 2))
        assert [c.field for c in diff.status] == ["phase", "stoppage", "events_applied"]
        assert [(e.negotiation, e.phase) for e in queries.catalog(as_of=D(2023, 8, 11))] == [
            (WGA, "strike"),
            (SAG, "strike"),
        ]
        assert [(e.negotiation, e.party, e.day) for e in queries.stoppages(on=D(2023, 8, 11))] == [
            (WGA, "wga", 102),
            (SAG, "sag-aftra", 29),
        ]
        assert [e.negotiation for e in queries.involving("amptp", as_of=D(2023, 6, 1))] == [WGA]

    def test_errors(self, queries: Queries) -> None:
        """An unknown negotiation is not found; one asked about before its opening was not open."""
        with pytest.raises(NegotiationNotFoundError):
            queries.status("nope")
        with pytest.raises(NegotiationNotFoundError):
            queries.timeline("nope")
        with pytest.raises(NotOpenedError):
            queries.status(SAG, as_of=D(2023, 6, 1))
