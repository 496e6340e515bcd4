"""Store faults: a full disk, a read-only store, PostgreSQL connections dropped mid-import.

Each gives one clear ``error:`` line (exit status 1, no traceback), leaves no
half-written transaction behind, and a later run completes the import.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

import orjson
import pytest

from benchmarks.generate import generate
from negotiation import Negotiations, StoreError
from tests.conftest import POSTGRES_SERVER
from tests.negotiation.helpers import opened, statement
from tests.reliability.faults import page_count, page_limit
from tests.reliability.helpers import error_lines, export, run, single_error

ROOT = Path(__file__).resolve().parents[2]
WGA = ROOT / "examples" / "wga_amptp_2023.jsonl"
SAG = ROOT / "examples" / "sag_aftra_amptp_2023.jsonl"
RERUN = "run the import again to complete it"


@pytest.fixture
def base(tmp_path: Path) -> Path:
    """A SQLite store holding the WGA negotiation."""
    db = tmp_path / "store.db"
    assert run("--db", db, "import", WGA).returncode == 0
    return db


@pytest.fixture
def feed(tmp_path: Path) -> Path:
    """A generated log of 40 negotiations, 3,000 events."""
    path = tmp_path / "feed.jsonl"
    generate(path, negotiations=40, events_per=75, seed=11)
    return path


def faulty(*args: str | Path) -> list[str]:
    """The command line of ``negotiation`` under ``tests.reliability.faults`` (its options first)."""
    return [sys.executable, "-m", "tests.reliability.faults", *map(str, args)]


def tiny_disk(pages: int, *args: str | Path) -> subprocess.CompletedProcess[bytes]:
    """``negotiation ARGS...`` with the store limited to ``pages`` pages (a full disk)."""
    return subprocess.run(
        faulty("--pages", pages, *args),
        capture_output=True,
        cwd=ROOT,
        env={**os.environ, "COLUMNS": "400"},
        timeout=120,
        check=False,
    )


def stored_ids(db: str | Path) -> dict[str, list[str]]:
    """Each negotiation's stored event ids in version order, after checking the versions run 1..n."""
    with Negotiations(str(db)) as app:
        out = {}
        for negotiation in app.negotiation_ids():
            records = app.store.recorder.select_events(negotiation)
            assert [r.originator_version for r in records] == list(range(1, len(records) + 1))
            out[negotiation] = [orjson.loads(r.state)["id"] for r in records]
        return out


def file_ids(path: Path) -> dict[str, list[str]]:
    """Each negotiation's event ids in file order."""
    out: dict[str, list[str]] = {}
    for line in path.read_bytes().splitlines():
        if line and not line.startswith(b"#"):
            obj = orjson.loads(line)
            out.setdefault(obj["negotiation"], []).append(obj["id"])
    return out


# --- a full disk ----------------------------------------------------------------------------


def test_full_disk_import_stores_nothing(base: Path) -> None:
    """On a disk with no room left the import fails with one error line and the store is as before."""
    before = export(base)
    result = tiny_disk(page_count(base), "--db", base, "import", SAG)
    line = single_error(result)
    assert "database or disk is full" in line
    assert "no new event was stored" in line
    assert RERUN in line
    assert export(base) == before


def test_full_disk_mid_import_keeps_whole_chunks_and_resumes(base: Path, feed: Path, tmp_path: Path) -> None:
    """A disk filling up mid-import leaves whole transactions only (valid prefixes); the re-run completes it."""
    pages = page_count(base) + 40
    result = tiny_disk(pages, "--db", base, "import", "--chunk-size", "200", feed)
    line = single_error(result)
    assert "database or disk is full" in line
    found = re.search(r"([\d,]+) of 3,000 new events were stored", line)
    assert found is not None, line
    stored = int(found.group(1).replace(",", ""))
    assert 0 < stored < 3000
    ids = stored_ids(base)
    expected = file_ids(feed)
    assert sum(len(v) for k, v in ids.items() if k in expected) == stored
    for negotiation, stream in ids.items():
        if negotiation in expected:
            assert stream == expected[negotiation][: len(stream)], f"{negotiation}: not a prefix of the file"

    again = run("--db", base, "import", feed)
    assert again.returncode == 0, again.stderr
    assert f"{3000 - stored:,} events stored, {stored:,} already present" in again.stdout.decode()
    clean = tmp_path / "clean.db"
    assert run("--db", clean, "import", WGA, feed).returncode == 0
    assert export(base) == export(clean)


def test_full_disk_append_stores_nothing(base: Path) -> None:
    """A facade append on a full disk raises StoreError saying nothing was stored; the store is as before."""
    before = export(base)
    with page_limit(page_count(base)), Negotiations(str(base)) as app:
        events = [opened("open", 0, negotiation="full-disk")] + [
            statement(f"s{i}", 1 + i, negotiation="full-disk", text="x" * 2000) for i in range(20)
        ]
        with pytest.raises(StoreError, match=r"database or disk is full; nothing was stored"):
            app.append(events)
    assert export(base) == before


