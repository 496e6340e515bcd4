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
import itertools
from collections.abc import Callable
from typing import Any

import pytest
from structlog.testing import capture_logs

from events import Event
from negotiation import NegotiationNotFoundError, Negotiations
from negotiation.core.history import History
from projections.answers import catalog_json, positions_json, status_json, stoppages_json, timeline_json
from projections.catalog import catalog_of, stoppages_on
from projections.errors import NotOpenedError
from projections.persisted import ReadModels, runner
from projections.persisted import indexed as indexed_module
from projections.persisted.indexed import IndexedReads
from projections.persisted.tables import SQL_VIEWS
from projections.positions import positions_of
from projections.status import status_of
from projections.timeline import timeline_of
from tests.projections.builders import Log, when

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
    the answer is the one before the page or the one after, never a mix. The
    ``list`` as known now is one statement whose rows are streamed: there the
    page lands between two batches of rows.
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

        if question == "list":
            # As known now the list is one statement, streamed a batch at a time: the page lands between batches.
            monkeypatch.setattr(indexed_module, "_BATCH", 1)
            entries = reads.catalog_entries(now=NOW)
            head = next(entries)
            app.append(later)
            committed.append(models.catch_up())
            during = {"negotiations": [head, *entries]}
        else:
            monkeypatch.setattr(IndexedReads, "_all", page_in_between)
            during = ask(reads)
        monkeypatch.undo()
        after = ask(reads)
    assert committed == [len(later)]
    assert before != after
    assert during == before  # the snapshot was taken by the first statement, before the page


# --- 2. a skipped negotiation is absent at every time ---------------------------------------


def _skipped_scenario() -> tuple[list[Event], list[Event]]:
    """``a``: opened, talks, a strike (the event that cannot be projected); ``b`` on strike too; then more of ``a``."""
    a, b = Log("a"), Log("b", tz="America/New_York")
    first = [
        a.open("2024-01-10T09:00"),
        a.add("talks.requested", "r", "2024-01-11T09:00", by="wga", to="amptp"),
        a.add("proposal.made", "p", "2024-01-12T09:00", by="wga", issue="wages", terms="5%"),
        b.open("2024-01-20T09:00"),
        b.add("strike.called", "s", "2024-02-02T09:00", by="wga"),
        a.add("strike.called", "s", "2024-02-01T09:00", by="wga"),
    ]
    later = [a.add("talks.held", "h", "2024-02-10T09:00"), b.add("talks.held", "h", "2024-02-11T09:00")]
    return first, later


def _rows_of(reads: IndexedReads, negotiation: str) -> dict[str, int]:
    """How many rows each table (through its SQL view) holds for ``negotiation``."""
    counts = {}
    with reads.views.datastore.transaction(commit=False) as c:
        for kind, view in SQL_VIEWS.items():
            statement = f"SELECT COUNT(*) AS n FROM {reads.views.dialect.name(view)} WHERE negotiation = ?"
            c.execute(reads.views.dialect.sql(statement), (negotiation,))
            counts[kind] = int(c.fetchone()["n"])
    return counts


