"""The persisted read models: exactly once, resumable, equal to the pure answers, rebuildable."""

from __future__ import annotations

import datetime as dt
import random
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from eventsourcing.persistence import OperationalError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from events import Event, Party, Value
from negotiation import ConfigurationError, Negotiations, RuleViolationError, StoreError
from negotiation.core.errors import NegotiationError
from negotiation.core.history import History
from projections.answers import positions_json, status_json, timeline_json
from projections.catalog import catalog_of
from projections.errors import NotOpenedError
from projections.persisted import ReadModels, ReadModelTimeoutError
from projections.persisted import models as models_module
from projections.persisted.models import PROGRESS_STAGE
from projections.persisted.sql import SQLTables
from projections.persisted.tables import DERIVATION, DERIVED_TABLE, KINDS, SQL_VIEWS, table_name
from projections.positions import positions_of
from projections.status import status_of
from tests.negotiation.helpers import (
    AI,
    EMPLOYER,
    NEGOTIATION,
    PARTIES,
    PAY,
    UNION,
    accepted,
    contract_expired,
    opened,
    proposal,
    ratification,
    retraction,
    statement,
    strike_authorized,
    strike_called,
    talks_held,
    talks_requested,
    tentative,
)
from tests.projections.strategies import negotiations

ROOT = Path(__file__).resolve().parents[2]
POSTGRES = pytest.param("postgres", marks=pytest.mark.postgres)

SCRIPT: list[Event] = [
    opened("open", 0),
    talks_requested("req", 1),
    talks_held("held", 2),
    proposal("p1", 3, terms="no AI-written scripts"),
    proposal("p2", 4, by=EMPLOYER, issue=PAY, terms="3% a year", value=Value(amount=3, unit="percent")),
    strike_authorized("auth", 5),
    contract_expired("expired", 6),
    strike_called("strike", 7),
    statement("st", 8),
    proposal("p3", 9, terms="regulate AI"),
]


@pytest.fixture(params=["sqlite", POSTGRES])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh SQLite file or PostgreSQL schema."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'negotiations.db'}"
    postgres_url: str = request.getfixturevalue("postgres_url")
    return postgres_url


@pytest.fixture(params=["memory", "sqlite", POSTGRES])
def any_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh store of each kind, the memory store included."""
    if request.param == "memory":
        return "memory:"
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'negotiations.db'}"
    postgres_url: str = request.getfixturevalue("postgres_url")
    return postgres_url


@pytest.fixture
def facade(any_url: str) -> Iterator[Negotiations]:
    """A facade on a fresh store of each kind."""
    with Negotiations(any_url) as app:
        yield app


# --- the pure answers, to compare with -------------------------------------------


def pure(app: Negotiations, now: dt.datetime) -> dict[str, Any]:
    """Every negotiation's status, positions and catalog entry, folded from the stored events."""
    histories = [History(n, app.stored_events(n)) for n in app.negotiation_ids()]
    out: dict[str, Any] = {}
    for history in histories:
        try:
            status = status_json(status_of(history, now=now))
            positions = positions_json(positions_of(history, now=now))["positions"]
        except NotOpenedError:
            continue
        for key in ("as_of", "known_at"):
            del status[key]
        out[history.negotiation] = {"status": status, "positions": positions}
    out["catalog"] = [
        {
            "negotiation": e.negotiation,
            "title": e.title,
            "timezone": e.timezone,
            "parties": [{"id": p.id, "name": p.name, "role": p.role} for p in e.parties],
            "phase": e.phase,
        }
        for e in sorted(catalog_of(histories, now=now), key=lambda e: e.negotiation)
    ]
    return out


def persisted(models: ReadModels, app: Negotiations, now: dt.datetime) -> dict[str, Any]:
    """The same, read from the read models' rows."""
    out: dict[str, Any] = {}
    for negotiation in app.negotiation_ids():
        status = models.status(negotiation, now=now)
        positions = models.positions(negotiation)
        if status is None:
            assert positions is None
            continue
        assert positions is not None
        del status["position"]
        out[negotiation] = {"status": status, "positions": positions["positions"]}
    out["catalog"] = models.catalog()
    return out


