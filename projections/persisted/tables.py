"""The layout of the persisted read models: rows, versions, pointer and the interfaces the runner uses.

Each *version* of the read models is a set of four tables, written only
together and in one transaction with eventsourcing's tracking record of the
last event they took in (so every event counts exactly once, and a restart
resumes after the tracked position):

- ``negotiation_status_v{n}``: one row per negotiation, its current status;
- ``negotiation_positions_v{n}``: one row per (negotiation, party, issue) standing proposal;
- ``negotiation_catalog_v{n}``: one row per negotiation: title, time zone, parties, phase;
- ``negotiation_status_periods_v{n}``, ``negotiation_position_periods_v{n}``,
  ``negotiation_stoppage_periods_v{n}``: the bitemporal read models
  (``projections.periods``): each row holds over a valid-time and a
  knowledge-time interval (integer microseconds since the epoch; an open end is
  ``projections.periods.INFINITY``);
- ``negotiation_events_v{n}``: every stored event by (negotiation, valid time), with
  when it was recorded and, if so, retracted;
- ``negotiation_tracking_v{n}``: eventsourcing's single-row tracking table.

The pointer table ``negotiation_read_models`` names the ``active`` version
and the one being ``building`` (a rebuild). The SQL views
``negotiation_status``, ``negotiation_positions`` and ``negotiation_catalog``
always select from the active version: they are what readers (this package,
or any SQL client) query, and a rebuild switches them, together with the
pointer, in one transaction.

A version's tables are a ``TrackingRecorder`` of eventsourcing (a subclass of
``SQLiteTrackingRecorder`` in ``projections.persisted.sqlite``, of
``PostgresTrackingRecorder`` in ``projections.persisted.postgres``, of
``POPOTrackingRecorder`` in ``projections.persisted.memory``); a
``ViewDatabase`` manages the pointer, the SQL views and the versions, written
once for both SQL dialects in ``projections.persisted.sql``. Nothing here does I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any, Final, Literal, Protocol

import attrs
import orjson
from eventsourcing.persistence import IntegrityError, Tracking

from projections.periods import INFINITY, Change

__all__ = [
    "DERIVATION",
    "DERIVED_TABLE",
    "KINDS",
    "POINTER_KEY",
    "POINTER_TABLE",
    "SQL_VIEWS",
    "CatalogRow",
    "EventRow",
    "PeriodInsert",
    "PeriodOp",
    "Pointer",
    "PositionRow",
    "RowChanges",
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
DERIVED_TABLE: Final = "negotiation_read_models_derivation"
"""Which derivation wrote the active version's rows: one row, keyed ``POINTER_KEY`` (``DERIVATION``)."""
DERIVATION: Final = 2
"""The derivation of the rows, raised when a fix changes the rows written for the same events, so that tables
written before are rebuilt on open, like those of an older layout. 1: before the table existed; 2: a fact that
holds again from the knowledge time its row ended extends that row (2026-12-01)."""
KINDS: Final = ("status", "positions", "catalog", "status_periods", "position_periods", "stoppage_periods", "events")
"""Every row table of a version: the current answers, then the bitemporal periods and the events."""
SQL_VIEWS: Final = {kind: f"negotiation_{kind}" for kind in KINDS}
"""Read-model kind -> the stable SQL view name that selects from the active version."""
_VERSION_RE: Final = re.compile(r"negotiation_tracking_v(\d+)")

Slot = Literal["active", "building"]
"""Which role a version plays: the one readers see, or the one a rebuild fills."""


def table_name(kind: str, version: int) -> str:
    """The table of read-model ``kind`` (``status``, ``positions``, ``catalog``, ``tracking``) in ``version``."""
    return f"negotiation_{kind}_v{version}"


def dumps(value: object) -> str:
    """Compact JSON text for a column."""
    return orjson.dumps(value).decode()


def loads(value: object) -> Any:
    """A JSON column's value (SQLite gives text; PostgreSQL's ``json`` is already decoded)."""
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


PeriodOp = tuple[str, str, tuple[Any, ...]]
"""A statement on stored period rows: (``"delete"`` or ``"update"``, period table kind, its parameters)."""
PeriodInsert = tuple[str, tuple[Any, ...]]
"""A new period row: (period table kind, its column values in insert order)."""


