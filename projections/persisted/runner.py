"""Runners of the persisted read models: the projector, the follower thread and event subscriptions.

``Projector`` takes the store's events, in commit order, into one version's
tables: a page of notifications at a time, rows and one eventsourcing
tracking record per page in one transaction. Rows always equal the pure
answers of ``projections.status`` and ``projections.positions`` for the
negotiation's whole stored history (full knowledge, latest valid time): each
negotiation's ``History`` is kept in memory (loaded from the store on a cache
miss) and, after a late event or a retraction, its answer is folded again
from the nearest checkpoint; an event appended at the end of the timeline is
just one step of each fold. Rows are computed once per negotiation per page,
and only changed rows are written.

``Follower`` runs a projector in a thread: it polls on SQLite (whose
eventsourcing recorder has no subscriptions in 9.5) and follows eventsourcing's
LISTEN/NOTIFY subscription on PostgreSQL (and the memory store's own).

``EventSubscription`` is a blocking iterator over stored events in commit
order, for services that react to events themselves.
"""

from __future__ import annotations

import collections
import datetime as dt
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, Protocol

import attrs
from eventsourcing.persistence import (
    ApplicationRecorder,
    IntegrityError,
    InterfaceError,
    Mapper,
    Notification,
    OperationalError,
    StoredEvent,
    Subscription,
    Tracking,
)

from events.converter import parse_trusted, render_line
from events.errors import InvalidEventError
from events.model import Event, EventRetracted
from negotiation.core.history import History, valid_us
from negotiation.core.state import NegotiationState, Phase, phase, zone
from negotiation.store.eventstore import APPLICATION_NAME, EventStore, StreamEvent
from negotiation.store.logs import LibraryLogger, get_logger
from projections.answers import position_json, stoppage_json
from projections.periods import Change, Tip, take, target_of
from projections.persisted.sql import plan_periods
from projections.persisted.tables import (
    CatalogRow,
    EventRow,
    PositionRow,
    RowChanges,
    Slot,
    StatusRow,
    VersionMovedError,
    ViewTables,
    dumps,
)
from projections.positions import PositionsLog, standing
from projections.status import parties_of, stoppage_of

if TYPE_CHECKING:
    from types import TracebackType
    from typing import Self

__all__ = ["CommitSignal", "Derived", "EventSubscription", "Follower", "OnChange", "Projector", "derive_new"]

logger = get_logger("projections.persisted")

OnChange = Callable[[str, Phase | None, Phase | None], None]
"""Called with (negotiation, old phase, new phase) after the change is committed; ``None``: not open."""

_RETRYABLE: Final = (IntegrityError, OperationalError, InterfaceError, VersionMovedError)
"""Failures of a page that a retry can cure (or that the caller handles): never a reason to skip an event."""

DEFAULT_PAGE_SIZE: Final = 2000
DEFAULT_MAX_CACHED: Final = 1_000
"""Histories kept in memory. On a 1M-event store of 10,000 interleaved
negotiations, 1,000 catches up 5% slower than 10,000 in a seventh of the
memory (172 MB against 1.3 GB peak RSS; docs/performance.md)."""

_ANY_TIME: Final = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
_CHECKPOINT_INTERVAL: Final = 16
"""Events between two checkpoints of the histories the rows are derived from: a late event or a retraction
refolds its history from the checkpoint before it, so closer ones than the facade's (``CHECKPOINT_INTERVAL``)
make that refold short (3.5% fewer instructions deriving the benchmark feed, 2% of its events late; callgrind),
for a few more states held (about 6,000 a fold for a history of 100,000 events)."""
_AFTER_A_SKIP: Final = "an earlier event of this negotiation was skipped: absent until the read models are rebuilt"


@attrs.define
class _Entry:
    """What the projector keeps of one negotiation."""

    history: History
    state: NegotiationState
    log: PositionsLog
    phase: Phase | None
    tip: Tip
    position: int = 0
    """Commit position of the last event taken in."""
    status: StatusRow | None = None
    """The rows as last written; ``None``/unknown after a (re)load: written in full."""
    positions: dict[tuple[str, str], PositionRow] | None = None
    positions_log: PositionsLog | None = None
    """The positions log the written positions rows were computed from."""
    catalog: CatalogRow | None = None