def assert_equal_to_pure(models: ReadModels, app: Negotiations) -> None:
    """The rows equal the pure answers and the tracked position is the store's."""
    now = dt.datetime.now(dt.UTC)
    assert persisted(models, app, now) == pure(app, now)
    assert models.position() == app.position()


def rows(models: ReadModels, negotiation: str = NEGOTIATION) -> tuple[Any, ...]:
    """A negotiation's rows, for before/after comparisons."""
    return models.status(negotiation), models.positions(negotiation), models.catalog()


# --- exactly once, resume ----------------------------------------------------------------


def test_rows_carry_ratified_by_and_accepted(facade: Negotiations) -> None:
    """Spec 1.1: the status rows carry ``ratified_by``, the position rows ``accepted``, as the pure answers do."""
    two_unions = opened("open", 0, parties=(*PARTIES, Party(id="ibew", name="IBEW", role="union")))
    facade.append(
        [two_unions, proposal("p1", 1, by=EMPLOYER, issue=PAY), accepted("a1", 2, proposal="p1", by=UNION, issue=PAY)]
    )
    facade.append([tentative("ta", 3), ratification("v1", 4)])
    with ReadModels(facade) as models:
        models.catch_up()
        status = models.status(two_unions.negotiation)
        assert status is not None
        assert status["ratified_by"] == [UNION]
        positions = models.positions(two_unions.negotiation)
        assert positions is not None
        assert positions["positions"][UNION][PAY] == {
            "terms": "terms",
            "value": None,
            "since": "2023-03-03",
            "event": "p1",
            "accepted": "a1",
        }
        assert "accepted" not in positions["positions"][EMPLOYER][PAY]
        assert_equal_to_pure(models, facade)
        facade.append([ratification("v2", 5, by="ibew")])
        models.catch_up()
        status = models.status(two_unions.negotiation)
        assert status is not None
        assert (status["phase"], status["ratified_by"]) == ("ratified", ["ibew", UNION])
        assert_equal_to_pure(models, facade)


def test_catch_up_takes_every_event_in_exactly_once(facade: Negotiations) -> None:
    """A second catch-up finds nothing to do and changes no row; the tracked position is the store's."""
    facade.append(SCRIPT)
    with ReadModels(facade) as models:
        assert models.catch_up() == len(SCRIPT)
        before = rows(models)
        assert models.catch_up() == 0
        assert rows(models) == before
        assert models.position() == facade.position() == len(SCRIPT)
        assert_equal_to_pure(models, facade)
        status = models.status(NEGOTIATION)
        assert status is not None
        assert status["phase"] == "strike"
        assert status["stoppage"]["kind"] == "strike"
        assert status["events_applied"] == len(SCRIPT)
    with ReadModels(facade) as again:
        assert again.catch_up() == 0
        assert rows(again) == before


