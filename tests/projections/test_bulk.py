"""Rows derived while an import checks (``projections.persisted.bulk``) against the catch-up's.

The tables an import leaves with ``ImportTables`` equal a clean build (a
rebuild from position 0) on SQLite and PostgreSQL; the derived pages really
are what wrote them (``taken``); and whatever they cannot cover (a negotiation
that already had events, another writer's events in between, a negotiation
that cannot be derived) ends them there, the catch-up taking in the rest.
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import multiprocessing
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from structlog.testing import capture_logs

from benchmarks import generate
from negotiation import Negotiations, importer
from negotiation.answers import Answers, catch_up
from projections.persisted import ReadModels, bulk, runner
from projections.persisted.bulk import ImportTables
from projections.persisted.sql import SQLTables
from projections.persisted.sqlite import (
    BULK_CACHE_KIB,
    BULK_CHECKPOINT_PAGES,
    DEFAULT_CACHE_KIB,
    DEFAULT_CHECKPOINT_PAGES,
)
from tests.reliability.test_indexed_tables import table_rows

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = [ROOT / "examples" / "wga_amptp_2023.jsonl", ROOT / "examples" / "sag_aftra_amptp_2023.jsonl"]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/store.db"
    found: str = request.getfixturevalue("postgres_url")
    return found


@pytest.fixture(autouse=True)
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    """Batches of about 150 events: several per import, some stolen back by ``finish``; checks of about 100."""
    monkeypatch.setattr(bulk, "_BATCH_EVENTS", 150)
    monkeypatch.setattr(bulk, "_CHECK_EVENTS", 100)


@pytest.fixture
def feed(tmp_path: Path) -> Path:
    """25 negotiations of 40 events: stoppages, late events, retractions (``benchmarks.generate``)."""
    path = tmp_path / "feed.jsonl"
    generate.generate(path, negotiations=25, events_per=40, seed=3)
    return path


def _lines(path: Path) -> list[bytes]:
    return [line for line in path.read_bytes().splitlines() if line.startswith(b"{")]


def import_with_tables(
    app: Negotiations,
    paths: list[Path],
    *,
    page_size: int = 97,
    prepare: Callable[[ImportTables], None] | None = None,
    **options: Any,
) -> tuple[int, int]:
    """Import ``paths`` with derived rows (no minimum size); (events stored, events the derived pages took in)."""
    tables = ImportTables.open(app, min_events=0, page_size=page_size)
    assert tables is not None
    try:
        if prepare is not None:
            prepare(tables)
        report = app.import_files([str(p) for p in paths], observer=tables, **options)
        taken = tables.finish()
    finally:
        tables.close()
    return report.stored, taken


def caught_up_and_clean(app: Negotiations) -> tuple[int, dict[str, Any], dict[str, Any]]:
    """(events the catch-up took in after the import, the tables then, the tables of a rebuild from 0)."""
    with ReadModels(app) as models:
        caught = catch_up(models)
        assert models.position() == app.position()
        rows = table_rows(models)
        models.rebuild()
        return caught, rows, table_rows(models)


def test_derived_rows_equal_a_clean_build(url: str, feed: Path) -> None:
    """Every event taken in by the derived pages (several pages, some ending inside a chunk): same tables."""
    with Negotiations(url) as app:
        stored, taken = import_with_tables(app, [feed], chunk_size=300)
        caught, rows, clean = caught_up_and_clean(app)
    assert stored == taken == 1000
    assert caught == 0
    assert rows == clean


def test_derived_rows_of_the_example_logs_equal_a_clean_build(url: str) -> None:
    with Negotiations(url) as app:
        stored, taken = import_with_tables(app, EXAMPLES, page_size=5)
        caught, rows, clean = caught_up_and_clean(app)
    assert stored == taken > 0
    assert caught == 0
    assert rows == clean


def test_tables_behind_are_brought_up_to_date_first(url: str, feed: Path) -> None:
    """Events stored without the tables (by the facade alone) are caught up when the import opens them."""
    with Negotiations(url) as app:
        app.import_files([str(EXAMPLES[0])])
        before = app.position()
        stored, taken = import_with_tables(app, [feed])
        caught, rows, clean = caught_up_and_clean(app)
    assert before > 0
    assert stored == taken == 1000
    assert caught == 0
    assert rows == clean


def test_a_negotiation_with_stored_events_is_taken_in_by_the_projector(url: str, feed: Path, tmp_path: Path) -> None:
    """Its rows need its stored history: ``finish`` lets the projector take its events in, then goes on deriving."""
    lines = _lines(feed)
    order = list(dict.fromkeys(orjson.loads(line)["negotiation"] for line in lines))
    tenth = order[9]
    begun = tmp_path / "begun.jsonl"
    begun.write_bytes(b"\n".join([line for line in lines if orjson.loads(line)["negotiation"] == tenth][:5]) + b"\n")
    with Negotiations(url) as app:
        app.import_files([str(begun)])
        tables = ImportTables.open(app, min_events=0, page_size=97)
        assert tables is not None
        with tables:
            report = app.import_files([str(feed)], observer=tables)
            assert tables.finish() == report.stored == 1000 - 5
            assert tables.derived == report.stored - 35  # all but the tenth negotiation's new events
        caught, rows, clean = caught_up_and_clean(app)
    assert caught == 0
    assert rows == clean


def test_a_long_negotiation_is_taken_in_by_the_projector(url: str, feed: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Longer than ``MAX_DERIVED``: no derivation holding its whole history twice, no transaction of all its rows."""
    monkeypatch.setattr(bulk, "MAX_DERIVED", 40)  # the feed's negotiations (40 events) derived; WGA (46) not
    with Negotiations(url) as app:
        tables = ImportTables.open(app, min_events=0, page_size=97)
        assert tables is not None
        with tables:
            report = app.import_files([str(feed), str(EXAMPLES[0])], observer=tables)
            assert tables.finish() == report.stored == 1046
            assert tables.derived == 1000
        caught, rows, clean = caught_up_and_clean(app)
    assert caught == 0
    assert rows == clean