@attrs.define
class _Periods:
    """What a page writes to the period and events tables."""

    writes: list[tuple[str, Change]] = attrs.field(factory=list)
    events: list[EventRow] = attrs.field(factory=list)
    retracted: list[tuple[int, str, int]] = attrs.field(factory=list)


@attrs.frozen
class _Written:
    entry: _Entry
    status: StatusRow | None
    positions: dict[tuple[str, str], PositionRow] | None
    positions_log: PositionsLog | None
    catalog: CatalogRow | None


class Projector:
    """Takes the store's events into one version's tables, exactly once (see the module docstring)."""

    def __init__(
        self,
        store: EventStore,
        tables: ViewTables,
        *,
        slot: Slot,
        page_size: int = DEFAULT_PAGE_SIZE,
        max_cached: int = DEFAULT_MAX_CACHED,
        on_change: OnChange | None = None,
        log: LibraryLogger | None = None,
    ) -> None:
        if page_size < 1 or max_cached < 1:
            raise ValueError("page_size and max_cached must be at least 1")
        self.store = store
        self.tables = tables
        self.slot: Slot = slot
        self.page_size = page_size
        self.max_cached = max_cached
        self.on_change = on_change
        self.position = 0
        """The tracked position as this projector last saw it."""
        self._cache: dict[str, _Entry] = {}
        self._log = (log if log is not None else logger).bind(version=tables.version)
        self.skipped: list[tuple[int, str, str]] = []
        """(position, negotiation, reason) of each event this projector skipped: it could not be projected."""

    @property
    def version(self) -> int:
        """The version of the tables this projector writes."""
        return self.tables.version

    def tracked(self) -> int:
        """The tracked position, read from the database."""
        self.position = self.tables.max_tracking_id(APPLICATION_NAME) or 0
        return self.position

    def forget(self) -> None:
        """Drop every cached negotiation (they are loaded again from the store when needed)."""
        self._cache.clear()

    def catch_up(self, *, limit: int | None = None, stop: threading.Event | None = None) -> int:
        """Take in the events after the tracked position, a page per transaction; returns how many."""
        done = 0
        position = self.tracked()
        while stop is None or not stop.is_set():
            want = self.page_size if limit is None else min(self.page_size, limit - done)
            if want <= 0:
                break
            page = self.store.recorder.select_notifications(start=position, limit=want, inclusive_of_start=False)
            if not page:
                break
            try:
                try:
                    self.apply(page, after=position)
                except _RETRYABLE:
                    raise
                except Exception as e:  # noqa: BLE001 - whatever an event cannot be projected for, see _isolate
                    self._isolate(page, after=position, error=e)
            except IntegrityError:
                # Another projector took (part of) this page in first: go on after its position.
                behind = position
                position = self.tracked()
                if position <= behind:
                    raise
                self._log.info("read_models.page_taken_elsewhere", after=behind, position=position)
                continue
            done += len(page)
            position = page[-1].id
            if len(page) < want:
                break
        return done

    def _isolate(self, page: Sequence[Notification], *, after: int, error: Exception) -> None:
        """Take a page that failed in event by event, skipping each event that cannot be projected.

        One event that cannot be projected (rows the database refuses, such as
        PostgreSQL text with NUL in a store written before the format refused
        it; a fold that fails) must not stop every reader for good. Such an
        event is skipped: in one transaction every row of its negotiation goes,
        in every table (current rows, periods, events: absent, not wrong, at any
        valid and knowledge time: readers get nothing for it, never a stale
        answer) and the tracked position moves past it; the skip is logged as
        an error (``read_models.event_skipped``: negotiation, position, reason)
        and kept in ``skipped``. Every later event of that negotiation is
        skipped the same way (``_dropped``): its rows would hold only what came
        after. Failures a retry can cure (a lost connection, a busy database,
        another projector first) are raised as before, never skipped.
        """
        for notification in page if len(page) > 1 else ():
            try:
                self.apply([notification], after=after)
            except _RETRYABLE:
                raise
            except Exception as e:  # noqa: BLE001 - see the docstring
                self._skip(notification, after=after, error=e)
            after = notification.id
        if len(page) == 1:
            self._skip(page[0], after=after, error=error)

    def _skip(self, notification: Notification, *, after: int, error: Exception) -> None:
        negotiation = str(notification.originator_id)
        self._cache.pop(negotiation, None)
        self.tables.write(
            RowChanges(dropped=[negotiation]), Tracking(APPLICATION_NAME, notification.id), self.slot, after=after
        )
        self.position = notification.id
        self._skipped(notification, " ".join(str(error).split())[:300] or type(error).__name__)

    def _skipped(self, notification: Notification, reason: str) -> None:
        """Keep and log the skip of an event (its negotiation's rows are gone, see ``_isolate``)."""
        negotiation = str(notification.originator_id)
        self.skipped.append((notification.id, negotiation, reason))
        self._log.error(
            "read_models.event_skipped",
            negotiation=negotiation,
            position=notification.id,
            version=notification.originator_version,
            reason=reason,
        )

    def apply(self, page: Sequence[Notification], *, after: int) -> None:
        """Take one page in: rows and the tracking record of its last notification, in one transaction.

        ``after`` is the tracked position the page follows; if another projector
        moved it meanwhile, eventsourcing's ``IntegrityError`` is raised and nothing is written.
        """
        groups: dict[str, list[tuple[int, int, Event]]] = {}
        lines: dict[int, str | None] = {}
        for notification in page:
            negotiation, version, event, line = self._decode_line(notification)
            groups.setdefault(negotiation, []).append((notification.id, version, event))
            lines[notification.id] = line
        touched: dict[str, _Entry] = {}
        changes: list[tuple[int, str, Phase | None, Phase | None]] = []
        periods = _Periods()
        try:
            firsts = {negotiation: _first_version(negotiation, items) for negotiation, items in groups.items()}
            dropped = self._dropped(firsts)
            for negotiation, items in groups.items():
                if negotiation in dropped:
                    continue
                first = firsts[negotiation]
                entry = self._cache.get(negotiation)
                if entry is None or entry.history.version != first - 1:
                    entry = self._cache[negotiation] = self._load(negotiation, first)
                touched[negotiation] = entry
                _take(negotiation, entry, items, changes, periods=periods, lines=lines)
            rows, written = _changes(touched, periods)
            if dropped:
                rows = attrs.evolve(rows, dropped=sorted(dropped))
            self.tables.write(rows, Tracking(APPLICATION_NAME, page[-1].id), self.slot, after=after)
        except BaseException:
            for negotiation in touched:
                self._cache.pop(negotiation, None)
            raise
        for notification in page if dropped else ():
            if str(notification.originator_id) in dropped:
                self._skipped(notification, _AFTER_A_SKIP)
        for w in written:
            w.entry.status, w.entry.positions, w.entry.catalog = w.status, w.positions, w.catalog
            w.entry.positions_log = w.positions_log
        self.position = page[-1].id
        self._tidy(touched)
        self._log.debug("read_models.page", events=len(page), negotiations=len(touched), position=self.position)
        self._changed(changes)

    def _changed(self, changes: list[tuple[int, str, Phase | None, Phase | None]]) -> None:
        """Log the committed phase changes and tell ``on_change`` (of the active version only)."""
        if self.slot != "active":
            return
        changes.sort(key=lambda change: change[0])  # commit order across negotiations
        for _, negotiation, old, new in changes:
            self._log.info("read_models.phase_changed", negotiation=negotiation, old=old, new=new)
            if self.on_change is not None:
                try:
                    self.on_change(negotiation, old, new)
                except Exception:  # noqa: BLE001 - a service's callback must not stop the projection
                    self._log.exception("read_models.on_change_failed", negotiation=negotiation, old=old, new=new)

    def _dropped(self, firsts: dict[str, int]) -> set[str]:
        """The negotiations of a page whose rows were dropped when an earlier event of theirs was skipped.

        Taking a later event in would write rows from that event on only (answers
        from part of the history): such a negotiation stays absent, every later
        event of it skipped, until a rebuild projects it again. Only negotiations
        that are not in the cache at the version before the page are asked about
        (one statement): the cache never holds a dropped one.
        """
        wanted = [
            (negotiation, first - 1)
            for negotiation, first in firsts.items()
            if first > 1 and (negotiation not in self._cache or self._cache[negotiation].history.version != first - 1)
        ]
        return self.tables.missing_events(wanted) if wanted else set()

    def _decode_line(self, stored: Notification | StoredEvent) -> tuple[str, int, Event, str | None]:
        """(negotiation, version, event, the line its events row holds) of a stored record.

        A line of an older schema is upcast by the store's mapper and written again, so
        that the events rows give lines ``parse_trusted`` reads back. Any other line is
        read from the store's table beside them (``None``), unless the tables keep every line.
        """
        try:
            event = parse_trusted(stored.state)
        except InvalidEventError:
            stream_event = _stream_event(self.store.mapper, stored)
            event = stream_event.event
            return stream_event.originator_id, stream_event.originator_version, event, render_line(event).decode()
        line = stored.state.decode() if self.tables.keeps_lines else None
        return str(stored.originator_id), stored.originator_version, event, line

    def _decode(self, stored: Notification | StoredEvent) -> tuple[str, int, Event]:
        """(negotiation, version, event) of a stored record.

        The store validated every event before writing its normalized line, so
        the line is read back without checking it again (``parse_trusted``);
        anything unexpected (another schema version) goes through the store's
        mapper, which validates, upcasts and names errors.
        """
        try:
            event = parse_trusted(stored.state)
        except InvalidEventError:
            stream_event = _stream_event(self.store.mapper, stored)
            return stream_event.originator_id, stream_event.originator_version, stream_event.event
        return str(stored.originator_id), stored.originator_version, event

    def _load(self, negotiation: str, version: int) -> _Entry:
        """A negotiation's entry with versions 1..version-1 read from the store."""
        stored = self.store.recorder.select_events(negotiation, lte=version - 1) if version > 1 else []
        events = [self._decode(r)[2] for r in stored]
        return _entry_of(History(negotiation, events, checkpoint_interval=_CHECKPOINT_INTERVAL))

    def write_derived(self, derived: Sequence[Derived], positions: Sequence[int]) -> None:
        """Write the rows of negotiations new to the store, derived before they were stored (``derive_new``).

        ``positions`` are the commit positions of their events, in order (each
        negotiation's, one after the other). Written, with the tracking record
        of the last, in one transaction only if they are exactly the positions
        after the tracked one: then the rows are what taking those
        notifications in would write. Otherwise ``ValueError`` and nothing is
        written (another writer's events came between: the catch-up takes them
        in); eventsourcing's ``IntegrityError`` if another projector moved the
        tracked position meanwhile.
        """
        after = self.position
        if not positions or any(p != after + i for i, p in enumerate(positions, start=1)):
            raise ValueError("the positions do not follow the tracked position")
        if sum(d.events for d in derived) != len(positions):
            raise ValueError("the positions are not one per derived event")
        pieces: list[tuple[str, RowChanges]] = []
        changes: list[tuple[int, str, Phase | None, Phase | None]] = []
        start = 0
        for d in derived:
            mine = positions[start : start + d.events]
            start += d.events
            pieces.append((d.negotiation, _placed(d, mine)))
            changes.extend((mine[local - 1], n, old, new) for local, n, old, new in d.changes)
        last = positions[-1]
        for d in derived:
            self._cache.pop(d.negotiation, None)
        # Every table's key starts with the negotiation: its rows inserted in key order visit each B-tree once,
        # from one end to the other, instead of jumping about it (the stored order is the input's).
        pieces.sort(key=lambda piece: piece[0])
        merged = _merged([piece for _, piece in pieces])
        self.tables.write(merged, Tracking(APPLICATION_NAME, last), self.slot, after=after, bulk=True)
        self.position = last
        self._log.debug("read_models.derived", events=len(positions), negotiations=len(derived), position=last)
        self._changed(changes)

    def _tidy(self, touched: dict[str, _Entry]) -> None:
        """Keep the cache in least-recently-used order and within ``max_cached``."""
        cache = self._cache
        for negotiation, entry in touched.items():
            cache.pop(negotiation, None)
            cache[negotiation] = entry
        excess = len(cache) - self.max_cached
        if excess > 0:
            for negotiation in list(cache)[:excess]:
                del cache[negotiation]


