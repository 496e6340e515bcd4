"""The one translation point from the store's errors to StoreError (``negotiation.store.errors``)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from eventsourcing.persistence import IntegrityError, OperationalError, PersistenceError

from negotiation.core.errors import StoreError
from negotiation.store.config import resolve
from negotiation.store.errors import OPENING_FAILURES, is_busy, is_retryable, store_error, store_errors


def _wrapped(error: sqlite3.Error) -> OperationalError:
    """What eventsourcing's SQLite datastore raises for a driver error: its own class, the driver's as cause."""
    wrapped = OperationalError(error)
    wrapped.__cause__ = error  # what ``raise ... from error`` sets
    return wrapped


def _real_sqlite_error(path: Path, statement: str, *, hold_lock: bool) -> sqlite3.Error:
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE IF NOT EXISTS t (x)")
    if hold_lock:
        holder.execute("BEGIN IMMEDIATE")
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        other.execute(statement)
    except sqlite3.Error as e:
        return e
    finally:
        other.close()
        holder.close()
    raise AssertionError("the statement did not fail")


def test_a_real_busy_sqlite_database_is_recognised_by_its_result_code(tmp_path: Path) -> None:
    """Another connection holding the write lock: SQLITE_BUSY, retryable; a missing table is not."""
    busy = _real_sqlite_error(tmp_path / "a.db", "BEGIN IMMEDIATE", hold_lock=True)
    assert is_busy(_wrapped(busy))
    assert is_busy(busy)  # eventsourcing lets SQLite's own through where it opens a connection
    assert is_retryable(_wrapped(busy))
    missing = _real_sqlite_error(tmp_path / "b.db", "SELECT * FROM nope", hold_lock=False)
    assert not is_busy(_wrapped(missing))
    assert not is_busy(missing)
    assert not is_retryable(_wrapped(missing))


def test_the_code_wins_over_the_text() -> None:
    """A driver error whose code is not busy is not busy, whatever its message says."""
    error = sqlite3.OperationalError("database is locked (but really the disk is full)")
    error.sqlite_errorcode = sqlite3.SQLITE_FULL  # type: ignore[attr-defined]
    assert not is_busy(_wrapped(error))


def test_errors_without_a_driver_error_are_read_by_their_text() -> None:
    """Hand-raised errors (fault injection) carry no code: the text decides; conflicts are retryable."""
    assert is_busy(OperationalError("database is locked"))
    assert not is_busy(OperationalError("database or disk is full"))
    assert not is_busy(IntegrityError("database is locked"))
    assert is_retryable(IntegrityError("UNIQUE constraint failed"))


CONFIG = resolve("postgresql://user:secret@127.0.0.1:1/db")


def test_store_errors_translates_with_the_password_masked() -> None:
    """A store failure inside the block becomes one StoreError line: what was done, the masked first line."""
    with pytest.raises(StoreError) as caught, store_errors(CONFIG, "cannot read 'n'", then="; nothing was stored"):
        raise PersistenceError("connection to postgresql://user:secret@127.0.0.1:1/db failed\nDETAIL: more")
    assert str(caught.value) == (
        "cannot read 'n': connection to postgresql://user:***@127.0.0.1:1/db failed; nothing was stored"
    )
    assert caught.value.__cause__ is None
    assert str(store_error(CONFIG, "doing", PersistenceError(""))) == "doing: PersistenceError"


def test_store_errors_passes_retryable_errors_and_runs_on_error() -> None:
    """``passing`` errors leave unchanged; ``on_error`` runs only before a translated error."""
    dropped: list[str] = []
    with (
        pytest.raises(IntegrityError),
        store_errors(CONFIG, "x", passing=is_retryable, on_error=lambda: dropped.append("x")),
    ):
        raise IntegrityError("taken")
    assert dropped == []
    with (
        pytest.raises(StoreError),
        store_errors(CONFIG, "x", passing=is_retryable, on_error=lambda: dropped.append("x")),
    ):
        raise OperationalError("database or disk is full")
    assert dropped == ["x"]


def test_store_errors_translates_sqlites_own_errors(tmp_path: Path) -> None:
    """A driver error eventsourcing did not wrap is the store's too; a busy one may pass to be retried."""
    busy = _real_sqlite_error(tmp_path / "a.db", "BEGIN IMMEDIATE", hold_lock=True)
    with pytest.raises(StoreError, match=r"^x: database is locked$"), store_errors(CONFIG, "x"):
        raise busy
    with pytest.raises(sqlite3.OperationalError), store_errors(CONFIG, "x", passing=is_retryable):
        raise busy


def test_store_errors_leaves_other_errors_alone() -> None:
    """Only the store's errors are translated: a bug stays a bug; an OSError only when opening."""
    with pytest.raises(KeyError), store_errors(CONFIG, "x"):
        raise KeyError("bug")
    with pytest.raises(FileNotFoundError), store_errors(CONFIG, "x"):
        raise FileNotFoundError("f")
    with (
        pytest.raises(StoreError, match="cannot open: f"),
        store_errors(CONFIG, "cannot open", catching=OPENING_FAILURES),
    ):
        raise FileNotFoundError("f")
    original = StoreError("already translated")
    with pytest.raises(StoreError) as caught, store_errors(CONFIG, "x", catching=OPENING_FAILURES):
        raise original
    assert caught.value is original


def _flaky_event_store(monkeypatch: pytest.MonkeyPatch, failures: list[BaseException]) -> list[int]:
    """Make ``EventStore(...)`` raise each of ``failures`` once, then open; returns the list of calls made."""
    import negotiation.store.eventstore as eventstore

    real = eventstore.EventStore
    calls: list[int] = []

    def opening(env: object) -> object:
        calls.append(1)
        if len(calls) <= len(failures):
            raise failures[len(calls) - 1]
        return real(env)  # type: ignore[arg-type]

    monkeypatch.setattr(eventstore, "EventStore", opening)
    monkeypatch.setattr(eventstore.time, "sleep", lambda _: None)
    return calls


def test_opening_a_busy_sqlite_store_is_tried_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Processes opening a fresh file together: SQLite refuses the loser at once ("database is locked");
    opening again succeeds (seen as a flaky 'cannot open store' under load before)."""
    from negotiation.store.eventstore import open_event_store

    config = resolve(f"sqlite:///{tmp_path / 'busy.db'}")
    busy = _wrapped(_real_sqlite_error(tmp_path / "lock.db", "BEGIN IMMEDIATE", hold_lock=True))
    calls = _flaky_event_store(monkeypatch, [busy, busy, busy])
    store = open_event_store(config)
    try:
        assert len(calls) == 4
    finally:
        store.close()


def test_opening_gives_up_on_a_busy_store_after_its_attempts_and_at_once_on_other_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from negotiation.store.eventstore import open_event_store

    config = resolve(f"sqlite:///{tmp_path / 'busy.db'}")
    busy = _wrapped(_real_sqlite_error(tmp_path / "lock.db", "BEGIN IMMEDIATE", hold_lock=True))
    calls = _flaky_event_store(monkeypatch, [busy] * 10)
    with pytest.raises(StoreError, match=r"cannot open store .*database is locked"):
        open_event_store(config, attempts=3)
    assert len(calls) == 3

    calls = _flaky_event_store(monkeypatch, [OperationalError("disk I/O error")])
    with pytest.raises(StoreError, match="disk I/O error"):
        open_event_store(config)
    assert len(calls) == 1
