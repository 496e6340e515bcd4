"""What changed in a negotiation's status and positions between two valid times.

A diff needs the status and the standing positions at both ends, nothing
else (no event between them): ``diff_from`` compares them, whoever read them.
``diff_of`` folds both ends from ``History``'s checkpoints, so the cost does
not grow with history length; the indexed reads (``negotiation.indexed``)
read them from the tables and call ``diff_from`` too. Dates mean the END of
that day in the negotiation's time zone. A start before the negotiation was
opened compares against the empty negotiation (every position is then "added").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Final, Literal

import attrs

from events.time import When
from negotiation.core.history import STATUS_FOLD, History
from projections.errors import NotOpenedError
from projections.positions import POSITIONS_FOLD, Position, standing
from projections.status import Moment, Status, Stoppage, status_from

__all__ = ["STATUS_FIELDS", "Diff", "FieldChange", "PositionChange", "diff_from", "diff_of"]

STATUS_FIELDS: Final = ("phase", "talks", "stoppage", "agreement", "contract", "events_applied", "ratified_by")
"""The status fields a diff compares, in the spec's order."""

FieldValue = str | int | Stoppage | tuple[str, ...] | None


@attrs.frozen(kw_only=True)
class FieldChange:
    """A status field that changed.

    A stoppage counts as changed when its kind, parties or start date changed,
    not merely because another day of it went by.
    """

    field: str
    before: FieldValue
    after: FieldValue


@attrs.frozen(kw_only=True)
class PositionChange:
    """A party's position on an issue that was added, replaced or removed."""

    party: str
    issue: str
    before: Position | None
    after: Position | None

    @property
    def kind(self) -> Literal["added", "changed", "removed"]:
        """``added``, ``changed`` or ``removed``."""
        if self.before is None:
            return "added"
        return "removed" if self.after is None else "changed"


@attrs.frozen(kw_only=True)
class Diff:
    """The changes between ``start`` and ``end`` (both statuses are kept)."""

    negotiation: str
    start: Status
    end: Status
    status: tuple[FieldChange, ...]
    positions: tuple[PositionChange, ...]
    """Sorted by party, then issue."""

    def of_kind(self, kind: Literal["added", "changed", "removed"]) -> tuple[PositionChange, ...]:
        """The position changes of one kind."""
        return tuple(c for c in self.positions if c.kind == kind)


def _identity(stoppage: Stoppage | None) -> object:
    return None if stoppage is None else (stoppage.kind, stoppage.parties, stoppage.since)


def _status_changes(before: Status, after: Status) -> tuple[FieldChange, ...]:
    changes = []
    for name in STATUS_FIELDS:
        old, new = getattr(before, name), getattr(after, name)
        same = _identity(old) == _identity(new) if name == "stoppage" else old == new
        if not same:
            changes.append(FieldChange(field=name, before=old, after=new))
    return tuple(changes)


def _position_changes(before: Iterable[Position], after: Iterable[Position]) -> tuple[PositionChange, ...]:
    old = {(p.party, p.issue): p for p in before}
    new = {(p.party, p.issue): p for p in after}
    changes = []
    for key in sorted(old.keys() | new.keys()):
        a, b = old.get(key), new.get(key)
        if a is not None and b is not None and (a.event, a.accepted) == (b.event, b.accepted):
            continue
        changes.append(PositionChange(party=key[0], issue=key[1], before=a, after=b))
    return tuple(changes)


def diff_of(
    history: History,
    *,
    start: When,
    end: When,
    known_at: When | None = None,
    now: dt.datetime,
) -> Diff:
    """What changed between ``start`` and ``end`` (valid time), as known at ``known_at``.

    Raises ``NotOpenedError`` only if the negotiation was open at neither end.
    """
    ends = [Moment.resolve(history, as_of=t, known_at=known_at, now=now) for t in (start, end)]
    states = [m.fold(history, STATUS_FOLD) for m in ends]
    if not any(s.opened for s in states):
        raise NotOpenedError(history.negotiation, as_of=ends[1].fold_as_of, known_at=ends[1].fold_known_at)
    statuses = [status_from(s, m) for s, m in zip(states, ends, strict=True)]
    tz = history.tz
    positions = [standing(m.fold(history, POSITIONS_FOLD), tz) for m in ends]
    return diff_from(statuses[0], statuses[1], positions[0], positions[1])


def diff_from(
    start: Status, end: Status, start_positions: Iterable[Position], end_positions: Iterable[Position]
) -> Diff:
    """The changes from ``start`` to ``end``: the negotiation's status and standing positions at both ends.

    An end where the negotiation was not open is the empty negotiation's status
    (``status_from`` of an unopened state) with no positions.
    """
    return Diff(
        negotiation=end.negotiation,
        start=start,
        end=end,
        status=_status_changes(start, end),
        positions=_position_changes(start_positions, end_positions),
    )