def _entry_of(history: History) -> _Entry:
    """The projector's entry of a loaded history."""
    tip = Tip.of(history)
    return _Entry(
        history=history,
        state=tip.state,
        log=tip.log,
        phase=phase(tip.state) if tip.state.opened else None,
        tip=tip,
    )


def _take(
    negotiation: str,
    entry: _Entry,
    items: Sequence[tuple[int, int, Event]],
    changes: list[tuple[int, str, Phase | None, Phase | None]],
    *,
    periods: _Periods,
    lines: Mapping[int, str | None],
    keep_history: bool = True,
) -> None:
    """Take a negotiation's consecutive events of a page in, one at a time; note each phase change.

    ``projections.periods.take`` steps the folds (an event at the end of
    both timelines) or derives the rows of the region a late event or a
    retraction changes; the phase after each event is the tip's.
    ``keep_history``: whether the history is brought up to the tip (the
    projector's cache reads it); ``derive_new`` drops it, so its last events
    are never loaded into it.
    """
    tip = entry.tip
    history = entry.history
    current = entry.phase
    for position, _, event in items:
        periods.writes.extend((negotiation, change) for change in take(tip, event))
        record = tip.last
        assert record is not None  # noqa: S101 - ``take`` sets it
        periods.events.append(
            EventRow(
                negotiation=negotiation,
                seq=record.seq,
                valid_at=valid_us(record),
                known_at=record.known_us,
                id=event.id,
                type=event.TYPE,
                line=lines.get(position),  # none kept: the store's serves
                position=position,
            )
        )
        if isinstance(event, EventRetracted):
            target = target_of(history, event.target)
            if target is not None:
                periods.retracted.append((record.known_us, negotiation, target.seq))
        new = phase(tip.state) if tip.state.opened else None
        if new != current:
            changes.append((position, negotiation, current, new))
            current = new
    if keep_history:
        tip.flush()  # (the cache checks the history's version)
    entry.state, entry.log = tip.state, tip.log
    entry.phase = current
    entry.position = items[-1][0]


