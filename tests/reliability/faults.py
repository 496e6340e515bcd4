"""Store faults on demand, for the ``negotiation`` command line and the facade.

- A full disk without a tiny file system: every SQLite connection the store
  opens gets ``PRAGMA max_page_count = PAGES``, so the database cannot grow
  past ``PAGES`` pages and SQLite fails a write with ``SQLITE_FULL`` ("database
  or disk is full"), exactly as on a full disk.
- A short wait for PostgreSQL connections: eventsourcing retries a lost
  connection 10 times, each waiting up to ``POSTGRES_CONNECT_TIMEOUT`` (5 s by
  default) for a new one; 1 s lets a test see the final error in ~12 s.

In-process: ``with page_limit(pages): ...``. As a command (a real exit status
and stderr): ``python -m tests.reliability.faults [--pages N] [--connect-timeout S] ARGS...``
runs ``negotiation ARGS...`` with the faults in place.
"""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import attrs
from eventsourcing.sqlite import SQLiteConnection, SQLiteConnectionPool

import negotiation.store.config
from negotiation.store.config import StoreConfig

_create_connection = SQLiteConnectionPool._create_connection
_postgres = negotiation.store.config._postgres


def page_count(db: Path) -> int:
    """How many pages the SQLite file ``db`` holds now (its write-ahead log checkpointed first)."""
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return int(conn.execute("PRAGMA page_count").fetchone()[0])


@contextmanager
def page_limit(pages: int) -> Iterator[None]:
    """SQLite stores opened inside the block cannot grow past ``pages`` pages."""

    def create(pool: SQLiteConnectionPool) -> SQLiteConnection:
        connection = _create_connection(pool)
        connection._sqlite_conn.execute(f"PRAGMA max_page_count = {int(pages)}")
        return connection

    SQLiteConnectionPool._create_connection = create  # type: ignore[method-assign]
    try:
        yield
    finally:
        SQLiteConnectionPool._create_connection = _create_connection  # type: ignore[method-assign]


@contextmanager
def connect_timeout(seconds: int) -> Iterator[None]:
    """PostgreSQL stores opened inside the block wait ``seconds`` for a connection."""

    def postgres(url: str) -> StoreConfig:
        config = _postgres(url)
        return attrs.evolve(config, env={**config.env, "POSTGRES_CONNECT_TIMEOUT": str(seconds)})

    negotiation.store.config._postgres = postgres
    try:
        yield
    finally:
        negotiation.store.config._postgres = _postgres


def main() -> None:
    """``[--pages N] [--connect-timeout S] ARGS...``: the ``negotiation`` command line with those faults."""
    from negotiation.cli import main as cli

    args = sys.argv[1:]
    pages = timeout = None
    while args and args[0] in ("--pages", "--connect-timeout"):
        option, value, args = args[0], int(args[1]), args[2:]
        if option == "--pages":
            pages = value
        else:
            timeout = value
    with page_limit(pages) if pages is not None else _nothing(), connect_timeout(timeout) if timeout else _nothing():
        cli(args)


@contextmanager
def _nothing() -> Iterator[None]:
    yield


if __name__ == "__main__":
    main()
