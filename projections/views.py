# SQL here is built from constant table names and integer versions only, never from input.
# ruff: noqa: S608
"""The tables of the persisted read models, in the store's own database.

Each *version* of the read models is a set of four tables, written only
together and in one transaction with eventsourcing's tracking record of the
last event they took in (so every event counts exactly once, and a restart
resumes after the tracked position):

- ``negotiation_status_v{n}``: one row per negotiation, its current status;
- ``negotiation_positions_v{n}``: one row per (negotiation, party, issue) standing proposal;
- ``negotiation_catalog_v{n}``: one row per negotiation: title, time zone, parties, phase;
- ``negotiation_tracking_v{n}``: eventsourcing's single-row tracking table.

The pointer table ``negotiation_read_models`` names the ``active`` version
and the one being ``building`` (a rebuild). The SQL views
``negotiation_status``, ``negotiation_positions`` and ``negotiation_catalog``
always select from the active version: they are what readers (this package,
or any SQL client) query, and a rebuild switches them, together with the
pointer, in one transaction.

A version's tables are a ``TrackingRecorder`` of eventsourcing (a subclass of
``SQLiteTrackingRecorder`` here, of ``PostgresTrackingRecorder`` in
``projections.views_postgres``, of ``POPOTrackingRecorder`` for the memory
store); a ``ViewDatabase`` manages the pointer, the SQL views and the versions.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterable, Sequence
from typing import Any, Final, Literal, Protocol

import attrs
import orjson
from eventsourcing.persistence import IntegrityError, OperationalError, Tracking
from eventsourcing.popo import POPOTrackingRecorder
from eventsourcing.sqlite import SQLiteCursor, SQLiteDatastore, SQLiteTrackingRecorder

from negotiation.store.errors import is_busy
from negotiation.store.eventstore import APPLICATION_NAME

__all__ = [
    "KINDS",
    "POINTER_KEY",
    "POINTER_TABLE",
    "SQL_VIEWS",
    "CatalogRow",
    "MemoryViewRecorder",
    "MemoryViews",
    "Pointer",
    "PositionRow",
    "RowChanges",
    "SQLiteViewRecorder",
    "SQLiteViews",
    "Slot",
    "StatusRow",
    "VersionMovedError",
    "ViewDatabase",
    "ViewTables",
    "check_slot",
    "check_tracked",
    "decoded",
    "dumps",
    "loads",
    "parse_versions",
    "table_name",
    "without",
]

POINTER_TABLE: Final = "negotiation_read_models"
"""The pointer table: which version is active, which is being built."""
POINTER_KEY: Final = "views"
"""The pointer table's one row."""
KINDS: Final = ("status", "positions", "catalog")
SQL_VIEWS: Final = {kind: f"negotiation_{kind}" for kind in KINDS}
"""Read-model kind -> the stable SQL view name that selects from the active version."""
_VERSION_RE: Final = re.compile(r"negotiation_tracking_v(\d+)")

_ENSURE_ATTEMPTS: Final = 10

Slot = Literal["active", "building"]
"""Which role a version plays: the one readers see, or the one a rebuild fills."""


def table_name(kind: str, version: int) -> str:
    """The table of read-model ``kind`` (``status``, ``positions``, ``catalog``, ``tracking``) in ``version``."""
    return f"negotiation_{kind}_v{version}"


def dumps(value: object) -> str:
    """Compact JSON text for a column."""
    return orjson.dumps(value).decode()


def loads(value: object) -> Any:
    """A JSON column's value (SQLite gives text; PostgreSQL ``jsonb`` is already decoded)."""
    if isinstance(value, (str, bytes)):
        return orjson.loads(value)
    return value


class VersionMovedError(Exception):
    """The pointer no longer gives this version the role it was written for (a rebuild switched)."""


# --- rows --------------------------------------------------------------------


