"""The query side of the facade: temporal questions about stored negotiations.

``QueriesMixin`` gives ``Negotiations`` its read methods. Each resolves the
negotiation's ``History`` (brought up to date from the store) and hands it to a
pure read model of ``projections``, which folds it from checkpoints.

Times: a ``datetime.date`` means the END of that day in the negotiation's time
zone (all of that day's events count); a ``datetime`` is used as given.
``as_of`` is valid time, ``known_at`` knowledge time, ``at_version`` the first
n events appended to the negotiation; by default everything stored counts and
the answer reports now as its ``as_of`` and ``known_at``.

``projections`` imports ``negotiation.core.state`` and ``negotiation.core.history``;
importing it here at module level would make ``import projections`` (which
first initializes the ``negotiation`` package, and so this module) circular.
The read models are therefore imported when a query runs.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Protocol

from negotiation.core.history import History

if TYPE_CHECKING:
    from projections.catalog import CatalogEntry, StoppageEntry
    from projections.diff import Diff
    from projections.gap import Gap
    from projections.positions import Positions
    from projections.status import Status
    from projections.timeline import TimelineEntry

__all__ = ["QueriesMixin"]

When = dt.date | dt.datetime


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class _Store(Protocol):
    """What the queries need of the facade."""

    def history(self, negotiation: str) -> History: ...

    def existing(self, negotiation: str) -> History: ...

    def negotiation_ids(self) -> list[str]: ...


class QueriesMixin:
    """The read methods of ``Negotiations``.

    Every method that names a negotiation raises ``NegotiationNotFoundError``
    when it is not stored; ``status``, ``positions``, ``gaps``, ``statements``
    and ``diff`` raise ``projections.NotOpenedError`` (a subclass) when it was
    not open yet at the point asked about.
    """

    def status(
        self: _Store,
        negotiation: str,
        *,
        as_of: When | None = None,
        known_at: When | None = None,
        at_version: int | None = None,
    ) -> Status:
        """Where the negotiation stood: phase, talks, stoppage, agreement, contract."""
        from projections.status import status_of

        history = self.existing(negotiation)
        return status_of(history, as_of=as_of, known_at=known_at, at_version=at_version, now=_now())

    def positions(
        self: _Store,
        negotiation: str,
        *,
        as_of: When | None = None,
        known_at: When | None = None,
        at_version: int | None = None,
    ) -> Positions:
        """Each party's standing proposal on each issue."""
        from projections.positions import positions_of

        history = self.existing(negotiation)
        return positions_of(history, as_of=as_of, known_at=known_at, at_version=at_version, now=_now())

    def gaps(self: _Store, negotiation: str, *, as_of: When | None = None, known_at: When | None = None) -> list[Gap]:
        """The distance between union and employer numbers per issue, and how it moved."""
        from projections.gap import gaps_of

        return gaps_of(self.existing(negotiation), as_of=as_of, known_at=known_at, now=_now())

    def timeline(
        self: _Store,
        negotiation: str,
        *,
        start: When | None = None,
        end: When | None = None,
        known_at: When | None = None,
    ) -> list[TimelineEntry]:
        """The events in valid-time order with one-line summaries; both bounds are inclusive.

        A date ``start`` means the start of that day, a date ``end`` its end.
        """
        from projections.timeline import timeline_of

        return timeline_of(self.existing(negotiation), start=start, end=end, known_at=known_at)

    def statements(
        self: _Store,
        negotiation: str,
        *,
        party: str | None = None,
        as_of: When | None = None,
        known_at: When | None = None,
    ) -> list[TimelineEntry]:
        """The public statements issued up to ``as_of`` (by ``party``, if given), oldest first."""
        from projections.timeline import statements_of

        history = self.existing(negotiation)
        return statements_of(history, party=party, as_of=as_of, known_at=known_at, now=_now())

    def diff(self: _Store, negotiation: str, *, start: When, end: When, known_at: When | None = None) -> Diff:
        """What changed in status and positions between ``start`` and ``end`` (valid time)."""
        from projections.diff import diff_of

        return diff_of(self.existing(negotiation), start=start, end=end, known_at=known_at, now=_now())

    def catalog(self: _Store, *, as_of: When | None = None, known_at: When | None = None) -> list[CatalogEntry]:
        """Every negotiation open at that point: title, parties, phase, stoppage."""
        from projections.catalog import catalog_of

        return catalog_of(_histories(self), as_of=as_of, known_at=known_at, now=_now())

    def stoppages(self: _Store, *, on: When, known_at: When | None = None) -> list[StoppageEntry]:
        """The strikes and lockouts running on a date, across negotiations.

        A date counts a stoppage running at the end of that day (in each
        negotiation's time zone) or one that started during it.
        """
        from projections.catalog import stoppages_on

        return stoppages_on(_histories(self), on=on, known_at=known_at, now=_now())

    def involving(
        self: _Store, party: str, *, as_of: When | None = None, known_at: When | None = None
    ) -> list[CatalogEntry]:
        """The negotiations in which ``party`` (a party id) sits at the table."""
        from projections.catalog import involving_of

        return involving_of(_histories(self), party, as_of=as_of, known_at=known_at, now=_now())


def _histories(store: _Store) -> list[History]:
    histories = []
    for negotiation in store.negotiation_ids():
        history = store.history(negotiation)
        if history.version:
            histories.append(history)
    return histories
