"""Crash trials: ``kill -9`` an import at a random moment, resume it, and check the store.

Shared by ``tests/reliability/test_crash.py`` (a few trials) and
``scripts/soak.py`` (many). A trial:

1. starts ``negotiation --db TRIAL import --chunk-size N LOG`` as a subprocess;
2. kills it with SIGKILL once the store holds at least ``kill_at`` events (a
   random moment of the storing pass), or after ``kill_after`` seconds (any
   moment, the checking pass included);
3. checks the store as the kill left it (``check_partial``): versions 1..n in
   every negotiation, no event id twice, every stream a byte-identical prefix
   of the clean import's, every partly stored negotiation a valid timeline;
   and lets persisted read models catch up with that partial store;
4. runs the same import again, which must complete it (exit 0, the stored and
   the already-present counts adding up to the file);
5. checks the result (``check_complete``): stored rows and ``negotiation
   export`` byte-identical to the clean import's, the read models (caught up
   across the crash) equal to the pure fold of the facade.

``python -m tests.reliability.crash reference|trial ...`` runs a step in a
process of its own: the test runs its trials side by side that way, on every
core and outside the coverage tracer of the pytest process.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs
import orjson

from events import parse_line
from negotiation import Negotiations
from projections.answers import positions_json, status_json
from projections.persisted import ReadModels

Rows = dict[str, list[tuple[int, str, bytes]]]
"""Stored events per negotiation: (version, topic, state), in version order."""

SUMMARY_RE = re.compile(r"([\d,]+) events? stored, ([\d,]+) already present, ([\d,]+) refused")
NOW = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
"""The moment every process compares the pure fold and the read models at: after every generated event."""


def script() -> str:
    """The installed console script ``negotiation`` next to this interpreter."""
    found = Path(sys.executable).parent / "negotiation"
    if not found.exists():
        raise RuntimeError("the console script 'negotiation' is not installed (pip install -e .)")
    return str(found)


def run_cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[bytes]:
    """Run ``negotiation ARGS...`` to its end; stdout and stderr captured as bytes."""
    return subprocess.run([script(), *args], capture_output=True, timeout=timeout, check=False)


def stored_rows(db: Path) -> Rows:
    """Every stored event of the SQLite store ``db``, per negotiation (read-only, straight from the table)."""
    rows: Rows = {}
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        query = "SELECT originator_id, originator_version, topic, state FROM stored_events ORDER BY rowid"
        for negotiation, version, topic, state in conn.execute(query):
            rows.setdefault(negotiation, []).append((version, topic, bytes(state)))
    for stream in rows.values():
        stream.sort()
    return rows


def stored_count(conn: sqlite3.Connection | None) -> int:
    """How many events the store holds (0 while its table does not exist yet)."""
    if conn is None:
        return 0
    try:
        row = conn.execute("SELECT coalesce(max(rowid), 0) FROM stored_events").fetchone()  # nothing is deleted
    except sqlite3.Error:
        return 0
    return int(row[0])


@attrs.frozen(kw_only=True)
class Reference:
    """The clean import of ``log``: its store's rows and its export."""

    log: Path
    db: Path
    events: int
    rows: Rows

    def export(self, *, timeout: float = 600) -> bytes:
        """``negotiation export`` of the clean store (waits for the process that writes it)."""
        return _wait_for(_export_path(self.db), timeout).read_bytes()

    def fold(self, *, timeout: float = 600) -> dict[str, Any]:
        """The facade's status and positions of every negotiation (``fold``) in the clean store, at ``NOW``."""
        folded: dict[str, Any] = orjson.loads(_wait_for(_fold_path(self.db), timeout).read_bytes())
        return folded


def _wait_for(path: Path, timeout: float) -> Path:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} not written after {timeout} s")
        time.sleep(0.05)
    return path


def _publish(path: Path, data: bytes) -> None:
    """Write ``path`` so that it appears whole: other processes wait for it."""
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(data)
    partial.replace(path)


