"""The event store: an eventsourcing application with a mapper of our own.

Each negotiation is one stream (``originator_id`` = negotiation id, versions
1, 2, ... in append order). The stored ``state`` is the event's normalized JSON
line and the ``topic`` is its catalog type (``proposal.made``), so stored data
never names a Python module and moving code cannot break it. eventsourcing's
default mapper reads ``vars(event)``, which slotted attrs events do not have;
``EventMapper`` goes through the project's one cattrs converter instead.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Final
from uuid import UUID

import attrs
from eventsourcing.application import Application
from eventsourcing.persistence import (
    ApplicationRecorder,
    JSONTranscoder,
    Mapper,
    MapperDeserialisationError,
    Notification,
    StoredEvent,
)
from eventsourcing.sqlite import SQLiteApplicationRecorder
from eventsourcing.utils import Environment, EnvType

from events.converter import parse_trusted, render_line
from events.errors import InvalidEventError
from events.model import EVENT_TYPES, Event
from negotiation.store.config import LIBPQ_ENV, StoreConfig
from negotiation.store.errors import OPENING_FAILURES, is_busy, store_error  # is_busy: re-exported from its old home

__all__ = [
    "APPLICATION_NAME",
    "OPEN_ATTEMPTS",
    "EventMapper",
    "EventStore",
    "StreamEvent",
    "is_busy",
    "open_event_store",
]

APPLICATION_NAME: Final = "negotiations"
"""Pinned: PostgreSQL table names and tracking records are derived from it."""


@attrs.frozen
class StreamEvent:
    """An event at its place in a negotiation's stream (eventsourcing's domain event)."""

    originator_id: str
    originator_version: int
    event: Event


class EventMapper(Mapper[str]):
    """Maps events to stored records through the JSON Lines converter."""

    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        """The stored record: topic = catalog type, state = the normalized line."""
        assert isinstance(domain_event, StreamEvent)  # noqa: S101 - only our events are stored
        return StoredEvent(
            originator_id=domain_event.originator_id,
            originator_version=domain_event.originator_version,
            topic=domain_event.event.TYPE,
            state=render_line(domain_event.event),
        )

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        """Read a stored record back (old schemas are upcast by the converter)."""
        if stored_event.topic not in EVENT_TYPES:
            msg = f"stored event {stored_event.originator_id}/{stored_event.originator_version}: unknown topic"
            raise MapperDeserialisationError(msg)
        try:
            # Stored lines passed every check when they were appended.
            event = parse_trusted(stored_event.state)
        except InvalidEventError as e:
            msg = f"stored event {stored_event.originator_id}/{stored_event.originator_version}: {e}"
            raise MapperDeserialisationError(msg) from e
        return StreamEvent(str(stored_event.originator_id), stored_event.originator_version, event)


class EventStore(Application[str]):
    """The eventsourcing application that stores negotiation streams."""

    name = APPLICATION_NAME

    def __init__(self, env: Mapping[str, str]) -> None:
        super().__init__(env=dict(env))

    def construct_env(self, name: str, env: EnvType | None = None) -> Environment:
        """Only the explicit settings: the process environment must not redirect the store."""
        return Environment(name, dict(env or {}))

    def construct_recorder(self) -> ApplicationRecorder:
        """The recorder; on PostgreSQL its tables are created under a lock.

        eventsourcing runs its DDL (``CREATE TABLE IF NOT EXISTS``, ``CREATE
        TYPE``, ``CREATE OR REPLACE FUNCTION``) whenever a store is opened;
        processes opening one at once then fail ("tuple concurrently updated",
        duplicate ``pg_type`` rows). A session advisory lock per schema makes
        them take turns.

        Before that, the pool gets the URL's libpq parameters (``sslmode``, ...)
        and one login is tried, so that a refusal a retry cannot cure is
        reported at once (``negotiation.store.postgres.check_login``).
        """
        if self.env.get("PERSISTENCE_MODULE") != "eventsourcing.postgres":
            return super().construct_recorder()
        # Here, not at the top: psycopg is the optional PostgreSQL extra.
        from negotiation.store.postgres import check_login, configure_pool

        datastore = self.factory.datastore  # type: ignore[attr-defined]  # PostgresFactory
        configure_pool(datastore, json.loads(self.env.get(LIBPQ_ENV) or "{}"))
        check_login(datastore)
        key = f"{APPLICATION_NAME}:{datastore.schema}"
        with datastore.get_connection() as conn:
            conn.execute("SELECT pg_advisory_lock(hashtext(%s))", (key,))
            try:
                return super().construct_recorder()
            finally:
                conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (key,))

    def construct_mapper(self) -> Mapper[str]:
        """The cattrs-based mapper."""
        return EventMapper(transcoder=JSONTranscoder())

    def put(self, events: Sequence[StreamEvent]) -> list[int]:
        """Insert the records in one transaction; returns their notification ids."""
        recordings = self.events.put(list(events))
        return [r.notification.id for r in recordings]

    def put_stored(self, records: Sequence[StoredEvent]) -> list[int]:
        """Insert already-mapped records in one transaction; returns their notification ids."""
        recorder = self.recorder
        if isinstance(recorder, SQLiteApplicationRecorder) and len(records) > 1:
            ids = self._put_sqlite(recorder, records)
            if ids is not None:
                return ids
        return list(recorder.insert_events(list(records)) or [])

    @staticmethod
    def _put_sqlite(recorder: SQLiteApplicationRecorder, records: Sequence[StoredEvent]) -> list[int] | None:
        """Insert SQLite records as eventsourcing does, in one ``executemany``; ``None`` (nothing stored): not so.

        Eventsourcing inserts one record per ``execute`` to read each rowid (the
        position): a third of the time an import spends storing. In one write
        transaction SQLite gives a rowid table's new rows the rowids after the
        largest one, one by one (not when the largest is the last possible
        rowid: then it picks free ones at random, seen here as the last row's
        rowid not being the expected one: that transaction is rolled back and
        eventsourcing's own insert stores the records).
        """
        table = recorder.events_table_name
        params = [
            (
                r.originator_id.hex if isinstance(r.originator_id, UUID) else r.originator_id,
                r.originator_version,
                r.topic,
                r.state,
            )
            for r in records
        ]
        try:
            with recorder.datastore.transaction(commit=True) as c:
                c.execute(f"SELECT MAX(rowid) FROM {table}")  # noqa: S608 - eventsourcing's table name
                before = c.fetchone()[0] or 0
                c.executemany(recorder.insert_events_statement, params)
                c.execute("SELECT last_insert_rowid()")
                _check_numbered(c.fetchone()[0], before + len(params))
        except _NotInOrderError:
            return None
        return list(range(before + 1, before + len(params) + 1))

    def stream(self, negotiation: str, *, after: int = 0) -> list[Event]:
        """The stored events of one negotiation after version ``after``, in append order."""
        records = self.recorder.select_events(negotiation, gt=after or None)
        to_event = self._to_stream_event
        return [to_event(r).event for r in records]

    def event_of(self, stored: StoredEvent) -> Event:
        """The event of a stored record (a notification), upcast to the current schema."""
        return self._to_stream_event(stored).event

    def _to_stream_event(self, stored: StoredEvent) -> StreamEvent:
        stream_event = self.mapper.to_domain_event(stored)
        assert isinstance(stream_event, StreamEvent)  # noqa: S101 - EventMapper makes only these
        return stream_event

    def notifications(self, *, after: int = 0, limit: int = 1000, topics: Sequence[str] = ()) -> Sequence[Notification]:
        """Stored records in commit order, after position ``after``."""
        return self.recorder.select_notifications(start=after, limit=limit, topics=topics, inclusive_of_start=False)

    def stored_rows(self, *, after: int = 0, limit: int = 1000) -> Sequence[Sequence[Any]]:
        """(position, negotiation, version, stored line) of each record after position ``after``, in commit order.

        What ``notifications`` reads, as plain rows: a bulk catch-up of a SQLite
        store reads a million of them, and eventsourcing's ``Notification``
        objects took more than half the time of reading them (4.2 against
        1.3 µs a record). Other stores read them as notifications.
        """
        recorder = self.recorder
        if isinstance(recorder, SQLiteApplicationRecorder):
            with recorder.datastore.transaction(commit=False) as c:
                # The same rows, in the same order, as eventsourcing's select_notifications (rowid is the position).
                c.execute(
                    "SELECT rowid, originator_id, originator_version, state "  # noqa: S608 - eventsourcing's table name
                    f"FROM {recorder.events_table_name} WHERE rowid > ? ORDER BY rowid LIMIT ?",
                    (after, limit),
                )
                rows: Sequence[Sequence[Any]] = c.fetchall()
                return rows
        return [
            (n.id, str(n.originator_id), n.originator_version, n.state)
            for n in self.notifications(after=after, limit=limit)
        ]

    def follow(self, *, after: int = 0, batch: int = 1000) -> Iterator[tuple[int, StreamEvent]]:
        """Every stored event after position ``after``, in commit order (then stops)."""
        while True:
            page = self.notifications(after=after, limit=batch)
            for notification in page:
                yield notification.id, self._to_stream_event(notification)
            if len(page) < batch:
                return
            after = page[-1].id

    def max_position(self) -> int:
        """The position of the last stored event (0 when empty)."""
        return self.recorder.max_notification_id() or 0


class _NotInOrderError(Exception):
    """SQLite did not number the inserted rows one after the other (``EventStore._put_sqlite``)."""


def _check_numbered(last: int, expected: int) -> None:
    if last != expected:
        raise _NotInOrderError


OPEN_ATTEMPTS: Final = 12
"""How often opening a store is tried while SQLite answers "database is locked" (about 5 s in all)."""


def open_event_store(config: StoreConfig, *, attempts: int = OPEN_ATTEMPTS) -> EventStore:
    """The event store of ``config``; a failure is a one-line ``StoreError``.

    Processes opening a fresh SQLite file together race to create its tables and
    switch it to WAL; SQLite refuses the loser at once with "database is locked",
    without waiting on its busy handler. Opening again is safe (the DDL says ``IF
    NOT EXISTS``), so a busy database is tried again, with growing, jittered pauses.
    """
    attempt = 1
    while True:
        try:
            return EventStore(config.env)
        except OPENING_FAILURES as e:
            if attempt >= attempts or not is_busy(e):
                raise store_error(config, f"cannot open store {config.display}", e) from None
        time.sleep(min(0.8, 0.02 * 2**attempt) * random.uniform(0.5, 1.5))  # noqa: S311 - jitter, not a secret
        attempt += 1
