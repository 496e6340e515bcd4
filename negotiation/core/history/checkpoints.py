"""The checkpoints that keep any fold of a ``History`` cheap, whatever the history's length.

Three mechanisms, each answering "where may a fold start instead of at the
first event":

- full-knowledge checkpoints, one series per fold every ``CHECKPOINT_INTERVAL``
  events of the valid-time order; each knows from which knowledge time and
  version on it is exact (its *horizons*), so a question about an earlier point
  scans back to the last exact one;
- knowledge-time series: a question "as known at" a time before late
  corrections keeps a series of its own (``KNOWN_SERIES`` of them, least
  recently used out), so asking it again costs little;
- the tip: the full-knowledge core state at the end of the timeline, which
  every append checks against.

New events drop the checkpoints behind which they land, except that one late
event which commutes with everything after it shifts the core checkpoints
(``shift``) instead of refolding them.
"""

from __future__ import annotations

import bisect
import collections
from collections.abc import Hashable
from typing import Any, Final, Generic, TypeVar

import attrs

from negotiation.core.history.index import Index
from negotiation.core.history.records import STATUS_FOLD, Fold, Recorded
from negotiation.core.machine import evolve
from negotiation.core.state import NegotiationState

__all__ = ["CHECKPOINT_INTERVAL", "KNOWN_SERIES", "Checkpoints"]

S = TypeVar("S")

CHECKPOINT_INTERVAL: Final = 128
"""Events between two checkpoints of a fold: bounds the work of any query."""

KNOWN_SERIES: Final = 8
"""How many knowledge times keep checkpoint series of their own (least recently used out)."""


@attrs.frozen
class _Checkpoint(Generic[S]):
    index: int
    """How many events of the valid-time order precede it."""
    state: S
    horizon_known: int
    """No knowledge time at or after this (µs) sees a different prefix."""
    horizon_seq: int
    """No version at or after this sees a different prefix."""


