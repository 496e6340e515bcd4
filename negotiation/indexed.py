"""``Queries`` answered from the indexed read-model tables: ``IndexedQueries``.

``IndexedQueries`` keeps the contract of ``negotiation.queries.Queries`` (the
same answers as ``HistoryQueries`` for the same stored events) by reading the
bitemporal tables through ``projections.persisted.indexed.IndexedReads``,
never a whole history or the whole store:

- ``status``, ``positions``, ``catalog`` and ``involving``: the indexed JSON
  answer, plus what only the answer objects hold (``IndexedReads.details``,
  ``IndexedReads.running_at``: title, parties, contract expiry, each party's
  stoppage start, when each position was taken);
- ``timeline``, ``statements`` and ``stoppages``: read as objects;
- ``diff``: the status and the standing positions at both ends, read as above
  and compared by ``projections.diff.diff_from``, as the folds' ``diff_of``
  does (a diff needs nothing else, no event between the ends);
- ``gaps``: the negotiation's proposals, withdrawals and acceptances that count
  at that point, read from the events table and folded by the positions fold
  (``IndexedReads.gaps``): a gap's moves walk each party's record on an issue.

The tables hold no versions, so ``at_version`` is asked of ``fallback`` (the
facade's ``HistoryQueries``, in ``negotiation.answers``); without one it
raises ``projections.errors.NotIndexedError``, as do ``Position.history`` and
``Position.proposal`` of an indexed answer (the position rows hold what
stands, not the record behind it; ``Status.state`` is ``None``).

An answer built from several reads (each its own read transaction) is read
again when the tables took in a page in between (their tracked position
moved), so its parts are of one state of the tables; if pages keep coming it
is asked of ``fallback``. The tables answer as of what they have taken in:
``negotiation.answers.Answers`` brings them up to date first.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final, TypeVar

from events.converter import SLUG_RE
from events.model import Party, Value
from events.time import When, zone
from negotiation.core.errors import NegotiationNotFoundError
from negotiation.core.state import NegotiationState
from negotiation.queries import Clock, Queries, utc_now
from projections.catalog import CatalogEntry, StoppageEntry
from projections.diff import Diff, diff_from
from projections.errors import NotIndexedError, NotOpenedError
from projections.gap import Gap
from projections.positions import Position, Positions
from projections.status import Moment, RunningStoppage, Status, Stoppage, status_from
from projections.timeline import TimelineEntry

if TYPE_CHECKING:
    from projections.persisted.indexed import Details, IndexedReads

__all__ = ["ATTEMPTS", "IndexedQueries"]

R = TypeVar("R")

ATTEMPTS: Final = 3
"""How many times an answer of several reads is read while the tables keep taking in pages."""


class IndexedQueries:
    """``Queries`` answered from a store's indexed tables (see the module); versions by ``fallback``.

    ``reads`` is ``ReadModels.indexed()``; ``clock`` says what now is when a
    query names no time.
    """

    def __init__(self, reads: IndexedReads, *, fallback: Queries | None = None, clock: Clock = utc_now) -> None:
        self.reads = reads
        self.fallback = fallback
        """What answers the questions the tables cannot (``at_version``); ``None``: ``NotIndexedError``."""
        self.clock = clock

    def _pure(self, question: str) -> Queries:
        if self.fallback is None:
            raise NotIndexedError(f"the indexed tables do not answer {question}; give IndexedQueries a fallback")
        return self.fallback

    @staticmethod
    def _stored(negotiation: str) -> None:
        """An id that is not a slug cannot be stored: not found, without asking the tables (as the facade)."""
        if not SLUG_RE.fullmatch(negotiation):
            raise NegotiationNotFoundError(negotiation)

    def _settled(self, read: Callable[[], R], pure: Callable[[Queries], R]) -> R:
        """``read`` (several read transactions) as of one tracked position of the tables.

        Read again when a page was taken in meanwhile; after ``ATTEMPTS`` such
        reads ``pure`` asks the fallback (without one, the last read stands).
        """
        position = self.reads.views.position
        before = position()
        for _ in range(ATTEMPTS):
            answer = read()
            after = position()
            if after == before:
                return answer
            before = after
        return answer if self.fallback is None else pure(self.fallback)

    # --- one negotiation -------------------------------------------------------------

    def status(
        self,
        negotiation: str,
        *,
        as_of: When | None = None,
        known_at: When | None = None,
        at_version: int | None = None,
    ) -> Status:
        """Where the negotiation stood: phase, talks, stoppage, agreement, contract."""
        self._stored(negotiation)
        if at_version is not None:
            return self._pure("versions (at_version)").status(
                negotiation, as_of=as_of, known_at=known_at, at_version=at_version
            )
        now = self.clock()

        def read() -> Status:
            answer = self.reads.status(negotiation, as_of=as_of, known_at=known_at, now=now)
            return _status(answer, self.reads.details(negotiation, as_of=as_of, known_at=known_at, now=now))

        return self._settled(read, lambda q: q.status(negotiation, as_of=as_of, known_at=known_at))

    def positions(
        self,
        negotiation: str,
        *,
        as_of: When | None = None,
        known_at: When | None = None,
        at_version: int | None = None,
    ) -> Positions:
        """Each party's standing proposal on each issue."""
        self._stored(negotiation)
        if at_version is not None:
            return self._pure("versions (at_version)").positions(
                negotiation, as_of=as_of, known_at=known_at, at_version=at_version
            )
        now = self.clock()

        def read() -> Positions:
            answer = self.reads.positions(negotiation, as_of=as_of, known_at=known_at, now=now)
            details = self.reads.details(negotiation, as_of=as_of, known_at=known_at, now=now, taken=True)
            return _positions(answer, details)

        return self._settled(read, lambda q: q.positions(negotiation, as_of=as_of, known_at=known_at))

    def gaps(self, negotiation: str, *, as_of: When | None = None, known_at: When | None = None) -> list[Gap]:
        """The distance between union and employer numbers per issue, from the position events (one read)."""
        self._stored(negotiation)
        return self.reads.gaps(negotiation, as_of=as_of, known_at=known_at)

    def timeline(
        self,
        negotiation: str,
        *,
        start: When | None = None,
        end: When | None = None,
        known_at: When | None = None,
    ) -> list[TimelineEntry]:
        """The events in valid-time order with one-line summaries; both bounds inclusive."""
        self._stored(negotiation)
        return self.reads.timeline_entries(negotiation, start=start, end=end, known_at=known_at)

    def statements(
        self,
        negotiation: str,
        *,
        party: str | None = None,
        as_of: When | None = None,
        known_at: When | None = None,
    ) -> list[TimelineEntry]:
        """The public statements issued up to ``as_of`` (by ``party``, if given), oldest first."""
        self._stored(negotiation)
        return self.reads.statement_entries(negotiation, party=party, as_of=as_of, known_at=known_at)

    def diff(self, negotiation: str, *, start: When, end: When, known_at: When | None = None) -> Diff:
        """What changed in status and positions between ``start`` and ``end`` (valid time).

        ``NotOpenedError`` only if the negotiation was open at neither end; an
        end where it was not open is the empty negotiation, as in ``diff_of``.
        """
        self._stored(negotiation)
        now = self.clock()

        def read() -> Diff:
            first, first_positions, not_open_first = self._end(negotiation, start, known_at, now)
            last, last_positions, not_open_last = self._end(negotiation, end, known_at, now)
            if not_open_first is not None and not_open_last is not None:
                raise not_open_last
            return diff_from(first, last, first_positions, last_positions)

        return self._settled(read, lambda q: q.diff(negotiation, start=start, end=end, known_at=known_at))

    def _end(
        self, negotiation: str, as_of: When, known_at: When | None, now: dt.datetime
    ) -> tuple[Status, tuple[Position, ...], NotOpenedError | None]:
        """The status and standing positions at one end of a diff, and why it was not open, if it was not.

        Not open: the empty negotiation's status (``status_from`` of the empty
        state, as ``diff_of`` folds it) and no positions.
        """
        try:
            answer = self.reads.status(negotiation, as_of=as_of, known_at=known_at, now=now)
        except NotOpenedError as e:
            timezone = self.reads.details(negotiation, as_of=as_of, known_at=known_at, now=now).timezone
            moment = Moment.of(negotiation, timezone, as_of=as_of, known_at=known_at, now=now)
            return status_from(NegotiationState(), moment), (), e
        details = self.reads.details(negotiation, as_of=as_of, known_at=known_at, now=now, taken=True)
        positions = _positions(self.reads.positions(negotiation, as_of=as_of, known_at=known_at, now=now), details)
        return _status(answer, details), positions.positions, None

    # --- across negotiations -----------------------------------------------------------

    def catalog(self, *, as_of: When | None = None, known_at: When | None = None) -> list[CatalogEntry]:
        """Every negotiation open at that point: title, parties, phase, stoppage."""
        now = self.clock()

        def read() -> list[CatalogEntry]:
            answer = self.reads.catalog(as_of=as_of, known_at=known_at, now=now)
            entries = answer["negotiations"]
            running = (
                self.reads.running_at(as_of=as_of, known_at=known_at)
                if any(e["stoppage"] is not None for e in entries)
                else {}
            )
            return [_catalog_entry(e, running.get(e["negotiation"], ())) for e in entries]

        return self._settled(read, lambda q: q.catalog(as_of=as_of, known_at=known_at))

    def stoppages(self, *, on: When, known_at: When | None = None) -> list[StoppageEntry]:
        """The strikes and lockouts running on a date, across negotiations."""
        return self.reads.stoppage_entries(on=on, known_at=known_at, now=self.clock())

    def involving(self, party: str, *, as_of: When | None = None, known_at: When | None = None) -> list[CatalogEntry]:
        """The negotiations in which ``party`` (a party id) sits at the table."""
        return [e for e in self.catalog(as_of=as_of, known_at=known_at) if any(p.id == party for p in e.parties)]


