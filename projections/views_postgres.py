"""The persisted read models in PostgreSQL (see ``projections.views`` for the layout).

Imported only for a PostgreSQL store, so that psycopg stays an optional
dependency. Tables live in the store's schema (``?schema=NAME``).

Concurrency: a batch writes the tracking record first (row lock), then reads
the pointer; a switch takes the pointer table in ``ACCESS EXCLUSIVE`` mode,
so it waits for batches and position reads in flight, and the old version is
dropped only after the switch committed.
"""

from __future__ import annotations

from typing import Any, Final

from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Identifier, Literal

from negotiation.store.eventstore import APPLICATION_NAME
from projections.views import (
    KINDS,
    POINTER_KEY,
    POINTER_TABLE,
    SQL_VIEWS,
    Pointer,
    RowChanges,
    Slot,
    VersionMovedError,
    check_slot,
    check_tracked,
    decoded,
    parse_versions,
    table_name,
    without,
)

__all__ = ["PostgresViewRecorder", "PostgresViews"]

_LOCK_TIMEOUT: Final = "30s"


class PostgresViewRecorder(PostgresTrackingRecorder):
    """One version's tables in the store's schema, with eventsourcing's tracking record."""

    def __init__(self, datastore: PostgresDatastore, *, version: int) -> None:
        super().__init__(datastore, tracking_table_name=table_name("tracking", version))
        self.version = version
        schema = datastore.schema
        self.pointer_table = Identifier(schema, POINTER_TABLE)
        self.status_table = Identifier(schema, table_name("status", version))
        self.positions_table = Identifier(schema, table_name("positions", version))
        self.catalog_table = Identifier(schema, table_name("catalog", version))
        self.tracking_table = Identifier(schema, table_name("tracking", version))
        self.sql_create_statements += [
            SQL(
                "CREATE TABLE IF NOT EXISTS {} (negotiation text PRIMARY KEY, phase text NOT NULL, "
                "talks text NOT NULL, agreement text NOT NULL, contract text NOT NULL, stoppage jsonb, "
                "events_applied bigint NOT NULL, position bigint NOT NULL, timezone text NOT NULL, "
                "ratified_by jsonb NOT NULL)"
            ).format(self.status_table),
            SQL(
                "CREATE TABLE IF NOT EXISTS {} (negotiation text, party text, issue text, terms text NOT NULL, "
                "value jsonb, since text NOT NULL, event text NOT NULL, accepted text, "
                "PRIMARY KEY (negotiation, party, issue))"
            ).format(self.positions_table),
            SQL(
                "CREATE TABLE IF NOT EXISTS {} (negotiation text PRIMARY KEY, title text NOT NULL, "
                "timezone text NOT NULL, parties jsonb NOT NULL, phase text NOT NULL)"
            ).format(self.catalog_table),
        ]
        self._upsert_status = SQL(
            "INSERT INTO {} VALUES (%s, %s, %s, %s, %s, %s::jsonb, %s, %s, %s, %s::jsonb) ON CONFLICT (negotiation) "
            "DO UPDATE SET phase=EXCLUDED.phase, talks=EXCLUDED.talks, agreement=EXCLUDED.agreement, "
            "contract=EXCLUDED.contract, stoppage=EXCLUDED.stoppage, events_applied=EXCLUDED.events_applied, "
            "position=EXCLUDED.position, timezone=EXCLUDED.timezone, ratified_by=EXCLUDED.ratified_by"
        ).format(self.status_table)
        self._upsert_position = SQL(
            "INSERT INTO {} VALUES (%s, %s, %s, %s, %s::jsonb, %s, %s, %s) ON CONFLICT (negotiation, party, issue) "
            "DO UPDATE SET terms=EXCLUDED.terms, value=EXCLUDED.value, since=EXCLUDED.since, event=EXCLUDED.event, "
            "accepted=EXCLUDED.accepted"
        ).format(self.positions_table)
        self._upsert_catalog = SQL(
            "INSERT INTO {} VALUES (%s, %s, %s, %s::jsonb, %s) ON CONFLICT (negotiation) DO UPDATE "
            "SET title=EXCLUDED.title, timezone=EXCLUDED.timezone, parties=EXCLUDED.parties, phase=EXCLUDED.phase"
        ).format(self.catalog_table)

    def write(self, changes: RowChanges, tracking: Tracking, slot: Slot, *, after: int) -> None:
        """Rows and tracking record in one transaction, if the tracked position is still ``after``.

        The pointer row is locked first: projectors of this database take
        turns (and wait for a switch), so the tracked position read next stays true.
        """
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(
                SQL("SELECT active, building FROM {} WHERE name = %s FOR UPDATE").format(self.pointer_table),
                (POINTER_KEY,),
            )
            row = curs.fetchone()
            check_slot(None if row is None else (row["active"], row["building"]), self.version, slot)
            curs.execute(
                SQL("SELECT notification_id FROM {} WHERE application_name = %s").format(self.tracking_table),
                (tracking.application_name,),
            )
            tracked = curs.fetchone()
            check_tracked(0 if tracked is None else int(tracked["notification_id"]), after)
            self._insert_tracking(curs, tracking)
            self._write_rows(curs, changes)

    def _write_rows(self, curs: Cursor[DictRow], changes: RowChanges) -> None:
        if changes.removed:
            gone = [(n,) for n in changes.removed]
            for table in (self.status_table, self.positions_table, self.catalog_table):
                curs.executemany(SQL("DELETE FROM {} WHERE negotiation = %s").format(table), gone)
        if changes.positions_cleared:
            curs.executemany(
                SQL("DELETE FROM {} WHERE negotiation = %s").format(self.positions_table),
                [(n,) for n in changes.positions_cleared],
            )
        if changes.positions_deleted:
            curs.executemany(
                SQL("DELETE FROM {} WHERE negotiation = %s AND party = %s AND issue = %s").format(self.positions_table),
                changes.positions_deleted,
            )
        if changes.positions_upserted:
            curs.executemany(self._upsert_position, [r.values() for r in changes.positions_upserted])
        if changes.status:
            curs.executemany(self._upsert_status, [r.values() for r in changes.status])
        if changes.catalog:
            curs.executemany(self._upsert_catalog, [r.values() for r in changes.catalog])


