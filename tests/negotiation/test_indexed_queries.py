"""``negotiation.indexed.IndexedQueries``: the ``Queries`` contract, answered from the indexed tables.

The pure path (``HistoryQueries``, folding the histories) is the oracle: the
indexed answers equal its answer objects field for field (``Status.state`` and
``Position.link`` aside, which compare equal by design) and its JSON documents
key for key, on the WGA and SAG-AFTRA timelines and on generated ones (late
events, retractions, stoppages), on memory, SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import random
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from events import Event
from negotiation import NegotiationNotFoundError, Negotiations, RuleViolationError
from negotiation.answers import Answers
from negotiation.indexed import ATTEMPTS, IndexedQueries
from negotiation.queries import HistoryQueries, Queries
from projections import NotOpenedError, diff_json
from projections.errors import NotIndexedError
from projections.persisted import ReadModels
from tests.conftest import postgres_schema
from tests.negotiation.queries_contract import NOW, MakeQueries, QueriesContract, same_answers
from tests.projections.builders import Log
from tests.projections.test_indexed import timelines
from tests.projections.test_indexed_edges import POINTS, _replaced_opening_scenario
from tests.projections.timelines import SAG, WGA, sag, wga

D = dt.date
PDT = dt.timezone(dt.timedelta(hours=-7))


def _indexed(app: Negotiations, models: ReadModels, *, fallback: bool = True) -> IndexedQueries:
    models.catch_up()
    pure = HistoryQueries(app, clock=lambda: NOW) if fallback else None
    return IndexedQueries(models.indexed(), fallback=pure, clock=lambda: NOW)


class IndexedContract(QueriesContract):
    """The contract, answered from the tables of the contract's store."""

    @pytest.fixture
    def make_queries(self, request: pytest.FixtureRequest) -> MakeQueries:
        def make(app: Negotiations) -> Queries:
            models = ReadModels(app)
            request.addfinalizer(models.close)
            return _indexed(app, models)

        return make


class TestInMemory(IndexedContract):
    """``memory:``: the tables live in an in-memory SQLite database."""


class TestOnSQLite(IndexedContract):
    """A SQLite store file."""

    @pytest.fixture
    def store(self, tmp_path: Path) -> str:
        return f"sqlite:///{tmp_path / 'n.db'}"


@pytest.mark.postgres
class TestOnPostgres(IndexedContract):
    """A fresh PostgreSQL schema."""

    @pytest.fixture
    def store(self, postgres_url: str) -> str:
        return postgres_url


# --- the pure path is the oracle ------------------------------------------------------------


@pytest.fixture
def both(app: Negotiations) -> Iterator[tuple[Negotiations, HistoryQueries, IndexedQueries]]:
    """The WGA and SAG-AFTRA timelines on each store kind: the pure queries and the indexed ones."""
    app.append([*wga().events, *sag().events])
    with ReadModels(app) as models:
        yield app, HistoryQueries(app, clock=lambda: NOW), _indexed(app, models, fallback=False)


def _ask(ask: Callable[[], Any]) -> Any:
    try:
        return ask()
    except NotOpenedError as e:
        return ("not opened", str(e))


DAYS = [D(2023, 3, 1), D(2023, 3, 20), D(2023, 5, 2), D(2023, 7, 14), D(2023, 8, 11), D(2023, 9, 27), D(2024, 1, 1)]
KNOWN = [None, D(2023, 5, 1), D(2023, 8, 12), D(2023, 8, 22), dt.datetime(2023, 7, 14, 8, tzinfo=PDT)]


def same_objects(
    pure: Queries, indexed: Queries, negotiations: list[str], days: list[Any], known: list[Any], starts: list[Any]
) -> None:
    """Every answer object of ``indexed`` equals the pure one at every point (``None``: now).

    Diffs: from each of ``starts`` to each of ``days``.
    """
    for known_at in known:
        for when in days:
            point = {"as_of": when, "known_at": known_at}
            for n in negotiations:
                for name in ("status", "positions", "statements", "gaps"):
                    expected = _ask(lambda: getattr(pure, name)(n, **point))  # noqa: B023 - called at once
                    assert _ask(lambda: getattr(indexed, name)(n, **point)) == expected, (name, n, point)  # noqa: B023
                for start in starts:
                    expected = _ask(lambda: pure.diff(n, start=start, end=when, known_at=known_at))  # noqa: B023
                    got = _ask(lambda: indexed.diff(n, start=start, end=when, known_at=known_at))  # noqa: B023
                    assert got == expected, ("diff", n, start, when, known_at)
                    if not isinstance(got, tuple):
                        assert diff_json(got) == diff_json(expected)
                window = {"start": days[0], "end": when, "known_at": known_at}
                assert indexed.timeline(n, **window) == pure.timeline(n, **window), (n, window)
            assert indexed.catalog(**point) == pure.catalog(**point), point
            assert indexed.involving("amptp", **point) == pure.involving("amptp", **point), point
            on = NOW.date() if when is None else when
            assert indexed.stoppages(on=on, known_at=known_at) == pure.stoppages(on=on, known_at=known_at), point