def _changes(touched: dict[str, _Entry], periods: _Periods) -> tuple[RowChanges, list[_Written]]:
    status: list[StatusRow] = []
    catalog: list[CatalogRow] = []
    cleared: list[str] = []
    deleted: list[tuple[str, str, str]] = []
    upserted: list[PositionRow] = []
    removed: list[str] = []
    written: list[_Written] = []
    for negotiation, entry in touched.items():
        state = entry.state
        if not state.opened:
            # Only possible when the opening itself was retracted: the negotiation no longer counts.
            removed.append(negotiation)
            written.append(_Written(entry, None, {}, entry.log, None))
            continue
        status_row = status_row_of(negotiation, state, entry.position)
        status.append(status_row)
        timezone = entry.history.timezone or "UTC"
        rows = entry.positions
        if rows is None or entry.log is not entry.positions_log:  # the fold returns the same log if unchanged
            rows = {row.key: row for row in position_rows_of(negotiation, state, entry.log, timezone=timezone)}
            if entry.positions is None:
                cleared.append(negotiation)
                upserted.extend(rows.values())
            else:
                deleted.extend((negotiation, *key) for key in entry.positions.keys() - rows.keys())
                upserted.extend(row for key, row in rows.items() if entry.positions.get(key) != row)
        catalog_row = catalog_row_of(negotiation, state, timezone=timezone)
        if catalog_row != entry.catalog:
            catalog.append(catalog_row)
        written.append(_Written(entry, status_row, rows, entry.log, catalog_row))
    changes = RowChanges(
        status=status,
        catalog=catalog,
        positions_cleared=cleared,
        positions_deleted=deleted,
        positions_upserted=upserted,
        removed=removed,
        periods=periods.writes,
        events=periods.events,
        retracted=periods.retracted,
    )
    return changes, written


