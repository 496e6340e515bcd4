"""The gaps read from the indexed tables equal the folds' gaps, at any valid and knowledge time.

``IndexedReads.gaps`` folds a negotiation's proposals, withdrawals and
acceptances read from the events table; ``projections.gap.gaps_of`` folds its
``History``. They must agree object for object (every side, every move, every
concession) and in the JSON answer:

- on generated timelines made for the gaps: unions and employers standing on
  numbers in one unit, several events at one instant, proposals withdrawn,
  accepted and retracted, events recorded late and imported out of knowledge
  order, other events in between (which the gaps must not see);
- on the example logs (``examples/*.jsonl``) at every day they touch;
- on hand-made edges: the same instant decided by append order, a proposal
  known before the acceptance of it, errors.

The read goes through the partial index of the position events (the cost
grows with them, not with the negotiation's other events), and tables of a
version without that index get it when next opened.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import random
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from events import (
    AgendaIssue,
    Event,
    EventRetracted,
    NegotiationOpened,
    Party,
    ProposalAccepted,
    ProposalMade,
    ProposalWithdrawn,
    StatementIssued,
    TalksHeld,
    Value,
)
from negotiation import NegotiationNotFoundError, Negotiations, RuleViolationError
from negotiation.core.history import History
from negotiation.core.state import zone
from projections.answers import gaps_json
from projections.errors import NotOpenedError
from projections.gap import Gap, gaps_of
from projections.persisted import ReadModels
from projections.persisted.indexed import IndexedReads
from tests.conftest import postgres_schema
from tests.projections.builders import Log
from tests.projections.strategies import TIMEZONES

NOW = dt.datetime(2031, 6, 1, 12, tzinfo=dt.UTC)
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NEGOTIATION = "g-1"
POSTGRES = pytest.param("postgres", marks=pytest.mark.postgres)


# --- one store of each kind, fresh -------------------------------------------------------------


@contextlib.contextmanager
def fresh_store(kind: str) -> Iterator[str]:
    """The URL of a new, empty store of ``kind`` (a PostgreSQL schema dropped after)."""
    if kind == "memory":
        yield "memory:"
    elif kind == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{tmp}/n.db"
    else:
        with postgres_schema() as url:
            yield url


def _ask(ask: Callable[[], list[Gap]]) -> list[Gap] | tuple[str, str]:
    try:
        return ask()
    except NotOpenedError as e:
        return ("not opened", str(e))


def same_gaps(history: History, reads: IndexedReads, points: list[tuple[Any, Any]]) -> int:
    """Assert the indexed gaps equal the folded ones at every (as_of, known_at); how many points had a gap."""
    negotiation = history.negotiation
    found = 0
    for as_of, known_at in points:
        expected = _ask(lambda: gaps_of(history, as_of=as_of, known_at=known_at, now=NOW))  # noqa: B023
        got = _ask(lambda: reads.gaps(negotiation, as_of=as_of, known_at=known_at))  # noqa: B023
        assert got == expected, (negotiation, as_of, known_at)
        if isinstance(got, list) and isinstance(expected, list):
            assert gaps_json(got, negotiation=negotiation) == gaps_json(expected, negotiation=negotiation)
            found += bool(got)
    return found


def _around(events: list[Event]) -> list[Any]:
    """Every event's valid and knowledge instants, the microsecond before each, their dates; and ``None``."""
    points: list[Any] = [None]
    for e in events:
        for moment in (e.occurred_at if isinstance(e.occurred_at, dt.datetime) else None, e.recorded_at):
            if moment is not None:
                points += [moment, moment - dt.timedelta(microseconds=1), moment.date()]
    return points


# --- generated timelines made for the gaps ----------------------------------------------------------


@attrs.frozen
class Scenario:
    """Events of one negotiation in append order, and the instant at which a gap must stand."""

    events: tuple[Event, ...]
    first: dt.datetime
    """Both sides' first numbers stand from this instant (no other event is at or before it, bar the opening)."""
    by_valid: bool
    seed: int


