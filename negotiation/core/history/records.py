"""What a ``History`` holds and folds: stored events placed in time (``Recorded``) and read models (``Fold``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Hashable
from typing import Final, Generic, TypeVar

import attrs

from events.model import Event
from events.time import instant
from negotiation.core.machine import evolve
from negotiation.core.state import NegotiationState

__all__ = ["SEQ_BITS", "STATUS_FOLD", "Fold", "Recorded", "micros", "valid_key", "valid_us"]

S = TypeVar("S")

_EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
SEQ_BITS: Final = 32
"""Bits of the append order in a valid-time sort key (below the instant's microseconds)."""


def micros(moment: dt.datetime) -> int:
    """Microseconds since the epoch: an exact integer sort key for an aware instant."""
    since = moment - _EPOCH
    # (The timedelta's own parts: a third cheaper than dividing it by one microsecond; every event needs two.)
    return (since.days * 86_400 + since.seconds) * 1_000_000 + since.microseconds


def valid_key(at: dt.datetime, seq: int) -> int:
    """The valid-time sort key of an event: its instant, then its place in append order."""
    return (micros(at) << SEQ_BITS) | seq


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
        known = event.recorded_at
        if known is None:
            msg = f"event {event.id} has no recorded_at; stored events always have one"
            raise ValueError(msg)
        return cls.at_known(event, seq, instant(event.occurred_at, tz), known)

    @classmethod
    def at_known(cls, event: Event, seq: int, at: dt.datetime, known: dt.datetime) -> Recorded:
        """Place ``event`` at instant ``at``, known at ``known``, ``seq``-th in append order."""
        return cls(event=event, seq=seq, at=at, known=known, key=valid_key(at, seq), known_us=micros(known))


def valid_us(record: Recorded) -> int:
    """``micros(record.at)``, read off the record's valid-time key, which holds it (no datetime arithmetic)."""
    return record.key >> SEQ_BITS


@attrs.frozen
class Fold(Generic[S]):
    """A read model as a pure fold: an initial state and a step per visible event.

    ``name`` keys the fold's checkpoints inside a ``History``; give each read
    model its own.
    """

    name: Hashable
    initial: Callable[[], S]
    step: Callable[[S, Recorded], S]


def _core_step(state: NegotiationState, record: Recorded) -> NegotiationState:
    return evolve(state, record.event)


STATUS_FOLD: Final[Fold[NegotiationState]] = Fold("negotiation.core.state", NegotiationState, _core_step)
"""The state machine's own fold: the core state, which validation and the status answer share."""