@attrs.frozen
class Derived:
    """The rows of a negotiation new to the store, derived from its events before they were stored.

    Positions in ``rows`` and ``changes`` are the events' versions (1 for the
    first): ``Projector.write_derived`` puts their commit positions in place.
    """

    negotiation: str
    events: int
    rows: RowChanges
    """Without its ``events`` rows: those are ``event_rows``."""
    event_rows: list[tuple[int, int, int, str, str, str | None]]
    """(seq, valid_at, known_at, id, type, line or None) of each ``EventRow``: plain tuples pickle and load
    several times faster than attrs objects, and the rows are built once, with their positions."""
    changes: list[tuple[int, str, Phase | None, Phase | None]]


def derive_new(
    negotiation: str, lines: Sequence[bytes], *, keep_lines: bool = True, events: Sequence[Event] | None = None
) -> Derived:
    """The rows that taking in ``lines`` (a new negotiation's events, as stored, in version order) writes.

    The same steps as ``Projector.apply`` on a negotiation without stored
    events, so that an import can derive the rows of the negotiations it adds
    while it checks them, in another process (``projections.persisted.bulk``).
    ``keep_lines``: whether the events rows hold the lines (``ViewTables.keeps_lines``). ``events``: the
    lines' events, when the caller has them (the import's check parsed them): not parsed again.
    """
    entry = _entry_of(History(negotiation, checkpoint_interval=_CHECKPOINT_INTERVAL))
    if events is None:
        events = [parse_trusted(line) for line in lines]
    elif len(events) != len(lines):
        raise ValueError(f"{negotiation}: {len(events)} events for {len(lines)} lines")
    items = [(version, version, event) for version, event in enumerate(events, start=1)]
    periods = _Periods()
    changes: list[tuple[int, str, Phase | None, Phase | None]] = []
    if items:
        _take(
            negotiation,
            entry,
            items,
            changes,
            periods=periods,
            lines={v: line.decode() for v, line in enumerate(lines, start=1)} if keep_lines else {},
            keep_history=False,  # (loading them into it cost about 2% of the instructions of a derivation)
        )
    rows, _ = _changes({negotiation: entry} if items else {}, periods)
    event_rows = [(r.seq, r.valid_at, r.known_at, r.id, r.type, r.line) for r in rows.events]
    # Planned here, in the worker: plain tuples pickle, load and insert for less than the changes' objects.
    ops, inserts = plan_periods(rows.periods)
    return Derived(
        negotiation=negotiation,
        events=len(items),
        rows=attrs.evolve(rows, events=(), periods=(), period_ops=ops, period_inserts=inserts),
        event_rows=event_rows,
        changes=changes,
    )