@attrs.define
class _Book:
    """What the drawn events allow next."""

    proposals: dict[str, tuple[str, str]] = attrs.Factory(dict)
    """Proposal id -> (by, issue), of proposals that may still be accepted."""
    retractable: list[str] = attrs.Factory(list)


@st.composite
def gap_timelines(draw: st.DrawFn) -> Scenario:
    """An opening, a union's and an employer's number on ``pay`` at one instant, then up to 16 events.

    The later events fall on a few instants (so several share one, ordered by
    append order) and are proposals (mostly numbers in percent, some in usd or
    none), withdrawals, acceptances, retractions, statements and talks; some
    are recorded days late. Appended in recorded order or in valid-time order
    (an import of an old log: out of knowledge order).
    """
    tz_name = draw(st.sampled_from(TIMEZONES))
    unions = ["u1", "u2"][: draw(st.integers(1, 2))]
    employers = ["e1", "e2"][: draw(st.integers(1, 2))]
    parties = [*unions, *employers]
    issues = ["pay", "hours"][: draw(st.integers(1, 2))]
    start = (dt.datetime(2023, 1, 1, tzinfo=dt.UTC) + dt.timedelta(hours=draw(st.integers(0, 24 * 300)))).astimezone(
        zone(tz_name)
    )
    opened = NegotiationOpened(
        id="open",
        negotiation=NEGOTIATION,
        occurred_at=start,
        recorded_at=start,
        title="Gaps",
        parties=tuple(Party(id=p, name=p.upper(), role="union") for p in unions)
        + tuple(Party(id=p, name=p.upper(), role="employer") for p in employers),
        issues=tuple(AgendaIssue(id=i, title=i) for i in issues),
        timezone=tz_name,
    )
    first = start + dt.timedelta(hours=1)
    delays = st.sampled_from([dt.timedelta(0), dt.timedelta(minutes=30), dt.timedelta(days=3), dt.timedelta(days=9)])

    def envelope(id_: str, at: dt.datetime, *, after: dt.datetime | None = None) -> dict[str, Any]:
        recorded = max(at, after or at) + draw(delays)
        return {"id": id_, "negotiation": NEGOTIATION, "occurred_at": at, "recorded_at": recorded.astimezone(dt.UTC)}

    def amount(unit: str) -> Value:
        return Value(amount=draw(st.integers(0, 12) | st.sampled_from((2.5, 0.1, 7.25))), unit=unit)

    book = _Book()
    events: list[Event] = [opened]
    for id_, by in (("p-u", unions[0]), ("p-e", employers[0])):
        events.append(ProposalMade(**envelope(id_, first), by=by, issue="pay", terms=id_, value=amount("percent")))
        book.proposals[id_] = (by, "pay")
    # A few instants after the first numbers: later events often share one.
    hours = draw(st.lists(st.integers(1, 24 * 20), min_size=1, max_size=5, unique=True))
    instants = sorted(first + dt.timedelta(hours=h) for h in hours)
    at = instants[0]
    for i in range(draw(st.integers(0, 16))):
        at = draw(st.sampled_from([t for t in instants if t >= at]))  # valid time never goes back
        id_ = f"x{i}"
        kinds = ["proposal", "proposal", "proposal", "withdraw", "other"]
        accepting = [(pid, by, issue) for pid, (by, issue) in sorted(book.proposals.items())]
        kinds += ["accept"] if accepting else []
        kinds += ["retract"] if book.retractable else []
        kind = draw(st.sampled_from(kinds))
        if kind == "proposal":
            by, issue = draw(st.sampled_from(parties)), draw(st.sampled_from(issues))
            unit = draw(st.sampled_from(["percent", "percent", "percent", "usd", "none"]))
            value = None if unit == "none" else amount(unit)
            events.append(ProposalMade(**envelope(id_, at), by=by, issue=issue, terms=id_, value=value))
            book.proposals[id_] = (by, issue)
            book.retractable.append(id_)
        elif kind == "withdraw":
            by, issue = draw(st.sampled_from(parties)), draw(st.sampled_from(issues))
            events.append(ProposalWithdrawn(**envelope(id_, at), by=by, issue=issue))
            # The rules refuse accepting a proposal its maker withdrew: forget them.
            book.proposals = {p: made for p, made in book.proposals.items() if made != (by, issue)}
            book.retractable.append(id_)
        elif kind == "accept":
            proposal, maker, issue = draw(st.sampled_from(accepting))
            by = draw(st.sampled_from([p for p in parties if p != maker]))
            events.append(ProposalAccepted(**envelope(id_, at), by=by, issue=issue, proposal=proposal))
            if proposal in book.retractable:  # an accepted proposal stays: the acceptance refers to it
                book.retractable.remove(proposal)
            book.retractable.append(id_)
        elif kind == "retract":
            target = draw(st.sampled_from(book.retractable))
            book.retractable.remove(target)
            book.proposals.pop(target, None)
            known = next(e.recorded_at for e in events if e.id == target)
            events.append(EventRetracted(**envelope(id_, at, after=known), target=target, reason="misreported"))
        else:
            other = draw(st.sampled_from([StatementIssued, TalksHeld]))
            extra = {"by": draw(st.sampled_from(parties)), "text": id_} if other is StatementIssued else {}
            events.append(other(**envelope(id_, at), **extra))
    by_valid = draw(st.booleans())
    order = {e.id: i for i, e in enumerate(events)}
    key: Callable[[Event], Any] = (
        (lambda e: (_instant(e), order[e.id])) if by_valid else (lambda e: (e.recorded_at, order[e.id]))
    )
    appended = [opened, *sorted(events[1:], key=key)]
    return Scenario(events=tuple(appended), first=first, by_valid=by_valid, seed=draw(st.integers(0, 2**16)))


