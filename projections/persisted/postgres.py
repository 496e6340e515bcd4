# SQL here is built from constant table names and quoted schema names only, never from input.
# ruff: noqa: S608
"""The persisted read models in PostgreSQL (see ``projections.persisted.sql``).

Imported only for a PostgreSQL store, so that psycopg stays an optional
dependency. Tables live in the store's schema (``?schema=NAME``).

Concurrency: a batch locks the pointer row (``FOR UPDATE``) before it reads the
tracked position; a switch takes the pointer table in ``ACCESS EXCLUSIVE``
mode, so it waits for batches and position reads in flight, and the old
version is dropped only after the switch committed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from psycopg import Cursor
from psycopg.rows import DictRow, tuple_row
from psycopg.sql import SQL

from projections.persisted.sql import Dialect, SQLTables, SQLViews, table_statements
from projections.persisted.tables import POINTER_KEY, POINTER_TABLE, table_name

__all__ = ["PostgresDialect", "PostgresViewRecorder", "PostgresViews"]

_LOCK_TIMEOUT: Final = "30s"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


_BEGIN_READ: Final = "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"
_SORT_MEMORY: Final = "; SET LOCAL work_mem = '64MB'"
"""The server's default (4 MB) sorted ``list``'s 10,000 entries on disk: 64 ms of the query, 39 in memory."""


class PostgresDialect(Dialect):
    """PostgreSQL: names in the store's schema, ``%s`` parameters, ``json``.

    JSON columns are ``json``, not ``jsonb``: the rows are written and read
    whole, never searched inside by our queries, and ``json`` keeps the text as
    written, so reading it as text is a copy. ``jsonb`` is rendered anew on
    every read: for ``list``'s 10,000 negotiations, 15-20 ms of the query's
    40-45 (their parties and stoppages). A SQL reader who wants ``jsonb``'s
    operators casts (``parties::jsonb``); ``->`` and ``->>`` work on both.
    """

    json_type = "json"
    json_param = "?::json"
    store_key = "notification_id"
    store_text = "convert_from({}, 'UTF8')"

    def __init__(self, schema: str) -> None:
        self.schema = schema
        self._pointer = self.name(POINTER_TABLE)

    def name(self, name: str) -> str:
        """``"schema"."name"``."""
        return f"{_quote(self.schema)}.{_quote(name)}"

    def sql(self, statement: str) -> str:
        """``?`` becomes psycopg's ``%s`` (the statements hold no other ``?`` or ``%``)."""
        return statement.replace("?", "%s")

    def lock_pointer(self, c: Any) -> None:
        """``ACCESS EXCLUSIVE`` on the pointer table: batches and position reads in flight finish first."""
        c.execute(f"SET LOCAL lock_timeout = '{_LOCK_TIMEOUT}'")
        c.execute(f"LOCK TABLE {self._pointer} IN ACCESS EXCLUSIVE MODE")

    def lock_for_write(self, c: Any) -> Sequence[Any] | None:
        """The pointer row ``FOR UPDATE``: projectors of this database take turns."""
        c.execute(f"SELECT active, building FROM {self._pointer} WHERE name = %s FOR UPDATE", (POINTER_KEY,))
        row = c.fetchone()
        return None if row is None else (row["active"], row["building"])

    def begin_read(self, c: Any, *, sorting: bool = False) -> None:
        """One snapshot for the whole transaction: ``READ COMMITTED`` (the default) takes one per statement.

        eventsourcing's transaction only says ``BEGIN``; this is then its first
        statement, as ``SET TRANSACTION`` must be. A read-only ``REPEATABLE READ``
        transaction never fails to serialize. ``sorting``: ``work_mem`` for this
        transaction only, ``_SORT_MEMORY``, in the same round trip.
        """
        c.execute(_BEGIN_READ + (_SORT_MEMORY if sorting else ""))

    def older_types(self, tables: Sequence[str]) -> str:
        """``Dialect.older_types``: the ``jsonb`` columns (of layouts written before JSON columns were ``json``)."""
        names = ", ".join(f"'{table}'::regclass" for table in tables)
        return (
            "(SELECT count(*) FROM pg_catalog.pg_attribute "
            f"WHERE attrelid IN ({names}) AND atttypid = 'jsonb'::regtype AND NOT attisdropped)"
        )

    def tuple_rows(self, c: Any) -> Any:
        """``Dialect.tuple_rows``: the same cursor, its rows made by ``tuple_row`` for the rest of the transaction."""
        c.row_factory = tuple_row
        return c

    def analyze(self, datastore: Any, tables: Sequence[str]) -> None:
        """``VACUUM (ANALYZE)``: what autovacuum would do, some time later (or never, where it is off).

        The statistics: until they are there, the planner sees the tables as
        they were before a large write. Seen after an import of 1,000,000
        events: ``list`` sorted 10,000 rows on disk (200 ms) where, with
        statistics, it reads them in order from the ``first`` index (40 ms).
        The vacuum marks the pages it finds all visible, so that an index-only
        scan reads no table page: ``list``'s read of each negotiation's first
        event went from 13 ms to 1 ms at 1,000,000 events (28 ms in all, from
        48), and a later vacuum skips the pages marked. Neither takes a lock
        that readers or writers wait for; a vacuum runs outside a transaction.
        """
        with datastore.cursor() as c:  # the pool's connections are in autocommit mode between transactions
            c.execute(f"VACUUM (ANALYZE) {', '.join(tables)}")

    def names(self, c: Any) -> set[str]:
        """The tables, views and indexes of the schema (relations all: one namespace).

        Read from the catalog itself: ``information_schema``'s views took
        several times as long to plan and run, at every command's start.
        """
        c.execute(
            "SELECT c.relname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s",
            (self.schema,),
        )
        return {str(row["relname"]) for row in c.fetchall()}


class PostgresViewRecorder(SQLTables, PostgresTrackingRecorder):
    """One version's tables in the store's schema, with eventsourcing's tracking record."""

    def __init__(
        self, datastore: PostgresDatastore, *, version: int, dialect: PostgresDialect, keeps_lines: bool = True
    ) -> None:
        super().__init__(datastore, tracking_table_name=table_name("tracking", version))
        self.version = version
        self.keeps_lines = keeps_lines
        self.dialect = dialect
        self._statements()
        self.sql_create_statements += [SQL(s).format() for s in table_statements(dialect, version)]

    def _create_table(self, curs: Cursor[DictRow]) -> None:
        # Two processes creating the same tables at once would collide in PostgreSQL's catalog.
        schema = self.datastore.schema
        curs.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"{schema}.{POINTER_TABLE}",))
        super()._create_table(curs)


class PostgresViews(SQLViews):
    """The read models in the store's PostgreSQL schema (shares the store's connection pool)."""

    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        self.dialect = PostgresDialect(datastore.schema)
        super().__init__(datastore, **kwargs)

    def tables(self, version: int) -> PostgresViewRecorder:
        """A version's tables (not created)."""
        assert isinstance(self.dialect, PostgresDialect)  # noqa: S101 - set in __init__
        return PostgresViewRecorder(self.datastore, version=version, dialect=self.dialect, keeps_lines=self.keeps_lines)