# --- the answer objects, from the indexed JSON answers and their details ---------------------


def _instant(text: str, tz: dt.tzinfo) -> dt.datetime:
    """An instant of an answer (RFC 3339 with the zone's offset), in that zone, as the folds give it."""
    return dt.datetime.fromisoformat(text).astimezone(tz)


def _status(answer: Mapping[str, Any], details: Details) -> Status:
    tz = zone(details.timezone)
    return Status(
        negotiation=answer["negotiation"],
        as_of=_instant(answer["as_of"], tz),
        known_at=_instant(answer["known_at"], tz),
        timezone=details.timezone,
        title=details.title,
        parties=details.parties,
        phase=answer["phase"],
        talks=answer["talks"],
        stoppage=details.stoppage,
        agreement=answer["agreement"],
        contract=answer["contract"],
        contract_expires_on=details.contract_expires_on,
        events_applied=answer["events_applied"],
        ratified_by=tuple(answer["ratified_by"]),
    )


def _value(shown: Mapping[str, Any] | None) -> Value | None:
    if shown is None:
        return None
    return Value(amount=shown["amount"], unit=shown["unit"], currency=shown.get("currency"))


def _positions(answer: Mapping[str, Any], details: Details) -> Positions:
    tz = zone(details.timezone)
    positions = [
        Position(
            party=party,
            issue=issue,
            terms=shown["terms"],
            value=_value(shown["value"]),
            since=dt.date.fromisoformat(shown["since"]),
            at=details.taken[(party, issue)],
            event=shown["event"],
            accepted=shown.get("accepted"),
        )
        for party, issues in answer["positions"].items()
        for issue, shown in issues.items()
    ]
    positions.sort(key=lambda p: (p.party, p.issue))
    return Positions(
        negotiation=answer["negotiation"],
        as_of=_instant(answer["as_of"], tz),
        known_at=_instant(answer["known_at"], tz),
        timezone=details.timezone,
        positions=tuple(positions),
    )


def _catalog_entry(entry: Mapping[str, Any], running: tuple[RunningStoppage, ...]) -> CatalogEntry:
    tz = zone(entry["timezone"])
    shown = entry["stoppage"]
    stoppage = None
    if shown is not None and running:
        # Kind, parties, start date and day as the answer counts them (in the state's zone); the starts from the rows.
        stoppage = Stoppage(
            kind=shown["kind"],
            parties=tuple(shown["parties"]),
            since=dt.date.fromisoformat(shown["since"]),
            day=shown["day"],
            started=running[0].started,
            running=running,
        )
    return CatalogEntry(
        negotiation=entry["negotiation"],
        title=entry["title"],
        timezone=entry["timezone"],
        parties=tuple(Party(id=p["id"], name=p["name"], role=p["role"]) for p in entry["parties"]),
        phase=entry["phase"],
        stoppage=stoppage,
        events_applied=entry["events_applied"],
        as_of=_instant(entry["as_of"], tz),
        known_at=_instant(entry["known_at"], tz),
    )
