"""A negotiation's events in valid time and knowledge time, with checkpointed folds.

``History`` indexes one negotiation's stored events three ways: by append order
(``seq``), by valid time (``occurred_at``, ties by ``seq``) and by id. It answers
any fold "as of" a valid time, "as known at" a knowledge time and "at version"
n (the first n appended events), starting from the nearest checkpoint that is
still exact for that question, so the cost does not grow with history length.

``History.plan`` validates a batch of new events against the whole timeline
(late events and retractions included) without changing anything; ``apply``
takes the plan in once the store has accepted it. No I/O happens here.

Each part reads alone: ``records`` (``Recorded``, ``Fold``), ``index`` (the
three orders and the rule of which events count where), ``checkpoints`` (the
three checkpoint mechanisms) and ``planning`` (validating appends). ``History``
puts them together behind one lock and is all other modules use.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, TypeVar

from events.model import Event
from events.time import zone
from negotiation.core.history import planning
from negotiation.core.history.checkpoints import CHECKPOINT_INTERVAL, KNOWN_SERIES, Checkpoints
from negotiation.core.history.index import Index
from negotiation.core.history.planning import CLOCK_SKEW, AppendPlan, opened_zone
from negotiation.core.history.records import STATUS_FOLD, Fold, Recorded, micros, valid_us
from negotiation.core.state import NegotiationState

__all__ = [
    "CHECKPOINT_INTERVAL",
    "CLOCK_SKEW",
    "KNOWN_SERIES",
    "STATUS_FOLD",
    "AppendPlan",
    "Fold",
    "History",
    "Recorded",
    "micros",
    "valid_us",
]

S = TypeVar("S")


class History:
    """The stored events of one negotiation, indexed for bitemporal folds.

    Thread-safe: queries extend checkpoints and appends reshape the index, and
    one History may be shared by threads (a service's readers and writer).
    """

    def __init__(
        self, negotiation: str, records: Iterable[Event] = (), *, checkpoint_interval: int | None = None
    ) -> None:
        """The history of ``negotiation``, with ``records`` (stored events, in append order) loaded.

        ``checkpoint_interval``: events between two checkpoints of a fold
        (``CHECKPOINT_INTERVAL`` unless given); closer ones make the refold
        after a late event shorter, and hold more states.
        """
        self.negotiation = negotiation
        self.timezone: str | None = None
        """The negotiation's IANA time zone name, once it is opened."""
        self._index = Index()
        self._checkpoints = Checkpoints(self._index, interval=checkpoint_interval)
        self._lock = threading.RLock()
        events = list(records)
        if events:
            self.load(events)

    # --- what it holds ---------------------------------------------------------------------------

    @property
    def tz(self) -> dt.tzinfo:
        """The negotiation's time zone (UTC until it is opened)."""
        return zone(self.timezone)

    @property
    def version(self) -> int:
        """How many events are stored."""
        return len(self._index.records)

    def __len__(self) -> int:
        return len(self._index.records)

    def events(self) -> list[Event]:
        """The stored events in append order."""
        return [r.event for r in self._index.records]

    def appended_after(self, version: int) -> Sequence[Recorded]:
        """The events appended after the first ``version``, in append order."""
        with self._lock:
            return self._index.records[version:]

    def between(self, start: dt.datetime | None = None, end: dt.datetime | None = None) -> Sequence[Recorded]:
        """Every stored event that happened in ``[start, end]`` (aware instants; ``None``: unbounded).

        In valid-time order, retracted events included: filter with ``counts``.
        """
        with self._lock:
            return self._index.between(start, end)

    def counts(self, record: Recorded, *, known_at: dt.datetime | None = None, at_version: int | None = None) -> bool:
        """Whether a stored event counts as known at ``known_at`` and ``at_version`` (``None``: all stored).

        It counts if it was recorded by then, is among the first ``at_version``
        appended, and no retraction that counts there retracts it.
        """
        known = None if known_at is None else micros(known_at)
        return self._index.counts(record, known, at_version)

    def retraction_of(self, event_id: str) -> Recorded | None:
        """The stored retraction of the event ``event_id``, if any."""
        return self._index.retractions.get(event_id)

    def follows_end(self, new: Sequence[Recorded]) -> bool:
        """Whether events placed after the stored ones (``plan``'s ``new``) only extend the timeline's end."""
        with self._lock:
            return self._index.follows_end(new)

    def ends_with(self, records: Sequence[Recorded]) -> bool:
        """Whether ``records`` are the last stored events in valid-time order (e.g. just loaded at the end)."""
        with self._lock:
            return self._index.ends_with(records)

    def visible(
        self,
        *,
        as_of: dt.datetime | None = None,
        known_at: dt.datetime | None = None,
        at_version: int | None = None,
    ) -> Iterator[Recorded]:
        """The events that count at that point, in valid-time order."""
        with self._lock:
            index = self._index
            known = None if known_at is None else micros(known_at)
            return iter(list(index.visible(index.stop(as_of), known, at_version)))

    # --- compatibility: the index's lists, read-only by convention ----------------------------

    @property
    def records(self) -> list[Recorded]:
        """The stored events in append order (prefer ``appended_after``)."""
        return self._index.records

    @property
    def order(self) -> list[Recorded]:
        """The stored events in valid-time order (prefer ``between``)."""
        return self._index.order

    @property
    def keys(self) -> list[int]:
        """The valid-time sort keys of ``order``."""
        return self._index.keys

    @property
    def by_id(self) -> dict[str, Recorded]:
        """The stored events by id."""
        return self._index.by_id

    @property
    def retractions(self) -> dict[str, Recorded]:
        """Target id -> the retraction that retracts it (prefer ``retraction_of``)."""
        return self._index.retractions

    @property
    def _known(self) -> Any:
        """The knowledge-time checkpoint series (white-box tests)."""
        return self._checkpoints.known

    # --- folds -----------------------------------------------------------------------------------

    def fold(
        self,
        fold: Fold[S],
        *,
        as_of: dt.datetime | None = None,
        known_at: dt.datetime | None = None,
        at_version: int | None = None,
    ) -> S:
        """The fold's state at that point, from the nearest exact checkpoint."""
        with self._lock:
            known = None if known_at is None else micros(known_at)
            return self._checkpoints.fold(fold, self._index.stop(as_of), known, at_version)

    def state(self) -> NegotiationState:
        """The full-knowledge state at the end of the timeline."""
        with self._lock:
            return self._checkpoints.state()

    # --- loading and appending -----------------------------------------------------------------

    def load(self, events: Sequence[Event]) -> None:
        """Take in events read back from the store, in append order (no checks)."""
        with self._lock:
            self._open(events)
            tz = self.tz
            start = len(self._index.records)
            self._take([Recorded.of(event, start + i + 1, tz) for i, event in enumerate(events)])

    def load_recorded(self, records: Sequence[Recorded], *, commutes: bool = False) -> None:
        """``load`` of events already wrapped: ``Recorded.of`` with the next ``seq``s, in this history's zone.

        For a caller that needs the record anyway (the projector), so it is
        built once. ``commutes``: one late event whose effect commutes
        (``Transition.commutes``): the core checkpoints after it are shifted, not dropped.
        """
        with self._lock:
            start = len(self._index.records)
            if any(r.seq != start + i + 1 for i, r in enumerate(records)):
                msg = f"records loaded at version {start} are not numbered from {start + 1}"
                raise ValueError(msg)
            self._open([r.event for r in records])
            self._take(records, commutes=commutes)

    def plan(self, events: Sequence[Event], *, now: dt.datetime) -> AppendPlan:
        """Validate ``events`` as one batch appended now; change nothing.

        Raises ``RuleViolationError`` or ``EventConflictError`` for the first
        refused event, or ``InvalidEventError`` for a malformed one.
        """
        with self._lock:
            return planning.plan(self.negotiation, self.timezone, self._index, self._checkpoints, events, now=now)

    def apply(self, plan: AppendPlan) -> None:
        """Take in a plan the store has accepted."""
        with self._lock:
            if plan.base_seq != len(self._index.records):
                msg = f"plan for version {plan.base_seq} applied at version {len(self._index.records)}"
                raise ValueError(msg)
            self._open([r.event for r in plan.new])
            self._take(plan.new, commutes=plan.commutes)
            self._checkpoints.tip = plan.end_state

    def _open(self, events: Sequence[Event]) -> None:
        if self.timezone is None:
            self.timezone = opened_zone(events)

    def _take(self, added: Sequence[Recorded], *, commutes: bool = False) -> None:
        """Index ``added``; ``commutes``: one late event whose effect commutes (see ``Transition``)."""
        if not added:
            return
        lowest = self._index.add(added)
        if commutes and len(added) == 1:
            self._checkpoints.shift(lowest, added[0])
        else:
            self._checkpoints.invalidate(lowest)
