"""The indexed read-model tables under faults: old layouts, read-only stores, kill -9 of a catch-up.

- tables of an older layout (or missing) are rebuilt when a command opens them, with a one-line notice;
- a read-only store still answers: from the tables when they are current (no notice), else from the
  event log with a one-line warning, never a traceback;
- ``kill -9`` of a process catching the tables up, at a random page: the next catch-up resumes and the
  tables equal a clean build (a rebuild from position 0), on SQLite and PostgreSQL.
"""

from __future__ import annotations

import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from benchmarks import generate
from negotiation import Negotiations, StoreError
from projections.persisted import ReadModels, bulk
from projections.persisted.tables import KINDS, SQL_VIEWS
from tests.reliability.helpers import SCRIPT, error_lines, run

ROOT = Path(__file__).resolve().parents[2]
WGA = ROOT / "examples" / "wga_amptp_2023.jsonl"
SAG = ROOT / "examples" / "sag_aftra_amptp_2023.jsonl"
NEGOTIATION = "wga-amptp-2023"
AT = ("--at", "2023-08-11", "--known-at", "2023-08-11", "--json")


@pytest.fixture
def base(tmp_path: Path) -> Path:
    """A SQLite store holding the WGA negotiation, its tables brought up to date by the import."""
    db = tmp_path / "store.db"
    assert run("--db", db, "import", WGA).returncode == 0
    return db


def test_import_brings_the_tables_up_to_date(base: Path) -> None:
    """After an import the tables' tracked position is the store's last event: queries have nothing to take in."""
    with Negotiations(str(base)) as app, ReadModels(app) as models:
        assert models.position() == app.position() > 0


def test_tables_of_an_older_layout_are_rebuilt_with_a_notice(base: Path) -> None:
    """A version missing a table (an older layout) is rebuilt on the next command: one notice, same answer."""
    before = run("--db", base, "status", NEGOTIATION, *AT)
    with sqlite3.connect(base) as conn:
        conn.execute("DROP VIEW negotiation_events")
        conn.execute("DROP TABLE negotiation_events_v1")
    after = run("--db", base, "status", NEGOTIATION, *AT)
    assert after.returncode == 0, after.stderr
    assert after.stdout == before.stdout
    lines = after.stderr.decode().splitlines()
    assert lines == ["notice: the read-model tables were of an older layout and have been rebuilt"]
    again = run("--db", base, "status", NEGOTIATION, *AT)
    assert again.stderr == b""  # rebuilt once
    with sqlite3.connect(base) as conn:
        assert conn.execute("SELECT active FROM negotiation_read_models").fetchone()[0] == 2


@pytest.mark.postgres
def test_postgres_tables_with_jsonb_columns_are_rebuilt_with_json_ones(postgres_url: str) -> None:
    """A PostgreSQL version whose JSON columns are ``jsonb`` (before they were ``json``) is rebuilt once, silently
    otherwise: the same answers, from a version whose JSON columns are all ``json``."""
    import psycopg

    from tests.conftest import POSTGRES_SERVER

    assert run("--db", postgres_url, "import", WGA, SAG).returncode == 0
    before = [run("--db", postgres_url, *args).stdout for args in (("status", NEGOTIATION, *AT), ("list", "--json"))]
    schema = postgres_url.rpartition("schema=")[2]
    json_columns = (
        "SELECT c.relname, a.attname, format_type(a.atttypid, NULL) FROM pg_attribute a "
        "JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relkind = 'r' AND format_type(a.atttypid, NULL) IN ('json', 'jsonb') "
        "ORDER BY 1, 2"
    )
    with psycopg.connect(POSTGRES_SERVER, autocommit=True) as conn:
        written = conn.execute(json_columns, (schema,)).fetchall()
        assert {(table, column) for table, column, _ in written} == {
            ("negotiation_catalog_v1", "parties"),
            ("negotiation_positions_v1", "value"),
            ("negotiation_status_v1", "ratified_by"),
            ("negotiation_status_v1", "stoppage"),
        }
        assert {kind for _, _, kind in written} == {"json"}
        with conn.transaction():  # as an older layout wrote it (the views depend on the columns' types)
            conn.execute(f'DROP VIEW "{schema}".negotiation_catalog')
            conn.execute(f'ALTER TABLE "{schema}".negotiation_catalog_v1 ALTER COLUMN parties TYPE jsonb')
            conn.execute(
                f'CREATE VIEW "{schema}".negotiation_catalog AS SELECT * FROM "{schema}".negotiation_catalog_v1'
            )
    after = run("--db", postgres_url, "status", NEGOTIATION, *AT)
    assert after.returncode == 0, after.stderr
    assert after.stderr.decode().splitlines() == [
        "notice: the read-model tables were of an older layout and have been rebuilt"
    ]
    assert after.stdout == before[0]
    listed = run("--db", postgres_url, "list", "--json")
    assert listed.stderr == b""  # rebuilt once
    assert _without_times(listed.stdout) == _without_times(before[1])
    with psycopg.connect(POSTGRES_SERVER, autocommit=True) as conn:
        rebuilt = conn.execute(json_columns, (schema,)).fetchall()
    assert {(table, kind) for table, _, kind in rebuilt} == {
        (f"negotiation_{kind}_v2", "json") for kind in ("catalog", "positions", "status")
    }


