"""The library's front door: ``Negotiations``, a facade over the event store.

Appends are validated by the pure state machine against the whole timeline,
stored atomically (one transaction per call, across negotiations) and are
idempotent by event id. Concurrent writers are detected by the store's
optimistic concurrency (a stream version can be written once); the facade then
re-reads, re-validates and retries transparently, a bounded number of times.
"""

from __future__ import annotations

import datetime as dt
import random
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Final

import attrs

from events.converter import DEFAULT_LIMITS, SLUG_RE, Limits, parse_line, render_line
from events.model import Event
from negotiation.core.errors import (
    ConcurrencyError,
    ExpectedVersionError,
    InvalidEventError,
    NegotiationNotFoundError,
    RefusedEventError,
)
from negotiation.core.history import AppendPlan, History
from negotiation.importer import CHUNK_SIZE, ImportObserver, ImportReport, Progress, import_files
from negotiation.queries import HistoryQueries, Queries, delegated
from negotiation.store.collector import fewer_full_collections
from negotiation.store.config import StoreConfig, resolve
from negotiation.store.errors import STORE_FAILURES, is_retryable, store_errors
from negotiation.store.eventstore import StreamEvent, open_event_store
from negotiation.store.logs import get_logger

__all__ = ["DEFAULT_MAX_HISTORIES", "AppendResult", "EventPage", "Negotiations"]

MAX_ATTEMPTS: Final = 20
DEFAULT_MAX_HISTORIES: Final = 1_000
"""How many histories a facade keeps in memory by default (least recently used ones are dropped)."""

logger = get_logger("negotiation")


@attrs.frozen(kw_only=True)
class AppendResult:
    """What an append did."""

    stored: tuple[Event, ...] = ()
    """The events stored, as stored (``recorded_at`` filled in)."""
    duplicates: tuple[Event, ...] = ()
    """Events already stored with identical content: nothing was done."""
    positions: tuple[int, ...] = ()
    """The commit-order positions of the stored events."""
    versions: dict[str, int] = attrs.field(factory=dict)
    """Each negotiation of the batch with its stream version after the append."""


