"""A negotiation's events in valid time and knowledge time, with checkpointed folds.

``History`` indexes one negotiation's stored events three ways: by append order
(``seq``), by valid time (``occurred_at``, ties by ``seq``) and by id. It answers
any fold "as of" a valid time, "as known at" a knowledge time and "at version"
n (the first n appended events), starting from the nearest checkpoint that is
still exact for that question, so the cost does not grow with history length.

``History.plan`` validates a batch of new events against the whole timeline
(late events and retractions included) without changing anything; ``apply``
takes the plan in once the store has accepted it. No I/O happens here.
"""

from __future__ import annotations

import bisect
import collections
import datetime as dt
import itertools
import threading
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Final, Generic, TypeVar

import attrs

from events.model import Event, EventRetracted, NegotiationOpened
from events.time import instant, zone
from negotiation.core.errors import EventConflictError, RuleViolationError
from negotiation.core.machine import TRANSITIONS, check, evolve
from negotiation.core.state import NegotiationState

__all__ = [
    "CHECKPOINT_INTERVAL",
    "CLOCK_SKEW",
    "AppendPlan",
    "Fold",
    "History",
    "Recorded",
    "micros",
]

S = TypeVar("S")

CHECKPOINT_INTERVAL: Final = 128
"""Events between two checkpoints of a fold: bounds the work of any query."""

KNOWN_SERIES: Final = 8
"""How many knowledge times keep checkpoint series of their own (least recently used out)."""

CLOCK_SKEW: Final = dt.timedelta(minutes=5)
"""How far in the future a ``recorded_at`` may lie before it counts as the future."""

_EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MICRO: Final = dt.timedelta(microseconds=1)
_SEQ_BITS: Final = 32


def micros(moment: dt.datetime) -> int:
    """Microseconds since the epoch: an exact integer sort key for an aware instant."""
    return (moment - _EPOCH) // _MICRO


@attrs.frozen(kw_only=True)
class Recorded:
    """A stored event with its place in the stream and in time."""

    event: Event
    seq: int
    """1-based position in the negotiation's append order."""
    at: dt.datetime
    """``occurred_at`` as an instant."""
    known: dt.datetime
    """``recorded_at``: when it became known."""
    key: int = attrs.field(eq=False)
    """Valid-time sort key: occurred instant, then append order."""
    known_us: int = attrs.field(eq=False)

    @classmethod
    def of(cls, event: Event, seq: int, tz: dt.tzinfo) -> Recorded:
        """Wrap a stored event (``recorded_at`` must be set)."""
        at = instant(event.occurred_at, tz)
        known = event.recorded_at
        if known is None:
            msg = f"event {event.id} has no recorded_at; stored events always have one"
            raise ValueError(msg)
        return cls(
            event=event,
            seq=seq,
            at=at,
            known=known,
            key=(micros(at) << _SEQ_BITS) | seq,
            known_us=micros(known),
        )


@attrs.frozen
class Fold(Generic[S]):
    """A read model as a pure fold: an initial state and a step per visible event.

    ``name`` keys the fold's checkpoints inside a ``History``; give each read
    model its own.
    """

    name: Hashable
    initial: Callable[[], S]
    step: Callable[[S, Recorded], S]


@attrs.frozen
class _Checkpoint(Generic[S]):
    index: int
    """How many events of the valid-time order precede it."""
    state: S
    horizon_known: int
    """No knowledge time at or after this (µs) sees a different prefix."""
    horizon_seq: int
    """No version at or after this sees a different prefix."""


def _core_step(state: NegotiationState, record: Recorded) -> NegotiationState:
    return evolve(state, record.event)


STATUS_FOLD: Final[Fold[NegotiationState]] = Fold("negotiation.core.state", NegotiationState, _core_step)


@attrs.frozen(kw_only=True)
class AppendPlan:
    """A validated batch for one negotiation, ready to be stored."""

    negotiation: str
    new: tuple[Recorded, ...]
    """The events to store, in append order, with their sequence numbers."""
    duplicates: tuple[Event, ...]
    """Events already stored with identical content: no-ops."""
    base_seq: int
    """How many events were stored when the plan was made (optimistic concurrency)."""
    end_state: NegotiationState
    """The full-knowledge state at the end of the timeline, with the batch in."""
    commutes: bool = False
    """One late event that only needs checking where it lands (see ``Transition.commutes``)."""


