"""The front of the persisted read models: ``status``, ``positions`` and ``catalog`` tables kept up to date.

``ReadModels`` keeps three tables in the store's own database (SQLite file or
PostgreSQL schema; an in-memory SQLite database for the memory store) that hold the *current*
answer of every negotiation (full knowledge, latest valid time), so a service
reads one row instead of folding a history:

>>> app = Negotiations("sqlite:///negotiations.db")            # doctest: +SKIP
>>> models = ReadModels(app, on_change=react)                  # doctest: +SKIP
>>> with models.follow():                                      # doctest: +SKIP
...     result = app.append(events)
...     models.wait(result.positions[-1])                      # read your writes
...     models.status("wga-amptp-2023")["phase"]

- *Exactly once*: every page of events is written in one transaction with
  eventsourcing's tracking record of its last position; a restart resumes after
  the tracked position, and a page that another process already took in is
  refused by the tracking record and skipped.
- *Late events and retractions*: rows always equal the pure answers
  (``projections.status``, ``projections.positions``) of the whole stored history.
- *Catch-up*: ``catch_up()`` pulls pages from the notification log
  (eventsourcing 9.5 has no subscriptions on SQLite); ``follow()``/``start()``
  runs a thread that polls on SQLite and rides eventsourcing's LISTEN/NOTIFY
  subscription on PostgreSQL.
- *Rebuild*: ``rebuild()`` fills a new version of the tables from position 0
  while readers keep reading the active one, then switches the pointer and the
  SQL views in one transaction, and drops the old version.
- *Following events*: ``subscribe(after=)`` is a blocking iterator over new
  stored events in commit order, for services that react to events themselves.

Readers outside Python can query the SQL views ``negotiation_status``,
``negotiation_positions`` and ``negotiation_catalog`` (see ``projections.persisted.tables``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Final, Protocol

from eventsourcing.persistence import IntegrityError, PersistenceError
from eventsourcing.popo import POPOApplicationRecorder
from eventsourcing.sqlite import SQLiteDatastore

from events.errors import NegotiationError
from events.time import day_number, zone
from negotiation.core.errors import ConfigurationError
from negotiation.store.config import StoreConfig, resolve
from negotiation.store.errors import store_error, store_errors
from negotiation.store.eventstore import open_event_store
from negotiation.store.logs import get_logger
from projections.persisted.indexed import IndexedReads
from projections.persisted.memory import memory_views
from projections.persisted.runner import (
    DEFAULT_MAX_CACHED,
    DEFAULT_PAGE_SIZE,
    Derived,
    EventSubscription,
    Follower,
    OnChange,
    Projector,
)
from projections.persisted.sql import SQLViews
from projections.persisted.sqlite import SQLiteViews
from projections.persisted.tables import Slot, VersionMovedError, ViewDatabase

if TYPE_CHECKING:
    from types import TracebackType
    from typing import Self

    from negotiation.application import Negotiations
    from negotiation.store.eventstore import EventStore

__all__ = [
    "BulkTarget",
    "EventSubscription",
    "OnChange",
    "ReadModelError",
    "ReadModelTimeoutError",
    "ReadModels",
]

logger = get_logger("projections.persisted")

DEFAULT_INTERVAL: Final = 0.1
"""Seconds between two polls of the SQLite follower."""


class ReadModelError(NegotiationError, RuntimeError):
    """The persisted read models cannot do what was asked (closed, rebuild could not switch)."""


class ReadModelTimeoutError(NegotiationError, TimeoutError):
    """``wait`` ran out of time before the read models reached the position."""

    def __init__(self, position: int, reached: int, timeout: float) -> None:
        self.position = position
        self.reached = reached
        self.timeout = timeout
        super().__init__(f"read models reached position {reached}, not {position}, within {timeout:g} s")


Progress = Callable[[str, int], None]
"""Called as ``progress(stage, events)``, as the importer's."""
ANALYZE_AFTER: Final = 10_000
"""A catch-up or an import's derived pages that take in at least this many events then refresh the database's
planner statistics of the tables (``analyze``)."""
PROGRESS_STAGE: Final = "updating read models"
"""The stage ``ReadModels.catch_up`` reports (the progress bar's label)."""