@attrs.frozen
class StatusRow:
    """A negotiation's current status (full knowledge, latest valid time).

    ``stoppage`` is JSON ``{"kind", "parties", "since"}`` or ``None``: the
    spec's ``day`` depends on when one asks, so readers count it.
    ``position`` is the commit position of the negotiation's last event taken in.
    """

    negotiation: str
    phase: str
    talks: str
    agreement: str
    contract: str
    stoppage: str | None
    events_applied: int
    position: int
    timezone: str
    ratified_by: str = "[]"
    """JSON list of the unions that ratified the current tentative agreement (spec 1.1)."""

    def values(self) -> tuple[str | int | None, ...]:
        """The column values, in table order."""
        return (
            self.negotiation,
            self.phase,
            self.talks,
            self.agreement,
            self.contract,
            self.stoppage,
            self.events_applied,
            self.position,
            self.timezone,
            self.ratified_by,
        )


@attrs.frozen
class PositionRow:
    """A party's standing proposal on an issue; ``value`` is JSON ``{"amount", "unit"}`` or ``None``."""

    negotiation: str
    party: str
    issue: str
    terms: str
    value: str | None
    since: str
    event: str
    accepted: str | None = None
    """The ``proposal.accepted`` id when the party took the position by accepting it (spec 1.1)."""

    @property
    def key(self) -> tuple[str, str]:
        """(party, issue)."""
        return (self.party, self.issue)

    def values(self) -> tuple[str | None, ...]:
        """The column values, in table order."""
        return (self.negotiation, self.party, self.issue, self.terms, self.value, self.since, self.event, self.accepted)


@attrs.frozen
class CatalogRow:
    """A negotiation in the catalog; ``parties`` is JSON ``[{"id", "name", "role"}]``."""

    negotiation: str
    title: str
    timezone: str
    parties: str
    phase: str

    def values(self) -> tuple[str, ...]:
        """The column values, in table order."""
        return (self.negotiation, self.title, self.timezone, self.parties, self.phase)


@attrs.frozen(kw_only=True)
class RowChanges:
    """What one batch changes in a version's tables, written in one transaction."""

    status: Sequence[StatusRow] = ()
    """Upserted status rows."""
    catalog: Sequence[CatalogRow] = ()
    """Upserted catalog rows."""
    positions_cleared: Sequence[str] = ()
    """Negotiations whose positions rows are all deleted first (then re-inserted)."""
    positions_deleted: Sequence[tuple[str, str, str]] = ()
    """(negotiation, party, issue) rows to delete."""
    positions_upserted: Sequence[PositionRow] = ()
    """Upserted positions rows."""
    removed: Sequence[str] = ()
    """Negotiations that no longer count (their opening was retracted): every row goes."""


@attrs.frozen
class Pointer:
    """The pointer table's row."""

    active: int
    building: int | None = None


# --- the interfaces the runner uses ------------------------------------------


class ViewTables(Protocol):
    """One version's tables, with its tracking record (an eventsourcing ``TrackingRecorder``)."""

    version: int

    def create_table(self) -> None:
        """Create the version's tables if they do not exist."""

    def max_tracking_id(self, application_name: str) -> int | None:
        """The tracked position (eventsourcing's ``TrackingRecorder`` API)."""

    def write(self, changes: RowChanges, tracking: Tracking, slot: Slot, *, after: int) -> None:
        """Write the rows and the tracking record in one transaction.

        ``after`` is the tracked position the batch follows. Raises
        eventsourcing's ``IntegrityError`` when the stored tracking record is
        not at ``after`` any more (another projector took events in meanwhile:
        nothing is written, so every event counts exactly once), and
        ``VersionMovedError`` when the pointer no longer gives this version ``slot``.
        """