def _placed(derived: Derived, positions: Sequence[int]) -> RowChanges:
    """The rows of a derived negotiation with the commit positions of its events (``positions[version - 1]``)."""
    rows, negotiation = derived.rows, derived.negotiation
    return attrs.evolve(
        rows,
        status=[attrs.evolve(row, position=positions[row.position - 1]) for row in rows.status],
        event_values=[EventRow.placed(negotiation, positions[row[0] - 1], *row) for row in derived.event_rows],
    )


def _merged(pieces: Sequence[RowChanges]) -> RowChanges:
    """One batch of the changes of several negotiations (each field's lists, one after the other)."""
    fields = [f.name for f in attrs.fields(RowChanges)]
    return RowChanges(**{name: [item for piece in pieces for item in getattr(piece, name)] for name in fields})


def _first_version(negotiation: str, items: Sequence[tuple[int, int, Event]]) -> int:
    """The version of a negotiation's first event in a page (its events there are consecutive)."""
    first = items[0][1]
    if any(version != first + i for i, (_, version, _) in enumerate(items)):
        raise ValueError(f"{negotiation}: the page's versions are not consecutive")
    return first


def _stream_event(mapper: Mapper[str], stored: StoredEvent) -> StreamEvent:
    stream_event = mapper.to_domain_event(stored)
    assert isinstance(stream_event, StreamEvent)  # noqa: S101 - the store's mapper makes only these
    return stream_event


# --- rows from the pure answers ----------------------------------------------


def status_row_of(negotiation: str, state: NegotiationState, position: int) -> StatusRow:
    """The status row of an opened negotiation's state (the spec's answer without ``day``)."""
    stoppage = stoppage_json(stoppage_of(state, _ANY_TIME))  # its "day" is counted by readers
    if stoppage is not None:
        del stoppage["day"]
    return StatusRow(
        negotiation=negotiation,
        phase=phase(state),
        talks=state.talks,
        agreement=state.agreement,
        contract=state.contract,
        stoppage=None if stoppage is None else dumps(stoppage),
        events_applied=state.events_applied,
        position=position,
        timezone=state.timezone,
        ratified_by=dumps(sorted(state.ratified_by)),
    )


