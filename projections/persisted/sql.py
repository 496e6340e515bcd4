# SQL here is built from constant table names, quoted schema names and integer versions only, never from input.
# ruff: noqa: S608
"""The read models' tables and their rebuild/switch protocol, written once for every SQL dialect.

``SQLViews`` manages the pointer table, the SQL views and the versions of the
tables (see ``projections.persisted.tables`` for the layout); ``SQLTables`` is
the write side of one version, mixed into a dialect's eventsourcing
``TrackingRecorder``. A ``Dialect`` says the few things that differ between
SQLite and PostgreSQL: how names are qualified, how parameters and JSON
columns are written, how the pointer is locked and how the schema is listed.
``projections.persisted.sqlite`` and ``projections.persisted.postgres`` only
fill those in.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any, Final

import attrs
import orjson
from eventsourcing.persistence import OperationalError, PersistenceError, Tracking

from negotiation.store.eventstore import APPLICATION_NAME
from projections.periods import Change, Row
from projections.persisted.tables import (
    DERIVATION,
    DERIVED_TABLE,
    KINDS,
    POINTER_KEY,
    POINTER_TABLE,
    SQL_VIEWS,
    PeriodInsert,
    PeriodOp,
    Pointer,
    RowChanges,
    Slot,
    check_slot,
    check_tracked,
    decoded,
    parse_versions,
    table_name,
    without,
)
from projections.positions import POSITION_EVENTS

__all__ = [
    "POSITION_EVENTS_TERM",
    "Cursor",
    "Dialect",
    "SQLTables",
    "SQLViews",
    "index_names",
    "plan_periods",
    "table_statements",
]

_ENSURE_ATTEMPTS: Final = 10
_POSITION_EVENTS_INDEX: Final = "negotiation_events_positions_v"
"""The partial index of the position events, without its version."""
_MISSING_CHUNK: Final = 500
"""Keys per statement of ``missing_events`` (two parameters each: well within SQLite's limit)."""

LAYOUT_COLUMNS: Final = (
    ("status", "ratified_by"),
    ("positions", "accepted"),
    ("status_periods", "agreement"),
    ("events", "rendered"),
)
"""Columns added after a layout was first written: a version without them is rebuilt. Spec 1.1 added the
first two; the third came with status rows stored only where the answer changes (``events_applied`` is
counted by the reader), so a version whose rows carry the running count is rebuilt; the fourth replaced
the events table's copy of every stored line (``line``) with a line only where the store's cannot serve."""

EVENT_COLUMNS: Final = ("negotiation", "seq", "valid_at", "known_at", "retracted_at", "id", "type")
"""The events table's columns that its view shows as they are (then ``line`` and ``position``)."""

POSITION_EVENTS_TERM: Final = (
    "(" + " OR ".join(f"type = '{kind}'" for kind in sorted(cls.TYPE for cls in POSITION_EVENTS)) + ")"
)
"""The events the positions fold reads (proposals, withdrawals, acceptances), as one SQL term.

The partial index of the events table is on exactly these rows, and a query
uses it only when its ``WHERE`` holds this very term (literals, not
parameters: SQLite matches the term as written, PostgreSQL must prove it at
planning time). Equalities joined by ``OR``, not ``type IN (...)``: SQLite
builds the ``IN`` list's lookup table anew for every row inserted, which made
this index cost as much as the other three together."""

Cursor = Any
"""A DB-API cursor of the dialect (``sqlite3`` or psycopg), rows readable by column name."""


class Dialect(ABC):
    """What differs between the SQL databases the read models live in."""

    json_type: str = "TEXT"
    """The column type of JSON values."""
    json_param: str = "?"
    """A JSON parameter in a statement."""
    table_suffix: str = ""
    """Appended to every ``CREATE TABLE``."""
    store_key: str = "rowid"
    """The column of the store's events table that holds an event's commit position."""
    store_text: str = "CAST({} AS TEXT)"
    """SQL that reads the store's ``state`` bytes (``{}``) as text: the stored JSON line."""

    @abstractmethod
    def name(self, name: str) -> str:
        """``name`` qualified and quoted for a statement."""

    def sql(self, statement: str) -> str:
        """The statement with ``?`` parameters in the driver's style."""
        return statement

    @abstractmethod
    def lock_pointer(self, c: Cursor) -> None:
        """Take the pointer table exclusively until the transaction ends (switch, rebuild, drop)."""

    @abstractmethod
    def lock_for_write(self, c: Cursor) -> Sequence[Any] | None:
        """Lock the pointer row for a batch; returns it as ``(active, building)`` (or ``None``)."""

    @abstractmethod
    def names(self, c: Cursor) -> set[str]:
        """The tables, views and indexes of the read models' schema."""

    def begin_read(self, c: Cursor, *, sorting: bool = False) -> None:  # noqa: B027 - a no-op unless needed
        """Make the read transaction just begun see one snapshot of the database, whatever commits meanwhile.

        ``sorting``: the transaction sorts a large answer (``list``: every
        negotiation, by its opening); a server may give it more memory.

        Nothing to do by default: on SQLite eventsourcing begins every
        transaction (``BEGIN``, deferred), and in WAL mode a reader's snapshot is
        taken at its first read and held until the transaction ends (an
        in-memory database lets no writer in while a reader is in).
        """

    def older_types(self, tables: Sequence[str]) -> str:
        """A SQL expression: how many columns of ``tables`` (qualified names) have a type of an older layout.

        Such a version is rebuilt (``SQLViews``' layout check). None by default.
        """
        return "0"

    @abstractmethod
    def tuple_rows(self, c: Cursor) -> Any:
        """The cursor to fetch ``c``'s next statement's rows from as tuples, with ``fetchmany``; before it runs.

        A row read by position builds no mapping (``list``: one row per negotiation).
        """

    def retryable(self, error: Exception) -> bool:
        """Whether setting up the tables may be tried again after ``error``."""
        return False

    def row_transaction(self, datastore: Any) -> AbstractContextManager[Cursor]:
        """The transaction a batch of rows and its tracking record are written in (``SQLTables.write``).

        It may commit without waiting for the disk: the rows are derived from
        the event log, and their tracking record commits with them, so a crash
        that loses the last such commits loses nothing the next catch-up does
        not write again (the database stays consistent either way). An event's
        own commit stays as durable as the store makes it.
        """
        transaction: AbstractContextManager[Cursor] = datastore.transaction(commit=True)
        return transaction

    def begin_bulk(self, c: Cursor) -> None:  # noqa: B027 - a no-op unless the dialect needs more
        """Prepare the connection for one of many large batches in a row (an import's derived rows)."""

    def end_bulk(self, c: Cursor) -> None:  # noqa: B027 - a no-op unless the dialect needs more
        """Undo ``begin_bulk``: the connection goes back to its pool as it was."""

    def analyze(self, datastore: Any, tables: Sequence[str]) -> None:  # noqa: B027 - a no-op unless needed
        """Bring the planner's view of ``tables`` (qualified names) up to date after many rows were written.

        Outside any transaction, on a connection of ``datastore``. Nothing by
        default: SQLite plans these queries well without statistics.
        """


def table_statements(d: Dialect, version: int) -> list[str]:
    """``CREATE TABLE`` statements of a version's row tables (the tracking table is eventsourcing's)."""
    j, suffix = d.json_type, d.table_suffix
    return [
        f"CREATE TABLE IF NOT EXISTS {d.name(table_name('status', version))} ("
        "negotiation TEXT PRIMARY KEY, phase TEXT NOT NULL, talks TEXT NOT NULL, agreement TEXT NOT NULL, "
        f"contract TEXT NOT NULL, stoppage {j}, events_applied BIGINT NOT NULL, position BIGINT NOT NULL, "
        f"timezone TEXT NOT NULL, ratified_by {j} NOT NULL){suffix}",
        f"CREATE TABLE IF NOT EXISTS {d.name(table_name('positions', version))} ("
        f"negotiation TEXT, party TEXT, issue TEXT, terms TEXT NOT NULL, value {j}, since TEXT NOT NULL, "
        f"event TEXT NOT NULL, accepted TEXT, PRIMARY KEY (negotiation, party, issue)){suffix}",
        f"CREATE TABLE IF NOT EXISTS {d.name(table_name('catalog', version))} ("
        f"negotiation TEXT PRIMARY KEY, title TEXT NOT NULL, timezone TEXT NOT NULL, parties {j} NOT NULL, "
        f"phase TEXT NOT NULL){suffix}",
        # Answers are JSON text in both dialects: the key order is the answer's (jsonb would sort it).
        f"CREATE TABLE IF NOT EXISTS {d.name(table_name('status_periods', version))} ("
        "negotiation TEXT, valid_from BIGINT, known_from BIGINT NOT NULL, known_to BIGINT, phase TEXT, "
        "talks TEXT, agreement TEXT, contract TEXT, "
        f"answer TEXT, extra TEXT, PRIMARY KEY (negotiation, valid_from, known_to)){suffix}",
        f"CREATE TABLE IF NOT EXISTS {d.name(table_name('position_periods', version))} ("
        "negotiation TEXT, party TEXT, issue TEXT, valid_from BIGINT, known_from BIGINT NOT NULL, known_to BIGINT, "
        f"position TEXT, PRIMARY KEY (negotiation, party, issue, valid_from, known_to)){suffix}",
        f"CREATE TABLE IF NOT EXISTS {d.name(table_name('stoppage_periods', version))} ("
        "negotiation TEXT, party TEXT, kind TEXT, started BIGINT, ended BIGINT NOT NULL, known_from BIGINT NOT NULL, "
        f"known_to BIGINT, PRIMARY KEY (negotiation, party, kind, started, known_to)){suffix}",
        f"CREATE INDEX IF NOT EXISTS negotiation_stoppage_periods_ended_v{version} "
        f"ON {d.name(table_name('stoppage_periods', version))} (ended, started)",
        f"CREATE TABLE IF NOT EXISTS {d.name(table_name('events', version))} ("
        "negotiation TEXT, seq BIGINT, valid_at BIGINT NOT NULL, known_at BIGINT NOT NULL, "
        "retracted_at BIGINT NOT NULL, id TEXT NOT NULL, type TEXT NOT NULL, rendered TEXT, "
        f"position BIGINT NOT NULL, PRIMARY KEY (negotiation, seq)){suffix}",
        # Partial: the negotiations in the order they were opened (``list``) read only the first events,
        # so only those rows pay for the index on insert.
        f"CREATE INDEX IF NOT EXISTS negotiation_events_first_v{version} "
        f"ON {d.name(table_name('events', version))} (position, negotiation) WHERE seq = 1",
        # Covering: ``events_applied`` is counted over (negotiation, valid_at <= V, known_at <= K, not
        # retracted by K) from this index alone, and a timeline window reads its range in order.
        f"CREATE INDEX IF NOT EXISTS negotiation_events_valid_v{version} "
        f"ON {d.name(table_name('events', version))} (negotiation, valid_at, seq, known_at, retracted_at)",
        # Partial: the gaps read a negotiation's proposals, withdrawals and acceptances alone, in valid-time
        # order, at a cost that grows with them, not with its other events; only those rows pay for it on insert.
        f"CREATE INDEX IF NOT EXISTS {_POSITION_EVENTS_INDEX}{version} "
        f"ON {d.name(table_name('events', version))} (negotiation, valid_at, seq) WHERE {POSITION_EVENTS_TERM}",
    ]


def index_names(version: int) -> set[str]:
    """The indexes of a version's tables added after its tables were first laid out, by name.

    A version without one gets it when the tables are next set up
    (``SQLViews.ensure``): it is built from the rows already there, no rebuild needed.
    """
    return {f"{_POSITION_EVENTS_INDEX}{version}"}


PERIOD_KEYS: Final = {
    "status": ("status_periods", ("valid_from",), ("phase", "talks", "agreement", "contract", "answer", "extra")),
    "position": ("position_periods", ("party", "issue", "valid_from"), ("position",)),
    "stoppage": ("stoppage_periods", ("party", "kind", "started"), ("ended",)),
}
"""Period table: (table kind, key columns, payload columns)."""


def _payload(table: str, payload: tuple[Any, ...]) -> tuple[Any, ...]:
    if table == "status":
        answer, extra = payload
        if answer is None:
            return (None, None, None, None, answer, extra)
        shown = orjson.loads(answer)
        return (shown["phase"], shown["talks"], shown["agreement"], shown["contract"], answer, extra)
    return payload


class SQLTables:
    """The write side of one version's tables; mixed into a dialect's eventsourcing ``TrackingRecorder``."""

    version: int
    dialect: Dialect
    datastore: Any
    keeps_lines: bool = True
    """Whether its events rows hold every line (``ViewTables.keeps_lines``)."""
    _insert_tracking: Callable[[Cursor, Tracking], Any]
    create_table: Callable[[], None]
    """Create the version's tables if they do not exist (the dialect's eventsourcing recorder does it)."""

    def _statements(self) -> None:
        d = self.dialect
        self.tracking_name = d.name(table_name("tracking", self.version))
        status, positions, catalog = (d.name(table_name(kind, self.version)) for kind in KINDS[:3])
        j = d.json_param
        self._delete = [d.sql(f"DELETE FROM {t} WHERE negotiation = ?") for t in (status, positions, catalog)]
        self._drop = [
            d.sql(f"DELETE FROM {d.name(table_name(kind, self.version))} WHERE negotiation = ?") for kind in KINDS
        ]
        self._delete_positions = d.sql(f"DELETE FROM {positions} WHERE negotiation = ?")
        self._delete_position = d.sql(f"DELETE FROM {positions} WHERE negotiation = ? AND party = ? AND issue = ?")
        self._upsert_status = d.sql(
            f"INSERT INTO {status} VALUES (?, ?, ?, ?, ?, {j}, ?, ?, ?, {j}) ON CONFLICT (negotiation) DO UPDATE "
            "SET phase=excluded.phase, talks=excluded.talks, agreement=excluded.agreement, "
            "contract=excluded.contract, stoppage=excluded.stoppage, events_applied=excluded.events_applied, "
            "position=excluded.position, timezone=excluded.timezone, ratified_by=excluded.ratified_by"
        )
        self._upsert_position = d.sql(
            f"INSERT INTO {positions} VALUES (?, ?, ?, ?, {j}, ?, ?, ?) ON CONFLICT (negotiation, party, issue) "
            "DO UPDATE SET terms=excluded.terms, value=excluded.value, since=excluded.since, event=excluded.event, "
            "accepted=excluded.accepted"
        )
        self._upsert_catalog = d.sql(
            f"INSERT INTO {catalog} VALUES (?, ?, ?, {j}, ?) ON CONFLICT (negotiation) DO UPDATE "
            "SET title=excluded.title, timezone=excluded.timezone, parties=excluded.parties, phase=excluded.phase"
        )
        self._select_tracked = d.sql(f"SELECT notification_id FROM {self.tracking_name} WHERE application_name = ?")
        self._period_sql: dict[str, tuple[str, str, str, str]] = {}
        for kind, (table, keys, columns) in PERIOD_KEYS.items():
            name = d.name(table_name(table, self.version))
            where = " AND ".join(f"{k} = ?" for k in ("negotiation", *keys))
            values = ", ".join("?" for _ in range(len(keys) + len(columns) + 3))
            self._period_sql[kind] = (
                d.sql(f"DELETE FROM {name} WHERE {where} AND known_to = ? AND known_from >= ?"),
                d.sql(f"UPDATE {name} SET known_to = ? WHERE {where} AND known_to = ?"),
                d.sql(
                    f"INSERT INTO {name} (negotiation, {', '.join(keys)}, known_from, known_to, {', '.join(columns)}) "
                    f"VALUES ({values})"
                ),
                name,
            )
        events = d.name(table_name("events", self.version))
        self._insert_event = d.sql(f"INSERT INTO {events} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
        self._retract_event = d.sql(f"UPDATE {events} SET retracted_at = ? WHERE negotiation = ? AND seq = ?")
        self._events_name = events

    def missing_events(self, wanted: Sequence[tuple[str, int]]) -> set[str]:
        """The negotiations among ``wanted`` ``(negotiation, seq)`` whose event the events table lacks.

        One statement per ``_MISSING_CHUNK`` keys (row values: SQLite 3.15+ and PostgreSQL).
        """
        wanted = list(dict.fromkeys(wanted))
        events = self._events_name
        found: set[tuple[str, int]] = set()
        with self.datastore.transaction(commit=False) as c:
            for i in range(0, len(wanted), _MISSING_CHUNK):
                chunk = wanted[i : i + _MISSING_CHUNK]
                values = ", ".join("(?, ?)" for _ in chunk)
                statement = f"SELECT negotiation, seq FROM {events} WHERE (negotiation, seq) IN (VALUES {values})"
                c.execute(self.dialect.sql(statement), [v for key in chunk for v in key])
                found.update((row["negotiation"], int(row["seq"])) for row in c.fetchall())
        return {negotiation for negotiation, seq in wanted if (negotiation, seq) not in found}

    def write(self, changes: RowChanges, tracking: Tracking, slot: Slot, *, after: int, bulk: bool = False) -> None:
        """Rows and tracking record in one transaction, if the tracked position is still ``after``.

        The pointer row is locked first: projectors of this database take
        turns (and wait for a switch), so the tracked position read next stays true.
        """
        with self.dialect.row_transaction(self.datastore) as c:
            if bulk:
                self.dialect.begin_bulk(c)
            check_slot(self.dialect.lock_for_write(c), self.version, slot)
            c.execute(self._select_tracked, (tracking.application_name,))
            check_tracked(_tracked_of(c.fetchone()), after)
            self._insert_tracking(c, tracking)
            self._write_rows(c, changes)

    def _write_rows(self, c: Cursor, changes: RowChanges) -> None:
        if changes.dropped:
            gone = [(n,) for n in changes.dropped]
            for statement in self._drop:
                c.executemany(statement, gone)
        if changes.removed:
            gone = [(n,) for n in changes.removed]
            for statement in self._delete:
                c.executemany(statement, gone)
        if changes.positions_cleared:
            c.executemany(self._delete_positions, [(n,) for n in changes.positions_cleared])
        if changes.positions_deleted:
            c.executemany(self._delete_position, changes.positions_deleted)
        if changes.positions_upserted:
            c.executemany(self._upsert_position, [r.values() for r in changes.positions_upserted])
        if changes.status:
            c.executemany(self._upsert_status, [r.values() for r in changes.status])
        if changes.catalog:
            c.executemany(self._upsert_catalog, [r.values() for r in changes.catalog])
        if changes.periods:
            self._write_periods(c, changes.periods)
        if changes.period_ops or changes.period_inserts:
            self._apply_periods(c, changes.period_ops, changes.period_inserts)
        if changes.events:
            c.executemany(self._insert_event, [r.values() for r in changes.events])
        if changes.event_values:
            c.executemany(self._insert_event, changes.event_values)
        if changes.retracted:
            c.executemany(self._retract_event, changes.retracted)

    def _write_periods(self, c: Cursor, writes: Sequence[tuple[str, Change]]) -> None:
        """Apply the writes in order: those on rows of this batch in memory, the others in SQL, then insert."""
        ops, inserts = plan_periods(writes)
        self._apply_periods(c, ops, inserts)

    def _apply_periods(self, c: Cursor, ops: Sequence[PeriodOp], inserts: Sequence[PeriodInsert]) -> None:
        """Run a ``plan_periods`` plan: its statements on stored rows in order, then its inserts."""
        for op, table, params in ops:
            delete, update, _, _ = self._period_sql[table]
            c.execute(delete if op == "delete" else update, params)
        by_table: dict[str, list[tuple[Any, ...]]] = {}
        for table, values in inserts:
            by_table.setdefault(table, []).append(values)
        for table, rows in by_table.items():
            c.executemany(self._period_sql[table][2], rows)


def plan_periods(writes: Sequence[tuple[str, Change]]) -> tuple[list[PeriodOp], list[PeriodInsert]]:
    """What ``writes`` (in order) do to the period tables: statements on stored rows, then rows to insert.

    Writes on rows inserted earlier in the same writes are applied in memory
    (a row closed before it was ever stored is stored closed, or not at all);
    the others become ``DELETE``/``UPDATE`` parameters, in order. Pure, so that
    an import's worker can plan the rows it derives (``runner.derive_new``)
    and hand over plain tuples.
    """
    pending: dict[tuple[str, str, tuple[Any, ...], int], Row] = {}
    ops: list[PeriodOp] = []
    for negotiation, change in writes:
        if change.op == "insert":
            assert change.row is not None  # noqa: S101 - an insert carries its row
            pending[(change.table, negotiation, change.key, change.row.known_to)] = change.row
            continue
        row = pending.pop((change.table, negotiation, change.key, change.known_to), None)
        where = (negotiation, *change.key)
        if change.op == "close":
            if row is None:
                ops.append(("delete", change.table, (*where, change.known_to, change.at)))
                ops.append(("update", change.table, (change.at, *where, change.known_to)))
            elif row.known_from < change.at:
                pending[(change.table, negotiation, change.key, change.at)] = attrs.evolve(row, known_to=change.at)
        elif row is None:
            ops.append(("update", change.table, (change.to, *where, change.known_to)))
        else:
            pending[(change.table, negotiation, change.key, change.to)] = attrs.evolve(row, known_to=change.to)
    inserts = [
        (table, (negotiation, *key, row.known_from, row.known_to, *_payload(table, row.payload)))
        for (table, negotiation, key, _), row in pending.items()
    ]
    return ops, inserts


def _tracked_of(row: Any) -> int:
    return 0 if row is None or row["notification_id"] is None else int(row["notification_id"])


class SQLViews(ABC):
    """The read models in an SQL database: pointer, SQL views and versions (``ViewDatabase``)."""

    dialect: Dialect

    def __init__(
        self, datastore: Any, *, application_name: str = APPLICATION_NAME, store_events: str | None = None
    ) -> None:
        self.datastore = datastore
        self.application_name = application_name
        d = self.dialect
        self.store_events = None if store_events is None else d.name(store_events)
        """The store's events table (eventsourcing's, in the same database and schema), qualified: the events
        view reads each stored line from there. ``None``: the tables keep every line themselves."""
        self.pointer_table = d.name(POINTER_TABLE)
        self._select_pointer = d.sql(f"SELECT active, building FROM {self.pointer_table} WHERE name = ?")
        self.derived_table = d.name(DERIVED_TABLE)
        self._select_derivation = d.sql(f"SELECT derivation FROM {self.derived_table} WHERE name = ?")
        self._set_derivation = d.sql(
            f"INSERT INTO {self.derived_table} VALUES (?, ?) "
            "ON CONFLICT (name) DO UPDATE SET derivation = excluded.derivation"
        )
        self.outdated = False
        """Whether ``ensure`` found the active version's tables of an older layout, or their rows written by an
        older derivation (``DERIVATION``): then rebuild."""

    @abstractmethod
    def tables(self, version: int) -> SQLTables:
        """A version's tables (not created)."""

    def _transaction(self, *, commit: bool) -> AbstractContextManager[Cursor]:
        transaction: AbstractContextManager[Cursor] = self.datastore.transaction(commit=commit)
        return transaction

    @property
    def keeps_lines(self) -> bool:
        """Whether the events rows must hold every event's line (no store table to read it from)."""
        return self.store_events is None

    def view_statement(self, kind: str, version: int) -> str:
        """The ``CREATE VIEW`` of a kind's stable view over a version's table.

        The events view shows each event's ``line``: the events table's own
        (``rendered``) where it has one, else the store's, found by commit
        position. A scalar subquery rather than a join: a query that reads no
        line never runs it, so counting stays on the events table's covering
        index (SQLite keeps a left join under an aggregate, unused or not).
        """
        d = self.dialect
        view, table = d.name(SQL_VIEWS[kind]), d.name(table_name(kind, version))
        if kind != "events":
            return f"CREATE VIEW {view} AS SELECT * FROM {table}"
        columns = ", ".join(f"e.{c}" for c in EVENT_COLUMNS)
        if self.store_events is None:
            return f"CREATE VIEW {view} AS SELECT {columns}, e.rendered AS line, e.position FROM {table} e"
        stored = d.store_text.format("s.state")
        line = f"(SELECT {stored} FROM {self.store_events} s WHERE s.{d.store_key} = e.position)"
        return (
            f"CREATE VIEW {view} AS SELECT {columns}, COALESCE(e.rendered, {line}) AS line, e.position FROM {table} e"
        )

    def _create_tables(self, version: int) -> None:
        self.tables(version).create_table()

    def ensure(self) -> Pointer:
        """Create the pointer, the active version's tables and the SQL views if missing.

        Reads only, when all is there. Setting up is tried again a few times
        when the database says so (SQLite refuses at once when a writer
        committed meanwhile: "database is locked").
        """
        for attempt in range(1, _ENSURE_ATTEMPTS + 1):
            try:
                pointer = self._ready()
                if pointer is None:
                    pointer = self._create()
            except OperationalError as e:
                if not self.dialect.retryable(e) or attempt == _ENSURE_ATTEMPTS:
                    raise
                time.sleep(0.02 * attempt)
            else:
                return pointer
        raise AssertionError("unreachable")  # pragma: no cover

    def _ready(self) -> Pointer | None:
        """The pointer, if it, the active version's tables and the SQL views exist.

        Notes in ``outdated`` whether the active version was written by an
        older layout (its tracking table is there, some of its tables are not):
        it must then be rebuilt, as creating the missing tables empty would
        leave them behind the tracked position. A missing index (``index_names``)
        only sends it to ``_create``, which builds it from the rows there.
        """
        with self._transaction(commit=False) as c:
            names = self.dialect.names(c)
            if POINTER_TABLE not in names:
                return None
            pointer = self._pointer(c)
            derivation = self._derivation(c) if DERIVED_TABLE in names else 1
        tables = {table_name(k, pointer.active) for k in KINDS}
        tracked = table_name("tracking", pointer.active) in names
        self.outdated = tracked and (
            derivation < DERIVATION or not tables <= names or not self._columns(pointer.active)
        )
        wanted = {
            *SQL_VIEWS.values(),
            *tables,
            *index_names(pointer.active),
            table_name("tracking", pointer.active),
            DERIVED_TABLE,
        }
        return pointer if wanted <= names else None

    def _derivation(self, c: Cursor) -> int:
        """The derivation that wrote the active version's rows (1 when none is recorded)."""
        c.execute(self._select_derivation, (POINTER_KEY,))
        row = c.fetchone()
        return 1 if row is None else int(row["derivation"])

    def _columns(self, version: int) -> bool:
        """Whether the version's tables have every column of this layout, of this layout's type.

        One statement names them all, in a transaction of its own (an error
        ends a PostgreSQL transaction): it fails if any is missing. One round
        trip at every command's start, not one transaction per column.
        """
        d = self.dialect
        each = [
            f"(SELECT {column} FROM {d.name(table_name(kind, version))} WHERE 1 = 0)" for kind, column in LAYOUT_COLUMNS
        ]
        older = d.older_types([d.name(table_name(kind, version)) for kind in KINDS])
        try:
            with self._transaction(commit=False) as c:
                c.execute(f"SELECT {', '.join(each)}, {older} AS older")
                row = c.fetchone()
        except PersistenceError:
            return False
        return not row["older"]

    def _create(self) -> Pointer:
        d = self.dialect
        with self._transaction(commit=True) as c:
            c.execute(
                f"CREATE TABLE IF NOT EXISTS {self.pointer_table} ("
                f"name TEXT PRIMARY KEY, active BIGINT NOT NULL, building BIGINT){d.table_suffix}"
            )
            c.execute(
                d.sql(f"INSERT INTO {self.pointer_table} VALUES (?, 1, NULL) ON CONFLICT (name) DO NOTHING"),
                (POINTER_KEY,),
            )
        self._create_tables(self.pointer().active)
        with self._transaction(commit=True) as c:
            pointer = self._lock(c)
            c.execute(
                f"CREATE TABLE IF NOT EXISTS {self.derived_table} ("
                f"name TEXT PRIMARY KEY, derivation BIGINT NOT NULL){d.table_suffix}"
            )
            if self.outdated:
                # A view over an older layout's table may name a column it lacks. The rebuild that follows
                # points every view at the new version when it switches (``switch``).
                return pointer
            # Not outdated: written by this derivation, or tables created just now (empty, or not tracked yet).
            c.execute(
                d.sql(f"INSERT INTO {self.derived_table} VALUES (?, ?) ON CONFLICT (name) DO NOTHING"),
                (POINTER_KEY, DERIVATION),
            )
            names = d.names(c)
            for kind, view in SQL_VIEWS.items():
                if view not in names:
                    c.execute(self.view_statement(kind, pointer.active))
        return pointer

    def pointer(self) -> Pointer:
        """The pointer's current row."""
        with self._transaction(commit=False) as c:
            return self._pointer(c)

    def _pointer(self, c: Cursor) -> Pointer:
        c.execute(self._select_pointer, (POINTER_KEY,))
        row = c.fetchone()
        if row is None:
            raise OperationalError("the read models' pointer is gone")
        return Pointer(int(row["active"]), None if row["building"] is None else int(row["building"]))

    def _lock(self, c: Cursor) -> Pointer:
        self.dialect.lock_pointer(c)
        return self._pointer(c)

    def versions(self) -> list[int]:
        """The versions that have a tracking table."""
        with self._transaction(commit=False) as c:
            return parse_versions(self.dialect.names(c))

    def begin_rebuild(self) -> int:
        """The version to build: an unfinished one, else a new one; leftover versions are dropped."""
        existing = self.versions()
        with self._transaction(commit=True) as c:
            pointer = self._lock(c)
            version = pointer.building
            if version is None:
                version = max([pointer.active, *existing]) + 1
                c.execute(
                    self.dialect.sql(f"UPDATE {self.pointer_table} SET building = ? WHERE name = ?"),
                    (version, POINTER_KEY),
                )
        for old in existing:
            if old not in (pointer.active, version):
                self.drop(old)
        self._create_tables(version)
        return version

    def switch(self, old: int, new: int) -> bool:
        """Point the pointer and the SQL views at ``new``, if it has caught up with ``old``."""
        d = self.dialect
        with self._transaction(commit=True) as c:
            pointer = self._lock(c)
            if pointer != Pointer(old, new):
                return False
            if self._tracked(c, new) < self._tracked(c, old):
                return False
            c.execute(
                d.sql(f"UPDATE {self.pointer_table} SET active = ?, building = NULL WHERE name = ?"),
                (new, POINTER_KEY),
            )
            c.execute(self._set_derivation, (POINTER_KEY, DERIVATION))  # the rebuild's rows are ours
            for kind, view in SQL_VIEWS.items():
                c.execute(f"DROP VIEW IF EXISTS {d.name(view)}")
                c.execute(self.view_statement(kind, new))
            return True

    def drop(self, version: int) -> None:
        """Drop a version's tables, unless the pointer names it."""
        with self._transaction(commit=True) as c:
            pointer = self._lock(c)
            if version in (pointer.active, pointer.building):
                return
            for kind in (*KINDS, "tracking"):
                c.execute(f"DROP TABLE IF EXISTS {self.dialect.name(table_name(kind, version))}")

    def _tracked(self, c: Cursor, version: int) -> int:
        tracking = self.dialect.name(table_name("tracking", version))
        c.execute(
            self.dialect.sql(f"SELECT notification_id FROM {tracking} WHERE application_name = ?"),
            (self.application_name,),
        )
        return _tracked_of(c.fetchone())

    def position(self) -> int:
        """The active version's tracked position."""
        with self._transaction(commit=False) as c:
            return self._tracked(c, self._pointer(c).active)

    def _rows(self, statement: str, params: Sequence[Any] = ()) -> Iterator[dict[str, Any]]:
        with self._transaction(commit=False) as c:
            c.execute(self.dialect.sql(statement), params)
            rows = c.fetchall()
        return (dict(row) for row in rows)

    def read_status(self, negotiation: str) -> dict[str, Any] | None:
        """The status row through the SQL view, JSON decoded; ``None`` if absent."""
        view = self.dialect.name(SQL_VIEWS["status"])
        row = next(self._rows(f"SELECT * FROM {view} WHERE negotiation = ?", (negotiation,)), None)
        return None if row is None else decoded(decoded(row, "stoppage"), "ratified_by")

    def read_positions(self, negotiation: str) -> list[dict[str, Any]] | None:
        """The positions rows by party, issue (one statement); ``None`` without a status row."""
        status, positions = self.dialect.name(SQL_VIEWS["status"]), self.dialect.name(SQL_VIEWS["positions"])
        rows = list(
            self._rows(
                f"SELECT s.negotiation AS known, p.* FROM {status} s "
                f"LEFT JOIN {positions} p ON p.negotiation = s.negotiation "
                "WHERE s.negotiation = ? ORDER BY p.party, p.issue",
                (negotiation,),
            )
        )
        if not rows:
            return None
        return [decoded(without(row, "known"), "value") for row in rows if row["party"] is not None]

    def read_catalog(self) -> list[dict[str, Any]]:
        """Every catalog row, by negotiation id."""
        view = self.dialect.name(SQL_VIEWS["catalog"])
        return [decoded(row, "parties") for row in self._rows(f"SELECT * FROM {view} ORDER BY negotiation")]

    def end_bulk(self) -> None:
        """Undo what bulk writes set on the connection (``Dialect.end_bulk``)."""
        with self._transaction(commit=False) as c:
            self.dialect.end_bulk(c)

    def analyze(self) -> None:
        """Bring the planner's statistics of the active version's tables up to date (``Dialect.analyze``)."""
        with self._transaction(commit=False) as c:
            version = self._pointer(c).active
        d = self.dialect
        # After the transaction: PostgreSQL vacuums only outside one. A switch to another version meanwhile
        # makes it fail (a table gone), which the caller logs: the rows are written either way.
        d.analyze(self.datastore, [d.name(table_name(kind, version)) for kind in (*KINDS, "tracking")])

    def close(self) -> None:  # noqa: B027 - nothing to release: the connections are the store's
        """Release nothing: the connections are the store's."""