class ViewDatabase(Protocol):
    """The read models' pointer, SQL views and versions in one database."""

    def ensure(self) -> Pointer:
        """Create the pointer, the active version's tables and the SQL views if missing."""

    def pointer(self) -> Pointer:
        """The pointer's current row."""

    def tables(self, version: int) -> ViewTables:
        """A version's tables (not created)."""

    def begin_rebuild(self) -> int:
        """The version to build: the one a rebuild left unfinished, or a new one (created, empty)."""

    def switch(self, old: int, new: int) -> bool:
        """Make ``new`` active if it is still being built and has caught up with ``old``.

        Atomic: the pointer and the SQL views change in one transaction.
        Returns ``False`` (and changes nothing) when ``new`` is behind ``old``
        or the pointer moved meanwhile.
        """

    def drop(self, version: int) -> None:
        """Drop a version's tables (never the active one)."""

    def versions(self) -> list[int]:
        """The versions that have tables."""

    def position(self) -> int:
        """The active version's tracked position (0 before the first event)."""

    def read_status(self, negotiation: str) -> dict[str, Any] | None:
        """The status row through the SQL view, JSON decoded; ``None`` if absent."""

    def read_positions(self, negotiation: str) -> list[dict[str, Any]] | None:
        """The positions rows (by party, issue); ``None`` if the negotiation has no status row."""

    def read_catalog(self) -> list[dict[str, Any]]:
        """Every catalog row, by negotiation id."""

    def close(self) -> None:
        """Release what the database object holds (not the store's connections)."""


# --- SQLite --------------------------------------------------------------------


class SQLiteViewRecorder(SQLiteTrackingRecorder):
    """One version's tables in the SQLite store file, with eventsourcing's tracking record."""

    def __init__(self, datastore: SQLiteDatastore, *, version: int) -> None:
        self.version = version
        self.status_table = table_name("status", version)
        self.positions_table = table_name("positions", version)
        self.catalog_table = table_name("catalog", version)
        self.tracking_table = table_name("tracking", version)
        super().__init__(datastore)
        t = self.tracking_table
        self.insert_tracking_statement = (
            f"INSERT INTO {t} VALUES (:application_name, :notification_id) "
            "ON CONFLICT (application_name) DO UPDATE SET notification_id = :notification_id "
            f"WHERE {t}.notification_id < :notification_id RETURNING notification_id"
        )
        self.select_max_tracking_id_statement = f"SELECT MAX(notification_id) FROM {t} WHERE application_name=?"

    def construct_create_table_statements(self) -> list[str]:
        """The version's four tables (single-row tracking)."""
        return [
            f"CREATE TABLE IF NOT EXISTS {self.tracking_table} ("
            "application_name TEXT, notification_id INTEGER, PRIMARY KEY (application_name)) WITHOUT ROWID",
            f"CREATE TABLE IF NOT EXISTS {self.status_table} ("
            "negotiation TEXT PRIMARY KEY, phase TEXT NOT NULL, talks TEXT NOT NULL, agreement TEXT NOT NULL, "
            "contract TEXT NOT NULL, stoppage TEXT, events_applied INTEGER NOT NULL, position INTEGER NOT NULL, "
            "timezone TEXT NOT NULL, ratified_by TEXT NOT NULL) WITHOUT ROWID",
            f"CREATE TABLE IF NOT EXISTS {self.positions_table} ("
            "negotiation TEXT, party TEXT, issue TEXT, terms TEXT NOT NULL, value TEXT, since TEXT NOT NULL, "
            "event TEXT NOT NULL, accepted TEXT, PRIMARY KEY (negotiation, party, issue)) WITHOUT ROWID",
            f"CREATE TABLE IF NOT EXISTS {self.catalog_table} ("
            "negotiation TEXT PRIMARY KEY, title TEXT NOT NULL, timezone TEXT NOT NULL, parties TEXT NOT NULL, "
            "phase TEXT NOT NULL) WITHOUT ROWID",
        ]

    def write(self, changes: RowChanges, tracking: Tracking, slot: Slot, *, after: int) -> None:
        """Rows and tracking record in one transaction, if the tracked position is still ``after``."""
        with self.datastore.transaction(commit=True) as c:
            # A no-op write first: it takes SQLite's write lock, so what is read next stays true.
            c.execute(f"UPDATE {POINTER_TABLE} SET active = active WHERE name=?", (POINTER_KEY,))
            c.execute(f"SELECT active, building FROM {POINTER_TABLE} WHERE name=?", (POINTER_KEY,))
            check_slot(c.fetchone(), self.version, slot)
            check_tracked(_tracked(c, self.tracking_table, tracking.application_name), after)
            self._insert_tracking(c, tracking)
            self._write_rows(c, changes)

    def _write_rows(self, c: SQLiteCursor, changes: RowChanges) -> None:
        if changes.removed:
            gone = [(n,) for n in changes.removed]
            for table in (self.status_table, self.positions_table, self.catalog_table):
                c.executemany(f"DELETE FROM {table} WHERE negotiation=?", gone)
        if changes.positions_cleared:
            c.executemany(
                f"DELETE FROM {self.positions_table} WHERE negotiation=?", [(n,) for n in changes.positions_cleared]
            )
        if changes.positions_deleted:
            c.executemany(
                f"DELETE FROM {self.positions_table} WHERE negotiation=? AND party=? AND issue=?",
                changes.positions_deleted,
            )
        if changes.positions_upserted:
            c.executemany(
                f"INSERT OR REPLACE INTO {self.positions_table} VALUES (?,?,?,?,?,?,?,?)",
                [r.values() for r in changes.positions_upserted],
            )
        if changes.status:
            c.executemany(
                f"INSERT OR REPLACE INTO {self.status_table} VALUES (?,?,?,?,?,?,?,?,?,?)",
                [r.values() for r in changes.status],
            )
        if changes.catalog:
            c.executemany(
                f"INSERT OR REPLACE INTO {self.catalog_table} VALUES (?,?,?,?,?)",
                [r.values() for r in changes.catalog],
            )


