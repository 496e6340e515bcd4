"""The bitemporal index of one negotiation: its stored events by append order, valid time and id.

Valid-time order sorts by ``occurred_at`` instant, ties by append order. An
event *counts* at a knowledge time ``known`` and a version if it was recorded
by then, was among the first ``version`` appended, and is not retracted by a
retraction that also counts there. Everything is integers (µs, sequence
numbers) on the hot paths.
"""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
from collections.abc import Iterator, Sequence
from typing import Final

from events.model import EventRetracted
from negotiation.core.history.records import SEQ_BITS, Recorded, micros

__all__ = ["Index"]

_LAST_SEQ: Final = (1 << SEQ_BITS) - 1


class Index:
    """One negotiation's stored events, indexed three ways; the rule of which events count where."""

    def __init__(self) -> None:
        self.records: list[Recorded] = []
        """Append order."""
        self.by_id: dict[str, Recorded] = {}
        self.order: list[Recorded] = []
        """Valid-time order."""
        self.keys: list[int] = []
        """``order``'s sort keys (for bisection)."""
        self.retractions: dict[str, Recorded] = {}
        """Target id -> the retraction that retracts it."""

    def add(self, added: Sequence[Recorded]) -> int:
        """Index ``added`` (the next events in append order); the first valid-time index whose prefix changed."""
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
                    lowest = min(lowest, self.position(target.key))
        return lowest

    # --- positions in valid time -------------------------------------------------------------

    def position(self, key: int) -> int:
        """Where an event with valid-time sort ``key`` sits (or would sit) in ``order``."""
        return bisect.bisect_left(self.keys, key)

    def stop(self, as_of: dt.datetime | None) -> int:
        """How many events of ``order`` happened at or before ``as_of`` (``None``: all)."""
        if as_of is None:
            return len(self.order)
        return bisect.bisect_right(self.keys, (micros(as_of) << SEQ_BITS) | _LAST_SEQ)

    def between(self, start: dt.datetime | None, end: dt.datetime | None) -> Sequence[Recorded]:
        """The events that happened in ``[start, end]`` (valid time; ``None``: unbounded), in valid-time order."""
        lo = 0 if start is None else bisect.bisect_left(self.keys, micros(start) << SEQ_BITS)
        return self.order[lo : self.stop(end)]

    def follows_end(self, new: Sequence[Recorded]) -> bool:
        """Whether ``new``, in its order, only extends the valid-time order at its end."""
        last = self.keys[-1] if self.keys else -1
        for record in new:
            if record.key < last:
                return False
            last = record.key
        return True

    def ends_with(self, records: Sequence[Recorded]) -> bool:
        """Whether ``records`` are the last events of the valid-time order, in that order."""
        tail = self.order[len(self.order) - len(records) :] if records else []
        return len(tail) == len(records) and all(a is b for a, b in zip(tail, records, strict=True))

    # --- what counts where -------------------------------------------------------------------------

    def counts(self, record: Recorded, known: int | None, version: int | None) -> bool:
        """Whether ``record`` counts as known at ``known`` (µs) and ``version`` (``None``: everything stored)."""
        if known is not None and record.known_us > known:
            return False
        if version is not None and record.seq > version:
            return False
        retraction = self.retractions.get(record.event.id)
        if retraction is None:
            return True
        # Retracted, unless the retraction is not known yet at that point.
        return (known is not None and retraction.known_us > known) or (version is not None and retraction.seq > version)

    def horizon(self, record: Recorded) -> tuple[int, int]:
        """The knowledge time (µs) and version from which ``record``'s part in a fold no longer changes."""
        retraction = self.retractions.get(record.event.id)
        if retraction is None:
            return record.known_us, record.seq
        return max(record.known_us, retraction.known_us), max(record.seq, retraction.seq)

    def visible(self, stop: int, known: int | None, version: int | None) -> Iterator[Recorded]:
        """The events among the first ``stop`` of ``order`` that count there."""
        return (r for r in self.order[:stop] if self.counts(r, known, version))