def test_missing_tables_are_built(tmp_path: Path) -> None:
    """A store imported before the tables existed (no tables at all) gets them on the first query, silently."""
    db = tmp_path / "store.db"
    with Negotiations(str(db)) as app:
        app.import_files([str(WGA)])
    result = run("--db", db, "status", NEGOTIATION, *AT)
    assert result.returncode == 0, result.stderr
    assert result.stderr == b""
    assert b'"phase"' in result.stdout


def test_a_read_only_store_answers_from_current_tables(base: Path) -> None:
    """Tables up to date: a read-only store answers from them, without a word on stderr."""
    writable = run("--db", base, "status", NEGOTIATION, *AT)
    read_only = run("--db", f"file:{base}?mode=ro", "status", NEGOTIATION, *AT)
    assert read_only.returncode == 0, read_only.stderr
    assert read_only.stderr == b""
    assert read_only.stdout == writable.stdout


def test_a_read_only_store_behind_its_tables_answers_from_the_log_with_a_warning(base: Path) -> None:
    """Events stored since the tables were updated, store read-only: the pure path answers, with one warning."""
    with Negotiations(str(base)) as app:
        app.import_files([str(SAG)])  # the facade does not touch the tables: they are behind now
    result = run("--db", f"file:{base}?mode=ro", "list", "--json")
    assert result.returncode == 0, result.stderr
    assert b"Traceback" not in result.stderr
    lines = error_lines(result.stderr) or result.stderr.decode().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("warning: the read-model tables cannot be brought up to date")
    assert lines[0].endswith("answering from the event log")
    assert b"sag-aftra-amptp-2023" in result.stdout
    fresh = run("--db", base, "list", "--json")  # writable: the tables catch up and answer the same
    assert fresh.stderr == b""
    assert _without_times(fresh.stdout) == _without_times(result.stdout)


def test_a_read_only_store_with_a_large_backlog_refuses_before_deriving(
    base: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The catch-up in bulk of a read-only store fails on its first page, as the ordinary one: no worker first."""
    with Negotiations(str(base)) as app:
        app.import_files([str(SAG)])  # a backlog behind the tables
    started: list[object] = []
    monkeypatch.setattr(bulk, "ImportTables", lambda *a, **k: started.append(a))
    with (
        Negotiations(f"file:{base}?mode=ro") as app,
        ReadModels(app, page_size=5) as models,
        pytest.raises(StoreError),
    ):
        bulk.catch_up_in_bulk(models, min_events=0)
    assert started == []


def _without_times(output: bytes) -> list[dict[str, Any]]:
    import orjson

    rows: list[dict[str, Any]] = orjson.loads(output)["negotiations"]
    for row in rows:
        del row["as_of"], row["known_at"]
        if row["stoppage"] is not None:
            del row["stoppage"]["day"]
    return rows


# --- kill -9 during a catch-up ------------------------------------------------------------------

CHILD = """
import sys
from negotiation import Negotiations
from projections.persisted import ReadModels, bulk
with Negotiations(sys.argv[1]) as app, ReadModels(app, page_size=int(sys.argv[2])) as models:
    print("ready", flush=True)
    if sys.argv[3] == "bulk":  # the command line's catch-up of a large backlog, with the worker deriving
        bulk._BATCH_EVENTS = 150  # several batches: some derived by the worker, some here
        bulk.catch_up_in_bulk(models, min_events=0, page_size=37)
    models.catch_up()
"""


def table_rows(models: ReadModels) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every read-model view, sorted (the version-independent content of the tables)."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    views = models.indexed().views
    for kind in KINDS:
        with views.datastore.transaction(commit=False) as c:
            c.execute(f"SELECT * FROM {views.dialect.name(SQL_VIEWS[kind])}")
            rows = c.fetchall()
        out[kind] = sorted(tuple(map(str, row.values() if isinstance(row, dict) else row)) for row in rows)
    return out


def _kill_during_catch_up(url: str, tmp_path: Path, rng: random.Random, mode: str = "pages") -> None:
    feed = tmp_path / "feed.jsonl"
    generate.generate(feed, negotiations=12, events_per=60, seed=rng.randrange(1000))
    with Negotiations(url) as app:
        report = app.import_files([str(feed)])
        total = app.position()
    assert report.stored == total
    target = rng.randrange(1, total)
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, url, "7", mode], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == b"ready"
        with Negotiations(url) as app, ReadModels(app) as watcher:
            deadline = time.monotonic() + 120
            while watcher.position() < target and child.poll() is None and time.monotonic() < deadline:
                time.sleep(0.001)
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait(timeout=30)
    with Negotiations(url) as app, ReadModels(app) as models:
        killed_at = models.position()
        models.catch_up()
        assert models.position() == total
        assert_as_a_rebuild(models, f"{mode}: killed at {killed_at} of {total}")


def assert_as_a_rebuild(models: ReadModels, note: str) -> None:
    """The tables as they are equal a rebuild from position 0."""
    resumed = table_rows(models)
    models.rebuild()
    assert table_rows(models) == resumed, note


@pytest.mark.parametrize("mode", ["pages", "bulk"])
@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_kill_9_during_catch_up_then_resume_equals_a_clean_build(
    backend: str, mode: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """A catch-up killed at a random page resumes; its tables equal a rebuild from position 0.

    ``bulk``: the catch-up of a large backlog whose new negotiations' rows a worker derives.
    """
    url = f"sqlite:///{tmp_path}/store.db" if backend == "sqlite" else request.getfixturevalue("postgres_url")
    seed = random.randrange(2**32)
    print(f"seed={seed}")  # shown when the test fails
    _kill_during_catch_up(url, tmp_path, random.Random(seed), mode)


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_a_rebuild_in_bulk_equals_one_by_the_projector(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """``rebuild(bulk=...)``: the bulk pass derives the new version's rows (then the projector takes in what
    it left); the rows equal a rebuild by the projector alone, and the active version's are not touched meanwhile."""
    url = f"sqlite:///{tmp_path}/store.db" if backend == "sqlite" else request.getfixturevalue("postgres_url")
    feed = tmp_path / "feed.jsonl"
    generate.generate(feed, negotiations=12, events_per=60, seed=random.randrange(1000))
    with Negotiations(url) as app, ReadModels(app, page_size=50) as models:
        app.import_files([str(feed)])
        models.catch_up()
        total = app.position()
        by_projector = table_rows(models)
        passes: list[tuple[int, int, int]] = []

        def in_bulk(target: Any) -> int:
            start = target.position()
            write, derived = target.write_derived, []

            def counted(rows: Any, positions: Any) -> None:
                write(rows, positions)
                derived.extend(positions)

            target.write_derived = counted
            taken = bulk.catch_up_in_bulk(target, min_events=0, page_size=101)
            passes.append((start, taken, len(derived)))
            assert models.position() == total  # the active version, untouched
            return taken

        assert models.rebuild(bulk=in_bulk) == 2
        [(start, taken, derived)] = passes
        assert start == 0
        assert derived > total // 2, passes  # most rows derived by the bulk pass, not taken in by the projector
        assert taken <= total
        assert models.position() == total
        assert table_rows(models) == by_projector