def check_slot(row: Sequence[Any] | None, version: int, slot: Slot) -> None:
    """Raise ``VersionMovedError`` unless the pointer row ``(active, building)`` gives ``version`` that ``slot``."""
    if row is None:
        raise VersionMovedError("the read models' pointer is gone")
    holder = row[0] if slot == "active" else row[1]
    if holder != version:
        raise VersionMovedError(f"version {version} is no longer the {slot} one (now {holder})")


class SQLiteViews:
    """The read models in a SQLite store file (shares the store's connection pool)."""

    def __init__(self, datastore: SQLiteDatastore, *, application_name: str = APPLICATION_NAME) -> None:
        self.datastore = datastore
        self.application_name = application_name

    def tables(self, version: int) -> SQLiteViewRecorder:
        """A version's tables (not created)."""
        return SQLiteViewRecorder(self.datastore, version=version)

    def ensure(self) -> Pointer:
        """Create the pointer, the active version's tables and the SQL views if missing.

        Reads only, when all is there. Otherwise creates what is missing; as
        eventsourcing's SQLite transactions begin deferred, a writer that
        committed meanwhile makes SQLite refuse at once ("database is
        locked"), so that is tried again a few times.
        """
        for attempt in range(1, _ENSURE_ATTEMPTS + 1):
            try:
                pointer = self._ready()
                if pointer is None:
                    pointer = self._create()
            except OperationalError as e:
                if not is_busy(e) or attempt == _ENSURE_ATTEMPTS:
                    raise
                time.sleep(0.02 * attempt)
            else:
                return pointer
        raise AssertionError("unreachable")  # pragma: no cover

    def _ready(self) -> Pointer | None:
        """The pointer, if it, the active version's tables and the SQL views exist."""
        with self.datastore.transaction(commit=False) as c:
            c.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")
            names = {row[0] for row in c.fetchall()}
            if POINTER_TABLE not in names:
                return None
            pointer = self._pointer(c)
        wanted = {*SQL_VIEWS.values(), *(table_name(k, pointer.active) for k in (*KINDS, "tracking"))}
        return pointer if wanted <= names else None

    def _create(self) -> Pointer:
        with self.datastore.transaction(commit=True) as c:
            c.execute(
                f"CREATE TABLE IF NOT EXISTS {POINTER_TABLE} ("
                "name TEXT PRIMARY KEY, active INTEGER NOT NULL, building INTEGER) WITHOUT ROWID"
            )
            c.execute(f"INSERT INTO {POINTER_TABLE} VALUES (?, 1, NULL) ON CONFLICT (name) DO NOTHING", (POINTER_KEY,))
        pointer = self.pointer()
        self.tables(pointer.active).create_table()
        with self.datastore.transaction(commit=True) as c:
            pointer = self._lock(c)
            for kind, view in SQL_VIEWS.items():
                c.execute(f"CREATE VIEW IF NOT EXISTS {view} AS SELECT * FROM {table_name(kind, pointer.active)}")
        return pointer

    def pointer(self) -> Pointer:
        """The pointer's current row."""
        with self.datastore.transaction(commit=False) as c:
            return self._pointer(c)

    @staticmethod
    def _pointer(c: SQLiteCursor) -> Pointer:
        c.execute(f"SELECT active, building FROM {POINTER_TABLE} WHERE name=?", (POINTER_KEY,))
        row = c.fetchone()
        return Pointer(int(row[0]), None if row[1] is None else int(row[1]))

    def _lock(self, c: SQLiteCursor) -> Pointer:
        # A no-op write takes SQLite's write lock before anything is read.
        c.execute(f"UPDATE {POINTER_TABLE} SET active = active WHERE name=?", (POINTER_KEY,))
        return self._pointer(c)

    def versions(self) -> list[int]:
        """The versions that have a tracking table."""
        with self.datastore.transaction(commit=False) as c:
            c.execute("SELECT name FROM sqlite_master WHERE type='table' AND name LIKE 'negotiation_tracking_v%'")
            return parse_versions(row[0] for row in c.fetchall())

    def begin_rebuild(self) -> int:
        """The version to build: an unfinished one, else a new one; leftover versions are dropped."""
        existing = self.versions()
        with self.datastore.transaction(commit=True) as c:
            pointer = self._lock(c)
            version = pointer.building
            if version is None:
                version = max([pointer.active, *existing]) + 1
                c.execute(f"UPDATE {POINTER_TABLE} SET building=? WHERE name=?", (version, POINTER_KEY))
        for old in existing:
            if old not in (pointer.active, version):
                self.drop(old)
        self.tables(version).create_table()
        return version

    def switch(self, old: int, new: int) -> bool:
        """Point the pointer and the SQL views at ``new``, if it has caught up with ``old``."""
        with self.datastore.transaction(commit=True) as c:
            pointer = self._lock(c)
            if pointer != Pointer(old, new):
                return False
            if _tracked(c, table_name("tracking", new), self.application_name) < _tracked(
                c, table_name("tracking", old), self.application_name
            ):
                return False
            c.execute(f"UPDATE {POINTER_TABLE} SET active=?, building=NULL WHERE name=?", (new, POINTER_KEY))
            for kind, view in SQL_VIEWS.items():
                c.execute(f"DROP VIEW IF EXISTS {view}")
                c.execute(f"CREATE VIEW {view} AS SELECT * FROM {table_name(kind, new)}")
            return True

    def drop(self, version: int) -> None:
        """Drop a version's tables, unless the pointer names it."""
        with self.datastore.transaction(commit=True) as c:
            pointer = self._lock(c)
            if version in (pointer.active, pointer.building):
                return
            for kind in (*KINDS, "tracking"):
                c.execute(f"DROP TABLE IF EXISTS {table_name(kind, version)}")

    def position(self) -> int:
        """The active version's tracked position."""
        with self.datastore.transaction(commit=False) as c:
            pointer = self._pointer(c)
            return _tracked(c, table_name("tracking", pointer.active), self.application_name)

    def read_status(self, negotiation: str) -> dict[str, Any] | None:
        """The status row, JSON decoded."""
        with self.datastore.transaction(commit=False) as c:
            c.execute(f"SELECT * FROM {SQL_VIEWS['status']} WHERE negotiation=?", (negotiation,))
            row = c.fetchone()
        return None if row is None else decoded(decoded(dict(row), "stoppage"), "ratified_by")

    def read_positions(self, negotiation: str) -> list[dict[str, Any]] | None:
        """The positions rows by party, issue (one statement); ``None`` without a status row."""
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT s.negotiation AS known, p.* FROM {SQL_VIEWS['status']} s "
                f"LEFT JOIN {SQL_VIEWS['positions']} p ON p.negotiation = s.negotiation "
                "WHERE s.negotiation=? ORDER BY p.party, p.issue",
                (negotiation,),
            )
            rows = [dict(row) for row in c.fetchall()]
        if not rows:
            return None
        return [decoded(without(row, "known"), "value") for row in rows if row["party"] is not None]

    def read_catalog(self) -> list[dict[str, Any]]:
        """Every catalog row, by negotiation id."""
        with self.datastore.transaction(commit=False) as c:
            c.execute(f"SELECT * FROM {SQL_VIEWS['catalog']} ORDER BY negotiation")
            rows = c.fetchall()
        return [decoded(dict(row), "parties") for row in rows]

    def close(self) -> None:
        """Nothing to release: the connections are the store's."""