# --- a read-only store ------------------------------------------------------------------


def test_read_only_store_import(base: Path) -> None:
    """Importing into a store opened read-only fails with one error line; nothing is written."""
    before = export(base)
    result = run("--db", f"file:{base}?mode=ro", "import", SAG)
    line = single_error(result)
    assert "readonly database" in line
    assert "no new event was stored" in line
    assert export(base) == before
    assert run("--db", f"file:{base}?mode=ro", "status", "wga-amptp-2023").returncode == 0  # reading still works


def test_read_only_store_append(base: Path) -> None:
    """A facade append to a read-only store raises StoreError; nothing is written."""
    before = export(base)
    with (
        Negotiations(f"file:{base}?mode=ro") as app,
        pytest.raises(StoreError, match="readonly database; nothing was stored"),
    ):
        app.append([opened("open", 0, negotiation="read-only")])
    assert export(base) == before


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="file modes do not stop root")
def test_read_only_file_and_directory(base: Path) -> None:
    """With the file and its directory mode 444 the import fails with one error line; nothing is written."""
    before = export(base)
    directory = base.parent
    base.chmod(0o444)
    directory.chmod(0o555)  # read and list only: that is the point
    try:
        result = run("--db", base, "import", SAG)
    finally:
        directory.chmod(0o700)
        base.chmod(0o600)
    line = single_error(result)
    assert "readonly" in line or "unable to open" in line
    assert export(base) == before


# --- PostgreSQL: connections dropped mid-import -------------------------------------------


def _count(schema: str) -> int:
    import psycopg
    from psycopg import sql

    with psycopg.connect(POSTGRES_SERVER, autocommit=True) as conn:
        try:
            query = sql.SQL("SELECT count(*) FROM {}.negotiations_events").format(sql.Identifier(schema))
            row = conn.execute(query).fetchone()
        except psycopg.Error:
            return 0
    return int(row[0]) if row else 0


def _import_and_drop(url: str, feed: Path, *, once: bool) -> subprocess.CompletedProcess[bytes]:
    """Import ``feed`` while another connection terminates the importer's backends (once, or until it exits)."""
    import psycopg

    schema = url.rsplit("schema=", 1)[1]
    name = f"reliability-{uuid.uuid4().hex[:12]}"  # libpq sets application_name from PGAPPNAME
    process = subprocess.Popen(
        # Wait 1 s, not 5, for a connection: the lost one is retried 10 times before the import gives up.
        faulty("--connect-timeout", 1, "--db", url, "import", "--chunk-size", "20", feed),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
        env={**os.environ, "PGAPPNAME": name},
    )
    dropped = 0
    with psycopg.connect(POSTGRES_SERVER, autocommit=True) as conn:
        while process.poll() is None:
            if (not once or not dropped) and _count(schema) > 0:  # storing has begun
                query = "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s" + (
                    " AND state IN ('active', 'idle in transaction')" if once else ""
                )
                dropped += len(conn.execute(query, (name,)).fetchall())
            time.sleep(0.002)
    out, err = process.communicate(timeout=120)
    assert dropped, "no connection was dropped: the import ended first"
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


@pytest.mark.postgres
def test_postgres_connection_lost_mid_import(postgres_url: str, feed: Path, tmp_path: Path) -> None:
    """Connections dropped for good mid-import: one error line saying to run it again; the re-run completes it."""
    result = _import_and_drop(postgres_url, feed, once=False)
    line = single_error(result)
    assert RERUN in line
    assert re.search(r"[\d,]+ of 3,000 new events were stored|no new event was stored", line), line
    with Negotiations(postgres_url) as app:
        for negotiation, stream in file_ids(feed).items():
            stored = [e.id for e in app.stored_events(negotiation)]
            assert stored == stream[: len(stored)], f"{negotiation}: not a prefix of the file"

    again = run("--db", postgres_url, "import", feed)
    assert again.returncode == 0, again.stderr
    clean = tmp_path / "clean.db"
    assert run("--db", clean, "import", feed).returncode == 0
    assert export(postgres_url) == export(clean)  # the same export from either store


@pytest.mark.postgres
def test_postgres_single_dropped_connection_is_retried(postgres_url: str, feed: Path) -> None:
    """A connection dropped once mid-transaction is replaced and the transaction retried: the import completes."""
    # When the drop hits a COMMIT that went through, the retry finds the rows stored (a unique
    # violation): the importer checks again and counts them as already present.
    result = _import_and_drop(postgres_url, feed, once=True)
    assert error_lines(result.stderr) == []
    assert result.returncode == 0
    found = re.fullmatch(rb"([\d,]+) events stored, ([\d,]+) already present, 0 refused\n", result.stdout)
    assert found is not None, result.stdout
    assert sum(int(n.replace(b",", b"")) for n in found.groups()) == 3000
    assert stored_ids(postgres_url) == file_ids(feed)
