"""Append planning: validate a batch of new events against a negotiation's whole timeline, changing nothing.

``plan`` places each new event in time, refuses duplicates with other content,
impossible ``recorded_at`` values and bad retractions, then checks the merged
timeline with the state machine from the first point the batch touches (late
events and retractions can break stored events after them). One late event
whose effect commutes with everything after it is checked only where it lands.
The resulting ``AppendPlan`` is what ``History.apply`` takes in once the store
has accepted it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Final

import attrs

from events.model import Event, EventRetracted, NegotiationOpened
from events.time import instant, zone
from negotiation.core.errors import EventConflictError, RuleViolationError
from negotiation.core.history.checkpoints import Checkpoints
from negotiation.core.history.index import Index
from negotiation.core.history.records import Recorded
from negotiation.core.machine import TRANSITIONS, check, evolve
from negotiation.core.state import NegotiationState

__all__ = ["CLOCK_SKEW", "AppendPlan", "plan"]

CLOCK_SKEW: Final = dt.timedelta(minutes=5)
"""How far in the future a ``recorded_at`` may lie before it counts as the future."""


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


def opened_zone(events: Sequence[Event]) -> str | None:
    """The time zone named by the first ``negotiation.opened`` among ``events`` (``None``: none there)."""
    opened = next((e for e in events if isinstance(e, NegotiationOpened)), None)
    return None if opened is None else opened.timezone or "UTC"


def plan(
    negotiation: str,
    timezone: str | None,
    index: Index,
    checkpoints: Checkpoints,
    events: Sequence[Event],
    *,
    now: dt.datetime,
) -> AppendPlan:
    """Validate ``events`` as one batch appended now to the negotiation ``index`` holds; change nothing.

    ``timezone``: the negotiation's, if it is open. Raises ``RuleViolationError``
    or ``EventConflictError`` for the first refused event.
    """
    tz = zone(timezone if timezone is not None else opened_zone(events))
    seen: dict[str, Event] = {}
    new: list[Recorded] = []
    duplicates: list[Event] = []
    seq = len(index.records)
    retracting: dict[str, Recorded] = {}
    latest: dt.datetime | None = None  # now + CLOCK_SKEW, computed once, when first needed
    for event in events:
        if event.negotiation != negotiation:
            msg = f"event {event.id} belongs to {event.negotiation!r}, not {negotiation!r}"
            raise ValueError(msg)
        stored = index.by_id.get(event.id)
        earlier = stored.event if stored is not None else seen.get(event.id)
        if earlier is not None:
            if _same(event, earlier):
                duplicates.append(event)
                continue
            raise EventConflictError(f"id {event.id!r} is already stored with different content", event=event)
        recorded_at = now if event.recorded_at is None else event.recorded_at
        if latest is None:
            latest = now + CLOCK_SKEW
        if recorded_at > latest:
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
        record = Recorded.at_known(stored_form, seq, at, recorded_at)
        if isinstance(stored_form, EventRetracted):
            _check_retraction(index, record, retracting, seen)
            retracting[stored_form.target] = record
        seen[event.id] = stored_form
        new.append(record)
    commutes = _commutes_late(index, new, retracting)
    if commutes:
        end_state = _validate_commuting(index, checkpoints, new[0])
    else:
        end_state = _validate(index, checkpoints, new, retracting) if new else checkpoints.state()
    return AppendPlan(
        negotiation=negotiation,
        new=tuple(new),
        duplicates=tuple(duplicates),
        base_seq=len(index.records),
        end_state=end_state,
        commutes=commutes,
    )


def _commutes_late(index: Index, new: Sequence[Recorded], retracting: Mapping[str, Recorded]) -> bool:
    """One late event whose effect commutes with everything after it (``Transition.commutes``)."""
    return (
        len(new) == 1
        and not retracting
        and bool(index.keys)
        and new[0].key < index.keys[-1]
        and TRANSITIONS[type(new[0].event)].commutes
    )


def _validate_commuting(index: Index, checkpoints: Checkpoints, record: Recorded) -> NegotiationState:
    """Check a late, commuting event where it lands; nothing after it can break."""
    check(checkpoints.state_before(index.position(record.key)), record.event)
    return evolve(checkpoints.state(), record.event)


def _check_retraction(index: Index, record: Recorded, retracting: dict[str, Recorded], seen: dict[str, Event]) -> None:
    event = record.event
    assert isinstance(event, EventRetracted)  # noqa: S101 - narrowed by the caller
    target = event.target
    target_event = index.by_id[target].event if target in index.by_id else seen.get(target)
    reason = None
    if target_event is None:
        reason = f"target {target!r} is not an event of this negotiation"
    elif target in index.retractions or target in retracting:
        reason = f"target {target!r} is already retracted"
    elif isinstance(target_event, EventRetracted):
        reason = f"target {target!r} is itself a retraction"
    if reason is not None:
        raise RuleViolationError(reason, event=event, rule="retraction-target")


def _validate(
    index: Index, checkpoints: Checkpoints, new: list[Recorded], retracting: dict[str, Recorded]
) -> NegotiationState:
    """Fold the merged timeline from the first point the batch touches."""
    retracted = index.retractions.keys() | retracting.keys()
    start = min(index.position(r.key) for r in new)
    for target in retracting:
        stored = index.by_id.get(target)
        if stored is not None:
            start = min(start, index.position(stored.key))
    state = checkpoints.state() if start == len(index.order) else checkpoints.state_before(start)
    tail = sorted([*index.order[start:], *new], key=lambda r: r.key)
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