def _tracked(c: SQLiteCursor, tracking_table: str, application_name: str) -> int:
    c.execute(f"SELECT notification_id FROM {tracking_table} WHERE application_name=?", (application_name,))
    row = c.fetchone()
    return 0 if row is None or row[0] is None else int(row[0])


def check_tracked(tracked: int, after: int) -> None:
    """Raise eventsourcing's ``IntegrityError`` unless the stored tracked position is ``after``."""
    if tracked != after:
        raise IntegrityError(f"tracked position is {tracked}, not {after}: another projector took events in")


def parse_versions(names: Iterable[str]) -> list[int]:
    """The versions named by tracking-table names, sorted."""
    found = (_VERSION_RE.fullmatch(name) for name in names)
    return sorted(int(m.group(1)) for m in found if m is not None)


def without(row: dict[str, Any], key: str) -> dict[str, Any]:
    """``row`` without ``key``."""
    row.pop(key, None)
    return row


def decoded(row: dict[str, Any], column: str) -> dict[str, Any]:
    """``row`` with its JSON ``column`` decoded (a column the row lacks stays absent)."""
    if column in row:
        row[column] = loads(row[column]) if row[column] is not None else None
    return row


# --- memory ------------------------------------------------------------------


class MemoryViewRecorder(POPOTrackingRecorder):
    """One version's rows in memory, with eventsourcing's POPO tracking record (the memory store)."""

    def __init__(self, views: MemoryViews, *, version: int) -> None:
        super().__init__()
        self.views = views
        self.version = version
        self.status: dict[str, StatusRow] = {}
        self.positions: dict[str, dict[tuple[str, str], PositionRow]] = {}
        self.catalog: dict[str, CatalogRow] = {}

    def create_table(self) -> None:
        """Nothing to create in memory."""

    def write(self, changes: RowChanges, tracking: Tracking, slot: Slot, *, after: int) -> None:
        """Rows and tracking record under one lock: all or nothing."""
        with self.views.lock:
            check_tracked(self.max_tracking_id(tracking.application_name) or 0, after)
            self._assert_tracking_uniqueness(tracking)
            pointer = self.views.current
            holder = pointer.active if slot == "active" else pointer.building
            if holder != self.version or self.views.recorders.get(self.version) is not self:
                raise VersionMovedError(f"version {self.version} is no longer the {slot} one (now {holder})")
            for negotiation in changes.removed:
                self.status.pop(negotiation, None)
                self.positions.pop(negotiation, None)
                self.catalog.pop(negotiation, None)
            for negotiation in changes.positions_cleared:
                self.positions.pop(negotiation, None)
            for negotiation, party, issue in changes.positions_deleted:
                self.positions.get(negotiation, {}).pop((party, issue), None)
            for p in changes.positions_upserted:
                self.positions.setdefault(p.negotiation, {})[p.key] = p
            for s in changes.status:
                self.status[s.negotiation] = s
            for row in changes.catalog:
                self.catalog[row.negotiation] = row
            self._insert_tracking(tracking)