def _instant(event: Event) -> dt.datetime:
    assert isinstance(event.occurred_at, dt.datetime)
    return event.occurred_at


def check_scenario(kind: str, scenario: Scenario) -> None:
    """Append the scenario, take it into the tables, compare the gaps at points around every event."""
    rng = random.Random(scenario.seed)
    events = list(scenario.events)
    with fresh_store(kind) as url, Negotiations(url) as app, ReadModels(app, page_size=rng.randint(1, 9)) as models:
        try:
            app.append(events)
        except RuleViolationError:
            return  # one instant shared in an order the rules refuse (an acceptance before its proposal)
        models.catch_up()
        reads = models.indexed()
        history = app.history(NEGOTIATION)
        # A gap stands once both first numbers are in: the comparison below is never of empty answers only.
        assert reads.gaps(NEGOTIATION, as_of=scenario.first) == gaps_of(history, as_of=scenario.first, now=NOW) != []
        points = _around(events)
        pairs = [(rng.choice(points), rng.choice(points)) for _ in range(40)]
        same_gaps(history, reads, [(p, None) for p in points] + pairs)


GENERATED = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)


@GENERATED
@given(scenario=gap_timelines())
def test_generated_gaps_in_memory(scenario: Scenario) -> None:
    """Memory store (the tables in an in-memory SQLite database)."""
    check_scenario("memory", scenario)


@GENERATED
@given(scenario=gap_timelines())
def test_generated_gaps_on_sqlite(scenario: Scenario) -> None:
    """A SQLite store file."""
    check_scenario("sqlite", scenario)


@pytest.mark.postgres
@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)
@given(scenario=gap_timelines())
def test_generated_gaps_on_postgres(postgres_url: str, scenario: Scenario) -> None:
    """PostgreSQL: a fresh schema per example (``postgres_url`` checks the server is there)."""
    check_scenario("postgres", scenario)


def test_the_generated_timelines_are_mostly_valid_and_share_instants() -> None:
    """The property tests above compare something: most drawn scenarios append, many share instants."""
    drawn: list[tuple[bool, bool]] = []

    @settings(max_examples=60, derandomize=True, database=None, deadline=None)
    @given(scenario=gap_timelines())
    def draw(scenario: Scenario) -> None:
        history = History(NEGOTIATION)
        try:
            history.apply(history.plan(list(scenario.events), now=NOW))
        except RuleViolationError:
            drawn.append((False, False))
            return
        at = [_instant(e) for e in scenario.events[1:]]
        drawn.append((True, len(set(at)) < len(at) - 1))  # beyond the first two numbers' shared instant

    draw()
    valid = sum(ok for ok, _ in drawn)
    assert valid >= len(drawn) * 3 // 4, drawn
    assert sum(shared for _, shared in drawn) >= len(drawn) // 4, drawn


