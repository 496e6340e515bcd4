"""The query side of the facade: the ``Queries`` seam and ``HistoryQueries`` on the in-memory store."""

from __future__ import annotations

import datetime as dt
import inspect
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from events import parse_line
from negotiation import NegotiationNotFoundError, Negotiations
from negotiation.queries import HistoryQueries, Queries
from projections import NotOpenedError, positions_json, status_json
from projections.positions import positions_of
from projections.status import status_of
from tests.negotiation.queries_contract import NOW, MakeQueries, QueriesContract, same_answers
from tests.projections.builders import Log
from tests.projections.strategies import Drawn, negotiations
from tests.projections.timelines import SAG, WGA, sag, wga

D = dt.date
PDT = dt.timezone(dt.timedelta(hours=-7))
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
def app() -> Iterator[Negotiations]:
    with Negotiations("memory:") as negotiations:
        negotiations.append([*wga().events, *sag().events])
        yield negotiations


QUERY_METHODS = ("status", "positions", "gaps", "timeline", "statements", "diff", "catalog", "stoppages", "involving")


def test_the_seam_names_every_query_method() -> None:
    """The Protocol, its in-memory implementation and the facade have the same read methods and signatures."""
    declared = sorted(name for name in vars(Queries) if not name.startswith("_") and callable(vars(Queries)[name]))
    assert declared == sorted(QUERY_METHODS)
    for name in QUERY_METHODS:
        expected = inspect.signature(getattr(Queries, name))
        assert inspect.signature(getattr(HistoryQueries, name)) == expected, name
        assert inspect.signature(getattr(Negotiations, name)) == expected, name


def test_the_facade_holds_one_queries_object(app: Negotiations) -> None:
    """By default the facade answers through a HistoryQueries over its own histories."""
    assert isinstance(app.queries, HistoryQueries)
    assert isinstance(app.queries, Queries)
    assert app.queries.source is app


class _Recording:
    """A stand-in implementation: records each call and answers with a marker."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[object, ...], dict[str, object]]] = []

    def __getattr__(self, name: str) -> object:
        def record(*args: object, **kwargs: object) -> object:
            self.calls.append((name, args, kwargs))
            return name

        return record


def test_the_facade_delegates_every_query_to_its_queries_object(app: Negotiations) -> None:
    """Replacing ``queries`` (as an SQL-indexed implementation will) reroutes every read method, arguments intact."""
    fake = _Recording()
    app.queries = fake  # type: ignore[assignment]  # duck-typed stand-in
    day = D(2023, 8, 11)
    assert app.status(WGA, as_of=day, known_at=day, at_version=3) == "status"
    assert app.positions(WGA, at_version=2) == "positions"
    assert app.gaps(WGA, as_of=day) == "gaps"
    assert app.timeline(WGA, start=day, end=day) == "timeline"
    assert app.statements(WGA, party="wga") == "statements"
    assert app.diff(WGA, start=day, end=day) == "diff"
    assert app.catalog(known_at=day) == "catalog"
    assert app.stoppages(on=day) == "stoppages"
    assert app.involving("wga", as_of=day) == "involving"
    assert [c[0] for c in fake.calls] == list(QUERY_METHODS)
    assert fake.calls[0] == ("status", (WGA,), {"as_of": day, "known_at": day, "at_version": 3})
    assert fake.calls[-1] == ("involving", ("wga",), {"as_of": day})


class TestHistoryQueries(QueriesContract):
    """The in-memory implementation keeps the contract."""

    @pytest.fixture
    def make_queries(self) -> MakeQueries:
        return lambda app: HistoryQueries(app, clock=lambda: NOW)


def test_the_facade_gives_the_answers_of_its_queries(app: Negotiations) -> None:
    """The facade and a HistoryQueries over it agree at points before, during and after both negotiations."""
    days = [D(2023, 3, 1), D(2023, 5, 2), D(2023, 7, 14), D(2023, 8, 11), D(2023, 11, 9), D(2024, 1, 1)]
    points = [(n, day, known) for n in (WGA, SAG) for day in days for known in (D(2024, 6, 1), D(2023, 8, 1))]
    same_answers(HistoryQueries(app), app, points)


def test_same_answers_notices_a_difference(app: Negotiations) -> None:
    """The equivalence check fails for an implementation over a store missing one late event."""
    with Negotiations("memory:") as other:
        other.append([e for e in [*wga().events, *sag().events] if e.id != "a-pay-1"])
        with pytest.raises(AssertionError):
            same_answers(HistoryQueries(app), HistoryQueries(other), [(WGA, D(2023, 8, 11), D(2024, 6, 1))])


def test_the_clock_says_what_now_is(app: Negotiations) -> None:
    """A query that names no time reports the implementation's clock as its as_of and known_at."""
    fixed = dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    queries = HistoryQueries(app, clock=lambda: fixed)
    status = queries.status(WGA)
    assert status.as_of == status.known_at == fixed
    assert [e.negotiation for e in queries.catalog()] == [e.negotiation for e in app.catalog()]