def test_another_writers_events_in_between_end_the_derived_pages(url: str, feed: Path) -> None:
    """Events of another writer stored between two chunks of the import: the pages end before them."""

    def prepare(tables: ImportTables) -> None:
        stored = tables.stored
        calls: list[int] = []

        def stored_then_another_writer(records: Any, positions: Any) -> None:
            stored(records, positions)
            if not calls:
                calls.append(1)
                with Negotiations(url) as other:
                    other.import_files([str(EXAMPLES[0])])

        tables.stored = stored_then_another_writer  # type: ignore[method-assign]

    with Negotiations(url) as app:
        stored, taken = import_with_tables(app, [feed], prepare=prepare, chunk_size=300)
        caught, rows, clean = caught_up_and_clean(app)
    assert stored == 1000
    assert 0 < taken < stored
    assert caught > stored - taken  # the rest of the import, and the other writer's events
    assert rows == clean


class _NeverStarts(concurrent.futures.Executor):
    """An executor whose work never starts: every batch is derived by ``finish`` itself."""

    def __init__(self) -> None:
        self.submitted = 0

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> concurrent.futures.Future[Any]:
        self.submitted += 1
        return concurrent.futures.Future()


def test_batches_the_worker_has_not_started_are_derived_by_finish(url: str, feed: Path) -> None:
    executor = _NeverStarts()

    def prepare(tables: ImportTables) -> None:
        tables._executor = executor  # type: ignore[assignment]

    with Negotiations(url) as app:
        stored, taken = import_with_tables(app, [feed], prepare=prepare)
        caught, rows, clean = caught_up_and_clean(app)
    assert executor.submitted > 1
    assert caught == 0
    assert stored == taken == 1000
    assert rows == clean