class History:
    """The stored events of one negotiation, indexed for bitemporal folds."""

    def __init__(self, negotiation: str, records: Iterable[Event] = ()) -> None:
        self.negotiation = negotiation
        self.records: list[Recorded] = []
        self.by_id: dict[str, Recorded] = {}
        self.order: list[Recorded] = []
        self.keys: list[int] = []
        self.retractions: dict[str, Recorded] = {}
        """Target id -> the retraction that retracts it."""
        self.timezone: str | None = None
        self._checkpoints: dict[Hashable, list[_Checkpoint[Any]]] = {}
        self._indexes: dict[Hashable, list[int]] = {}
        self._known: collections.OrderedDict[tuple[Hashable, int], list[tuple[int, Any]]] = collections.OrderedDict()
        """Checkpoint series of folds as known at a given time, least recently used first."""
        """Per fold, the ``index`` of each checkpoint (for bisection)."""
        self._tip: NegotiationState | None = NegotiationState()
        # Queries extend checkpoints and appends reshape the indexes: one
        # History may be shared by threads (a service's readers and writer).
        self._lock = threading.RLock()
        events = list(records)
        if events:
            self.load(events)

    # --- loading and reading ---------------------------------------------------

    @property
    def tz(self) -> dt.tzinfo:
        """The negotiation's time zone (UTC until it is opened)."""
        return zone(self.timezone)

    @property
    def version(self) -> int:
        """How many events are stored."""
        return len(self.records)

    def __len__(self) -> int:
        return len(self.records)

    def load(self, events: Sequence[Event]) -> None:
        """Take in events read back from the store, in append order (no checks)."""
        with self._lock:
            self._load(events)

    def _load(self, events: Sequence[Event]) -> None:
        if self.timezone is None:
            for event in events:
                if isinstance(event, NegotiationOpened):
                    self.timezone = event.timezone or "UTC"
                    break
        tz = self.tz
        start = len(self.records)
        added = [Recorded.of(event, start + i + 1, tz) for i, event in enumerate(events)]
        self._take(added)

    def _take(self, added: Sequence[Recorded], *, commutes: bool = False) -> None:
        """Index ``added``; ``commutes``: one late event whose effect commutes (see ``Transition``)."""
        if not added:
            return
        self._known.clear()
        lowest = len(self.order)
        in_order = all(a.key < b.key for a, b in itertools.pairwise(added))
        if in_order and (not self.keys or added[0].key > self.keys[-1]):
            self.order.extend(added)
            self.keys.extend(r.key for r in added)
        else:
            for record in added:
                index = bisect.bisect_left(self.keys, record.key)
                lowest = min(lowest, index)
                self.keys.insert(index, record.key)
                self.order.insert(index, record)
        for record in added:
            self.records.append(record)
            self.by_id[record.event.id] = record
            if isinstance(record.event, EventRetracted):
                target = self.by_id.get(record.event.target)
                self.retractions[record.event.target] = record
                if target is not None:
                    lowest = min(lowest, bisect.bisect_left(self.keys, target.key))
        if commutes and len(added) == 1:
            self._shift(lowest, added[0])
        else:
            self._invalidate(lowest)

    def _invalidate(self, index: int, *, keep: Hashable | None = None) -> None:
        """Drop every checkpoint that has events at or after ``index`` behind it (but the fold ``keep``'s)."""
        for name, checkpoints in self._checkpoints.items():
            if name == keep:
                continue
            indexes = self._indexes[name]
            while checkpoints and checkpoints[-1].index > index:
                checkpoints.pop()
                indexes.pop()
        self._tip = None

    def _shift(self, index: int, record: Recorded) -> None:
        """Take one late, commuting event in without refolding the core state after it.

        Every later core checkpoint gains the event's effect and moves one place
        on; other folds cannot be patched in general and lose those checkpoints.
        """
        core = STATUS_FOLD.name
        self._invalidate(index, keep=core)
        checkpoints = self._checkpoints.get(core, [])
        indexes = self._indexes.get(core, [])
        first = bisect.bisect_right(indexes, index)
        for i in range(first, len(checkpoints)):
            c = checkpoints[i]
            checkpoints[i] = _Checkpoint(
                c.index + 1,
                evolve(c.state, record.event),
                max(c.horizon_known, record.known_us),
                max(c.horizon_seq, record.seq),
            )
            indexes[i] = c.index + 1

    def events(self) -> list[Event]:
        """The stored events in append order."""
        return [r.event for r in self.records]

    def visible(
        self,
        *,
        as_of: dt.datetime | None = None,
        known_at: dt.datetime | None = None,
        at_version: int | None = None,
    ) -> Iterator[Recorded]:
        """The events that count at that point, in valid-time order."""
        with self._lock:
            stop = self._stop(as_of)
            k = None if known_at is None else micros(known_at)
            return iter([r for r in self.order[:stop] if self._is_visible(r, k, at_version)])

    def _stop(self, as_of: dt.datetime | None) -> int:
        if as_of is None:
            return len(self.order)
        return bisect.bisect_right(self.keys, (micros(as_of) << _SEQ_BITS) | ((1 << _SEQ_BITS) - 1))

    def _is_visible(self, record: Recorded, known: int | None, version: int | None) -> bool:
        if known is not None and record.known_us > known:
            return False
        if version is not None and record.seq > version:
            return False
        retraction = self.retractions.get(record.event.id)
        if retraction is None:
            return True
        # Retracted, unless the retraction is not known yet at that point.
        return (known is not None and retraction.known_us > known) or (version is not None and retraction.seq > version)

    def _horizon(self, record: Recorded) -> tuple[int, int]:
        retraction = self.retractions.get(record.event.id)
        if retraction is None:
            return record.known_us, record.seq
        return max(record.known_us, retraction.known_us), max(record.seq, retraction.seq)

    # --- folds -----------------------------------------------------------------

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
            return self._fold(fold, as_of=as_of, known_at=known_at, at_version=at_version)

    def _fold(
        self,
        fold: Fold[S],
        *,
        as_of: dt.datetime | None,
        known_at: dt.datetime | None,
        at_version: int | None,
    ) -> S:
        stop = self._stop(as_of)
        k = None if known_at is None else micros(known_at)
        checkpoints = self._ensure(fold, stop)
        start = self._usable(fold.name, stop, k, at_version)
        begin, state = checkpoints[start].index, checkpoints[start].state
        if k is not None and at_version is None and stop - begin > 2 * CHECKPOINT_INTERVAL:
            # Events recorded after ``known_at`` (late ones) sit in the prefix of
            # the full-knowledge checkpoints near ``stop``: this knowledge time
            # keeps checkpoints of its own, so asking it again costs little.
            begin, state = self._known_checkpoint(fold, k, stop)
        step = fold.step
        for record in self.order[begin:stop]:
            if self._is_visible(record, k, at_version):
                state = step(state, record)
        return state

    def _known_checkpoint(self, fold: Fold[S], known: int, stop: int) -> tuple[int, S]:
        """The last checkpoint at or before ``stop`` of the fold as known at ``known`` (µs)."""
        key = (fold.name, known)
        series: list[tuple[int, Any]] | None = self._known.pop(key, None)
        if series is None:
            series = [(0, fold.initial())]
        self._known[key] = series
        while len(self._known) > KNOWN_SERIES:
            self._known.popitem(last=False)
        index, state = series[-1]
        step = fold.step
        interval = CHECKPOINT_INTERVAL
        while index + interval <= stop:
            for record in self.order[index : index + interval]:
                if self._is_visible(record, known, None):
                    state = step(state, record)
            index += interval
            series.append((index, state))
        # Series checkpoint k sits at index k * interval: they are never shifted, only dropped.
        found: tuple[int, S] = series[min(len(series) - 1, stop // interval)]
        return found

    def state(self) -> NegotiationState:
        """The full-knowledge state at the end of the timeline."""
        with self._lock:
            if self._tip is None:
                self._tip = self._fold(STATUS_FOLD, as_of=None, known_at=None, at_version=None)
            return self._tip

    def _usable(self, name: Hashable, stop: int, known: int | None, version: int | None) -> int:
        """The last checkpoint at or before ``stop`` that is exact for that knowledge and version."""
        checkpoints = self._checkpoints[name]
        # Horizons only grow with the index: scan back to the first exact one.
        i = bisect.bisect_right(self._indexes[name], stop) - 1
        while i > 0:
            c = checkpoints[i]
            if (known is None or c.horizon_known <= known) and (version is None or c.horizon_seq <= version):
                break
            i -= 1
        return max(i, 0)

    def _ensure(self, fold: Fold[S], stop: int) -> list[_Checkpoint[S]]:
        """Extend the fold's full-knowledge checkpoints to within an interval of ``stop``."""
        checkpoints: list[_Checkpoint[S]] = self._checkpoints.setdefault(fold.name, [])
        indexes = self._indexes.setdefault(fold.name, [])
        if not checkpoints:
            checkpoints.append(_Checkpoint(0, fold.initial(), -(1 << 62), 0))
            indexes.append(0)
        last = checkpoints[-1]
        interval = CHECKPOINT_INTERVAL
        if stop - last.index < interval:
            return checkpoints
        state, known, seq = last.state, last.horizon_known, last.horizon_seq
        index = last.index
        step = fold.step
        retractions = self.retractions
        while index + interval <= stop:
            for record in self.order[index : index + interval]:
                hk, hs = self._horizon(record)
                known, seq = max(known, hk), max(seq, hs)
                if record.event.id not in retractions:
                    state = step(state, record)
            index += interval
            checkpoints.append(_Checkpoint(index, state, known, seq))
            indexes.append(index)
        return checkpoints

    def _state_before(self, index: int) -> NegotiationState:
        """The full-knowledge core state before the event at ``index`` of the valid-time order."""
        checkpoints = self._ensure(STATUS_FOLD, index)
        i = self._usable(STATUS_FOLD.name, index, None, None)
        state = checkpoints[i].state
        for record in self.order[checkpoints[i].index : index]:
            if record.event.id not in self.retractions:
                state = evolve(state, record.event)
        return state

    # --- appending -----------------------------------------------------------

    def plan(self, events: Sequence[Event], *, now: dt.datetime) -> AppendPlan:
        """Validate ``events`` as one batch appended now; change nothing.

        Raises ``RuleViolationError`` or ``EventConflictError`` for the first
        refused event, or ``InvalidEventError`` for a malformed one.
        """
        with self._lock:
            return self._plan(events, now=now)

    def _plan(self, events: Sequence[Event], *, now: dt.datetime) -> AppendPlan:
        tz_name = self.timezone
        if tz_name is None:
            opened = next((e for e in events if isinstance(e, NegotiationOpened)), None)
            tz_name = opened.timezone if opened is not None else None
        tz = zone(tz_name)
        seen: dict[str, Event] = {}
        new: list[Recorded] = []
        duplicates: list[Event] = []
        seq = len(self.records)
        retracting: dict[str, Recorded] = {}
        for event in events:
            if event.negotiation != self.negotiation:
                msg = f"event {event.id} belongs to {event.negotiation!r}, not {self.negotiation!r}"
                raise ValueError(msg)
            stored = self.by_id.get(event.id)
            earlier = stored.event if stored is not None else seen.get(event.id)
            if earlier is not None:
                if _same(event, earlier):
                    duplicates.append(event)
                    continue
                raise EventConflictError(f"id {event.id!r} is already stored with different content", event=event)
            recorded_at = now if event.recorded_at is None else event.recorded_at
            if recorded_at > now + CLOCK_SKEW:
                raise RuleViolationError(
                    f"recorded_at {recorded_at.isoformat()} is in the future",
                    event=event,
                    rule="recorded-not-future",
                )
            at = instant(event.occurred_at, tz)
            if recorded_at < at:
                raise RuleViolationError(
                    f"recorded_at {recorded_at.isoformat()} is earlier than occurred_at {at.isoformat()}",
                    event=event,
                    rule="recorded-after-occurred",
                )
            stored_form = event if event.recorded_at is not None else attrs.evolve(event, recorded_at=recorded_at)
            seq += 1
            record = Recorded(
                event=stored_form,
                seq=seq,
                at=at,
                known=recorded_at,
                key=(micros(at) << _SEQ_BITS) | seq,
                known_us=micros(recorded_at),
            )
            if isinstance(stored_form, EventRetracted):
                self._check_retraction(record, retracting, seen)
                retracting[stored_form.target] = record
            seen[event.id] = stored_form
            new.append(record)
        commutes = self._commutes_late(new, retracting)
        if commutes:
            end_state = self._validate_commuting(new[0])
        else:
            end_state = self._validate(new, retracting) if new else self.state()
        return AppendPlan(
            negotiation=self.negotiation,
            new=tuple(new),
            duplicates=tuple(duplicates),
            base_seq=len(self.records),
            end_state=end_state,
            commutes=commutes,
        )

    def _commutes_late(self, new: Sequence[Recorded], retracting: Mapping[str, Recorded]) -> bool:
        """One late event whose effect commutes with everything after it (``Transition.commutes``)."""
        return (
            len(new) == 1
            and not retracting
            and bool(self.keys)
            and new[0].key < self.keys[-1]
            and TRANSITIONS[type(new[0].event)].commutes
        )

    def _validate_commuting(self, record: Recorded) -> NegotiationState:
        """Check a late, commuting event where it lands; nothing after it can break."""
        check(self._state_before(bisect.bisect_left(self.keys, record.key)), record.event)
        return evolve(self.state(), record.event)

    def _check_retraction(self, record: Recorded, retracting: dict[str, Recorded], seen: dict[str, Event]) -> None:
        event = record.event
        assert isinstance(event, EventRetracted)  # noqa: S101 - narrowed by the caller
        target = event.target
        target_event = self.by_id[target].event if target in self.by_id else seen.get(target)
        reason = None
        if target_event is None:
            reason = f"target {target!r} is not an event of this negotiation"
        elif target in self.retractions or target in retracting:
            reason = f"target {target!r} is already retracted"
        elif isinstance(target_event, EventRetracted):
            reason = f"target {target!r} is itself a retraction"
        if reason is not None:
            raise RuleViolationError(reason, event=event, rule="retraction-target")

    def _validate(self, new: list[Recorded], retracting: dict[str, Recorded]) -> NegotiationState:
        """Fold the merged timeline from the first point the batch touches."""
        retracted = self.retractions.keys() | retracting.keys()
        start = min(bisect.bisect_left(self.keys, r.key) for r in new)
        for target in retracting:
            stored = self.by_id.get(target)
            if stored is not None:
                start = min(start, bisect.bisect_left(self.keys, stored.key))
        if start == len(self.order) and self._tip is not None:
            state = self._tip
        else:
            state = self.fold(STATUS_FOLD, as_of=None) if start == len(self.order) else self._state_before(start)
        tail = sorted([*self.order[start:], *new], key=lambda r: r.key)
        new_ids = {r.event.id for r in new}
        for record in tail:
            if record.event.id in retracted:
                continue
            try:
                check(state, record.event)
            except RuleViolationError as e:
                if record.event.id in new_ids:
                    raise
                culprit = _culprit(new, record)
                raise RuleViolationError(
                    f"would make stored event {record.event.id} invalid: {e.reason}",
                    event=culprit,
                    rule=e.rule,
                    breaks=record.event.id,
                ) from None
            state = evolve(state, record.event)
        return state

    def apply(self, plan: AppendPlan) -> None:
        """Take in a plan the store has accepted."""
        with self._lock:
            self._apply(plan)

    def _apply(self, plan: AppendPlan) -> None:
        if plan.base_seq != len(self.records):
            msg = f"plan for version {plan.base_seq} applied at version {len(self.records)}"
            raise ValueError(msg)
        if self.timezone is None:
            for record in plan.new:
                if isinstance(record.event, NegotiationOpened):
                    self.timezone = record.event.timezone or "UTC"
                    break
        self._take(plan.new, commutes=plan.commutes)
        self._tip = plan.end_state


def _same(incoming: Event, stored: Event) -> bool:
    """Identical content; an incoming event without ``recorded_at`` takes the stored one's."""
    if incoming.recorded_at is None and stored.recorded_at is not None:
        incoming = attrs.evolve(incoming, recorded_at=stored.recorded_at)
    return incoming == stored


def _culprit(new: Sequence[Recorded], broken: Recorded) -> Event:
    """The new event to blame for breaking a stored one: the latest new event before it."""
    before = [r for r in new if r.key < broken.key]
    if before:
        return max(before, key=lambda r: r.key).event
    retractions = [r for r in new if isinstance(r.event, EventRetracted)]
    return (retractions or list(new))[0].event