class MemoryViews:
    """The read models of a memory store: they live as long as this object."""

    def __init__(self, *, application_name: str = APPLICATION_NAME) -> None:
        self.application_name = application_name
        self.lock = threading.RLock()
        self.current = Pointer(1)
        self.recorders: dict[int, MemoryViewRecorder] = {}

    def tables(self, version: int) -> MemoryViewRecorder:
        """A version's rows (created on first use)."""
        with self.lock:
            recorder = self.recorders.get(version)
            if recorder is None:
                recorder = self.recorders[version] = MemoryViewRecorder(self, version=version)
            return recorder

    def ensure(self) -> Pointer:
        """The active version exists from the start."""
        with self.lock:
            self.tables(self.current.active)
            return self.current

    def pointer(self) -> Pointer:
        """The current pointer."""
        return self.current

    def versions(self) -> list[int]:
        """The versions that have rows."""
        with self.lock:
            return sorted(self.recorders)

    def begin_rebuild(self) -> int:
        """The version to build: an unfinished one, else a new one."""
        with self.lock:
            version = self.current.building
            if version is None:
                version = max([self.current.active, *self.recorders]) + 1
                self.current = Pointer(self.current.active, version)
            self.tables(version)
            return version

    def switch(self, old: int, new: int) -> bool:
        """Make ``new`` active if it has caught up with ``old``."""
        with self.lock:
            if self.current != Pointer(old, new):
                return False
            name = self.application_name
            if (self.tables(new).max_tracking_id(name) or 0) < (self.tables(old).max_tracking_id(name) or 0):
                return False
            self.current = Pointer(new)
            return True

    def drop(self, version: int) -> None:
        """Forget a version's rows, unless the pointer names it."""
        with self.lock:
            if version not in (self.current.active, self.current.building):
                self.recorders.pop(version, None)

    def position(self) -> int:
        """The active version's tracked position."""
        with self.lock:
            return self.tables(self.current.active).max_tracking_id(self.application_name) or 0

    def _active(self) -> MemoryViewRecorder:
        return self.tables(self.current.active)

    def read_status(self, negotiation: str) -> dict[str, Any] | None:
        """The status row as a dict, JSON decoded."""
        with self.lock:
            row = self._active().status.get(negotiation)
        return None if row is None else decoded(decoded(attrs.asdict(row), "stoppage"), "ratified_by")

    def read_positions(self, negotiation: str) -> list[dict[str, Any]] | None:
        """The positions rows by party, issue; ``None`` without a status row."""
        with self.lock:
            active = self._active()
            if negotiation not in active.status:
                return None
            rows = sorted(active.positions.get(negotiation, {}).values(), key=lambda r: r.key)
        return [decoded(attrs.asdict(r), "value") for r in rows]

    def read_catalog(self) -> list[dict[str, Any]]:
        """Every catalog row, by negotiation id."""
        with self.lock:
            rows = sorted(self._active().catalog.values(), key=lambda r: r.negotiation)
        return [decoded(attrs.asdict(r), "parties") for r in rows]

    def close(self) -> None:
        """Nothing to release."""