# --- the example logs ---------------------------------------------------------------------------------


@pytest.mark.parametrize("store_url", ["memory", "sqlite", POSTGRES], indirect=True)
def test_the_example_logs(app: Negotiations) -> None:
    """WGA and SAG-AFTRA 2023: the same gaps at every day an event happened or became known, and around."""
    app.import_files(sorted(EXAMPLES.glob("*.jsonl")))
    with ReadModels(app) as models:
        models.catch_up()
        reads = models.indexed()
        total = 0
        for negotiation in app.negotiation_ids():
            history = app.history(negotiation)
            events = history.events()
            days = sorted({p.date() if isinstance(p, dt.datetime) else p for p in _around(events) if p is not None})
            days = [days[0] - dt.timedelta(days=1), *days]
            known: list[Any] = [None, *days[:: max(1, len(days) // 8)]]
            total += same_gaps(history, reads, [(day, k) for day in days for k in known])
        assert total > 0  # the WGA wage numbers stand on both sides from April 30


# --- hand-made edges ----------------------------------------------------------------------------


def _same_instant() -> list[Event]:
    """Three things at 09:00 on one day, in append order: a union's number, the employer's, the union's next.

    Then the union withdraws and proposes again at one instant, and the
    employer accepts the union's last proposal at the very instant it is made;
    the employer's number was recorded late, and a proposal of the union is
    retracted (known on the 11th). Valid-time order at one instant is append order: the moves say so.
    """
    log = Log("s")
    log.open("2024-01-02", unions=("u",), employers=("e",), issues=("pay",))
    pct = {"unit": "percent"}
    log.add("proposal.made", "u1", "2024-01-03T09:00", by="u", issue="pay", terms="8", value={"amount": 8, **pct})
    log.add(
        "proposal.made",
        "e1",
        "2024-01-03T09:00",
        recorded="2024-01-09T12:00",
        by="e",
        issue="pay",
        terms="2",
        value={"amount": 2, **pct},
    )
    log.add("proposal.made", "u2", "2024-01-03T09:00", by="u", issue="pay", terms="7", value={"amount": 7, **pct})
    log.add("statement.issued", "st", "2024-01-04T09:00", by="u", text="Seven.")
    log.add("proposal.withdrawn", "w1", "2024-01-05T09:00", by="u", issue="pay")
    log.add("proposal.made", "u3", "2024-01-05T09:00", by="u", issue="pay", terms="6", value={"amount": 6, **pct})
    log.add("proposal.made", "u4", "2024-01-06T09:00", by="u", issue="pay", terms="5", value={"amount": 5, **pct})
    log.add("proposal.accepted", "acc", "2024-01-06T09:00", by="e", issue="pay", proposal="u4")
    log.add("event.retracted", "r", "2024-01-07T09:00", recorded="2024-01-11T09:00", target="u3", reason="typo")
    return log.events


@pytest.mark.parametrize("store_url", ["memory", "sqlite", POSTGRES], indirect=True)
@pytest.mark.parametrize("as_written", [False, True], ids=["recorded-order", "log-order"])
def test_one_instant_is_ordered_by_append_order(app: Negotiations, as_written: bool) -> None:
    """Same instant, late events, a retraction, an acceptance at its proposal's instant: as the folds, everywhere."""
    events = _same_instant()
    if as_written:  # an import of the log as written: e1 (recorded on the 9th) before what was known earlier
        app.append(events)
    else:
        app.append(sorted(events, key=lambda e: (e.recorded_at, events.index(e))))
    with ReadModels(app) as models:
        models.catch_up()
        reads = models.indexed()
        history = app.history("s")
        points = _around(events)
        assert same_gaps(history, reads, [(a, k) for a in points for k in points]) > 0
        (gap,) = reads.gaps("s", as_of=dt.date(2024, 1, 5), known_at=dt.date(2024, 1, 10))
        # e1 is appended before u2 only in the log's own order; at one instant the later-appended move comes last.
        moves = [(m.event, m.before, m.after) for m in gap.moves]
        if as_written:
            assert moves == [("u1", None, 8), ("e1", None, 2), ("u2", 8, 7), ("w1", 7, None), ("u3", None, 6)]
        else:
            assert moves == [("u1", None, 8), ("u2", 8, 7), ("e1", None, 2), ("w1", 7, None), ("u3", None, 6)]
        (accepted,) = reads.gaps("s", known_at=dt.date(2024, 1, 10))
        assert (accepted.employer.accepted, accepted.distance) == ("acc", 0)
        assert [m.event for m in reads.gaps("s")[0].moves] == [m.event for m in gap.moves if m.event != "u3"] + [
            "u4",
            "acc",
        ]
        before_known = reads.gaps("s", as_of=dt.date(2024, 1, 5), known_at=dt.date(2024, 1, 8))
        assert before_known == []  # e1 not known yet: no employer number


@pytest.mark.parametrize("store_url", ["memory", "sqlite", POSTGRES], indirect=True)
def test_errors_as_the_folds(app: Negotiations) -> None:
    """Not found (nothing stored), not open yet (the same message), a date is the end of that day."""
    app.append(_same_instant())
    with ReadModels(app) as models:
        models.catch_up()
        reads = models.indexed()
        history = app.history("s")
        with pytest.raises(NegotiationNotFoundError):
            reads.gaps("nope")
        with pytest.raises(NotOpenedError) as caught:
            reads.gaps("s", as_of=dt.date(2024, 1, 1))
        with pytest.raises(NotOpenedError) as folded:
            gaps_of(history, as_of=dt.date(2024, 1, 1), now=NOW)
        assert str(caught.value) == str(folded.value)
        with pytest.raises(NotOpenedError):
            reads.gaps("s", known_at=dt.datetime(2024, 1, 1, tzinfo=dt.UTC))
        naive = dt.datetime(2024, 1, 3, 9)  # wall time in the negotiation's zone, as the folds read it
        assert reads.gaps("s", as_of=naive) == gaps_of(history, as_of=naive, now=NOW) != []


def _replaced_opening() -> list[list[Event]]:
    """``z`` opened in Chatham with both sides' numbers; then the opening is retracted and replaced in New York.

    The numbers made under the first opening are retracted with it (nothing
    stands before an opening); new ones follow in the evening, New York time,
    already the next day in Chatham. The history's zone stays Chatham's (its
    first stored opening), the state's becomes New York's: the gaps date their
    positions and moves in the state's zone, as ``gaps_of`` does.
    """
    first, second = Log("z", tz="Pacific/Chatham"), Log("z", tz="America/New_York")
    opened = first.open("2024-01-10T09:00", unions=("u",), employers=("e",), issues=("pay",))
    pct = {"unit": "percent"}
    first.add("proposal.made", "u1", "2024-01-16T09:00", by="u", issue="pay", terms="9", value={"amount": 9, **pct})
    first.add("proposal.made", "e1", "2024-01-17T09:00", by="e", issue="pay", terms="1", value={"amount": 1, **pct})
    second.open("2024-03-12T09:00", unions=("u",), employers=("e",), issues=("pay",), id_="open2")
    for id_, target, at in (("x1", "u1", "08:00"), ("x2", "e1", "08:30"), ("x3", opened.id, "09:00")):
        second.add("event.retracted", id_, f"2024-03-13T{at}", target=target, reason="wrong zone")
    second.add("proposal.made", "u2", "2024-03-14T20:00", by="u", issue="pay", terms="8", value={"amount": 8, **pct})
    second.add("proposal.made", "e2", "2024-03-14T21:00", by="e", issue="pay", terms="3", value={"amount": 3, **pct})
    return [first.events, second.events]


@pytest.mark.parametrize("store_url", ["memory", "sqlite", POSTGRES], indirect=True)
def test_a_replaced_opening_dates_the_gaps_in_the_state_zone(app: Negotiations) -> None:
    """As known before the replacement: Chatham's dates; after: New York's, though the history's zone is Chatham's."""
    batches = _replaced_opening()
    for batch in batches:
        app.append(batch)
    with ReadModels(app) as models:
        models.catch_up()
        reads = models.indexed()
        history = app.history("z")
        events = [e for batch in batches for e in batch]
        points = [*_around(events), dt.date(2024, 1, 20), dt.date(2024, 3, 15)]
        assert same_gaps(history, reads, [(a, k) for a in points for k in points]) > 0
        (before,) = reads.gaps("z", as_of=dt.date(2024, 1, 20), known_at=dt.date(2024, 1, 20))
        assert [m.date for m in before.moves] == [dt.date(2024, 1, 16), dt.date(2024, 1, 17)]
        (after,) = reads.gaps("z")
        assert [m.date for m in after.moves] == [dt.date(2024, 3, 14), dt.date(2024, 3, 14)]  # Chatham: the 15th
        assert str(after.moves[0].at.tzinfo) == "America/New_York"


# --- the index the read goes through -----------------------------------------------------------------


def _statement(reads: IndexedReads, monkeypatch: pytest.MonkeyPatch) -> tuple[str, tuple[Any, ...]]:
    """The statement (in the driver's style) and parameters with which ``reads.gaps`` reads the events."""
    seen: list[tuple[str, tuple[Any, ...]]] = []
    real = reads._all  # the one statement of the read is what is checked

    def recording(c: Any, statement: str, params: tuple[Any, ...] = ()) -> list[Any]:
        seen.append((reads.views.dialect.sql(statement), params))
        return real(c, statement, params)

    monkeypatch.setattr(reads, "_all", recording)
    assert reads.gaps("s")
    (found,) = seen
    return found


@pytest.mark.parametrize("store_url", ["sqlite", POSTGRES], indirect=True)
def test_the_read_goes_through_the_partial_index(
    app: Negotiations, store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only the position events are visited: the plan searches their partial index by negotiation and valid time.

    PostgreSQL would scan tables this small whole; with sequential scans off it
    shows that the index is usable for the statement (its condition is proved at planning).
    """
    app.append(_same_instant())
    with ReadModels(app) as models:
        models.catch_up()
        reads = models.indexed()
        statement, params = _statement(reads, monkeypatch)
        version = models.version()
        with reads.views.datastore.transaction(commit=False) as c:
            if store_url.startswith("postgresql"):
                c.execute("SET LOCAL enable_seqscan = off")
            c.execute(f"EXPLAIN {'' if store_url.startswith('postgresql') else 'QUERY PLAN '}{statement}", params)
            rows = c.fetchall()  # psycopg's rows are dicts, sqlite3's tuples with names
            plan = " ".join(str(v) for row in rows for v in (row.values() if isinstance(row, dict) else tuple(row)))
    assert f"negotiation_events_positions_v{version}" in plan, plan


def test_tables_without_the_index_get_it_when_opened(tmp_path: Path) -> None:
    """A version laid out before the index: opening the tables builds it from their rows, no rebuild."""
    import sqlite3

    db = tmp_path / "old.db"
    with Negotiations(f"sqlite:///{db}") as app:
        app.append(_same_instant())
        with ReadModels(app) as models:
            models.catch_up()
            before = models.indexed().gaps("s", known_at=dt.date(2024, 1, 10))
    with sqlite3.connect(db) as c:
        c.execute("DROP INDEX negotiation_events_positions_v1")
    with Negotiations(f"sqlite:///{db}") as app, ReadModels(app) as models:
        assert not models.outdated
        assert models.version() == 1
        with sqlite3.connect(db) as c:
            indexes = {row[0] for row in c.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert "negotiation_events_positions_v1" in indexes
        assert models.indexed().gaps("s", known_at=dt.date(2024, 1, 10)) == before != []