class PostgresViews:
    """The read models in the store's PostgreSQL schema (shares the store's connection pool)."""

    def __init__(self, datastore: PostgresDatastore, *, application_name: str = APPLICATION_NAME) -> None:
        self.datastore = datastore
        self.application_name = application_name
        self.schema = datastore.schema
        self.pointer_table = Identifier(self.schema, POINTER_TABLE)

    def _id(self, name: str) -> Identifier:
        return Identifier(self.schema, name)

    def tables(self, version: int) -> PostgresViewRecorder:
        """A version's tables (not created)."""
        return PostgresViewRecorder(self.datastore, version=version)

    def ensure(self) -> Pointer:
        """Create the pointer, the active version's tables and the SQL views if missing (serialized)."""
        with self.datastore.transaction(commit=True) as curs:
            curs.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"{self.schema}.{POINTER_TABLE}",))
            curs.execute(
                SQL(
                    "CREATE TABLE IF NOT EXISTS {} (name text PRIMARY KEY, active bigint NOT NULL, building bigint)"
                ).format(self.pointer_table)
            )
            curs.execute(
                SQL("INSERT INTO {} VALUES (%s, 1, NULL) ON CONFLICT (name) DO NOTHING").format(self.pointer_table),
                (POINTER_KEY,),
            )
            pointer = self._pointer(curs)
            self.tables(pointer.active).create_table()
            for kind, view in SQL_VIEWS.items():
                curs.execute("SELECT to_regclass(%s) AS found", (f'"{self.schema}"."{view}"',))
                found = curs.fetchone()
                if found is None or found["found"] is None:
                    curs.execute(
                        SQL("CREATE VIEW {} AS SELECT * FROM {}").format(
                            self._id(view), self._id(table_name(kind, pointer.active))
                        )
                    )
        return pointer

    def _pointer(self, curs: Cursor[DictRow]) -> Pointer:
        curs.execute(SQL("SELECT active, building FROM {} WHERE name = %s").format(self.pointer_table), (POINTER_KEY,))
        row = curs.fetchone()
        if row is None:
            raise VersionMovedError("the read models' pointer is gone")
        return Pointer(int(row["active"]), None if row["building"] is None else int(row["building"]))

    def _locked(self, curs: Cursor[DictRow]) -> Pointer:
        curs.execute(SQL("SET LOCAL lock_timeout = {}").format(Literal(_LOCK_TIMEOUT)))
        curs.execute(SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(self.pointer_table))
        return self._pointer(curs)

    def pointer(self) -> Pointer:
        """The pointer's current row."""
        with self.datastore.transaction(commit=False) as curs:
            return self._pointer(curs)

    def versions(self) -> list[int]:
        """The versions that have a tracking table."""
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s "
                "AND table_name LIKE 'negotiation\\_tracking\\_v%%'",
                (self.schema,),
            )
            return parse_versions(str(row["table_name"]) for row in curs.fetchall())

    def begin_rebuild(self) -> int:
        """The version to build: an unfinished one, else a new one; leftover versions are dropped."""
        existing = self.versions()
        with self.datastore.transaction(commit=True) as curs:
            pointer = self._locked(curs)
            version = pointer.building
            if version is None:
                version = max([pointer.active, *existing]) + 1
                curs.execute(
                    SQL("UPDATE {} SET building = %s WHERE name = %s").format(self.pointer_table),
                    (version, POINTER_KEY),
                )
        for old in existing:
            if old not in (pointer.active, version):
                self.drop(old)
        self.tables(version).create_table()
        return version

    def switch(self, old: int, new: int) -> bool:
        """Point the pointer and the SQL views at ``new``, if it has caught up with ``old``."""
        with self.datastore.transaction(commit=True) as curs:
            pointer = self._locked(curs)
            if pointer != Pointer(old, new):
                return False
            if self._tracked(curs, new) < self._tracked(curs, old):
                return False
            curs.execute(
                SQL("UPDATE {} SET active = %s, building = NULL WHERE name = %s").format(self.pointer_table),
                (new, POINTER_KEY),
            )
            for kind, view in SQL_VIEWS.items():
                curs.execute(
                    SQL("CREATE OR REPLACE VIEW {} AS SELECT * FROM {}").format(
                        self._id(view), self._id(table_name(kind, new))
                    )
                )
            return True

    def drop(self, version: int) -> None:
        """Drop a version's tables, unless the pointer names it."""
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(SQL("SET LOCAL lock_timeout = {}").format(Literal(_LOCK_TIMEOUT)))
            curs.execute(
                SQL("SELECT active, building FROM {} WHERE name = %s FOR UPDATE").format(self.pointer_table),
                (POINTER_KEY,),
            )
            row = curs.fetchone()
            if row is None or version in (row["active"], row["building"]):
                return
            for kind in (*KINDS, "tracking"):
                curs.execute(SQL("DROP TABLE IF EXISTS {}").format(self._id(table_name(kind, version))))

    def _tracked(self, curs: Cursor[DictRow], version: int) -> int:
        curs.execute(
            SQL("SELECT notification_id FROM {} WHERE application_name = %s").format(
                self._id(table_name("tracking", version))
            ),
            (self.application_name,),
        )
        row = curs.fetchone()
        return 0 if row is None or row["notification_id"] is None else int(row["notification_id"])

    def position(self) -> int:
        """The active version's tracked position (the pointer read holds off a switch until done)."""
        with self.datastore.transaction(commit=False) as curs:
            return self._tracked(curs, self._pointer(curs).active)

    def read_status(self, negotiation: str) -> dict[str, Any] | None:
        """The status row through the SQL view."""
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(
                SQL("SELECT * FROM {} WHERE negotiation = %s").format(self._id(SQL_VIEWS["status"])), (negotiation,)
            )
            row = curs.fetchone()
        return None if row is None else decoded(decoded(dict(row), "stoppage"), "ratified_by")

    def read_positions(self, negotiation: str) -> list[dict[str, Any]] | None:
        """The positions rows by party, issue (one statement); ``None`` without a status row."""
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(
                SQL(
                    "SELECT s.negotiation AS known, p.* FROM {} s LEFT JOIN {} p ON p.negotiation = s.negotiation "
                    "WHERE s.negotiation = %s ORDER BY p.party, p.issue"
                ).format(self._id(SQL_VIEWS["status"]), self._id(SQL_VIEWS["positions"])),
                (negotiation,),
            )
            rows = curs.fetchall()
        if not rows:
            return None
        return [decoded(without(dict(row), "known"), "value") for row in rows if row["party"] is not None]

    def read_catalog(self) -> list[dict[str, Any]]:
        """Every catalog row, by negotiation id."""
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(SQL("SELECT * FROM {} ORDER BY negotiation").format(self._id(SQL_VIEWS["catalog"])))
            rows = curs.fetchall()
        return [decoded(dict(row), "parties") for row in rows]

    def close(self) -> None:
        """Nothing to release: the connections are the store's."""