def position_rows_of(
    negotiation: str, state: NegotiationState, log: PositionsLog, *, timezone: str | None = None
) -> list[PositionRow]:
    """The positions rows of a folded positions log, by party then issue.

    ``timezone``: the negotiation's (``History.timezone``: its first stored
    opening's), which dates the positions in the pure answer; the state's by default.
    """
    rows = []
    for position in standing(log, state.tz if timezone is None else zone(timezone)):
        answer = position_json(position)
        value = answer["value"]
        rows.append(
            PositionRow(
                negotiation=negotiation,
                party=position.party,
                issue=position.issue,
                terms=answer["terms"],
                value=None if value is None else dumps(value),
                since=answer["since"],
                event=answer["event"],
                accepted=answer.get("accepted"),
            )
        )
    return rows


def catalog_row_of(negotiation: str, state: NegotiationState, *, timezone: str | None = None) -> CatalogRow:
    """The catalog row of an opened negotiation's state.

    ``timezone``: the negotiation's, as the pure ``list`` answer shows it
    (``History.timezone``: its first stored opening's, even when that opening was
    retracted and replaced by one in another zone); the state's by default.
    """
    parties = [{"id": p.id, "name": p.name, "role": p.role} for p in parties_of(state)]
    return CatalogRow(
        negotiation=negotiation,
        title=state.title,
        timezone=state.timezone if timezone is None else timezone,
        parties=dumps(parties),
        phase=phase(state),
    )


# --- the follower thread -------------------------------------------------------