def test_status_and_positions(app: Negotiations) -> None:
    """status/positions answer through the store's histories, with dates meaning end of day."""
    status = app.status(WGA, as_of=D(2023, 8, 11))
    assert (status.phase, status.events_applied) == ("strike", 12)
    assert status.stoppage is not None
    assert status.stoppage.day == 102
    known = app.status(WGA, as_of=D(2023, 8, 11), known_at=D(2023, 8, 12))
    assert status_json(known)["known_at"] == "2023-08-12T23:59:59.999999-07:00"
    assert app.status(WGA, at_version=9).phase == "strike"
    positions = app.positions(WGA, as_of=D(2023, 8, 11), known_at=D(2023, 8, 12))
    amptp = positions.get("amptp", "wages")
    assert amptp is not None
    assert amptp.event == "a-pay-1"
    assert app.positions(WGA, at_version=3).get("wga", "wages") is not None


def test_defaults_cover_everything_stored(app: Negotiations) -> None:
    """Without times the answers include every stored event and report now."""
    before = dt.datetime.now(dt.UTC)
    status = app.status(WGA)
    assert status.phase == "ratified"
    assert before <= status.as_of == status.known_at <= dt.datetime.now(dt.UTC)


def test_unknown_negotiation(app: Negotiations) -> None:
    """Every per-negotiation query raises NegotiationNotFoundError for an unknown id."""
    for query in (
        lambda: app.status("nope"),
        lambda: app.positions("nope"),
        lambda: app.gaps("nope"),
        lambda: app.timeline("nope"),
        lambda: app.statements("nope"),
        lambda: app.diff("nope", start=D(2023, 1, 1), end=D(2023, 2, 1)),
    ):
        with pytest.raises(NegotiationNotFoundError):
            query()


def test_not_open_yet_is_a_not_found(app: Negotiations) -> None:
    """Asking about a time before the opening raises a NegotiationNotFoundError subclass."""
    with pytest.raises(NotOpenedError) as caught:
        app.status(SAG, as_of=D(2023, 6, 1))
    assert isinstance(caught.value, NegotiationNotFoundError)
    assert caught.value.negotiation == SAG
    assert str(caught.value).startswith("negotiation 'sag-aftra-amptp-2023' was not open as of 2023-06-01")


def test_timeline_statements_gaps_diff(app: Negotiations) -> None:
    """The other per-negotiation read models are wired to the same histories."""
    assert [e.id for e in app.timeline(WGA, start=D(2023, 9, 24), end=D(2023, 9, 24))] == ["w-ta"]
    assert [e.id for e in app.statements(WGA, party="amptp")] == ["a-st-1"]
    (gap,) = app.gaps(WGA, as_of=D(2023, 9, 21))
    assert gap.distance == 0.5
    diff = app.diff(WGA, start=D(2023, 5, 1), end=D(2023, 5, 2))
    assert [c.field for c in diff.status] == ["phase", "stoppage", "events_applied"]


def test_catalog_stoppages_involving(app: Negotiations) -> None:
    """Cross-negotiation queries read every stored negotiation."""
    assert [(e.negotiation, e.phase) for e in app.catalog(as_of=D(2023, 8, 11))] == [
        (WGA, "strike"),
        (SAG, "strike"),
    ]
    assert [(e.negotiation, e.party, e.day) for e in app.stoppages(on=D(2023, 8, 11))] == [
        (WGA, "wga", 102),
        (SAG, "sag-aftra", 29),
    ]
    assert [e.negotiation for e in app.involving("sag-aftra")] == [SAG]
    assert [e.negotiation for e in app.involving("amptp", as_of=D(2023, 6, 1))] == [WGA]