@pytest.mark.parametrize("store_url", ["memory", "sqlite", POSTGRES], indirect=True)
def test_a_skipped_negotiation_is_absent_at_every_valid_and_knowledge_time(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The skip removed the current rows only: ``status a --at`` (and the rest) still answered from the periods.

    Now every row of the negotiation goes, in every table, in the transaction
    that moves past the event; a later event of it is skipped too (its rows
    would hold only what came after), so it stays absent, never stale, while
    the other negotiations are answered as before.
    """
    real = runner.status_row_of

    def failing(negotiation: str, state: Any, *args: Any) -> Any:
        if negotiation == "a" and state.strikes:
            raise ArithmeticError("a fold that cannot be computed")
        return real(negotiation, state, *args)

    monkeypatch.setattr(runner, "status_row_of", failing)
    first, later = _skipped_scenario()
    with Negotiations(store_url) as app, ReadModels(app, page_size=3) as models, capture_logs() as logs:
        app.append(first)
        assert models.catch_up() == len(first)
        reads = models.indexed()
        assert _rows_of(reads, "a") == dict.fromkeys(SQL_VIEWS, 0)
        app.append(later)
        monkeypatch.setattr(runner, "status_row_of", real)  # a later event of ``a`` would project now
        assert models.catch_up() == len(later)
        assert models.position() == app.position()
        skips = [(log["negotiation"], log["position"]) for log in logs if log["event"] == "read_models.event_skipped"]
        stored = app.store.notifications(after=0, limit=100)
        assert skips == [
            ("a", n.id) for n in stored if n.originator_id == "a" and n.topic in ("strike.called", "talks.held")
        ]
        assert _rows_of(reads, "a") == dict.fromkeys(SQL_VIEWS, 0)
        assert _rows_of(reads, "b")["events"] == 3
        assert models.status("a") is None
        assert models.status("b") is not None
        past, strike_day = dt.date(2024, 1, 15), dt.date(2024, 2, 5)
        for as_of, known_at in itertools.product([past, strike_day, None], [past, strike_day, None]):
            for ask in (reads.status, reads.positions):
                with pytest.raises(NegotiationNotFoundError):
                    ask("a", as_of=as_of, known_at=known_at, now=NOW)
            with pytest.raises(NegotiationNotFoundError):
                reads.timeline("a", end=as_of, known_at=known_at)
            listed = reads.catalog(as_of=as_of, known_at=known_at, now=NOW)["negotiations"]
            assert [e["negotiation"] for e in listed] == ([] if as_of == past or known_at == past else ["b"])
            running = reads.stoppages(on=as_of or strike_day, known_at=known_at, now=NOW)["stoppages"]
            assert [e["negotiation"] for e in running] == (["b"] if as_of != past and known_at != past else [])


# --- 3. a retracted opening, an opening that is not the first event ---------------------------


def _replaced_opening_scenario() -> list[list[Event]]:
    """The batches: ``a`` opened in Chatham, on strike; ``b``; ``c`` opened second in its first batch.

    Then ``a``'s opening (and its strike, which needs it) is retracted and
    replaced by one in New York, later in valid time: the rules accept a
    retracted opening only with another one in force before the retraction.
    """
    a, a2 = Log("a", tz="Pacific/Chatham"), Log("a", tz="America/New_York")
    b, c = Log("b", tz="America/New_York"), Log("c", tz="Asia/Tokyo")
    opened = a.open("2024-01-10T09:00", title="First")
    strike = a.add("strike.called", "s1", "2024-01-15T09:00", by="wga")
    a.add("proposal.made", "p1", "2024-01-16T09:00", by="wga", issue="wages", terms="5%")
    requested = c.add("talks.requested", "r", "2024-01-11T09:00", by="wga", to="amptp")
    return [
        a.events,
        [b.open("2024-01-09T09:00"), b.add("strike.called", "s", "2024-01-15T23:30", by="wga")],
        [requested, c.open("2024-01-10T09:00")],
        [
            a2.open("2024-03-12T09:00", id_="open2", title="Second"),
            a2.add("event.retracted", "x1", "2024-03-13T08:00", target=strike.id, reason="never happened"),
            a2.add("event.retracted", "x2", "2024-03-13T08:30", target="p1", reason="never happened"),
            a2.add("event.retracted", "x", "2024-03-13T09:00", target=opened.id, reason="wrong time zone"),
            a2.add("proposal.made", "p2", "2024-03-14T09:00", by="wga", issue="wages", terms="6%"),
        ],
    ]


POINTS: list[dt.datetime | dt.date | None] = [
    None,
    dt.date(2024, 1, 9),
    dt.date(2024, 1, 15),
    dt.date(2024, 2, 1),
    when("2024-03-13T08:45", "America/New_York"),
    dt.date(2024, 3, 13),
    dt.date(2024, 3, 20),
]


def _outcome(ask: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """The answer, or the refusal of a negotiation not open at that point."""
    try:
        return ask(*args, **kwargs)
    except NotOpenedError as e:
        return ("not opened", e.negotiation)


def _pure_status(history: History, **when_: Any) -> Any:
    return status_json(status_of(history, **when_))


def _pure_positions(history: History, **when_: Any) -> Any:
    return positions_json(positions_of(history, **when_))


@pytest.mark.parametrize("page_size", [1, 100])
@pytest.mark.parametrize("store_url", ["memory", "sqlite", POSTGRES], indirect=True)
def test_a_retracted_opening_is_answered_as_the_pure_path_answers(store_url: str, page_size: int) -> None:
    """``list --at``/``--known-at`` and ``stoppages`` took ``a``'s time zone from its catalog row (the replacement's).

    The pure path dates everything of a negotiation in ``History.tz``, its
    first stored opening's zone: asked as known before the retraction, ``a``
    is listed as opened in Chatham (title, strike and its day as then known);
    as known after it, only from the replacement's valid time on. ``c``'s first
    stored event is not its opening: its zone was read from that event (UTC).
    Every answer at every point equals the pure one.
    """
    with Negotiations(store_url) as app, ReadModels(app, page_size=page_size) as models:
        for batch in _replaced_opening_scenario():
            app.append(batch)
        models.catch_up()
        reads = models.indexed()
        histories = [app.history(n) for n in app.negotiation_ids()]
        for as_of, known_at in itertools.product(POINTS, POINTS):
            when_ = {"as_of": as_of, "known_at": known_at, "now": NOW}
            assert reads.catalog(**when_) == catalog_json(catalog_of(histories, **when_)), (as_of, known_at)
            on = as_of or dt.date(2024, 3, 20)
            pure_stoppages = stoppages_json(stoppages_on(histories, on=on, known_at=known_at, now=NOW), on=on)
            assert reads.stoppages(on=on, known_at=known_at, now=NOW) == pure_stoppages, (on, known_at)
            for h in histories:
                n = h.negotiation
                assert _outcome(reads.status, n, **when_) == _outcome(_pure_status, h, **when_), (n, when_)
                assert _outcome(reads.positions, n, **when_) == _outcome(_pure_positions, h, **when_), (n, when_)
                pure_timeline = timeline_json(timeline_of(h, end=as_of, known_at=known_at), negotiation=n)
                assert reads.timeline(n, end=as_of, known_at=known_at) == pure_timeline, (n, as_of, known_at)
        before, after = dt.date(2024, 3, 1), dt.date(2024, 3, 20)
        listed = {
            e["negotiation"]: e
            for e in reads.catalog(as_of=dt.date(2024, 2, 1), known_at=before, now=NOW)["negotiations"]
        }
        assert (listed["a"]["title"], listed["a"]["timezone"], listed["a"]["stoppage"]["since"]) == (
            "First",
            "Pacific/Chatham",
            "2024-01-15",
        )
        assert "a" not in [
            e["negotiation"] for e in reads.catalog(as_of=dt.date(2024, 2, 1), known_at=after, now=NOW)["negotiations"]
        ]
        assert reads.status("c", as_of=dt.date(2024, 1, 12), now=NOW)["as_of"] == "2024-01-12T23:59:59.999999+09:00"
        # The current tables too: the catalog row's zone and the positions' dates are the pure answers'.
        assert [(row["negotiation"], row["timezone"]) for row in models.catalog()] == [
            (h.negotiation, h.timezone) for h in sorted(histories, key=lambda h: h.negotiation)
        ]
        current = models.positions("a")
        assert current is not None
        assert current["positions"] == _pure_positions(app.history("a"), now=NOW)["positions"]


# --- 4. a fact that holds again from the very time its row ended ---------------------------


def _rows_end_where_they_start_again() -> list[Event]:
    """``amptp``'s standing proposal on wages, at one instant, as known on the 1st, then on the 10th.

    Found by ``test_gap_indexed`` (Hypothesis). ``accept`` is recorded on the
    1st but accepts ``late``, known only on the 10th: ``offer`` stands until
    the 10th, then the acceptance. Retracting the acceptance on the 10th
    makes ``offer`` stand again from the 10th: its row until the 10th must
    be extended, not a second row stored beside it, or ``counter``, recorded
    on the 1st and appended last, closes only the second row and leaves two
    answers for the same key and knowledge time (the tables refused the write).
    """
    log = Log("n")
    at = "2024-01-01T10:00"
    return [
        log.open("2024-01-01T09:00"),
        log.add("proposal.made", "offer", at, by="amptp", issue="wages", terms="3%"),
        log.add("proposal.made", "late", at, recorded="2024-01-10T10:00", by="wga", issue="wages", terms="9%"),
        log.add("proposal.accepted", "accept", at, by="amptp", issue="wages", proposal="late"),
        log.add("event.retracted", "undo", at, recorded="2024-01-10T10:00", target="accept", reason="misreported"),
        log.add("proposal.made", "counter", at, by="amptp", issue="wages", terms="5%"),
    ]


@pytest.mark.parametrize("page_size", [1, 100])
@pytest.mark.parametrize("store_url", ["memory", "sqlite", POSTGRES], indirect=True)
def test_a_fact_holding_again_from_where_its_row_ended_keeps_one_row(store_url: str, page_size: int) -> None:
    """The catch-up takes every event in, and every answer equals the pure one, as known before, at and after."""
    events = _rows_end_where_they_start_again()
    with Negotiations(store_url) as app, ReadModels(app, page_size=page_size) as models:
        app.append(events)
        models.catch_up()
        reads = models.indexed()
        history = app.history("n")
        points = [None, dt.date(2024, 1, 1), when("2024-01-01T10:00"), dt.date(2024, 1, 9), dt.date(2024, 1, 10)]
        for as_of, known_at in itertools.product(points, points):
            when_ = {"as_of": as_of, "known_at": known_at, "now": NOW}
            assert _outcome(reads.positions, "n", **when_) == _outcome(_pure_positions, history, **when_), when_
            assert _outcome(reads.status, "n", **when_) == _outcome(_pure_status, history, **when_), when_