@attrs.frozen(kw_only=True)
class EventPage:
    """A page of stored events in commit order (``Negotiations.events_after``)."""

    events: tuple[tuple[int, Event], ...]
    """``(position, event)`` pairs, in commit order."""
    next_after: int
    """The position to ask for next: the last one read (or skipped by the filter)."""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Negotiations:
    """Record negotiations and ask where they stood at any valid and knowledge time.

    >>> app = Negotiations("memory:")                     # doctest: +SKIP
    >>> app.append(events)                                # doctest: +SKIP
    >>> app.status("wga-amptp-2023", as_of=...)           # doctest: +SKIP

    ``db`` chooses the store (see ``negotiation.store.config``): a SQLite file path
    (default ``negotiations.db``), ``sqlite:///PATH``, ``postgresql://...`` or
    ``memory:``. Use as a context manager, or call ``close()``.

    The read methods (``status``, ``positions``, ``gaps``, ``timeline``,
    ``statements``, ``diff``, ``catalog``, ``stoppages``, ``involving``) ask
    ``queries``, one ``negotiation.queries.Queries``: by default a
    ``HistoryQueries`` folding this facade's histories in memory.

    At most ``max_histories`` histories (default ``DEFAULT_MAX_HISTORIES``) are
    kept in memory: the least recently used one is dropped when another is
    needed, and read again from the store (only its events) when asked for.
    """

    def __init__(
        self,
        db: str | None = None,
        *,
        config: StoreConfig | None = None,
        max_histories: int = DEFAULT_MAX_HISTORIES,
    ) -> None:
        if max_histories < 1:
            raise ValueError(f"max_histories must be at least 1, not {max_histories}")
        self.config = config if config is not None else resolve(db)
        self._log = logger.bind(store=self.config.display)
        self.store = open_event_store(self.config)
        self.max_histories = max_histories
        self._histories: OrderedDict[str, History] = OrderedDict()
        """The cached histories, least recently used first (at most ``max_histories``)."""
        self._lock = threading.RLock()
        self.queries: Queries = HistoryQueries(self)
        """Answers the read methods; see ``negotiation.queries``."""

    # --- lifecycle ----------------------------------------------------------

    def close(self) -> None:
        """Release the store's connections."""
        self.store.close()

    def __enter__(self) -> Negotiations:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- reading --------------------------------------------------------------

    def history(self, negotiation: str) -> History:
        """The negotiation's events, indexed for temporal folds, brought up to date."""
        with self._lock:
            history = self._histories.get(negotiation)
            if history is None:
                history = self._histories[negotiation] = History(negotiation)
                while len(self._histories) > self.max_histories:
                    self._histories.popitem(last=False)
            else:
                self._histories.move_to_end(negotiation)
            with store_errors(self.config, f"cannot read {negotiation!r}"):
                fresh = self.store.stream(negotiation, after=history.version)
            if fresh:
                history.load(fresh)
            return history

    def existing(self, negotiation: str) -> History:
        """Like ``history``, but raise ``NegotiationNotFoundError`` for an empty stream.

        An id that is not a slug cannot be stored: it is not found, without asking
        the store (PostgreSQL refuses NUL characters in text, libpq stops at one).
        """
        if not SLUG_RE.fullmatch(negotiation):
            raise NegotiationNotFoundError(negotiation)
        history = self.history(negotiation)
        if not history.version:
            with self._lock:
                self._histories.pop(negotiation, None)
            raise NegotiationNotFoundError(negotiation)
        return history

    def histories(self) -> list[History]:
        """The ``History`` of every stored negotiation, in the order they were opened, brought up to date."""
        return [h for h in map(self.history, self.negotiation_ids()) if h.version]

    def stored_events(self, negotiation: str) -> list[Event]:
        """The negotiation's events as the store holds them now, bypassing the cache."""
        with store_errors(self.config, f"cannot read {negotiation!r}"):
            return self.store.stream(negotiation)

    def forget(self, negotiations: Iterable[str]) -> None:
        """Drop cached histories, e.g. after another path wrote to the store."""
        with self._lock:
            for negotiation in negotiations:
                self._histories.pop(negotiation, None)

    def clean_error(self, error: BaseException) -> str:
        """A store error's first line, with the password masked."""
        return self.config.error_text(error)

    def events(self, negotiation: str) -> list[Event]:
        """The stored events of a negotiation, in append order."""
        return self.existing(negotiation).events()

    def negotiation_ids(self) -> list[str]:
        """Every stored negotiation, in the order they were opened in the store."""
        ids: list[str] = []
        after = 0
        while True:
            with store_errors(self.config, "cannot read the store"):
                page = self.store.notifications(after=after, limit=1000, topics=["negotiation.opened"])
            ids.extend(str(n.originator_id) for n in page)
            if len(page) < 1000:
                return list(dict.fromkeys(ids))
            after = page[-1].id

    def export(self, negotiations: Sequence[str] = ()) -> Iterator[bytes]:
        """Normalized JSON lines (no newline) of the stored events, negotiation by negotiation."""
        for negotiation in negotiations or self.negotiation_ids():
            for event in self.existing(negotiation).events():
                yield render_line(event)

    def follow(self, *, after: int = 0) -> Iterator[tuple[int, Event]]:
        """Stored events after commit position ``after``, in commit order, until none are left."""
        for position, stream_event in self.store.follow(after=after):
            yield position, stream_event.event

    def position(self) -> int:
        """The commit position of the last stored event (0 for an empty store)."""
        with store_errors(self.config, "cannot read the store"):
            return self.store.max_position()

    def caught_up(self, position: int) -> bool:
        """Whether the answers of the queries include every event up to commit ``position``.

        Queries read the store itself, so that is whether the store holds it; a
        read side that lags behind the store answers for itself here.
        """
        return self.position() >= position

    def events_after(
        self, *, after: int = 0, limit: int = 1000, negotiation: str | None = None, scan: int = 10_000
    ) -> EventPage:
        """At most ``limit`` stored events after commit position ``after``, in commit order.

        With ``negotiation``, only that negotiation's events: at most ``scan``
        stored events are looked at per call, and ``next_after`` says where the
        next call goes on, so a rare negotiation costs pages, never one endless read.
        """
        if negotiation is not None and not SLUG_RE.fullmatch(negotiation):
            return EventPage(events=(), next_after=after)
        found: list[tuple[int, Event]] = []
        cursor = after
        budget = max(scan, limit)
        with store_errors(self.config, "cannot read the store"):
            while len(found) < limit and budget > 0:
                want = limit - len(found) if negotiation is None else min(budget, 1000)
                page = self.store.notifications(after=cursor, limit=want)
                budget -= len(page)
                for notification in page:
                    cursor = notification.id
                    if negotiation is None or notification.originator_id == negotiation:
                        found.append((notification.id, self.store.event_of(notification)))
                        if len(found) == limit:
                            break
                if len(page) < want:
                    break
        return EventPage(events=tuple(found), next_after=cursor)

    def watch(self, wake: threading.Event) -> Callable[[], None] | None:
        """Set ``wake`` whenever the store records new events; returns the function that stops it.

        ``None`` when the store cannot say (SQLite): the caller polls ``position()``.
        On PostgreSQL this is LISTEN/NOTIFY (eventsourcing's subscription).
        """
        from projections.persisted.runner import CommitSignal

        signal = CommitSignal(self.store.recorder, wake, name="negotiation-watch")
        with store_errors(self.config, "cannot watch the store"):
            started = signal.start()
        return signal.stop if started else None

    # --- querying: each method asks ``self.queries`` (see ``negotiation.queries``) ---

    status = delegated(Queries.status)
    positions = delegated(Queries.positions)
    gaps = delegated(Queries.gaps)
    timeline = delegated(Queries.timeline)
    statements = delegated(Queries.statements)
    diff = delegated(Queries.diff)
    catalog = delegated(Queries.catalog)
    stoppages = delegated(Queries.stoppages)
    involving = delegated(Queries.involving)

    # --- writing --------------------------------------------------------------

    def append(
        self,
        events: Iterable[Event],
        *,
        now: dt.datetime | None = None,
        expected_version: int | None = None,
    ) -> AppendResult:
        """Store ``events`` atomically: all of them or, on any refusal, none.

        Idempotent by event id. ``expected_version``: every event must target one
        negotiation, whose stored version must be this one when anything new is
        stored (checked in the same transaction: a concurrent writer makes the
        store refuse it, and the check runs again); a batch of duplicates only is
        accepted whatever the version, so a retried append succeeds. Raises
        ``RuleViolationError``, ``EventConflictError`` (same id, other content),
        ``ExpectedVersionError``, ``ConcurrencyError`` (retries ran out) or ``StoreError``.
        """
        batch = _batch(events)
        if expected_version is not None and len({e.negotiation for e in batch}) > 1:
            raise InvalidEventError("expected_version needs every event of the batch to target one negotiation")
        for attempt in range(1, MAX_ATTEMPTS + 1):
            with self._lock:
                plans = self._plan(batch, now=now or _now())
                if expected_version is not None:
                    for _, plan in plans:
                        if plan.new and plan.base_seq != expected_version:
                            raise ExpectedVersionError(
                                plan.negotiation, expected=expected_version, actual=plan.base_seq
                            )
                records = [StreamEvent(plan.negotiation, r.seq, r.event) for _, plan in plans for r in plan.new]
                try:
                    with store_errors(
                        self.config,
                        "cannot store events",
                        then="; nothing was stored",
                        passing=is_retryable,
                        on_error=self._histories.clear,
                    ):
                        positions = self.store.put(records) if records else []
                except STORE_FAILURES:  # only what is_retryable lets through
                    # Another writer took one of our stream versions, or held SQLite's
                    # write lock past the timeout: re-read, re-validate, try again.
                    self._log.info("append.conflict", attempt=attempt, negotiations=[p.negotiation for _, p in plans])
                    self._histories.clear()
                    time.sleep(random.uniform(0, 0.01 * attempt))  # noqa: S311 - jitter, not crypto
                    continue
                for history, plan in plans:
                    # The history planned against (a batch wider than the cache may have
                    # dropped it from the cache since; then it is read again when asked for).
                    history.apply(plan)
                    if plan.new:
                        self._log.info(
                            "events.appended",
                            negotiation=plan.negotiation,
                            count=len(plan.new),
                            first=plan.new[0].event.id,
                            last=plan.new[-1].event.id,
                        )
                return AppendResult(
                    stored=tuple(r.event for _, plan in plans for r in plan.new),
                    duplicates=tuple(e for _, plan in plans for e in plan.duplicates),
                    positions=tuple(positions),
                    versions={plan.negotiation: history.version for history, plan in plans},
                )
        negotiation = batch[0].negotiation if batch else ""
        raise ConcurrencyError(negotiation, MAX_ATTEMPTS)

    def import_files(
        self,
        paths: Sequence[str | Path],
        *,
        skip_invalid: bool = False,
        dry_run: bool = False,
        limits: Limits = DEFAULT_LIMITS,
        progress: Progress | None = None,
        now: dt.datetime | None = None,
        chunk_size: int | None = None,
        observer: ImportObserver | None = None,
    ) -> ImportReport:
        """Replay JSON Lines files (``-`` = stdin): atomic unless ``skip_invalid``; see ``negotiation.importer``.

        ``chunk_size``: events per transaction of the storing pass (default ``importer.CHUNK_SIZE``).
        ``observer`` is told what is checked and stored (``projections.persisted.bulk.ImportTables``).
        Python's full garbage collections are rarer meanwhile (``negotiation.store.collector``).
        """
        with fewer_full_collections():
            return import_files(
                self,
                paths,
                skip_invalid=skip_invalid,
                dry_run=dry_run,
                limits=limits,
                progress=progress,
                now=now,
                chunk_size=chunk_size or CHUNK_SIZE,
                observer=observer,
            )

    def verify(self, events: Iterable[Event], *, now: dt.datetime | None = None) -> AppendResult:
        """The checks of ``append`` against the store's current contents; stores nothing."""
        batch = _batch(events)
        with self._lock:
            plans = self._plan(batch, now=now or _now())
        return AppendResult(
            stored=tuple(r.event for _, plan in plans for r in plan.new),
            duplicates=tuple(e for _, plan in plans for e in plan.duplicates),
        )

    def _plan(self, batch: Sequence[Event], *, now: dt.datetime) -> list[tuple[History, AppendPlan]]:
        """Each negotiation's plan, with the history it was planned against."""
        groups: dict[str, list[Event]] = {}
        for event in batch:
            try:
                stored_form = _stored_form(event)
            except InvalidEventError as e:
                self._log.info(
                    "event.refused",
                    negotiation=event.negotiation,
                    event_id=e.event_id,
                    rule=e.rule,
                    reason=e.reason,
                )
                raise
            groups.setdefault(stored_form.negotiation, []).append(stored_form)
        plans = []
        for negotiation, group in groups.items():
            try:
                history = self.history(negotiation)
                plans.append((history, history.plan(group, now=now)))
            except RefusedEventError as e:
                self._log.info(
                    "event.refused",
                    negotiation=negotiation,
                    event_id=e.event_id,
                    rule=e.rule,
                    reason=e.reason,
                )
                raise
        return plans