class Checkpoints:
    """The checkpoints of every fold asked of one ``Index``."""

    def __init__(self, index: Index, *, interval: int | None = None) -> None:
        if interval is not None and interval < 1:
            raise ValueError(f"a checkpoint interval is at least 1 event, not {interval}")
        self.index = index
        self.interval = CHECKPOINT_INTERVAL if interval is None else interval
        """Events between two checkpoints of a fold: ``CHECKPOINT_INTERVAL`` unless given."""
        self._series: dict[Hashable, list[_Checkpoint[Any]]] = {}
        self._positions: dict[Hashable, list[int]] = {}
        """Per fold, the ``index`` of each checkpoint (for bisection)."""
        self.known: collections.OrderedDict[tuple[Hashable, int], list[tuple[int, Any]]] = collections.OrderedDict()
        """Checkpoint series of folds as known at a given time, least recently used first."""
        self.tip: NegotiationState | None = NegotiationState()
        """The full-knowledge core state at the end of the timeline, when known."""

    # --- answering ------------------------------------------------------------------------------

    def fold(self, fold: Fold[S], stop: int, known: int | None, version: int | None) -> S:
        """The fold over the first ``stop`` events of the valid-time order that count at ``known``/``version``."""
        index = self.index
        checkpoints = self._extend(fold, stop)
        start = self._usable(fold.name, stop, known, version)
        begin, state = checkpoints[start].index, checkpoints[start].state
        if known is not None and version is None and stop - begin > 2 * self.interval:
            # Events recorded after ``known`` (late ones) sit in the prefix of
            # the full-knowledge checkpoints near ``stop``: this knowledge time
            # keeps checkpoints of its own, so asking it again costs little.
            begin, state = self._known_checkpoint(fold, known, stop)
        step = fold.step
        for record in index.order[begin:stop]:
            if index.counts(record, known, version):
                state = step(state, record)
        return state

    def state(self) -> NegotiationState:
        """The full-knowledge core state at the end of the timeline."""
        if self.tip is None:
            self.tip = self.fold(STATUS_FOLD, len(self.index.order), None, None)
        return self.tip

    def state_before(self, position: int) -> NegotiationState:
        """The full-knowledge core state before the event at ``position`` of the valid-time order."""
        checkpoints = self._extend(STATUS_FOLD, position)
        i = self._usable(STATUS_FOLD.name, position, None, None)
        state = checkpoints[i].state
        retractions = self.index.retractions
        for record in self.index.order[checkpoints[i].index : position]:
            if record.event.id not in retractions:
                state = evolve(state, record.event)
        return state

    def _known_checkpoint(self, fold: Fold[S], known: int, stop: int) -> tuple[int, S]:
        """The last checkpoint at or before ``stop`` of the fold as known at ``known`` (µs)."""
        key = (fold.name, known)
        series: list[tuple[int, Any]] | None = self.known.pop(key, None)
        if series is None:
            series = [(0, fold.initial())]
        self.known[key] = series
        while len(self.known) > KNOWN_SERIES:
            self.known.popitem(last=False)
        position, state = series[-1]
        step = fold.step
        interval = self.interval
        index = self.index
        while position + interval <= stop:
            for record in index.order[position : position + interval]:
                if index.counts(record, known, None):
                    state = step(state, record)
            position += interval
            series.append((position, state))
        # Series checkpoint k sits at position k * interval: they are never shifted, only dropped.
        found: tuple[int, S] = series[min(len(series) - 1, stop // interval)]
        return found

    def _usable(self, name: Hashable, stop: int, known: int | None, version: int | None) -> int:
        """The last checkpoint at or before ``stop`` that is exact for that knowledge and version."""
        checkpoints = self._series[name]
        # Horizons only grow with the index: scan back to the first exact one.
        i = bisect.bisect_right(self._positions[name], stop) - 1
        while i > 0:
            c = checkpoints[i]
            if (known is None or c.horizon_known <= known) and (version is None or c.horizon_seq <= version):
                break
            i -= 1
        return max(i, 0)

    def _extend(self, fold: Fold[S], stop: int) -> list[_Checkpoint[S]]:
        """Extend the fold's full-knowledge checkpoints to within an interval of ``stop``."""
        checkpoints: list[_Checkpoint[S]] = self._series.setdefault(fold.name, [])
        positions = self._positions.setdefault(fold.name, [])
        if not checkpoints:
            checkpoints.append(_Checkpoint(0, fold.initial(), -(1 << 62), 0))
            positions.append(0)
        last = checkpoints[-1]
        interval = self.interval
        if stop - last.index < interval:
            return checkpoints
        state, known, seq = last.state, last.horizon_known, last.horizon_seq
        position = last.index
        step = fold.step
        index = self.index
        retractions = index.retractions
        while position + interval <= stop:
            for record in index.order[position : position + interval]:
                hk, hs = index.horizon(record)
                known, seq = max(known, hk), max(seq, hs)
                if record.event.id not in retractions:
                    state = step(state, record)
            position += interval
            checkpoints.append(_Checkpoint(position, state, known, seq))
            positions.append(position)
        return checkpoints

    # --- new events ----------------------------------------------------------------------------

    def invalidate(self, position: int, *, keep: Hashable | None = None) -> None:
        """Drop every checkpoint that has events at or after ``position`` behind it (but the fold ``keep``'s)."""
        self.known.clear()
        for name, checkpoints in self._series.items():
            if name == keep:
                continue
            positions = self._positions[name]
            while checkpoints and checkpoints[-1].index > position:
                checkpoints.pop()
                positions.pop()
        self.tip = None

    def shift(self, position: int, record: Recorded) -> None:
        """Take one late, commuting event at ``position`` in without refolding the core state after it.

        Every later core checkpoint gains the event's effect and moves one place
        on; other folds cannot be patched in general and lose those checkpoints.
        """
        core = STATUS_FOLD.name
        self.invalidate(position, keep=core)
        checkpoints = self._series.get(core, [])
        positions = self._positions.get(core, [])
        first = bisect.bisect_right(positions, position)
        for i in range(first, len(checkpoints)):
            c = checkpoints[i]
            checkpoints[i] = _Checkpoint(
                c.index + 1,
                evolve(c.state, record.event),
                max(c.horizon_known, record.known_us),
                max(c.horizon_seq, record.seq),
            )
            positions[i] = c.index + 1
