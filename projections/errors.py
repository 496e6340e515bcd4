"""Errors of the read models: a query that cannot be answered as asked.

``NotOpenedError`` and ``InvalidQueryError`` subclass the project's errors, so
callers that already handle ``NegotiationError`` (the CLI among them) report
them without special cases. ``NotIndexedError`` is a caller's mistake, not the
input's: a question put to the indexed tables that only the folds answer.
"""

from __future__ import annotations

import datetime as dt

from events.errors import NegotiationError
from negotiation.core.errors import NegotiationNotFoundError

__all__ = ["InvalidQueryError", "NotIndexedError", "NotOpenedError"]


class NotOpenedError(NegotiationNotFoundError):
    """The negotiation is stored but was not open at the point asked about.

    Raised when the valid time, the knowledge time or the version asked for
    lies before its ``negotiation.opened`` (or before that event was recorded).
    A ``NegotiationNotFoundError``: to the question asked, it did not exist.
    """

    def __init__(
        self,
        negotiation: str,
        *,
        as_of: dt.datetime | None = None,
        known_at: dt.datetime | None = None,
        at_version: int | None = None,
    ) -> None:
        super().__init__(negotiation)
        self.as_of = as_of
        self.known_at = known_at
        self.at_version = at_version
        points = []
        if as_of is not None:
            points.append(f"as of {as_of.isoformat()}")
        if known_at is not None:
            points.append(f"as known at {known_at.isoformat()}")
        if at_version is not None:
            points.append(f"at version {at_version}")
        where = " ".join(points) or "at that point"
        self.args = (f"negotiation {negotiation!r} was not open {where}",)


class InvalidQueryError(NegotiationError, ValueError):
    """The query's arguments make no sense (a negative version, an unknown kind of time)."""


class NotIndexedError(NotImplementedError):
    """The indexed tables do not hold what was asked; the folds of the negotiation's history do.

    Raised by ``negotiation.indexed.IndexedQueries`` without a fallback for a
    version (``at_version``) or the gaps, and by an indexed answer's
    ``Position.history`` and ``Position.proposal`` (the tables keep each
    standing position, not the party's record behind it). Ask
    ``negotiation.queries.HistoryQueries`` (the facade's default) instead.
    """