def test_empty_store() -> None:
    """Cross-negotiation queries on an empty store answer with empty lists."""
    with Negotiations("memory:") as app:
        assert app.catalog() == []
        assert app.stoppages(on=D(2023, 8, 11)) == []
        assert app.involving("wga") == []


def test_answers_follow_later_appends(app: Negotiations) -> None:
    """A late event and a retraction appended after a query change later answers, not earlier knowledge."""
    assert app.status(WGA, as_of=D(2023, 8, 11)).events_applied == 12  # builds checkpoints
    late = Log(WGA)
    late.add("statement.issued", "late-1", "2023-06-01", recorded="2024-01-10T09:00", by="wga", text="Day 31.")
    late.add("event.retracted", "retract-1", "2024-01-11T09:00", target="a-pay-2", reason="misdated")
    app.append(late.events)
    assert app.status(WGA, as_of=D(2023, 8, 11)).events_applied == 12  # +late-1, -a-pay-2
    assert app.status(WGA, as_of=D(2023, 8, 11), known_at=D(2024, 1, 10)).events_applied == 13
    assert app.status(WGA, as_of=D(2023, 8, 11), known_at=D(2024, 1, 9)).events_applied == 12
    amptp = app.positions(WGA, as_of=D(2023, 8, 11)).get("amptp", "wages")
    assert amptp is not None
    assert amptp.event == "a-pay-1"
    before = app.positions(WGA, as_of=D(2023, 8, 11), known_at=D(2024, 1, 10)).get("amptp", "wages")
    assert before is not None
    assert before.event == "a-pay-2"


def test_naive_datetime_is_local_wall_time(app: Negotiations) -> None:
    """A naive datetime is read in the negotiation's zone."""
    naive = app.status(WGA, as_of=dt.datetime(2023, 5, 2, 0, 0))  # naive: the point of the test
    aware = app.status(WGA, as_of=dt.datetime(2023, 5, 2, 0, 0, tzinfo=PDT))
    assert naive.as_of == aware.as_of
    assert naive.phase == aware.phase == "impasse"


@pytest.mark.skipif(not (EXAMPLES / "wga_amptp_2023.jsonl").exists(), reason="no example logs")
def test_the_example_logs() -> None:
    """On 2023-08-11 both WGA (day 102) and SAG-AFTRA struck the AMPTP, per the example logs."""
    with Negotiations("memory:") as app:
        for name in ("wga_amptp_2023.jsonl", "sag_aftra_amptp_2023.jsonl"):
            lines = (EXAMPLES / name).read_text(encoding="utf-8").splitlines()
            app.append(parse_line(line) for line in lines if line.strip() and not line.startswith("#"))
        stopped = {(e.party, e.day) for e in app.stoppages(on=D(2023, 8, 11))}
        assert ("wga", 102) in stopped
        assert "sag-aftra" in {party for party, _ in stopped}
        assert all(e.against == ("amptp",) for e in app.stoppages(on=D(2023, 8, 11)))


@settings(max_examples=25, suppress_health_check=[HealthCheck.too_slow])
@given(drawn=negotiations(max_steps=30))
def test_facade_answers_equal_the_pure_read_models(drawn: Drawn) -> None:
    """A generated negotiation stored in one batch answers as the pure folds of its events do."""
    with Negotiations("memory:") as app:
        app.append(drawn.events)
        history = app.existing(drawn.events[0].negotiation)
        now = dt.datetime.now(dt.UTC)
        for as_of in (drawn.first, drawn.last_occurred, None):
            expected = status_json(status_of(history, as_of=as_of, known_at=drawn.last_recorded, now=now))
            got = status_json(app.status(history.negotiation, as_of=as_of, known_at=drawn.last_recorded))
            assert {**got, "as_of": None} == {**expected, "as_of": None}
            assert (
                positions_json(app.positions(history.negotiation, as_of=as_of, known_at=drawn.first))["positions"]
                == positions_json(positions_of(history, as_of=as_of, known_at=drawn.first, now=now))["positions"]
            )