def test_the_answer_objects_equal_the_folds(both: tuple[Negotiations, HistoryQueries, IndexedQueries]) -> None:
    """Status (stoppage starts, contract expiry, parties), positions (when taken), diffs, catalog: field for field."""
    _, pure, indexed = both
    same_objects(pure, indexed, [WGA, SAG], [*DAYS, None], KNOWN, [D(2023, 3, 1), D(2023, 5, 1), D(2023, 9, 30)])
    # The strike's first microsecond and the one before; its end's.
    instants = [
        dt.datetime(2023, 5, 2, 0, 1, tzinfo=PDT),
        dt.datetime(2023, 5, 2, 0, 0, 59, 999999, tzinfo=PDT),
        dt.datetime(2023, 9, 27, 0, 1, tzinfo=PDT),
        dt.datetime(2023, 9, 27, 0, 0, 59, 999999, tzinfo=PDT),
    ]
    same_objects(pure, indexed, [WGA], instants, [None, D(2023, 8, 22)], instants)


def test_the_json_answers_equal_the_folds(both: tuple[Negotiations, HistoryQueries, IndexedQueries]) -> None:
    """The contract's equivalence check, at points before, during and after both negotiations (without a fallback)."""
    _, pure, indexed = both
    points = [(n, day, known) for n in (WGA, SAG) for day in DAYS for known in (D(2024, 6, 1), D(2023, 8, 1))]
    same_answers(pure, indexed, points)


def test_a_diff_is_the_comparison_of_its_two_ends(both: tuple[Negotiations, HistoryQueries, IndexedQueries]) -> None:
    """The strike: phase, stoppage and count changed; amptp's late offer is a changed position once known."""
    _, _, indexed = both
    diff = indexed.diff(WGA, start=D(2023, 5, 1), end=D(2023, 8, 11), known_at=D(2023, 8, 22))
    assert [c.field for c in diff.status] == ["phase", "talks", "stoppage", "events_applied"]
    assert [(c.party, c.issue, c.kind) for c in diff.positions] == [("amptp", "wages", "changed")]
    (change,) = diff.positions
    assert change.after is not None
    assert (change.after.event, change.after.at) == ("a-pay-2", dt.datetime(2023, 8, 11, 12, tzinfo=PDT))
    before_known = indexed.diff(WGA, start=D(2023, 5, 1), end=D(2023, 8, 11), known_at=D(2023, 8, 21))
    assert before_known.positions == ()


def test_a_diff_from_before_the_opening_adds_everything(
    both: tuple[Negotiations, HistoryQueries, IndexedQueries],
) -> None:
    """An end where the negotiation was not open is the empty negotiation; open at neither end is not opened."""
    _, pure, indexed = both
    diff = indexed.diff(SAG, start=D(2023, 6, 1), end=D(2023, 7, 14))
    assert diff == pure.diff(SAG, start=D(2023, 6, 1), end=D(2023, 7, 14))
    assert diff.start.events_applied == 0
    assert diff.start.state is not None  # the empty negotiation's status, as the folds build it
    with pytest.raises(NotOpenedError) as caught:
        indexed.diff(SAG, start=D(2023, 5, 1), end=D(2023, 6, 1))
    assert str(caught.value) == "negotiation 'sag-aftra-amptp-2023' was not open as of 2023-06-01T23:59:59.999999-07:00"
    with pytest.raises(NegotiationNotFoundError):
        indexed.diff("nope", start=D(2023, 5, 1), end=D(2023, 6, 1))