def clean_import(log: Path, db: Path, *, chunk_size: int) -> Reference:
    """Import ``log`` into the fresh store ``db`` without interruption; export it (also to ``db.export``)."""
    done = run_cli("--db", str(db), "import", "-q", "--chunk-size", str(chunk_size), str(log))
    if done.returncode != 0:
        raise AssertionError(f"the clean import failed: {done.stderr.decode(errors='replace')}")
    _publish(_imported_path(db), b"")
    with subprocess.Popen(  # runs while this process folds
        [script(), "--db", str(db), "export"], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as export:
        with Negotiations(str(db)) as app:
            _publish(_fold_path(db), orjson.dumps(fold(app)))
        out, err = export.communicate(timeout=300)
    if export.returncode != 0:
        raise AssertionError(f"the clean export failed: {err.decode(errors='replace')}")
    _publish(_export_path(db), out)
    return load_reference(log, db)


def _imported_path(db: Path) -> Path:
    return db.with_name(db.name + ".imported")


def _export_path(db: Path) -> Path:
    return db.with_name(db.name + ".export")


def _fold_path(db: Path) -> Path:
    return db.with_name(db.name + ".fold.json")


def load_reference(log: Path, db: Path, *, timeout: float = 600) -> Reference:
    """The clean import in ``db``, once it is complete (waits up to ``timeout`` seconds)."""
    _wait_for(_imported_path(db), timeout)
    rows = stored_rows(db)
    return Reference(log=log, db=db, events=sum(len(s) for s in rows.values()), rows=rows)


@attrs.frozen(kw_only=True)
class Kill:
    """What the interrupted run did before it died."""

    killed: bool
    """False when the import finished before the kill moment came."""
    stored: int
    """Events in the store after the kill."""
    seconds: float


def import_and_kill(
    log: Path, db: Path, *, chunk_size: int, kill_at: int | None = None, kill_after: float | None = None
) -> Kill:
    """Start the import, SIGKILL it at the chosen moment, return what the store holds then."""
    began = time.monotonic()
    process = subprocess.Popen(
        [script(), "--db", str(db), "import", "-q", "--chunk-size", str(chunk_size), str(log)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    conn: sqlite3.Connection | None = None
    killed = False
    try:
        while process.poll() is None:
            if kill_after is not None and time.monotonic() - began >= kill_after:
                break
            if kill_at is not None:
                if conn is None and db.exists():
                    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0.1)
                if stored_count(conn) >= kill_at:
                    break
            time.sleep(0.002)
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)  # kill -9: no cleanup, no rollback handler, no atexit
            killed = True
        process.wait(timeout=30)
    finally:
        if conn is not None:
            conn.close()
        if process.poll() is None:
            process.kill()
            process.wait()
    stored = sum(len(s) for s in stored_rows(db).values()) if db.exists() else 0
    return Kill(killed=killed, stored=stored, seconds=time.monotonic() - began)


def _ids(stream: Sequence[tuple[int, str, bytes]]) -> list[str]:
    return [orjson.loads(state)["id"] for _, _, state in stream]


def check_partial(db: Path, reference: Reference) -> int:
    """The store as a kill left it: gap-free, no duplicates, prefixes of the clean import, valid timelines.

    Returns how many events it holds.
    """
    rows = stored_rows(db) if db.exists() else {}
    for negotiation, stream in rows.items():
        versions = [version for version, _, _ in stream]
        assert versions == list(range(1, len(stream) + 1)), f"{negotiation}: versions with a gap"
        ids = _ids(stream)
        assert len(ids) == len(set(ids)), f"{negotiation}: an event stored twice"
        clean = reference.rows[negotiation]
        assert stream == clean[: len(stream)], f"{negotiation}: not a prefix of the clean import"
        if len(stream) < len(clean):
            # A partly stored negotiation must be a valid timeline by itself: append it to a fresh store.
            with Negotiations("memory:") as fresh:
                fresh.append([parse_line(state) for _, _, state in stream], now=NOW)
    return sum(len(s) for s in rows.values())


def resume(log: Path, db: Path, *, chunk_size: int, already: int) -> tuple[int, int]:
    """Run the interrupted import again; it must complete. Returns (stored, already present)."""
    done = run_cli("--db", str(db), "import", "-q", "--chunk-size", str(chunk_size), str(log))
    stderr = done.stderr.decode(errors="replace")
    assert done.returncode == 0, stderr
    assert "Traceback" not in stderr
    found = SUMMARY_RE.search(done.stdout.decode())
    assert found is not None, done.stdout
    stored, present, refused = (int(g.replace(",", "")) for g in found.groups())
    assert refused == 0
    assert present == already, f"{present} already present, {already} stored before the run"
    return stored, present


def fold(app: Negotiations) -> dict[str, Any]:
    """Every negotiation's status and positions, as the facade folds them from the stored events."""
    out: dict[str, Any] = {}
    for negotiation in app.negotiation_ids():
        status = status_json(app.status(negotiation, as_of=NOW, known_at=NOW))
        positions = positions_json(app.positions(negotiation, as_of=NOW, known_at=NOW))
        for key in ("as_of", "known_at"):
            del status[key]
        out[negotiation] = {"status": status, "positions": positions["positions"]}
    return out


def persisted(models: ReadModels, negotiations: Sequence[str]) -> dict[str, Any]:
    """The same answers, read from the persisted read models' rows."""
    out: dict[str, Any] = {}
    for negotiation in negotiations:
        status = models.status(negotiation, now=NOW)
        positions = models.positions(negotiation)
        assert status is not None, f"{negotiation}: no status row"
        assert positions is not None, f"{negotiation}: no positions rows"
        del status["position"]
        out[negotiation] = {"status": status, "positions": positions["positions"]}
    return out


def catch_up(db: Path) -> int:
    """Let the persisted read models of ``db`` catch up; returns how many events they took in."""
    with Negotiations(str(db)) as app, ReadModels(app) as models:
        return models.catch_up()


def check_complete(db: Path, reference: Reference, *, own_fold: bool = False) -> None:
    """After the resumed import: rows and export byte-identical to the clean import, read models = fold.

    The fold is the clean store's (its rows are asserted identical first), or with ``own_fold`` this store's.
    """
    rows = stored_rows(db)
    assert rows.keys() == reference.rows.keys()
    for negotiation, stream in rows.items():
        assert stream == reference.rows[negotiation], f"{negotiation}: differs from the clean import"
    # The export runs in a subprocess while this one folds: two cores at work.
    with subprocess.Popen(
        [script(), "--db", str(db), "export"], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as export:
        with Negotiations(str(db)) as app, ReadModels(app) as models:
            models.catch_up()
            assert models.position() == app.position()
            expected = fold(app) if own_fold else reference.fold()
            assert persisted(models, list(expected)) == expected
        out, err = export.communicate(timeout=300)
    assert export.returncode == 0, err
    assert out == reference.export(), "the export differs from the clean import's"


def recover(reference: Reference, db: Path, kill: Kill, *, chunk_size: int, own_fold: bool = False) -> tuple[int, int]:
    """Steps 3-5 after a kill: check the partial store, catch up, resume, check the result.

    Returns (events the read models took in before the resume, events the resume stored).
    """
    stored = check_partial(db, reference)
    assert stored == kill.stored
    projected = catch_up(db) if stored else 0
    stored_now, present = resume(reference.log, db, chunk_size=chunk_size, already=stored)
    assert stored_now + present == reference.events
    check_complete(db, reference, own_fold=own_fold)
    return projected, stored_now


def main(argv: Sequence[str] | None = None) -> int:
    """``reference LOG DB CHUNK`` or ``trial LOG REFERENCE_DB DB CHUNK at:N|after:SECONDS [own-fold]``.

    Prints the outcome as one JSON object; exit status 1 (and ``{"error": ...}``) when a check failed.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    command, log, db = args[0], Path(args[1]), Path(args[2])
    try:
        if command == "reference":
            began = time.monotonic()
            reference = clean_import(log, db, chunk_size=int(args[3]))
            outcome = {"events": reference.events, "seconds": round(time.monotonic() - began, 3)}
            sys.stdout.write(orjson.dumps(outcome).decode() + "\n")
            return 0
        target, chunk_size, (how, _, amount) = Path(args[3]), int(args[4]), args[5].partition(":")
        began = time.monotonic()
        kill = import_and_kill(
            log,
            target,
            chunk_size=chunk_size,
            kill_at=int(amount) if how == "at" else None,
            kill_after=float(amount) if how == "after" else None,
        )
        reference = load_reference(log, db)
        projected, resumed = recover(reference, target, kill, chunk_size=chunk_size, own_fold="own-fold" in args[6:])
    except AssertionError as e:
        sys.stdout.write(orjson.dumps({"error": f"AssertionError: {e}"}).decode() + "\n")
        return 1
    outcome = {
        "killed": kill.killed,
        "stored": kill.stored,
        "projected": projected,
        "resumed": resumed,
        "kill_seconds": round(kill.seconds, 3),
        "seconds": round(time.monotonic() - began, 3),
    }
    sys.stdout.write(orjson.dumps(outcome).decode() + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