class BulkTarget(Protocol):
    """What a catch-up in bulk (``projections.persisted.bulk``) writes through.

    ``ReadModels`` itself (its active version), or a rebuild's new version
    (``ReadModels.rebuild``'s ``bulk``).
    """

    store: EventStore
    page_size: int

    @property
    def keeps_lines(self) -> bool:
        """Whether the events rows hold every line (what ``derive_new`` is told)."""

    def position(self) -> int:
        """The tracked position of the version written."""

    def catch_up(self, *, limit: int | None = None, progress: Progress | None = None) -> int:
        """Take in stored events after the tracked position, a page per transaction; how many."""

    def write_derived(self, derived: Sequence[Derived], positions: Sequence[int]) -> None:
        """Write rows derived before their events were stored, if those events are exactly the next ones."""

    def end_bulk(self) -> None:
        """Undo what the bulk writes set on the store's connection."""

    def analyze(self) -> None:
        """Refresh the planner's statistics after many rows were written."""

    def close(self) -> None:
        """Release what the target holds."""


Bulk = Callable[[BulkTarget], int]
"""A first pass over a large backlog (``bulk.catch_up_in_bulk``); returns how many events it took in."""


class ReadModels:
    """The persisted ``status``, ``positions`` and ``catalog`` read models of a store.

    ``source`` is the ``Negotiations`` facade whose store to share (required
    for the memory store), or a store URL / ``StoreConfig`` (then this object
    opens, and closes, a store connection of its own). ``on_change(negotiation,
    old_phase, new_phase)`` is called after each phase change is committed, in
    the thread that took the event in (the follower's, or the caller's of
    ``catch_up``/``wait``), at most once per change: a crash between commit and
    call loses the call. Use as a context manager, or call ``close()``.

    Tables of an older layout are rebuilt when opened (``outdated``);
    ``bulk``: how that rebuild takes in the store's events first (see ``rebuild``).
    """

    def __init__(
        self,
        source: Negotiations | StoreConfig | str | None = None,
        *,
        on_change: OnChange | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        interval: float = DEFAULT_INTERVAL,
        max_cached: int = DEFAULT_MAX_CACHED,
        bulk: Bulk | None = None,
    ) -> None:
        if isinstance(source, str) or source is None:
            source = resolve(source)
        if isinstance(source, StoreConfig):
            if source.kind == "memory":
                raise ConfigurationError("a memory store lives in its Negotiations object: pass that instead")
            self.config = source
            self.store = open_event_store(source)
            self._owns_store = True
        else:
            self.config = source.config
            self.store = source.store
            self._owns_store = False
        self.on_change = on_change
        self.page_size = page_size
        self.interval = interval
        self.max_cached = max_cached
        self._log = logger.bind(store=self.config.display)
        self._lock = threading.RLock()
        """Held while taking events in: one page at a time per instance."""
        self._changed = threading.Condition()
        self._tracked = 0
        self._follower: Follower | None = None
        self._closed = False
        self.outdated = False
        """Whether the tables were of an older layout when opened (they were rebuilt)."""
        with store_errors(
            self.config, f"cannot set up read models in {self.config.display}", on_error=self._close_store
        ):
            self._db = self._database()
            pointer = self._db.ensure()
            self._projector = self._projector_for(pointer.active)
            self._tracked = self._projector.tracked()
            outdated = getattr(self._db, "outdated", False)
        if outdated:
            self._log.info("read_models.outdated_layout", version=pointer.active)
            self.outdated = True
            try:
                self.rebuild(bulk=bulk)
            except BaseException:
                self._close_store()
                raise

    # --- lifecycle -----------------------------------------------------------

    def _database(self) -> ViewDatabase:
        datastore = getattr(self.store.factory, "datastore", None)
        # The events rows leave each line to the store's table beside them, in the same database.
        store_events = getattr(self.store.recorder, "events_table_name", None)
        if self.config.kind == "sqlite" and isinstance(datastore, SQLiteDatastore):
            return SQLiteViews(datastore, store_events=store_events)
        if self.config.kind == "postgres":
            from eventsourcing.postgres import PostgresDatastore

            from projections.persisted.postgres import PostgresViews

            if isinstance(datastore, PostgresDatastore):
                return PostgresViews(datastore, store_events=store_events)
        if self.config.kind == "memory" and isinstance(self.store.recorder, POPOApplicationRecorder):
            return memory_views(self.store)
        raise ConfigurationError(f"{self.config.display}: no persisted read models for this store")

    def _projector_for(self, version: int, *, slot: Slot = "active") -> Projector:
        return Projector(
            self.store,
            self._db.tables(version),
            slot=slot,
            page_size=self.page_size,
            max_cached=self.max_cached,
            on_change=self.on_change if slot == "active" else None,
            log=self._log,
        )

    def close(self) -> None:
        """Stop the follower and release this object's store connection (not a shared facade's)."""
        if self._closed:
            return
        self.stop()
        self._closed = True
        self._db.close()
        self._close_store()

    def _close_store(self) -> None:
        if self._owns_store:
            self.store.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _check_open(self) -> None:
        if self._closed:
            raise ReadModelError("the read models are closed")

    # --- catching up ---------------------------------------------------------------

    def catch_up(self, *, limit: int | None = None, progress: Progress | None = None) -> int:
        """Take in every stored event after the tracked position (at most ``limit``); returns how many.

        One transaction per page of ``page_size`` events. Safe to call while a
        follower runs (this instance takes one page at a time) and from several
        processes (the tracking record lets each page count once). With
        ``progress``, each page is taken in on its own (other threads may take
        their turn between pages) and reported as ``progress(PROGRESS_STAGE, events)``.
        """
        done = _take_in_pages(self._take_in, self.page_size, limit, progress)
        if done >= ANALYZE_AFTER:
            self.analyze()
        return done

    def _take_in(self, limit: int | None) -> int:
        self._check_open()
        with self._lock:
            for _ in range(3):
                projector = self._projector
                try:
                    done = projector.catch_up(limit=limit)
                except VersionMovedError:
                    self._activate()
                    continue
                except PersistenceError as e:
                    if self._activate():
                        continue  # the version we wrote was switched away (and dropped) meanwhile
                    raise store_error(self.config, "cannot update the read models", e) from None
                self._advance(projector.position)
                return done
        raise ReadModelError("the read models' active version kept changing; try again")

    def _activate(self) -> bool:
        """Follow the pointer to the active version if it moved; whether it did."""
        with store_errors(self.config, "cannot read the read models' pointer"):
            active = self._db.pointer().active
        if active == self._projector.version:
            return False
        self._log.info("read_models.version_moved", old=self._projector.version, new=active)
        self._projector = self._projector_for(active)
        return True

    def _advance(self, position: int) -> None:
        with self._changed:
            self._tracked = max(self._tracked, position)
            self._changed.notify_all()

    def local_position(self) -> int:
        """The tracked position as this object last saw it (no database access)."""
        return self._tracked

    def position(self) -> int:
        """The active version's tracked position: every event up to it is in the rows."""
        self._check_open()
        with store_errors(self.config, "cannot read the read models' position"):
            position = self._db.position()
        self._advance(position)
        return position

    def wait(self, position: int, timeout: float = 5.0) -> None:
        """Block until the rows include every event up to commit ``position`` (read your writes).

        ``position`` is what an append returned (``AppendResult.positions[-1]``)
        or ``Negotiations.position()``. With a follower running this waits
        for it; otherwise it catches up in the calling thread. Raises
        ``ReadModelTimeoutError`` after ``timeout`` seconds.
        """
        self._check_open()
        deadline = time.monotonic() + timeout
        while self._tracked < position:
            remaining = deadline - time.monotonic()
            if remaining <= 0 and self.position() < position:
                raise ReadModelTimeoutError(position, self._tracked, timeout)
            follower = self._follower
            if follower is not None and follower.running:
                follower.wake()
                with self._changed:
                    self._changed.wait_for(lambda: self._tracked >= position, timeout=min(max(remaining, 0), 0.05))
            elif self.catch_up() == 0 and self._tracked < position:
                time.sleep(min(max(remaining, 0), 0.01))

    def end_bulk(self) -> None:
        """Undo what ``write_derived`` set on the store's connection for its run of pages.

        Best effort: after a failed write, what stopped the import is the error to report.
        """
        try:
            self._db.end_bulk()
        except PersistenceError as e:
            self._log.info("read_models.end_bulk_failed", reason=str(e) or type(e).__name__)

    def analyze(self) -> None:
        """Refresh the database's planner statistics of the tables, after many rows were written.

        On PostgreSQL the first query after a large import would otherwise be
        planned for the tables as they were before it (until autovacuum comes
        by); SQLite needs nothing. Best effort: the rows are written either way.
        """
        self._check_open()
        try:
            self._db.analyze()
        except PersistenceError as e:
            self._log.info("read_models.analyze_failed", reason=str(e) or type(e).__name__)

    @property
    def keeps_lines(self) -> bool:
        """Whether the events rows hold every line (``ViewTables.keeps_lines``): what ``derive_new`` is told."""
        return self._projector.tables.keeps_lines

    def write_derived(self, derived: Sequence[Derived], positions: Sequence[int]) -> None:
        """Write rows derived before their events were stored, if those events are exactly the next ones.

        See ``Projector.write_derived`` (``ValueError``: the positions do not
        follow the tracked one; nothing written). A store failure, another
        projector first, or the active version switched meanwhile raise
        ``StoreError``/``ReadModelError``: nothing was written, and a catch-up
        takes the events in instead.
        """
        self._check_open()
        with self._lock:
            projector = self._projector
            _write_derived(projector, derived, positions, self.config)
            self._advance(projector.position)

    # --- following ---------------------------------------------------------------

    @property
    def following(self) -> bool:
        """Whether the follower thread runs."""
        return self._follower is not None and self._follower.running

    def start(self) -> None:
        """Start the follower thread (no-op if it runs): polls on SQLite, LISTENs on PostgreSQL."""
        self._check_open()
        if self.following:
            return
        self._follower = Follower(
            self,
            interval=self.interval,
            recorder=None if self.config.kind == "sqlite" else self.store.recorder,
            log=self._log,
        )
        self._follower.start()
        self._log.info("read_models.following", mode=self._follower.mode)

    def stop(self) -> None:
        """Stop the follower thread, if it runs (the page in progress is finished)."""
        follower, self._follower = self._follower, None
        if follower is not None:
            follower.stop()
            self._log.info("read_models.stopped")

    @contextlib.contextmanager
    def follow(self, *, interval: float | None = None) -> Iterator[Self]:
        """Run the follower for the ``with`` block; ``interval``: seconds between polls (SQLite)."""
        if interval is not None:
            self.interval = interval
        self.start()
        try:
            yield self
        finally:
            self.stop()

    def subscribe(self, *, after: int = 0, poll_interval: float = 0.2) -> EventSubscription:
        """Stored events after commit position ``after``, in commit order, blocking for new ones.

        Iterate over ``(position, event)``; keep the position to resume after a
        restart. Stop it with ``stop()`` (any thread); use it as a context manager.
        """
        self._check_open()
        return EventSubscription(self.store, after=after, poll_interval=poll_interval)

    # --- rebuilding ------------------------------------------------------------------

    def rebuild(self, *, attempts: int = 20, bulk: Bulk | None = None) -> int:
        """Build a new version of the tables from position 0, switch readers to it, drop the old one.

        Readers keep reading the active version meanwhile. A rebuild that
        stopped half-way (a crash) is resumed from its own tracked position.
        Returns the new version. Raises ``ReadModelError`` if the new version
        could not catch up with the active one in ``attempts`` tries.

        ``bulk``: called first with the new version as its ``BulkTarget``, to
        take in the stored events faster than the projector alone
        (``bulk.catch_up_in_bulk``: a worker process derives rows beside this
        one, so only for a process without threads of its own); the projector
        takes in whatever it left. The rows are the same either way.
        """
        self._check_open()
        with store_errors(self.config, "cannot rebuild the read models"):
            return self._rebuild(attempts, bulk)

    def _rebuild(self, attempts: int, bulk: Bulk | None) -> int:
        try:
            version = self._db.begin_rebuild()
            builder = self._projector_for(version, slot="building")
            self._log.info("read_models.rebuild_started", version=version)
            taken = 0 if bulk is None else bulk(_Rebuilding(self, builder))
            for _ in range(attempts):
                taken += builder.catch_up()
                with self._lock:
                    taken += builder.catch_up()  # the last few, while this instance takes nothing in
                    pointer = self._db.pointer()
                    old = pointer.active
                    if old == version:  # another process finished this rebuild first
                        self._activate()
                        return version
                    if pointer.building != version:
                        raise ReadModelError(f"rebuild of version {version} was taken over by another process")
                    if self._db.switch(old, version):
                        builder.slot = "active"
                        builder.on_change = self.on_change
                        self._projector = builder
                        self._advance(builder.position)
                        break
            else:
                raise ReadModelError(f"rebuilt version {version} did not catch up in {attempts} attempts")
            self._db.drop(old)
        except VersionMovedError:
            if self._activate() and self._projector.version == version:
                return version  # another process finished this rebuild first
            raise ReadModelError(f"rebuild of version {version} was taken over by another process") from None
        self._log.info("read_models.rebuilt", version=version, old=old, position=builder.position)
        if taken >= ANALYZE_AFTER:
            # As after a large catch-up: a new version has no planner statistics until autovacuum comes by
            # (seen: ``list`` of 10,000 negotiations planned as a nested loop, 160 ms instead of 45).
            self.analyze()
        return version

    def version(self) -> int:
        """The active version of the tables."""
        self._check_open()
        return self._db.pointer().active

    # --- reading -------------------------------------------------------------------------

    def status(self, negotiation: str, *, now: dt.datetime | None = None) -> dict[str, Any] | None:
        """The negotiation's current status (spec section 3 without ``as_of``/``known_at``), or ``None``.

        ``{"negotiation", "phase", "talks", "stoppage", "agreement", "contract",
        "events_applied", "ratified_by", "position"}``; ``stoppage.day`` is counted up to
        ``now`` (default: the current time) in the negotiation's time zone;
        ``position`` is the commit position of the negotiation's last event.
        """
        self._check_open()
        row = self._read(lambda: self._db.read_status(negotiation))
        if row is None:
            return None
        if "ratified_by" not in row:
            raise ReadModelError("the read models were built before spec 1.1 (no ratified_by column): call rebuild()")
        stoppage = row["stoppage"]
        if stoppage is not None:
            since = dt.date.fromisoformat(stoppage["since"])
            stoppage = {**stoppage, "day": day_number(since, now or dt.datetime.now(dt.UTC), zone(row["timezone"]))}
        return {
            "negotiation": row["negotiation"],
            "phase": row["phase"],
            "talks": row["talks"],
            "stoppage": stoppage,
            "agreement": row["agreement"],
            "contract": row["contract"],
            "events_applied": row["events_applied"],
            "ratified_by": row["ratified_by"],
            "position": row["position"],
        }

    def positions(self, negotiation: str) -> dict[str, Any] | None:
        """The standing positions: ``{"negotiation", "positions": {party: {issue: {...}}}}``, or ``None``.

        Each position is ``{"terms", "value", "since", "event"}`` (and ``"accepted"`` when the party
        took it by accepting the proposal) as in spec section 3.
        """
        self._check_open()
        rows = self._read(lambda: self._db.read_positions(negotiation))
        if rows is None:
            return None
        by_party: dict[str, dict[str, Any]] = {}
        for row in rows:
            position = by_party.setdefault(row["party"], {})[row["issue"]] = {
                "terms": row["terms"],
                "value": row["value"],
                "since": row["since"],
                "event": row["event"],
            }
            if row.get("accepted") is not None:
                position["accepted"] = row["accepted"]  # as in the pure answer: only when accepted
        return {"negotiation": negotiation, "positions": by_party}

    def catalog(self) -> list[dict[str, Any]]:
        """Every negotiation, by id: ``{"negotiation", "title", "timezone", "parties", "phase"}``."""
        self._check_open()
        rows: list[dict[str, Any]] = self._read(self._db.read_catalog)
        return rows

    def indexed(self) -> IndexedReads:
        """The answers at any valid and knowledge time, read from the bitemporal tables (as caught up)."""
        self._check_open()
        if not isinstance(self._db, SQLViews):  # pragma: no cover - every backend is SQL today
            raise ReadModelError("these read models have no indexed tables")
        return IndexedReads(self._db)

    def _read(self, query: Any) -> Any:
        with store_errors(self.config, "cannot read the read models"):
            return query()


