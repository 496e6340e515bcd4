"""The query side of the facade: one seam, ``Queries``, and its in-memory implementation.

``Negotiations`` holds one ``Queries`` object (``Negotiations.queries``) and its
read methods delegate to it. ``Queries`` is the contract every implementation
keeps, whatever it reads: ``HistoryQueries`` folds the negotiations' ``History``
(the bitemporal index, from checkpoints); an SQL-indexed implementation answers
the same questions from tables. Implementations need not import this module:
a ``Protocol`` is matched by shape, so the read side (``projections``, below
the facade) can implement it without importing the facade.

Every implementation gives the same answers for the same stored events:

- times: a ``datetime.date`` means the END of that day in the negotiation's
  time zone (all of that day's events count); a ``datetime`` is used as given,
  a naive one as wall-clock time in the negotiation's zone (``events.time``).
  ``as_of`` is valid time, ``known_at`` knowledge time, ``at_version`` the
  first n events appended to the negotiation; by default everything stored
  counts and the answer reports now as its ``as_of`` and ``known_at``;
- errors: a method that names a negotiation raises ``NegotiationNotFoundError``
  when it is not stored; ``status``, ``positions``, ``gaps``, ``statements``
  and ``diff`` raise ``projections.NotOpenedError`` (a subclass) when it was
  not open yet at the point asked about; a bad argument raises
  ``projections.InvalidQueryError``.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar, runtime_checkable

from events.time import When
from negotiation.core.history import History
from projections.catalog import CatalogEntry, StoppageEntry, catalog_of, involving_of, stoppages_on
from projections.diff import Diff, diff_of
from projections.gap import Gap, gaps_of
from projections.positions import Positions, positions_of
from projections.status import Status, status_of
from projections.timeline import TimelineEntry, statements_of, timeline_of

__all__ = ["Clock", "Histories", "HistoryQueries", "Queries", "When", "delegated", "utc_now"]

P = ParamSpec("P")
R = TypeVar("R")

Clock = Callable[[], dt.datetime]
"""What "now" is for an answer that names no time: an aware datetime."""


def utc_now() -> dt.datetime:
    """The default clock: now, in UTC."""
    return dt.datetime.now(dt.UTC)


@runtime_checkable
class Queries(Protocol):
    """The temporal questions the facade answers; ``Negotiations`` delegates each to one of these.

    Arguments and answers are the same for every implementation (see the module
    docstring for times and errors).
    """

    def status(
        self,
        negotiation: str,
        *,
        as_of: When | None = None,
        known_at: When | None = None,
        at_version: int | None = None,
    ) -> Status:
        """Where the negotiation stood: phase, talks, stoppage, agreement, contract."""
        ...

    def positions(
        self,
        negotiation: str,
        *,
        as_of: When | None = None,
        known_at: When | None = None,
        at_version: int | None = None,
    ) -> Positions:
        """Each party's standing proposal on each issue."""
        ...

    def gaps(self, negotiation: str, *, as_of: When | None = None, known_at: When | None = None) -> list[Gap]:
        """The distance between union and employer numbers per issue, and how it moved."""
        ...

    def timeline(
        self,
        negotiation: str,
        *,
        start: When | None = None,
        end: When | None = None,
        known_at: When | None = None,
    ) -> list[TimelineEntry]:
        """The events in valid-time order with one-line summaries; both bounds inclusive.

        A date ``start`` means the start of that day, a date ``end`` its end.
        """
        ...

    def statements(
        self,
        negotiation: str,
        *,
        party: str | None = None,
        as_of: When | None = None,
        known_at: When | None = None,
    ) -> list[TimelineEntry]:
        """The public statements issued up to ``as_of`` (by ``party``, if given), oldest first."""
        ...

    def diff(self, negotiation: str, *, start: When, end: When, known_at: When | None = None) -> Diff:
        """What changed in status and positions between ``start`` and ``end`` (valid time)."""
        ...

    def catalog(self, *, as_of: When | None = None, known_at: When | None = None) -> list[CatalogEntry]:
        """Every negotiation open at that point: title, parties, phase, stoppage."""
        ...

    def stoppages(self, *, on: When, known_at: When | None = None) -> list[StoppageEntry]:
        """The strikes and lockouts running on a date, across negotiations.

        A date counts a stoppage running at the end of that day (in each
        negotiation's time zone) or one that started during it.
        """
        ...

    def involving(self, party: str, *, as_of: When | None = None, known_at: When | None = None) -> list[CatalogEntry]:
        """The negotiations in which ``party`` (a party id) sits at the table."""
        ...