@attrs.frozen
class EventRow:
    """A stored event in the events table: its place in valid and knowledge time, and its line."""

    negotiation: str
    seq: int
    valid_at: int
    """``occurred_at`` (µs since the epoch)."""
    known_at: int
    """``recorded_at`` (µs)."""
    id: str
    type: str
    line: str | None
    """The line as this library writes it, or ``None``: the one stored at ``position`` serves."""
    position: int
    """Its commit position in the store."""

    def values(self) -> tuple[str | int | None, ...]:
        """The column values, in table order (``retracted_at`` open)."""
        return EventRow.placed(
            self.negotiation, self.position, self.seq, self.valid_at, self.known_at, self.id, self.type, self.line
        )

    @staticmethod
    def placed(  # noqa: PLR0917 - called per event with a derived row spread in: keywords would cost what it saves
        negotiation: str, position: int, seq: int, valid_at: int, known_at: int, id_: str, type_: str, line: str | None
    ) -> tuple[str | int | None, ...]:
        """The column values, in table order, of the row those fields make, without making the row.

        The one place that spells the order (``values`` comes here too). For the
        rows an import derived: a million of them are written at once, and the
        object in between cost more than the tuple.
        """
        return (negotiation, seq, valid_at, known_at, INFINITY, id_, type_, line, position)


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
    """Negotiations that no longer count (their opening was retracted): every current row goes.

    Their period and events rows stay: the history as known before stays answerable."""
    dropped: Sequence[str] = ()
    """Negotiations the projector skipped (an event it could not project): every row of theirs goes,
    in every table (current rows, periods, events), so that no answer at any time is read from them."""
    periods: Sequence[tuple[str, Change]] = ()
    """(negotiation, write) to the period tables, in the order they were made."""
    period_ops: Sequence[PeriodOp] = ()
    """Writes already planned (``sql.plan_periods``): statements on stored period rows, in order ..."""
    period_inserts: Sequence[PeriodInsert] = ()
    """... then the period rows to insert (an import's worker plans the rows it derives)."""
    events: Sequence[EventRow] = ()
    """New rows of the events table."""
    event_values: Sequence[tuple[str | int | None, ...]] = ()
    """More new rows of the events table, as their column values (``EventRow.placed``)."""
    retracted: Sequence[tuple[int, str, int]] = ()
    """(knowledge time of the retraction, negotiation, seq of the retracted event)."""


@attrs.frozen
class Pointer:
    """The pointer table's row."""

    active: int
    building: int | None = None


# --- the interfaces the runner uses ------------------------------------------


class ViewTables(Protocol):
    """One version's tables, with its tracking record (an eventsourcing ``TrackingRecorder``)."""

    keeps_lines: bool
    """Whether its events rows must hold every event's line (``EventRow.line``); else only the lines
    the store's own cannot serve (an older schema's, upcast), the rest read from the store's table."""

    version: int

    def create_table(self) -> None:
        """Create the version's tables if they do not exist."""

    def max_tracking_id(self, application_name: str) -> int | None:
        """The tracked position (eventsourcing's ``TrackingRecorder`` API)."""

    def missing_events(self, wanted: Sequence[tuple[str, int]]) -> set[str]:
        """The negotiations among ``wanted`` ``(negotiation, seq)`` whose event the events table lacks.

        Every event before the tracked position is in the events table unless its
        negotiation was dropped (``RowChanges.dropped``).
        """

    def write(self, changes: RowChanges, tracking: Tracking, slot: Slot, *, after: int, bulk: bool = False) -> None:
        """Write the rows and the tracking record in one transaction.

        ``after`` is the tracked position the batch follows. Raises
        eventsourcing's ``IntegrityError`` when the stored tracking record is
        not at ``after`` any more (another projector took events in meanwhile:
        nothing is written, so every event counts exactly once), and
        ``VersionMovedError`` when the pointer no longer gives this version ``slot``.
        ``bulk``: one of many large batches in a row (an import's derived rows).
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

    def end_bulk(self) -> None:
        """Undo what bulk writes (``ViewTables.write(bulk=True)``) set on the connection."""

    def analyze(self) -> None:
        """Bring the database's statistics of the active version's tables up to date (after many rows)."""

    def read_status(self, negotiation: str) -> dict[str, Any] | None:
        """The status row through the SQL view, JSON decoded; ``None`` if absent."""

    def read_positions(self, negotiation: str) -> list[dict[str, Any]] | None:
        """The positions rows (by party, issue); ``None`` if the negotiation has no status row."""

    def read_catalog(self) -> list[dict[str, Any]]:
        """Every catalog row, by negotiation id."""

    def close(self) -> None:
        """Release what the database object holds (not the store's connections)."""


# --- helpers -------------------------------------------------------------------


def check_slot(row: Sequence[Any] | None, version: int, slot: Slot) -> None:
    """Raise ``VersionMovedError`` unless the pointer row ``(active, building)`` gives ``version`` that ``slot``."""
    if row is None:
        raise VersionMovedError("the read models' pointer is gone")
    holder = row[0] if slot == "active" else row[1]
    if holder != version:
        raise VersionMovedError(f"version {version} is no longer the {slot} one (now {holder})")


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