def _batch(events: Iterable[Event]) -> list[Event]:
    """``events`` as a list, refusing what is not an iterable of events with ``InvalidEventError``.

    A service embedding the library must tell a bad request from a bug: a str
    (iterable, of characters), a mapping (of its keys), ``None`` or a dict
    where an event belongs are the caller's input, not our failure.
    """
    if isinstance(events, str | bytes | bytearray | Mapping) or not isinstance(events, Iterable):
        raise InvalidEventError(
            f"got {type(events).__name__}", expected="an iterable of events (the classes of events.model)"
        )
    batch = list(events)
    for index, event in enumerate(batch):
        if not isinstance(event, Event):
            raise InvalidEventError(
                f"item {index} is a {type(event).__name__}",
                expected="an event (a class of events.model; events.parse_event reads a mapping)",
            )
    return batch


def _stored_form(event: Event) -> Event:
    """``event`` as the store will read it back; refuse what the event-log format does not allow.

    A Python caller can build events that no line could express (a naive
    datetime, an id that is not a slug, a share above 1): stored, they could
    never be read back, and the negotiation's stream would be unreadable.
    """
    try:
        return parse_line(render_line(event))
    except InvalidEventError:
        raise
    except (TypeError, ValueError, AttributeError) as e:  # orjson cannot write a value; a str where a Party belongs
        event_id = event.id if isinstance(event.id, str) and event.id.isprintable() else None
        raise InvalidEventError(f"cannot be written as an event-log line: {e}", event_id=event_id) from None