def test_two_projectors_at_once_count_each_event_once(url: str) -> None:
    """Projectors racing on one store take in disjoint pages: their counts add up to the events."""
    with Negotiations(url) as app:
        app.append(SCRIPT)
        app.append([statement(f"s{i}", 10 + i) for i in range(30)])
        total = app.position()
        first, second = ReadModels(url, page_size=2), ReadModels(url, page_size=3)
        counts: list[int] = []
        threads = [threading.Thread(target=lambda m=m: counts.append(m.catch_up())) for m in (first, second)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sum(counts) == total
        assert_equal_to_pure(first, app)
        first.close()
        second.close()


def test_resume_after_a_crash(url: str) -> None:
    """A new instance continues after the tracked position; a page that failed mid-write left nothing."""
    with Negotiations(url) as app:
        app.append(SCRIPT)
        crashed = ReadModels(url, page_size=3)
        assert crashed.catch_up(limit=4) == 4  # a page of 3, then one of 1
        assert crashed.position() == 4

        def fail(*args: object, **kwargs: object) -> None:
            raise OperationalError("disk I/O error")

        crashed._projector.tables._write_rows = fail  # type: ignore[attr-defined]  # the write dies mid-transaction
        with pytest.raises(StoreError, match="disk I/O error"):
            crashed.catch_up()
        status = crashed.status(NEGOTIATION)
        assert status is not None
        assert crashed.position() == 4
        assert status["events_applied"] == 4  # rows and tracking record went together
        del crashed  # no close: as if the process died

        with ReadModels(url, page_size=3) as resumed:
            assert resumed.catch_up() == len(SCRIPT) - 4
            assert_equal_to_pure(resumed, app)


# --- late events and retractions -------------------------------------------------


def test_late_events_and_retractions_update_rows_to_the_pure_fold(url: str) -> None:
    """A late proposal and retractions of the strike and of a proposal give the same rows as a fresh fold."""
    changes: list[tuple[str, str | None, str | None]] = []
    with Negotiations(url) as app, ReadModels(app, on_change=lambda *c: changes.append(c)) as models:
        app.append(SCRIPT)
        models.catch_up()
        assert changes[-1] == (NEGOTIATION, "bargaining", "strike")

        app.append([proposal("late", 2.5, by=EMPLOYER, issue=AI, terms="study AI first")])
        app.append([retraction("r-strike", 30, target="strike"), retraction("r-p3", 30, target="p3")])
        models.catch_up()
        assert_equal_to_pure(models, app)
        status = models.status(NEGOTIATION)
        positions = models.positions(NEGOTIATION)
        assert status is not None
        assert positions is not None
        assert status["phase"] == "bargaining"
        assert status["stoppage"] is None
        assert positions["positions"]["wga"]["ai"]["event"] == "p1"  # falls back to the earlier proposal
        assert positions["positions"]["amptp"]["ai"]["terms"] == "study AI first"
        assert changes[-1] == (NEGOTIATION, "strike", "bargaining")

        app.append([tentative("ta", 31)])
        models.catch_up()
        assert changes[-1] == (NEGOTIATION, "bargaining", "tentative_agreement")
        assert_equal_to_pure(models, app)


# --- rebuild -----------------------------------------------------------------------------


def test_rebuild_switches_versions_while_a_reader_reads(url: str) -> None:
    """Readers see a full answer before, during and after the switch; the old tables are dropped."""
    with Negotiations(url) as app, ReadModels(app, page_size=2) as models:
        app.append(SCRIPT)
        models.catch_up()
        seen: list[int] = []
        errors: list[BaseException] = []
        stop = threading.Event()

        def read() -> None:
            with ReadModels(url) as reader:
                while not stop.is_set():
                    try:
                        status = reader.status(NEGOTIATION)
                        assert status is not None
                        seen.append(status["events_applied"])
                    except BaseException as e:  # noqa: BLE001 - reported below
                        errors.append(e)
                        return

        def write() -> None:
            with Negotiations(url) as writer:
                for i in range(10):
                    writer.append([statement(f"during-{i}", 20 + i)])

        threads = [threading.Thread(target=read), threading.Thread(target=write)]
        for thread in threads:
            thread.start()
        assert models.version() == 1
        assert models.rebuild() == 2
        threads[1].join()
        stop.set()
        threads[0].join()
        assert errors == []
        assert seen
        assert min(seen) >= len(SCRIPT)
        assert models.version() == 2
        assert models._db.versions() == [2]
        models.catch_up()
        assert_equal_to_pure(models, app)
        assert models.rebuild() == 3
        assert models._db.versions() == [3]
        assert_equal_to_pure(models, app)


def test_an_interrupted_rebuild_resumes(url: str) -> None:
    """A rebuild that died half-way is continued from its own tracked position, then switched."""
    with Negotiations(url) as app, ReadModels(app) as models:
        app.append(SCRIPT)
        models.catch_up()
        version = models._db.begin_rebuild()
        half = models._projector_for(version, slot="building")
        half.page_size = 4
        half.catch_up(limit=4)  # ... and the process dies
        assert models._db.pointer().building == version
        assert models.rebuild() == version
        assert models.version() == version
        assert_equal_to_pure(models, app)


# --- read your writes, following -----------------------------------------------------------


def test_wait_gives_read_your_writes(facade: Negotiations) -> None:
    """After wait(position of an append) the rows show it, with or without a follower."""
    with ReadModels(facade, interval=0.05) as models:
        result = facade.append(SCRIPT[:3])
        models.wait(result.positions[-1], timeout=10)  # no follower: catches up itself
        status = models.status(NEGOTIATION)
        assert status is not None
        assert status["phase"] == "bargaining"
        with models.follow():
            result = facade.append(SCRIPT[3:])
            models.wait(result.positions[-1], timeout=10)
            status = models.status(NEGOTIATION)
            assert status is not None
            assert status["phase"] == "strike"
            assert status["position"] == result.positions[-1]
        assert not models.following


def test_wait_times_out_for_a_position_not_stored(facade: Negotiations) -> None:
    """A position beyond the store cannot be reached: a timeout error of the project."""
    facade.append(SCRIPT[:1])
    with ReadModels(facade) as models:
        started = time.monotonic()
        with pytest.raises(ReadModelTimeoutError) as caught:
            models.wait(facade.position() + 5, timeout=0.3)
        assert time.monotonic() - started < 5
        assert isinstance(caught.value, NegotiationError)
        assert isinstance(caught.value, TimeoutError)
        assert caught.value.reached == facade.position()


@pytest.mark.postgres
def test_postgres_follower_picks_up_new_commits(postgres_url: str) -> None:
    """On PostgreSQL the follower rides LISTEN/NOTIFY: commits of another writer show up by themselves."""
    changes: list[tuple[str, str | None, str | None]] = []
    with Negotiations(postgres_url) as app, ReadModels(postgres_url, on_change=lambda *c: changes.append(c)) as models:
        models.interval = 60.0  # polling could not explain what follows
        models.start()
        assert models.following
        time.sleep(0.5)  # eventsourcing LISTENs only after its first pull; a commit before that waits for a poll
        for event in SCRIPT:
            result = app.append([event])
            deadline = time.monotonic() + 10
            while models.local_position() < result.positions[-1]:
                assert time.monotonic() < deadline, "the follower did not pick the commit up"
                time.sleep(0.01)
        models.stop()
        assert [c[2] for c in changes] == ["opened", "bargaining", "strike"]
        assert_equal_to_pure(models, app)


def test_subscribe_follows_new_events_in_commit_order(facade: Negotiations) -> None:
    """A subscription from a kept position yields later commits as they come, then stops on request."""
    facade.append(SCRIPT[:2])
    kept = facade.position()
    with ReadModels(facade) as models, models.subscribe(after=kept, poll_interval=0.02) as subscription:
        got: list[tuple[int, str]] = []

        def consume() -> None:
            for position, event in subscription:
                got.append((position, event.id))
                if len(got) == 3:
                    return

        consumer = threading.Thread(target=consume)
        consumer.start()
        for event in SCRIPT[2:5]:
            facade.append([event])
        consumer.join(10)
        assert not consumer.is_alive()
        assert [event_id for _, event_id in got] == ["held", "p1", "p2"]
        assert [position for position, _ in got] == [kept + 1, kept + 2, kept + 3]
        assert subscription.position == kept + 3


# --- set-up -------------------------------------------------------------------------------------


def test_the_memory_store_needs_its_facade() -> None:
    """A memory store lives in its facade: a URL alone is refused; the facade's store is shared."""
    with pytest.raises(ConfigurationError):
        ReadModels("memory:")
    with Negotiations("memory:") as app:
        app.append(SCRIPT)
        with ReadModels(app) as one:
            one.catch_up()
        with ReadModels(app) as two:
            assert two.catch_up() == 0
            assert two.position() == len(SCRIPT)


def test_sql_clients_read_the_stable_views(tmp_path: Path) -> None:
    """Any SQLite client reads ``negotiation_status`` and friends, whatever version is active."""
    import sqlite3

    path = tmp_path / "n.db"
    with Negotiations(str(path)) as app, ReadModels(app) as models:
        app.append(SCRIPT)
        models.catch_up()
        models.rebuild()
        with sqlite3.connect(path) as conn:
            phase = conn.execute("SELECT phase FROM negotiation_status WHERE negotiation = ?", (NEGOTIATION,))
            assert phase.fetchone() == ("strike",)
            count = conn.execute("SELECT count(*) FROM negotiation_positions").fetchone()
            assert count == (2,)  # wga on ai (p3 replaced p1), amptp on pay


# --- property: rows equal the pure answers ---------------------------------------------------------


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[list[list[Event]], list[int], int]:
    """Events of 1-2 rule-valid negotiations, interleaved, cut into append batches; catch-up limits."""
    drawn = [draw(negotiations(max_steps=25))]
    if draw(st.booleans()):
        second = draw(negotiations(max_steps=15))
        drawn.append(attrs.evolve(second, events=tuple(attrs.evolve(e, negotiation="n-2") for e in second.events)))
    streams = [list(d.events) for d in drawn]
    merged: list[Event] = []
    while any(streams):
        stream = draw(st.sampled_from([s for s in streams if s]))
        merged.append(stream.pop(0))
    cuts = sorted(draw(st.lists(st.integers(1, max(1, len(merged) - 1)), max_size=4, unique=True)))
    batches = [merged[a:b] for a, b in zip([0, *cuts], [*cuts, len(merged)], strict=True) if merged[a:b]]
    limits = draw(st.lists(st.integers(0, 12), min_size=len(batches), max_size=len(batches)))
    return batches, limits, draw(st.integers(1, 7))


@settings(max_examples=25, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(scenario=scenarios(), seed=st.integers(0, 2**16))
def test_persisted_rows_equal_the_pure_answers(scenario: tuple[list[list[Event]], list[int], int], seed: int) -> None:
    """For random valid histories appended in batches and taken in piecemeal by two instances, rows equal the folds."""
    batches, limits, page_size = scenario
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as tmp, Negotiations(f"sqlite:///{tmp}/n.db") as app:
        projectors = [ReadModels(app, page_size=page_size), ReadModels(app, page_size=page_size + 1)]
        pending: list[Event] = []
        for batch, limit in zip(batches, limits, strict=True):
            pending += batch
            try:
                app.append(pending)
            except RuleViolationError:
                continue  # a prefix in append order may not be valid alone: append it with the next batch
            pending = []
            rng.choice(projectors).catch_up(limit=limit)
        assert not pending
        finisher = rng.choice(projectors)
        finisher.catch_up()
        assert_equal_to_pure(finisher, app)
        for models in projectors:
            models.close()


# --- the example service ---------------------------------------------------------------------------


def test_the_example_service_runs(url: str) -> None:
    """``examples/embed_in_service.py`` follows the store, reacts to phase changes and exits 0."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "embed_in_service.py"), "--db", url],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    assert "strike started" in done.stdout
    assert "tentative agreement reached" in done.stdout


def _wga_caught_up(db: Path) -> Path:
    """A SQLite store of the WGA example with its read models caught up."""
    wga = Path(__file__).resolve().parents[2] / "examples" / "wga_amptp_2023.jsonl"
    with Negotiations(f"sqlite:///{db}") as app:
        assert app.import_files([wga]).ok
        with ReadModels(app) as models:
            models.catch_up()
    return db


def test_read_models_of_1_0_are_rebuilt_when_opened(tmp_path: Path) -> None:
    """Tables without the 1.1 columns are rebuilt when opened: the new columns are there at once."""
    db = _wga_caught_up(tmp_path / "old.db")
    # Make the active version look like one written before 1.1.
    with sqlite3.connect(db) as c:
        for kind, column in (("status", "ratified_by"), ("positions", "accepted")):
            c.execute(f"DROP VIEW negotiation_{kind}")
            c.execute(f"ALTER TABLE negotiation_{kind}_v1 DROP COLUMN {column}")
            c.execute(f"CREATE VIEW negotiation_{kind} AS SELECT * FROM negotiation_{kind}_v1")
    with Negotiations(f"sqlite:///{db}") as app, ReadModels(app) as models:
        # Opening them finds the older layout and rebuilds (issue 11): no call needed, nothing to refuse.
        assert models.outdated
        assert models.version() == 2
        status = models.status("wga-amptp-2023")
        assert status is not None
        assert status["ratified_by"] == ["wga"]
        positions = models.positions("wga-amptp-2023")
        assert positions is not None
        assert positions["positions"]["wga"]["wages"]["accepted"] == "wga-041"


@pytest.mark.parametrize("written_before", ["no derivation table", "an older derivation"])
def test_tables_of_an_older_derivation_are_rebuilt_when_opened(tmp_path: Path, written_before: str) -> None:
    """Rows written by an older derivation (``DERIVATION``), with the same layout, are rebuilt when opened, once."""
    db = _wga_caught_up(tmp_path / "old.db")
    with Negotiations(f"sqlite:///{db}") as app, ReadModels(app) as models:
        assert not models.outdated  # a store set up by this derivation
        assert models.version() == 1
    with sqlite3.connect(db) as c:
        assert c.execute(f"SELECT derivation FROM {DERIVED_TABLE}").fetchall() == [(DERIVATION,)]
        if written_before == "no derivation table":
            c.execute(f"DROP TABLE {DERIVED_TABLE}")
        else:
            c.execute(f"UPDATE {DERIVED_TABLE} SET derivation = ?", (DERIVATION - 1,))
    with Negotiations(f"sqlite:///{db}") as app, ReadModels(app) as models:
        assert models.outdated
        assert models.version() == 2
        status = models.status("wga-amptp-2023")
        assert status is not None
        assert status["phase"] == status_json(app.status("wga-amptp-2023"))["phase"]
    with sqlite3.connect(db) as c:
        assert c.execute(f"SELECT derivation FROM {DERIVED_TABLE}").fetchall() == [(DERIVATION,)]
    with Negotiations(f"sqlite:///{db}") as app, ReadModels(app) as models:
        assert not models.outdated
        assert models.version() == 2


@pytest.mark.postgres
@pytest.mark.parametrize(("kind", "column"), [("positions", "accepted"), ("events", "rendered")])
def test_postgres_tables_without_a_layout_column_are_rebuilt_when_opened(
    postgres_url: str, kind: str, column: str
) -> None:
    """On PostgreSQL too: one missing column of the layout, whichever, and the version is rebuilt when opened."""
    import psycopg  # here: the optional PostgreSQL extra, for PostgreSQL tests only

    with Negotiations(postgres_url) as app:
        app.import_files([ROOT / "examples" / "wga_amptp_2023.jsonl"])
        with ReadModels(app) as models:
            assert models.catch_up() == 46
            assert not models.outdated
    schema = postgres_url.rsplit("schema=", 1)[1]
    with psycopg.connect(postgres_url.split("?", 1)[0], autocommit=True) as conn:
        conn.execute(f'ALTER TABLE "{schema}".negotiation_{kind}_v1 DROP COLUMN {column} CASCADE')  # its view too
    with Negotiations(postgres_url) as app, ReadModels(app) as models:
        assert models.outdated
        assert models.version() == 2
        positions = models.positions("wga-amptp-2023")
        assert positions is not None
        assert positions["positions"]["wga"]["wages"]["accepted"] == "wga-041"


def test_tables_with_the_running_count_in_their_status_rows_are_rebuilt_when_opened(tmp_path: Path) -> None:
    """Status rows of the layout before ``events_applied`` was counted at read time are rebuilt when opened.

    That layout stored a status row per event, the count inside the answer, and had
    no ``talks``/``agreement``/``contract`` columns; the indexed answers after opening
    equal the pure ones, count included.
    """
    db = _wga_caught_up(tmp_path / "old.db")
    with sqlite3.connect(db) as c:
        c.execute("DROP VIEW negotiation_status_periods")
        for column in ("talks", "agreement", "contract"):
            c.execute(f"ALTER TABLE negotiation_status_periods_v1 DROP COLUMN {column}")
        c.execute("CREATE VIEW negotiation_status_periods AS SELECT * FROM negotiation_status_periods_v1")
    when = dt.date(2023, 8, 11)
    now = dt.datetime(2031, 1, 1, tzinfo=dt.UTC)
    with Negotiations(f"sqlite:///{db}") as app, ReadModels(app) as models:
        assert models.outdated
        assert models.version() == 2
        indexed = models.indexed().status("wga-amptp-2023", as_of=when, known_at=when, now=now)
        pure = status_json(app.status("wga-amptp-2023", as_of=when, known_at=when))
        assert indexed == pure
        assert indexed["events_applied"] > 0


def _event_rows(models: ReadModels) -> tuple[list[str | None], list[str]]:
    """(``rendered`` of the active events table, ``line`` of the events view), both by negotiation and seq."""
    db: Any = models._db  # the raw rows, as an SQL reader sees them
    table = db.dialect.name(table_name("events", models.version()))
    view = db.dialect.name(SQL_VIEWS["events"])
    with db.datastore.transaction(commit=False) as c:
        c.execute(f"SELECT rendered FROM {table} ORDER BY negotiation, seq")
        rendered = [row["rendered"] for row in c.fetchall()]
        c.execute(f"SELECT line FROM {view} ORDER BY negotiation, seq")
        lines = [row["line"] for row in c.fetchall()]
    return rendered, lines


def test_the_events_rows_leave_each_stored_line_to_the_store(any_url: str) -> None:
    """A stored line is kept once, in the store's table: the events rows hold no copy of it.

    The events view shows every line all the same, each equal to the stored
    one. The memory store's tables, in a database of their own, keep every line.
    """
    log = Path(__file__).resolve().parents[2] / "examples" / "wga_amptp_2023.jsonl"
    with Negotiations(any_url) as app:
        assert app.import_files([log]).ok
        stored = [line.decode() for line in app.export()]
        with ReadModels(app) as models:
            models.catch_up()
            rendered, lines = _event_rows(models)
    assert lines == stored
    assert rendered == (stored if any_url == "memory:" else [None] * len(stored))


def test_tables_that_copy_every_stored_line_are_rebuilt_when_opened(tmp_path: Path) -> None:
    """Events rows of the layout that copied every stored line (``line``, not ``rendered``) are rebuilt.

    After opening, the rows hold no copy and the indexed timeline equals the pure one.
    """
    db = _wga_caught_up(tmp_path / "old.db")
    with sqlite3.connect(db) as c:
        c.execute("DROP VIEW negotiation_events")
        c.execute(
            "UPDATE negotiation_events_v1 SET rendered = CAST(s.state AS TEXT) FROM stored_events s "
            "WHERE s.rowid = negotiation_events_v1.position"
        )
        c.execute("ALTER TABLE negotiation_events_v1 RENAME COLUMN rendered TO line")
        c.execute("CREATE VIEW negotiation_events AS SELECT * FROM negotiation_events_v1")
    with Negotiations(f"sqlite:///{db}") as app, ReadModels(app) as models:
        assert models.outdated
        assert models.version() == 2
        rendered, lines = _event_rows(models)
        indexed = models.indexed().timeline("wga-amptp-2023")
        pure = timeline_json(app.timeline("wga-amptp-2023"), negotiation="wga-amptp-2023")
    assert indexed == pure
    assert rendered == [None] * len(lines)


def test_catch_up_reports_each_page_to_progress(tmp_path: Path) -> None:
    """With ``progress``, pages of ``page_size`` are taken in one at a time, each reported, within ``limit``."""
    log = Path(__file__).resolve().parents[2] / "examples" / "wga_amptp_2023.jsonl"
    reported: list[tuple[str, int]] = []
    with Negotiations(f"sqlite:///{tmp_path}/store.db") as app:
        total = app.import_files([str(log)]).stored
        with ReadModels(app, page_size=10) as models:
            assert models.catch_up(limit=25, progress=lambda stage, n: reported.append((stage, n))) == 25
            assert reported == [(PROGRESS_STAGE, 10), (PROGRESS_STAGE, 10), (PROGRESS_STAGE, 5)]
            reported.clear()
            rest = total - 25
            assert models.catch_up(progress=lambda stage, n: reported.append((stage, n))) == rest
            assert [n for _, n in reported] == [10] * (rest // 10) + ([rest % 10] if rest % 10 else [])
            assert models.position() == app.position()


def test_sqlite_rows_commit_without_waiting_for_the_disk_and_events_still_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows are written at ``synchronous = NORMAL`` (derived: a catch-up writes them again); appends stay FULL."""
    levels: list[int] = []
    write_rows = SQLTables._write_rows

    def spy(self: SQLTables, c: Any, changes: Any) -> None:
        c.execute("PRAGMA synchronous")
        levels.append(c.fetchone()[0])
        write_rows(self, c, changes)

    monkeypatch.setattr(SQLTables, "_write_rows", spy)
    log = Path(__file__).resolve().parents[2] / "examples" / "wga_amptp_2023.jsonl"
    with Negotiations(f"sqlite:///{tmp_path}/store.db") as app:
        app.import_files([str(log)])
        with ReadModels(app, page_size=10) as models:
            models.catch_up()
        with app.store.factory.datastore.transaction(commit=False) as c:
            c.execute("PRAGMA synchronous")
            after = c.fetchone()[0]
    assert len(levels) > 1
    assert set(levels) == {1}  # NORMAL
    assert after == 2  # FULL, SQLite's default, for the events appended next


def _analyzed(url: str, version: int = 1) -> dict[str, bool]:
    """Whether PostgreSQL holds planner statistics of each row table (``reltuples`` is -1 until then)
    and has marked its pages all visible (``relallvisible``: a vacuum did, for index-only scans)."""
    import psycopg  # here: the optional PostgreSQL extra, for PostgreSQL tests only

    schema = url.rsplit("schema=", 1)[1]
    with psycopg.connect(url.split("?", 1)[0]) as conn:
        rows = conn.execute(
            "SELECT c.relname, c.reltuples, c.relallvisible FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relkind = 'r' AND c.relname LIKE %s",
            (schema, f"negotiation\\_%\\_v{version}"),
        ).fetchall()
    return {name: tuples >= 0 and visible > 0 for name, tuples, visible in rows}


@pytest.mark.postgres
@pytest.mark.parametrize("large", [True, False])
def test_postgres_large_catch_up_refreshes_planner_statistics(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch, large: bool
) -> None:
    """A catch-up of many events vacuums and analyzes the tables: the next query is planned for the rows it
    wrote, and an index-only scan reads no table page.

    (The threshold is lowered so the example log counts as large; autovacuum
    analyzes no table of fewer than 50 rows, so it cannot explain the statistics.)
    """
    monkeypatch.setattr(models_module, "ANALYZE_AFTER", 10 if large else 10_000)
    log = ROOT / "examples" / "wga_amptp_2023.jsonl"
    with Negotiations(postgres_url) as app:
        app.import_files([log])
        with ReadModels(app) as models:
            assert models.catch_up() == 46
    analyzed = _analyzed(postgres_url)
    assert {table_name(kind, 1) for kind in KINDS} <= analyzed.keys()
    assert all(analyzed.values()) if large else not any(analyzed.values()), analyzed


@pytest.mark.postgres
@pytest.mark.parametrize("large", [True, False])
def test_postgres_large_rebuild_refreshes_planner_statistics(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch, large: bool
) -> None:
    """A rebuild of many events (a new version, from position 0) vacuums and analyzes its tables, as a catch-up does."""
    log = ROOT / "examples" / "wga_amptp_2023.jsonl"
    with Negotiations(postgres_url) as app:
        app.import_files([log])
        with ReadModels(app) as models:
            monkeypatch.setattr(models_module, "ANALYZE_AFTER", 10 if large else 10_000)
            assert models.rebuild() == 2
    analyzed = _analyzed(postgres_url, version=2)
    assert {table_name(kind, 2) for kind in KINDS} <= analyzed.keys()
    assert all(analyzed.values()) if large else not any(analyzed.values()), analyzed