class CommitSignal:
    """Sets ``wake`` whenever the store records new events, through eventsourcing's subscription.

    The subscription (LISTEN/NOTIFY on PostgreSQL, the memory store's own
    listeners) is iterated in a thread of its own and used only as a signal:
    readers pull pages themselves. eventsourcing starts listening only after
    its first pull, so a commit in between can go unnoticed until the next
    one: readers therefore also poll, rarely. ``start()`` returns ``False``
    when the recorder has no subscriptions (SQLite in eventsourcing 9.5).
    """

    def __init__(self, recorder: ApplicationRecorder, wake: threading.Event, *, name: str) -> None:
        self.recorder = recorder
        self.wake = wake
        self.name = name
        self.error: BaseException | None = None
        self._subscription: Subscription[Any] | None = None
        self._thread: threading.Thread | None = None

    @property
    def alive(self) -> bool:
        """Whether the signal's thread runs."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> bool:
        """Subscribe after the last recorded event and start the thread; ``False``: no subscriptions here."""
        try:
            subscription = self.recorder.subscribe(gt=self.recorder.max_notification_id() or 0)
        except NotImplementedError:
            return False
        self._subscription = subscription
        self._thread = threading.Thread(target=self._run, args=(subscription,), name=self.name, daemon=True)
        self._thread.start()
        return True

    def _run(self, subscription: Subscription[Any]) -> None:
        try:
            with subscription:
                for _ in subscription:
                    self.wake.set()
        except Exception as e:  # noqa: BLE001 - reported to the owner, who starts a new signal
            self.error = e
        finally:
            self.wake.set()

    def stop(self, timeout: float | None = 10.0) -> None:
        """Stop the subscription and its thread."""
        if self._subscription is not None:
            self._subscription.stop()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)


class _CatchingUp(Protocol):
    def catch_up(self) -> int: ...


SAFETY_POLL: Final = 1.0
"""Seconds between polls when a commit signal wakes the follower (in case it missed one)."""


class Follower:
    """Runs ``catch_up`` in a thread, again whenever new events are recorded.

    With a commit signal (PostgreSQL, the memory store) it wakes on each new
    commit and polls every ``max(interval, SAFETY_POLL)`` seconds besides;
    without one (SQLite) it polls every ``interval`` seconds. ``wake()`` makes
    it poll at once. Errors are logged and retried after a growing pause (at
    most 5 s); the last one is kept in ``error``.
    """

    def __init__(
        self,
        target: _CatchingUp,
        *,
        interval: float,
        recorder: ApplicationRecorder | None = None,
        name: str = "negotiation-read-models",
        log: LibraryLogger | None = None,
    ) -> None:
        self.target = target
        self.interval = interval
        self.recorder = recorder
        self.error: BaseException | None = None
        self._log = log if log is not None else logger
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._signal: CommitSignal | None = None
        self._subscribes = recorder is not None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    @property
    def running(self) -> bool:
        """Whether the thread runs."""
        return self._thread.is_alive() and not self._stop.is_set()

    @property
    def mode(self) -> str:
        """``subscription`` when commits wake the follower, else ``poll``."""
        return "subscription" if self._subscribes else "poll"

    def start(self) -> None:
        """Start the thread."""
        self._thread.start()

    def wake(self) -> None:
        """Poll now rather than after the interval (someone waits for a position)."""
        self._wake.set()

    def stop(self, timeout: float | None = 10.0) -> None:
        """Stop the thread and wait for it (the page in progress is finished first)."""
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    def _run(self) -> None:
        pause = self.interval
        try:
            while not self._stop.is_set():
                try:
                    self._listen()
                    if self.target.catch_up() == 0:
                        self._wake.wait(max(self.interval, SAFETY_POLL) if self._subscribes else self.interval)
                        self._wake.clear()
                    pause = self.interval
                except Exception as e:  # noqa: BLE001 - a service's follower logs, waits and tries again
                    self.error = e
                    self._log.exception("read_models.follow_failed", retry_in=pause)
                    self._stop.wait(pause)
                    pause = min(max(pause, 0.05) * 2, 5.0)
        finally:
            if self._signal is not None:
                self._signal.stop()

    def _listen(self) -> None:
        """(Re)start the commit signal if there should be one and it is not running."""
        if not self._subscribes or self.recorder is None or (self._signal is not None and self._signal.alive):
            return
        if self._signal is not None and self._signal.error is not None:
            self._log.warning("read_models.signal_lost", error=str(self._signal.error))
        self._signal = CommitSignal(self.recorder, self._wake, name=f"{self._thread.name}-signal")
        self._subscribes = self._signal.start()


# --- following the events themselves -------------------------------------------


class EventSubscription(Iterator[tuple[int, Event]]):
    """Stored events after a position, in commit order, blocking for new ones: ``(position, event)``.

    Pages are pulled from the notification log; on PostgreSQL (and the memory
    store) eventsourcing's subscription (LISTEN/NOTIFY) wakes the iterator as
    soon as something is committed, on SQLite it polls every
    ``poll_interval`` seconds. ``stop()`` (from any thread) ends the
    iteration; use it as a context manager to release its threads.
    ``position`` is the position of the last event returned: keep it to
    resume after a restart.
    """

    def __init__(
        self,
        store: EventStore,
        *,
        after: int = 0,
        poll_interval: float = 0.2,
        topics: Sequence[str] = (),
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> None:
        self.store = store
        self.position = after
        self.poll_interval = poll_interval
        self.topics = tuple(topics)
        self.page_size = page_size
        self._stopped = threading.Event()
        self._wake = threading.Event()
        self._buffer: collections.deque[Notification] = collections.deque()
        self._signal: CommitSignal | None = CommitSignal(store.recorder, self._wake, name="negotiation-events-signal")
        if not self._signal.start():
            self._signal = None

    def __iter__(self) -> Self:
        return self

    def __next__(self) -> tuple[int, Event]:
        """The next stored event; blocks until there is one or ``stop()`` is called."""
        while not self._buffer:
            if self._stopped.is_set():
                raise StopIteration
            self._wake.clear()
            page = self.store.notifications(after=self.position, limit=self.page_size, topics=self.topics)
            if page:
                self._buffer.extend(page)
                break
            signal = self._signal
            if signal is not None and not signal.alive:
                self._signal = signal = CommitSignal(self.store.recorder, self._wake, name=signal.name)
                signal.start()
            self._wake.wait(self.poll_interval if signal is None else max(self.poll_interval, SAFETY_POLL))
        if self._stopped.is_set():
            raise StopIteration
        notification = self._buffer.popleft()
        stream_event = _stream_event(self.store.mapper, notification)
        self.position = notification.id
        return notification.id, stream_event.event

    def stop(self) -> None:
        """End the iteration (safe from another thread)."""
        self._stopped.set()
        self._wake.set()

    def close(self) -> None:
        """Stop and release the subscription's threads."""
        self.stop()
        if self._signal is not None:
            self._signal.stop()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