def test_a_negotiation_that_cannot_be_derived_ends_the_derived_pages(
    url: str, feed: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever fails in a derivation, the catch-up meets it again (and skips or reports it as it does)."""
    order = list(dict.fromkeys(orjson.loads(line)["negotiation"] for line in _lines(feed)))
    derive = runner.derive_new

    def failing(negotiation: str, lines: Any, **kwargs: Any) -> Any:
        if negotiation == order[4]:
            raise RuntimeError("cannot")
        return derive(negotiation, lines, **kwargs)

    monkeypatch.setattr(bulk, "derive_new", failing)  # in the worker too: it is a fork of this process
    with Negotiations(url) as app:
        stored, taken = import_with_tables(app, [feed])
        caught, rows, clean = caught_up_and_clean(app)
    assert stored == 1000
    assert taken == 4 * 40
    assert caught == stored - taken
    assert rows == clean


def test_small_imports_start_no_worker(tmp_path: Path) -> None:
    """Below ``MIN_EVENTS`` lines the catch-up after the import costs less than a second process."""
    with Negotiations(f"sqlite:///{tmp_path}/store.db") as app:
        tables = ImportTables.open(app)
        assert tables is not None
        try:
            report = app.import_files([str(p) for p in EXAMPLES], observer=tables)
            assert tables.finish() == 0
            assert tables._executor is None
        finally:
            tables.close()
        assert report.stored > 0
        caught, rows, clean = caught_up_and_clean(app)
    assert caught == report.stored
    assert rows == clean


def test_a_second_checking_pass_derives_nothing(tmp_path: Path) -> None:
    """A second pass means the import met another writer and checks again: no derived pages then."""
    with Negotiations(f"sqlite:///{tmp_path}/store.db") as app:
        tables = ImportTables.open(app, min_events=0)
        assert tables is not None
        try:
            tables.begin(10)
            assert tables.active
            tables.begin(10)
            assert not tables.active
            assert tables.finish() == 0
        finally:
            tables.close()


def test_derived_rows_are_written_only_right_after_the_tracked_position(tmp_path: Path) -> None:
    """Positions that do not follow the tracked one: ``ValueError``, nothing written."""
    from projections.persisted.runner import derive_new

    lines = _lines(EXAMPLES[0])
    with Negotiations(f"sqlite:///{tmp_path}/store.db") as app, ReadModels(app) as models:
        derived = derive_new("wga-amptp-2023", lines)
        with pytest.raises(ValueError, match="do not follow"):
            models.write_derived([derived], list(range(2, len(lines) + 2)))
        with pytest.raises(ValueError, match="one per derived event"):
            models.write_derived([derived], list(range(1, len(lines))))
        assert models.position() == 0
        assert table_rows(models) == table_rows_empty(models)


def table_rows_empty(models: ReadModels) -> dict[str, Any]:
    return {kind: [] for kind in table_rows(models)}


def test_no_worker_process_leaves_the_import_to_the_catch_up(
    url: str, feed: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker that cannot be started (no fork, a process limit): the import stores everything all the same."""

    def refused(*args: Any, **kwargs: Any) -> Any:
        raise OSError("Resource temporarily unavailable")

    monkeypatch.setattr(concurrent.futures, "ProcessPoolExecutor", refused)  # what bulk looks up when it starts one
    with Negotiations(url) as app:
        stored, taken = import_with_tables(app, [feed])
        caught, rows, clean = caught_up_and_clean(app)
    assert stored == 1000
    assert taken == 0
    assert caught == stored
    assert rows == clean


def test_a_lost_spool_file_ends_the_derived_pages(url: str, feed: Path) -> None:
    """Whatever cannot be read back (a temporary file removed meanwhile) is left to the catch-up."""
    with Negotiations(url) as app:
        tables = ImportTables.open(app, min_events=0, page_size=97)
        assert tables is not None
        with tables:
            app.import_files([str(feed)], observer=tables)
            for batch in tables._batches:
                if batch.future is not None:
                    batch.future.result()  # the worker's spool is complete: now lose it
            for path in tables._paths:
                Path(path).unlink(missing_ok=True)
            assert tables.finish() == 0
        caught, rows, clean = caught_up_and_clean(app)
    assert caught == 1000
    assert rows == clean


def test_derived_pages_widen_sqlites_page_cache_only_while_they_are_written(
    tmp_path: Path, feed: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each derived page is written with the bulk page cache and WAL checkpoints; the connection's defaults after."""
    seen: list[tuple[int, int]] = []
    write = SQLTables.write

    def settings(c: Any) -> tuple[int, int]:
        c.execute("PRAGMA cache_size")
        cache = c.fetchone()[0]
        c.execute("PRAGMA wal_autocheckpoint")
        return cache, c.fetchone()[0]

    def spy(self: SQLTables, *args: Any, **kwargs: Any) -> None:
        write(self, *args, **kwargs)
        if kwargs.get("bulk"):
            with self.datastore.transaction(commit=False) as c:
                seen.append(settings(c))

    monkeypatch.setattr(SQLTables, "write", spy)
    with Negotiations(f"sqlite:///{tmp_path / 'store.db'}") as app:
        stored, taken = import_with_tables(app, [feed])
        with app.store.factory.datastore.transaction(commit=False) as c:
            after = settings(c)
    assert stored == taken == 1000
    assert len(seen) > 1
    assert set(seen) == {(-BULK_CACHE_KIB, BULK_CHECKPOINT_PAGES)}
    assert after == (-DEFAULT_CACHE_KIB, DEFAULT_CHECKPOINT_PAGES)


# --- a stored backlog taken in in bulk ------------------------------------------------------


def _derived_events(logs: list[dict[str, Any]]) -> int:
    """Events whose rows were written as derived pages (``read_models.derived``), by the captured log."""
    return sum(entry["events"] for entry in logs if entry["event"] == "read_models.derived")


def _derivable(app: Negotiations, after: int) -> int:
    """Events after position ``after`` in stored runs of a negotiation that start at its first event."""
    total, run, first = 0, "", False
    for n in app.store.notifications(after=after, limit=1_000_000):
        if n.originator_id != run:
            run, first = n.originator_id, n.originator_version == 1
        total += first
    return total


def test_a_stored_backlog_is_caught_up_in_bulk_as_a_clean_build(url: str, feed: Path, tmp_path: Path) -> None:
    """A store written without its tables: runs from a first event derived, the others by the projector.

    The first page goes to the projector (a store that cannot be written says so before anything is derived).
    """
    lines = _lines(feed)
    tenth = list(dict.fromkeys(orjson.loads(line)["negotiation"] for line in lines))[9]
    begun = tmp_path / "begun.jsonl"
    begun.write_bytes(b"\n".join([line for line in lines if orjson.loads(line)["negotiation"] == tenth][:5]) + b"\n")
    with Negotiations(url) as app:
        app.import_files([str(begun)])
        app.import_files([str(feed), str(EXAMPLES[0])])  # the tenth's other 35 events: a run that needs its history
        with ReadModels(app, page_size=97) as models, capture_logs() as logs:
            taken = bulk.catch_up_in_bulk(models, min_events=0)
            rest = models.catch_up()
        assert taken == app.position() == 1046
        assert rest == 0
        # The first page: the tenth's first 5, two negotiations of 40 and 12 of a third, whose other 28 follow it.
        assert _derived_events(logs) == _derivable(app, 97) == 1046 - 97 - 28 - 35
        caught, rows, clean = caught_up_and_clean(app)
    assert caught == 0
    assert rows == clean


class _AtOnce(concurrent.futures.Executor):
    """An executor that derives each batch as it is handed over: every batch is ready by the next page read."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> concurrent.futures.Future[Any]:
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        future.set_result(fn(*args, **kwargs))
        return future


def test_a_backlog_s_derived_pages_are_written_while_it_is_read(
    url: str, feed: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pages derived by the time the next page of the backlog is read are written then, not all at the end.

    So the worker derives the next ones while this process writes (both processors busy).
    """
    monkeypatch.setattr(bulk.concurrent.futures, "ProcessPoolExecutor", _AtOnce)
    finish = ImportTables.finish
    before_finish: list[int] = []

    def noting(self: ImportTables, progress: Any = None) -> int:
        before_finish.append(self.taken)
        return finish(self, progress)

    monkeypatch.setattr(ImportTables, "finish", noting)
    with Negotiations(url) as app:
        app.import_files([str(feed)])
        with ReadModels(app, page_size=97) as models, capture_logs() as logs:
            taken = bulk.catch_up_in_bulk(models, min_events=0, page_size=200)
        assert taken == app.position() == 1000
        derived = _derivable(app, 97)
        assert _derived_events(logs) == derived
        caught, rows, clean = caught_up_and_clean(app)
    # All but the last pages were written before ``finish``: at most the last page read (103 events) and
    # a page gathered from it (200) were left to it.
    assert derived - 200 - 103 <= before_finish[0] < derived
    assert caught == 0
    assert rows == clean


def test_a_catch_up_stopped_while_writing_gives_the_connection_its_defaults_back(
    tmp_path: Path, feed: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pages written while the backlog is read, then an unexpected error: SQLite's defaults are back all the same."""
    monkeypatch.setattr(bulk.concurrent.futures, "ProcessPoolExecutor", _AtOnce)
    write = ImportTables._write
    writes: list[int] = []

    def interrupted(self: ImportTables, *args: Any, **kwargs: Any) -> None:
        writes.append(1)
        if len(writes) > 1:
            raise KeyboardInterrupt
        write(self, *args, **kwargs)

    monkeypatch.setattr(ImportTables, "_write", interrupted)
    with Negotiations(f"sqlite:///{tmp_path / 'store.db'}") as app:
        app.import_files([str(feed)])
        with ReadModels(app, page_size=97) as models:
            with pytest.raises(KeyboardInterrupt):
                bulk.catch_up_in_bulk(models, min_events=0, page_size=200)
            with app.store.factory.datastore.transaction(commit=False) as c:
                c.execute("PRAGMA cache_size")
                cache = c.fetchone()[0]
                c.execute("PRAGMA wal_autocheckpoint")
                checkpoint = c.fetchone()[0]
            models.catch_up()  # the rest, as the command line's catch-up would
            assert models.position() == app.position()
    assert len(writes) == 2
    assert (cache, checkpoint) == (-DEFAULT_CACHE_KIB, DEFAULT_CHECKPOINT_PAGES)


def test_a_small_backlog_is_left_to_the_catch_up(url: str) -> None:
    with Negotiations(url) as app:
        app.import_files([str(EXAMPLES[0])])
        with ReadModels(app) as models:
            assert bulk.catch_up_in_bulk(models) == 0  # 46 events, far below MIN_EVENTS
            assert models.position() == 0
            assert models.catch_up() == 46


@pytest.mark.parametrize("live", [False, True])
def test_the_command_line_answers_catch_up_in_bulk_and_the_service_does_not(
    url: str, feed: Path, monkeypatch: pytest.MonkeyPatch, live: bool
) -> None:
    """``Answers`` (the command line) takes a large backlog in with the worker; a live one (the service, whose
    threads a fork must not copy mid-lock) with the projector alone. Both answer as the pure folds."""
    monkeypatch.setattr(bulk, "MIN_EVENTS", 0)
    more = feed.with_name("more.jsonl")
    generate.generate(more, negotiations=75, events_per=40, seed=5)  # more than the first page (2,000 events)
    with Negotiations(url) as app:
        app.import_files([str(more)])
        derivable = _derivable(app, 2000)
        with capture_logs() as logs:
            answers = Answers(app, live=live)
            assert answers.indexed
            for day in (dt.date(2015, 6, 30), dt.date(2019, 1, 1), dt.date(2024, 12, 31)):
                asked = {"as_of": day, "known_at": day}
                assert answers.queries().catalog(**asked) == app.queries.catalog(**asked)
            answers.close()
    assert derivable > 0
    assert _derived_events(logs) == (0 if live else derivable)


def test_a_bulk_catch_up_runs_with_rarer_full_collections(feed: Path, tmp_path: Path) -> None:
    """``catch_up_in_bulk`` is a bulk job (``negotiation.store.collector``): its progress sees the raised threshold."""
    import gc

    from negotiation.store.collector import FULL_COLLECTION_THRESHOLD

    before = gc.get_threshold()
    during: list[int] = []
    with Negotiations(f"sqlite:///{tmp_path / 'store.db'}") as app:
        app.import_files([str(feed)])
        with ReadModels(app) as models:
            taken = bulk.catch_up_in_bulk(models, lambda *_: during.append(gc.get_threshold()[2]), min_events=0)
    assert taken == 1000
    assert during
    assert set(during) == {max(before[2], FULL_COLLECTION_THRESHOLD)}
    assert gc.get_threshold() == before


def _flawed(feed: Path, tmp_path: Path) -> Path:
    """The feed with a line refused by a rule, one refused as malformed and one repeated, in three negotiations."""
    lines = _lines(feed)
    objs = [orjson.loads(line) for line in lines]
    order = list(dict.fromkeys(o["negotiation"] for o in objs))
    opening = next(o for o in objs if o["negotiation"] == order[7] and o["type"] == "negotiation.opened")
    again = orjson.dumps({**opening, "id": opening["id"] + "-again"})  # opened twice
    bogus = orjson.dumps({**next(o for o in objs if o["negotiation"] == order[3]), "type": "bogus.type", "id": "b-1"})
    path = tmp_path / "flawed.jsonl"
    path.write_bytes(b"\n".join([*lines, again, bogus, lines[5]]) + b"\n")
    return path


def _stored(app: Negotiations) -> list[tuple[Any, ...]]:
    found = app.store.notifications(limit=10**6)
    return [(n.id, n.originator_id, n.originator_version, n.topic, n.state) for n in found]


@pytest.mark.parametrize("skip_invalid", [False, True])
def test_negotiations_checked_by_the_worker_are_reported_and_stored_as_the_importer_would(
    url: str, feed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, skip_invalid: bool
) -> None:
    """The worker checks some of the new negotiations (``check_elsewhere``): same report, same log, same store."""
    flawed = _flawed(feed, tmp_path)
    elsewhere: list[str] = []
    offered: list[str] = []
    check_elsewhere = ImportTables.check_elsewhere

    def counted(self: ImportTables, negotiation: str, *args: Any) -> Any:
        # Every other new negotiation is offered to the worker (which takes it if not two batches behind): the
        # others are checked here whatever the timing, so that both kinds are interleaved in every run.
        offered.append(negotiation)
        ticket = check_elsewhere(self, negotiation, *args) if len(offered) % 2 else None
        if ticket is not None:
            elsewhere.append(negotiation)
        return ticket

    monkeypatch.setattr(ImportTables, "check_elsewhere", counted)
    with Negotiations(f"sqlite:///{tmp_path}/alone.db") as app, capture_logs() as logs:
        alone = app.import_files([str(flawed)], skip_invalid=skip_invalid)
        stored_alone = _stored(app)
    refusals_logged = [e for e in logs if e["event"] == "event.refused"]
    with Negotiations(url) as app, capture_logs() as logs:
        stored, taken = import_with_tables(app, [flawed], skip_invalid=skip_invalid)
        assert stored == alone.stored
        assert _stored(app) == stored_alone
        caught, rows, clean = caught_up_and_clean(app)
    assert [e for e in logs if e["event"] == "event.refused"] == refusals_logged
    assert len(refusals_logged) == 1  # the second opening; the malformed line is a format refusal, not logged
    assert elsewhere  # the first one at least (nothing was in flight then); the others by the importer
    assert taken == stored
    assert caught == 0
    assert rows == clean
    if not skip_invalid:
        assert stored == 0


def _dies_in_the_worker(*args: Any, **kwargs: Any) -> Any:
    """``importer._check_lines``, but the worker process dies at once."""
    if multiprocessing.parent_process() is not None:
        os._exit(3)
    return _CHECK_LINES(*args, **kwargs)


_CHECK_LINES = importer._check_lines


def test_a_worker_that_dies_while_checking_leaves_the_checks_to_the_importer(
    url: str, feed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The import stores exactly what it would without the worker; the catch-up takes the events in."""
    flawed = _flawed(feed, tmp_path)
    with Negotiations(f"sqlite:///{tmp_path}/alone.db") as app:
        alone = app.import_files([str(flawed)], skip_invalid=True)
        stored_alone = _stored(app)
    monkeypatch.setattr(importer, "_check_lines", _dies_in_the_worker)
    with Negotiations(url) as app:
        tables = ImportTables.open(app, min_events=0, page_size=97)
        assert tables is not None
        with tables:
            report = app.import_files([str(flawed)], observer=tables, skip_invalid=True)
            assert tables._executor is not None  # the worker was started, and died
            tables.finish()
        assert (report.stored, report.duplicates, report.refused) == (alone.stored, alone.duplicates, alone.refused)
        assert _stored(app) == stored_alone
        caught, rows, clean = caught_up_and_clean(app)
    assert caught == report.stored  # no derived page: the worker died before it derived any
    assert rows == clean


def test_rows_derived_from_the_checked_events_equal_those_derived_from_their_lines() -> None:
    """The worker derives from the events its check parsed (``derive_new(events=)``): the same rows as parsing."""
    entries = [(str(EXAMPLES[1]), number, line) for number, line in enumerate(_lines(EXAMPLES[1]), start=1)]
    negotiation = orjson.loads(entries[0][2])["negotiation"]
    outcome = importer.check_new(negotiation, entries, limits=importer.DEFAULT_LIMITS, now=dt.datetime.now(dt.UTC))
    assert outcome.accepted == len(entries)
    assert outcome.lines is not None
    assert outcome.events is not None
    lines = outcome.lines.split(b"\n")
    assert runner.derive_new(negotiation, lines, events=outcome.events) == runner.derive_new(negotiation, lines)
    with pytest.raises(ValueError, match="events for"):
        runner.derive_new(negotiation, lines, events=outcome.events[:-1])
