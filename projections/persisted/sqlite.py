# SQL here is built from constant table names and quoted schema names only, never from input.
# ruff: noqa: S608
"""The persisted read models in the SQLite store file (see ``projections.persisted.sql``)."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Final

from eventsourcing.sqlite import SQLiteDatastore, SQLiteTrackingRecorder

from projections.persisted.sql import Dialect, SQLTables, SQLViews, table_statements
from projections.persisted.tables import POINTER_KEY, POINTER_TABLE, table_name

__all__ = ["SQLiteDialect", "SQLiteViewRecorder", "SQLiteViews"]

_NAME: Final = re.compile(r"[a-z0-9_]+")
_NORMAL: Final = 1
"""``PRAGMA synchronous``'s NORMAL (FULL is 2, EXTRA 3)."""
DEFAULT_CACHE_KIB: Final = 2000
"""SQLite's default page cache (``SQLITE_DEFAULT_CACHE_SIZE``), in KiB."""
BULK_CACHE_KIB: Final = 131072
"""SQLite's page cache while an import writes its derived rows: 128 MB, within its memory target (300 MB)."""
DEFAULT_CHECKPOINT_PAGES: Final = 1000
"""SQLite's default ``wal_autocheckpoint``: a commit that leaves the WAL longer copies it into the file."""
BULK_CHECKPOINT_PAGES: Final = 16384
"""``wal_autocheckpoint`` while derived pages are written (64 MB of 4 KiB pages): the pages each derived
page touches again are copied into the file once per checkpoint, not once per commit."""


class SQLiteDialect(Dialect):
    """SQLite: bare names, ``?`` parameters, JSON as text, tables without rowid."""

    table_suffix = " WITHOUT ROWID"

    def name(self, name: str) -> str:
        """Table names are constants of this package: used as they are."""
        if not _NAME.fullmatch(name):
            raise ValueError(f"not a table name of the read models: {name!r}")
        return name

    def lock_pointer(self, c: Any) -> None:
        """A no-op write takes SQLite's write lock before anything is read."""
        c.execute(f"UPDATE {POINTER_TABLE} SET active = active WHERE name = ?", (POINTER_KEY,))

    def lock_for_write(self, c: Any) -> Sequence[Any] | None:
        """The same write lock, then the pointer row."""
        self.lock_pointer(c)
        c.execute(f"SELECT active, building FROM {POINTER_TABLE} WHERE name = ?", (POINTER_KEY,))
        row = c.fetchone()
        return None if row is None else (row["active"], row["building"])

    def names(self, c: Any) -> set[str]:
        """Every table, view and index of the file (one namespace in SQLite)."""
        c.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view', 'index')")
        return {row[0] for row in c.fetchall()}

    def tuple_rows(self, c: Any) -> Any:
        """``Dialect.tuple_rows``: sqlite3's own cursor under eventsourcing's (which has no ``fetchmany``)."""
        raw = c.sqlite_cursor
        raw.row_factory = None  # plain tuples rather than the connection's ``sqlite3.Row``
        return raw

    @contextmanager
    def row_transaction(self, datastore: Any) -> Iterator[Any]:
        """``Dialect.row_transaction``: with ``synchronous = NORMAL``, then the connection's own level again.

        In WAL mode a commit at ``NORMAL`` does not wait for the disk; the file
        stays consistent. SQLite changes the level only outside a transaction,
        so it is set around it, on the connection the transaction runs on.
        """
        with datastore.get_connection(commit=True) as connection:
            cursor = connection.cursor()
            cursor.execute("PRAGMA synchronous")
            level = int(cursor.fetchone()[0])
            if level > _NORMAL:
                cursor.execute(f"PRAGMA synchronous = {_NORMAL}")
            try:
                with connection.transaction(commit=True) as c:
                    yield c
            finally:
                if level > _NORMAL:
                    cursor.execute(f"PRAGMA synchronous = {level}")

    def begin_bulk(self, c: Any) -> None:
        """A page cache of ``BULK_CACHE_KIB`` on this connection (SQLite's default is 2 MB).

        A page of derived rows inserts into every table's B-trees at every
        negotiation it holds: with the default cache, a store of a million
        events rereads most of those pages from the file for every page written.
        """
        c.execute(f"PRAGMA cache_size = -{BULK_CACHE_KIB}")
        c.execute(f"PRAGMA wal_autocheckpoint = {BULK_CHECKPOINT_PAGES}")

    def end_bulk(self, c: Any) -> None:
        """SQLite's default page cache again: the pages cached for the import are let go."""
        c.execute(f"PRAGMA cache_size = -{DEFAULT_CACHE_KIB}")
        c.execute(f"PRAGMA wal_autocheckpoint = {DEFAULT_CHECKPOINT_PAGES}")

    def retryable(self, error: Exception) -> bool:
        """SQLite refuses at once (eventsourcing's transactions begin deferred) when a writer committed meanwhile."""
        return "locked" in str(error)


DIALECT: Final = SQLiteDialect()


class SQLiteViewRecorder(SQLTables, SQLiteTrackingRecorder):
    """One version's tables in the SQLite store file, with eventsourcing's tracking record."""

    def __init__(self, datastore: SQLiteDatastore, *, version: int, keeps_lines: bool = True) -> None:
        self.version = version
        self.keeps_lines = keeps_lines
        self.dialect = DIALECT
        super().__init__(datastore)
        self._statements()
        t = table_name("tracking", version)
        self.insert_tracking_statement = (
            f"INSERT INTO {t} VALUES (:application_name, :notification_id) "
            "ON CONFLICT (application_name) DO UPDATE SET notification_id = :notification_id "
            f"WHERE {t}.notification_id < :notification_id RETURNING notification_id"
        )
        self.select_max_tracking_id_statement = f"SELECT MAX(notification_id) FROM {t} WHERE application_name=?"

    def construct_create_table_statements(self) -> list[str]:
        """The version's tables (single-row tracking)."""
        return [
            f"CREATE TABLE IF NOT EXISTS {table_name('tracking', self.version)} ("
            "application_name TEXT, notification_id INTEGER, PRIMARY KEY (application_name)) WITHOUT ROWID",
            *table_statements(DIALECT, self.version),
        ]


class SQLiteViews(SQLViews):
    """The read models in a SQLite store file (shares the store's connection pool)."""

    dialect = DIALECT

    def tables(self, version: int) -> SQLiteViewRecorder:
        """A version's tables (not created)."""
        return SQLiteViewRecorder(self.datastore, version=version, keeps_lines=self.keeps_lines)