# --- kill -9 during an import that derives the rows while it checks ------------------------------


def _children(pid: int) -> set[int]:
    """The processes ``pid`` started (Linux's /proc), e.g. the import's worker."""
    found: set[int] = set()
    for tasks in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            found.update(int(p) for p in tasks.read_text().split())
        except OSError:
            continue
    return found


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _kill_during_derived_import(url: str, tmp_path: Path, rng: random.Random) -> None:
    feed = tmp_path / "feed.jsonl"
    generate.generate(feed, negotiations=40, events_per=50, seed=rng.randrange(1000))
    total = 40 * 50
    target = rng.randrange(1, total)
    watch = rng.choice(["stored", "taken in"])  # kill while storing, or while the derived rows are written
    child = subprocess.Popen(
        [SCRIPT, "--db", url, "import", "-q", "--chunk-size", "150", "--derive-min", "0", str(feed)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    workers: set[int] = set()
    try:
        with Negotiations(url) as app, ReadModels(app) as watcher:
            deadline = time.monotonic() + 120
            position = 0
            while position < target and child.poll() is None and time.monotonic() < deadline:
                time.sleep(0.002)
                workers |= _children(child.pid)
                position = app.position() if watch == "stored" else watcher.position()
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait(timeout=30)
    assert child.returncode in (0, -signal.SIGKILL)
    deadline = time.monotonic() + 10
    while any(_alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_alive(w) for w in workers), "the worker outlived the killed import"
    # The next command resumes: the import stores what is missing, the tables take in the rest.
    again = run("--db", url, "import", "-q", "--derive-min", "0", feed)
    assert again.returncode == 0, again.stderr
    with Negotiations(url) as app, ReadModels(app) as models:
        assert app.position() >= total
        assert models.position() == app.position()
        assert_as_a_rebuild(models, f"killed at {watch} {position} of {total}")


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_kill_9_during_a_derived_import_then_resume_equals_a_clean_build(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """An import deriving rows while it checks, killed at random (storing, or writing the rows): as a rebuild."""
    url = f"sqlite:///{tmp_path}/store.db" if backend == "sqlite" else request.getfixturevalue("postgres_url")
    seed = random.randrange(2**32)
    print(f"seed={seed}")  # shown when the test fails
    _kill_during_derived_import(url, tmp_path, random.Random(seed))