class Histories(Protocol):
    """What ``HistoryQueries`` needs of the facade: the negotiations' histories, up to date."""

    def existing(self, negotiation: str) -> History:
        """The negotiation's ``History``; ``NegotiationNotFoundError`` when nothing is stored for it."""
        ...

    def histories(self) -> list[History]:
        """The ``History`` of every stored negotiation, in the order they were opened."""
        ...


class HistoryQueries:
    """``Queries`` answered in memory: each method folds the negotiation's ``History`` from checkpoints.

    ``source`` resolves histories (the facade, ``Negotiations``); ``clock`` says
    what now is when a query names no time.
    """

    def __init__(self, source: Histories, *, clock: Clock = utc_now) -> None:
        self.source = source
        self.clock = clock

    def status(
        self,
        negotiation: str,
        *,
        as_of: When | None = None,
        known_at: When | None = None,
        at_version: int | None = None,
    ) -> Status:
        """Where the negotiation stood: phase, talks, stoppage, agreement, contract."""
        history = self.source.existing(negotiation)
        return status_of(history, as_of=as_of, known_at=known_at, at_version=at_version, now=self.clock())

    def positions(
        self,
        negotiation: str,
        *,
        as_of: When | None = None,
        known_at: When | None = None,
        at_version: int | None = None,
    ) -> Positions:
        """Each party's standing proposal on each issue."""
        history = self.source.existing(negotiation)
        return positions_of(history, as_of=as_of, known_at=known_at, at_version=at_version, now=self.clock())

    def gaps(self, negotiation: str, *, as_of: When | None = None, known_at: When | None = None) -> list[Gap]:
        """The distance between union and employer numbers per issue, and how it moved."""
        return gaps_of(self.source.existing(negotiation), as_of=as_of, known_at=known_at, now=self.clock())

    def timeline(
        self,
        negotiation: str,
        *,
        start: When | None = None,
        end: When | None = None,
        known_at: When | None = None,
    ) -> list[TimelineEntry]:
        """The events in valid-time order with one-line summaries; both bounds inclusive."""
        return timeline_of(self.source.existing(negotiation), start=start, end=end, known_at=known_at)

    def statements(
        self,
        negotiation: str,
        *,
        party: str | None = None,
        as_of: When | None = None,
        known_at: When | None = None,
    ) -> list[TimelineEntry]:
        """The public statements issued up to ``as_of`` (by ``party``, if given), oldest first."""
        history = self.source.existing(negotiation)
        return statements_of(history, party=party, as_of=as_of, known_at=known_at, now=self.clock())

    def diff(self, negotiation: str, *, start: When, end: When, known_at: When | None = None) -> Diff:
        """What changed in status and positions between ``start`` and ``end`` (valid time)."""
        history = self.source.existing(negotiation)
        return diff_of(history, start=start, end=end, known_at=known_at, now=self.clock())

    def catalog(self, *, as_of: When | None = None, known_at: When | None = None) -> list[CatalogEntry]:
        """Every negotiation open at that point: title, parties, phase, stoppage."""
        return catalog_of(self.source.histories(), as_of=as_of, known_at=known_at, now=self.clock())

    def stoppages(self, *, on: When, known_at: When | None = None) -> list[StoppageEntry]:
        """The strikes and lockouts running on a date, across negotiations."""
        return stoppages_on(self.source.histories(), on=on, known_at=known_at, now=self.clock())

    def involving(self, party: str, *, as_of: When | None = None, known_at: When | None = None) -> list[CatalogEntry]:
        """The negotiations in which ``party`` (a party id) sits at the table."""
        return involving_of(self.source.histories(), party, as_of=as_of, known_at=known_at, now=self.clock())


def delegated(method: Callable[Concatenate[Queries, P], R]) -> Callable[Concatenate[Any, P], R]:
    """A facade method that asks the object's ``queries`` (the same signature and docstring as ``method``).

    ``Negotiations.status = delegated(Queries.status)``: the seam's signatures
    are written once, in ``Queries``, and type-checked at every call.
    """
    name = method.__name__

    @functools.wraps(method)
    def ask(self: Any, /, *args: P.args, **kwargs: P.kwargs) -> R:
        answer: R = getattr(self.queries, name)(*args, **kwargs)
        return answer

    return ask