def test_an_id_that_is_not_a_slug_is_not_found(both: tuple[Negotiations, HistoryQueries, IndexedQueries]) -> None:
    """As the facade: an id no store can hold (NUL, upper case) is not found, without asking the tables."""
    _, _, indexed = both
    for odd in ("a\x00b", "A" * 300, "../etc"):
        for ask in (
            lambda: indexed.status(odd),  # noqa: B023 - called at once
            lambda: indexed.positions(odd),  # noqa: B023
            lambda: indexed.timeline(odd),  # noqa: B023
            lambda: indexed.statements(odd),  # noqa: B023
            lambda: indexed.diff(odd, start=D(2023, 5, 1), end=D(2023, 6, 1)),  # noqa: B023
            lambda: indexed.gaps(odd),  # noqa: B023
        ):
            with pytest.raises(NegotiationNotFoundError) as caught:
                ask()
            assert type(caught.value) is NegotiationNotFoundError


def test_a_replaced_opening_in_another_zone(app: Negotiations) -> None:
    """An opening retracted and replaced in another zone, an opening that is not the first event: as the folds."""
    for batch in _replaced_opening_scenario():
        app.append(batch)
    with ReadModels(app) as models:
        indexed = _indexed(app, models, fallback=False)
        pure = HistoryQueries(app, clock=lambda: NOW)
        days = [p for p in POINTS if p is not None]
        same_objects(pure, indexed, app.negotiation_ids(), POINTS, POINTS, days[::2])


# --- what the tables do not hold ---------------------------------------------------------------


def test_versions_are_asked_of_the_fallback(both: tuple[Negotiations, HistoryQueries, IndexedQueries]) -> None:
    """Without a fallback they raise NotIndexedError; with one, they are its answers."""
    _, pure, indexed = both
    asks: list[Callable[[Queries], object]] = [
        lambda q: q.status(WGA, at_version=9),
        lambda q: q.positions(WGA, at_version=3),
    ]
    for ask in asks:
        with pytest.raises(NotIndexedError, match="give IndexedQueries a fallback"):
            ask(indexed)
        assert ask(IndexedQueries(indexed.reads, fallback=pure, clock=lambda: NOW)) == ask(pure)