def _take_in_pages(
    take_in: Callable[[int | None], int], page_size: int, limit: int | None, progress: Progress | None
) -> int:
    """``take_in(at most n)`` (``None``: all) until ``limit`` or nothing is left; how many it took in.

    With ``progress``, a page of ``page_size`` at a time, each reported as
    ``progress(PROGRESS_STAGE, events)``; without, in one call.
    """
    if progress is None:
        return take_in(limit)
    done = 0
    while limit is None or done < limit:
        want = page_size if limit is None else min(page_size, limit - done)
        taken = take_in(want)
        done += taken
        if taken:
            progress(PROGRESS_STAGE, taken)
        if taken < want:
            break
    return done


def _write_derived(
    projector: Projector, derived: Sequence[Derived], positions: Sequence[int], config: StoreConfig
) -> None:
    """``Projector.write_derived``, its failures as ``ReadModelError`` (nothing written) or ``StoreError``."""
    try:
        projector.write_derived(derived, positions)
    except (IntegrityError, VersionMovedError) as e:
        projector.tracked()  # as a later catch-up would find it
        raise ReadModelError(f"the rows were not written: {e}") from None
    except PersistenceError as e:
        raise store_error(config, "cannot update the read models", e) from None


class _Rebuilding:
    """A rebuild's new version as a ``BulkTarget``: the rows go to the version being built, not the active one."""

    def __init__(self, models: ReadModels, builder: Projector) -> None:
        self.store: EventStore = models.store
        self.page_size = models.page_size
        self._models = models
        self._builder = builder

    @property
    def keeps_lines(self) -> bool:
        return self._builder.tables.keeps_lines

    def position(self) -> int:
        with store_errors(self._models.config, "cannot read the read models' position"):
            return self._builder.tracked()

    def catch_up(self, *, limit: int | None = None, progress: Progress | None = None) -> int:
        def take_in(want: int | None) -> int:
            return self._builder.catch_up(limit=want)

        with store_errors(self._models.config, "cannot update the read models"):
            return _take_in_pages(take_in, self.page_size, limit, progress)

    def write_derived(self, derived: Sequence[Derived], positions: Sequence[int]) -> None:
        _write_derived(self._builder, derived, positions, self._models.config)

    def end_bulk(self) -> None:
        self._models.end_bulk()

    def analyze(self) -> None:
        """Nothing yet: the rebuild analyzes the new version once readers are switched to it."""

    def close(self) -> None:
        """Nothing: the read models stay open."""