def test_the_gaps_are_read_not_asked_of_the_fallback(
    both: tuple[Negotiations, HistoryQueries, IndexedQueries], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 11: the gaps come from the tables, with a fallback or without, and no history is loaded for them."""
    app, pure, indexed = both
    points = [(n, day, known) for n in (WGA, SAG) for day in DAYS for known in (None, D(2023, 8, 12))]
    expected = {(n, day, known): _ask(lambda: pure.gaps(n, as_of=day, known_at=known)) for n, day, known in points}  # noqa: B023

    class NoGaps(HistoryQueries):
        def gaps(self, negotiation: str, **kwargs: Any) -> Any:
            raise AssertionError("the gaps were asked of the fallback")

    def loaded(*args: object, **kwargs: object) -> object:
        raise AssertionError("a history was loaded")

    monkeypatch.setattr(app, "existing", loaded)
    monkeypatch.setattr(app, "history", loaded)
    for queries in (indexed, IndexedQueries(indexed.reads, fallback=NoGaps(app, clock=lambda: NOW))):
        for (n, day, known), gaps in expected.items():
            assert _ask(lambda: queries.gaps(n, as_of=day, known_at=known)) == gaps, (n, day, known)  # noqa: B023
        (wages,) = queries.gaps(WGA, as_of=D(2023, 9, 21))
        assert (wages.union.amount, wages.employer.amount, wages.distance, len(wages.moves)) == (5.5, 5, 0.5, 4)
        with pytest.raises(NegotiationNotFoundError):
            queries.gaps("nope")
        with pytest.raises(NotOpenedError):
            queries.gaps(SAG, as_of=D(2023, 6, 1))


def test_an_indexed_position_has_no_record_behind_it(both: tuple[Negotiations, HistoryQueries, IndexedQueries]) -> None:
    """The tables keep what stands: ``history`` and ``proposal`` name the folds; the status holds no core state."""
    _, pure, indexed = both
    wages = indexed.positions(WGA, as_of=D(2023, 9, 21)).get("wga", "wages")
    assert wages is not None
    assert (wages.event, wages.at) == ("w-pay-2", dt.datetime(2023, 9, 20, 15, tzinfo=PDT))
    with pytest.raises(NotIndexedError, match="HistoryQueries"):
        _ = wages.history
    with pytest.raises(NotIndexedError):
        _ = wages.proposal
    folded = pure.positions(WGA, as_of=D(2023, 9, 21)).get("wga", "wages")
    assert folded is not None
    assert [p.event for p in folded.history] == ["w-pay-1"]
    assert indexed.status(WGA).state is None
    assert pure.status(WGA).state is not None


# --- one state of the tables per answer ----------------------------------------------------------


def _late_offer() -> list[Event]:
    late = Log(WGA)
    late.add(
        "proposal.made",
        "a-pay-late",
        "2023-06-15",
        recorded="2024-01-10T09:00",
        by="amptp",
        issue="wages",
        terms="4.5%",
        value={"amount": 4.5, "unit": "percent"},
    )
    return list(late.events)


def test_an_answer_of_several_reads_is_read_again_when_a_page_came_in_between(app: Negotiations) -> None:
    """A page taken in between the reads of a diff: it is read again, all of it after the page.

    The page comes after the start's status was read, before its positions: read once, the start's
    status would not count the late offer its positions stand on.
    """
    app.append([*wga().events, *sag().events])
    with ReadModels(app) as models:
        indexed = _indexed(app, models, fallback=False)
        reads = indexed.reads
        real = reads.positions
        calls: list[int] = []

        def positions(*args: Any, **kwargs: Any) -> dict[str, Any]:
            calls.append(1)
            if len(calls) == 1:  # between the first end's status and its positions: a page
                app.append(_late_offer())
                models.catch_up()
            return real(*args, **kwargs)

        reads.positions = positions  # type: ignore[method-assign]  # a page in the middle of the reads
        diff = indexed.diff(WGA, start=D(2023, 7, 1), end=D(2023, 8, 10))
        assert len(calls) == 4  # two ends, twice
        assert diff == HistoryQueries(app, clock=lambda: NOW).diff(WGA, start=D(2023, 7, 1), end=D(2023, 8, 10))
        assert diff.start.events_applied == 11  # ten events by July 1, and the late offer
        assert [(c.party, c.issue) for c in diff.positions] == []


def test_when_pages_keep_coming_the_fallback_answers(
    both: tuple[Negotiations, HistoryQueries, IndexedQueries], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The tables moved during every read: the fallback's answer; without one, the last read stands."""
    _, pure, indexed = both
    ticks = iter(range(1000))
    monkeypatch.setattr(indexed.reads.views, "position", lambda: next(ticks))
    asked: list[str] = []

    class Recording(HistoryQueries):
        def status(self, negotiation: str, **kwargs: Any) -> Any:
            asked.append(negotiation)
            return super().status(negotiation, **kwargs)

    fallback = IndexedQueries(indexed.reads, fallback=Recording(pure.source, clock=lambda: NOW), clock=lambda: NOW)
    assert fallback.status(WGA, as_of=D(2023, 8, 11)) == pure.status(WGA, as_of=D(2023, 8, 11))
    assert asked == [WGA]
    assert next(ticks) == ATTEMPTS + 1  # read ATTEMPTS times, the position before each and after the last
    assert indexed.status(WGA, as_of=D(2023, 8, 11)) == pure.status(WGA, as_of=D(2023, 8, 11))


# --- the command line's and the service's answers ---------------------------------------------------


def test_answers_give_the_diff_from_the_tables(app: Negotiations, monkeypatch: pytest.MonkeyPatch) -> None:
    """``Answers.diff`` reads the tables (the facade's folds are never asked), with the pure path's document."""
    app.append([*wga().events, *sag().events])
    expected = diff_json(app.diff(WGA, start=D(2023, 5, 1), end=D(2023, 8, 11), known_at=D(2023, 8, 22)))
    later = D(2024, 6, 1)  # a knowledge time, not "now": the document reports it
    before_opening = diff_json(app.diff(SAG, start=D(2023, 6, 1), end=D(2023, 7, 14), known_at=later))
    answers = Answers(app, live=True)
    try:
        assert answers.indexed

        def folded(*args: object, **kwargs: object) -> object:
            raise AssertionError("the diff was folded")

        monkeypatch.setattr(app.queries, "diff", folded)
        assert answers.diff(WGA, start=D(2023, 5, 1), end=D(2023, 8, 11), known_at=D(2023, 8, 22)) == expected
        assert answers.diff(SAG, start=D(2023, 6, 1), end=D(2023, 7, 14), known_at=later) == before_opening
        with pytest.raises(NegotiationNotFoundError):
            answers.diff("NOT-a-slug\x00", start=D(2023, 6, 1), end=D(2023, 7, 14))
        with pytest.raises(NotOpenedError):
            answers.diff(SAG, start=D(2023, 5, 1), end=D(2023, 6, 1))
        app.append(_late_offer())  # live: the tables are brought up to date before the answer
        monkeypatch.undo()
        late = diff_json(app.diff(WGA, start=D(2023, 6, 1), end=D(2023, 6, 20), known_at=later))
        monkeypatch.setattr(app.queries, "diff", folded)
        assert answers.diff(WGA, start=D(2023, 6, 1), end=D(2023, 6, 20), known_at=later) == late
        assert late["positions"]["changed"][0]["after"]["event"] == "a-pay-late"
    finally:
        answers.close()


def test_the_facade_can_read_instead_of_fold(app: Negotiations) -> None:
    """``app.queries = IndexedQueries(...)`` (docs/services.md): the facade's answers, read from the tables."""
    app.append([*wga().events, *sag().events])
    expected = app.diff(WGA, start=D(2023, 5, 1), end=D(2023, 9, 27), known_at=D(2024, 6, 1))
    with ReadModels(app) as models:
        models.catch_up()
        pure = app.queries
        app.queries = IndexedQueries(models.indexed(), fallback=pure)
        assert app.diff(WGA, start=D(2023, 5, 1), end=D(2023, 9, 27), known_at=D(2024, 6, 1)) == expected
        assert (app.status(WGA, at_version=9).phase, app.status(WGA).phase) == ("strike", "ratified")
        assert app.status(WGA).state is None  # read, not folded


# --- generated timelines -----------------------------------------------------------------------


def _run(url: str, scenario: tuple[list[Event], bool, int, int]) -> None:
    """Append a generated scenario, take it into the tables, compare every answer object at random points."""
    events, _, _, seed = scenario
    rng = random.Random(seed)
    with Negotiations(url) as app, ReadModels(app) as models:
        try:
            app.append(events)
        except RuleViolationError:
            return  # not valid in this order as one batch: nothing to compare
        pure, indexed = HistoryQueries(app, clock=lambda: NOW), _indexed(app, models, fallback=False)
        moments: list[Any] = []
        for e in events:
            at = e.occurred_at if isinstance(e.occurred_at, dt.datetime) else None
            for moment in (at, e.recorded_at):
                if moment is not None:
                    moments += [moment, moment - dt.timedelta(microseconds=1), moment.date()]
        # Where a stoppage starts or ends, and the microsecond before: where "running" is decided.
        edges = [m for e in events if e.TYPE in _STOPPAGE_EDGES for m in _instants(e)]
        days = [*rng.sample(moments, min(len(moments), 3)), *rng.sample(edges, min(len(edges), 2)), None]
        ids = sorted({e.negotiation for e in events})
        known = rng.sample(moments, min(len(moments), 3))
        same_objects(pure, indexed, ids, days, known, rng.sample(days[:-1], min(len(days) - 1, 2)))


_STOPPAGE_EDGES = frozenset(
    {"strike.called", "strike.ended", "lockout.declared", "lockout.ended", "ratification.completed"}
)


def _instants(event: Event) -> list[dt.datetime]:
    at = event.occurred_at
    if not isinstance(at, dt.datetime):
        return []
    return [at, at - dt.timedelta(microseconds=1)]


GENERATED = settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)


@GENERATED
@given(scenario=timelines())
def test_generated_timelines_in_memory(scenario: tuple[list[Event], bool, int, int]) -> None:
    """Memory store."""
    _run("memory:", scenario)


@GENERATED
@given(scenario=timelines())
def test_generated_timelines_on_sqlite(scenario: tuple[list[Event], bool, int, int]) -> None:
    """SQLite store file."""
    with tempfile.TemporaryDirectory() as tmp:
        _run(f"sqlite:///{tmp}/n.db", scenario)


@pytest.mark.postgres
@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)
@given(scenario=timelines())
def test_generated_timelines_on_postgres(postgres_url: str, scenario: tuple[list[Event], bool, int, int]) -> None:
    """PostgreSQL: a fresh schema per example (the fixture checks the server is there)."""
    with postgres_schema() as url:
        _run(url, scenario)
