"""Questions across negotiations: the catalog, the stoppages on a date, who is involved where.

Each answer folds every negotiation's core state through its own checkpointed
``History``, so the cost grows with the number of negotiations, not with the
length of their histories. Dates mean the END of that day in each
negotiation's own time zone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import attrs

from events.model import (
    Event,
    LockoutDeclared,
    LockoutEnded,
    Party,
    RatificationCompleted,
    StrikeCalled,
    StrikeEnded,
)
from events.time import When, day_number, end_of_day, local_date, start_of_day
from negotiation.core.history import STATUS_FOLD, History, Recorded
from negotiation.core.state import Phase, StoppageKind
from projections.errors import NotOpenedError
from projections.status import Moment, Stoppage, parties_of, running_stoppages, status_of

__all__ = ["CatalogEntry", "StoppageEntry", "catalog_of", "involving_of", "stoppages_on"]


@attrs.frozen(kw_only=True)
class CatalogEntry:
    """A negotiation as of a time: title, parties, phase and any running stoppage."""

    negotiation: str
    title: str
    timezone: str
    parties: tuple[Party, ...]
    """Unions, then employers, then mediators, each by id."""
    phase: Phase
    stoppage: Stoppage | None
    events_applied: int
    as_of: dt.datetime
    known_at: dt.datetime


def catalog_of(
    histories: Iterable[History],
    *,
    as_of: When | None = None,
    known_at: When | None = None,
    now: dt.datetime,
) -> list[CatalogEntry]:
    """Every negotiation open at that point, in the order given."""
    entries = []
    for history in histories:
        try:
            status = status_of(history, as_of=as_of, known_at=known_at, now=now)
        except NotOpenedError:
            continue
        entries.append(
            CatalogEntry(
                negotiation=status.negotiation,
                title=status.title,
                timezone=status.timezone,
                parties=status.parties,
                phase=status.phase,
                stoppage=status.stoppage,
                events_applied=status.events_applied,
                as_of=status.as_of,
                known_at=status.known_at,
            )
        )
    return entries


def involving_of(
    histories: Iterable[History],
    party: str,
    *,
    as_of: When | None = None,
    known_at: When | None = None,
    now: dt.datetime,
) -> list[CatalogEntry]:
    """The catalog entries of the negotiations in which ``party`` (an id) is a party."""
    return [
        entry
        for entry in catalog_of(histories, as_of=as_of, known_at=known_at, now=now)
        if any(p.id == party for p in entry.parties)
    ]


@attrs.frozen(kw_only=True)
class StoppageEntry:
    """One party's strike or lockout, running on the date asked about."""

    negotiation: str
    title: str
    timezone: str
    on: dt.date
    """The date (or instant) asked about."""
    kind: StoppageKind
    party: str
    """The striking union or the locking-out employer."""
    against: tuple[str, ...]
    """The other side: the negotiation's employers for a strike, its unions for a lockout."""
    started: dt.datetime
    """When it started, in the negotiation's time zone."""
    since: dt.date
    day: int
    """Its calendar day on the date asked about (the start day is day 1)."""
    ended: dt.datetime | None = None
    """When it ended, if it started and ended on that same day; None if still running."""


_STARTS: dict[type[Event], StoppageKind] = {StrikeCalled: "strike", LockoutDeclared: "lockout"}
_ENDS: dict[type[Event], StoppageKind] = {StrikeEnded: "strike", LockoutEnded: "lockout"}


def _stoppages_in(history: History, on: When, known_at: When | None, now: dt.datetime) -> list[StoppageEntry]:
    tz = history.tz
    moment = Moment.resolve(history, as_of=on, known_at=known_at, now=now)
    try:
        state = moment.state(history)
    except NotOpenedError:
        return []
    parties = parties_of(state)
    against = {
        "strike": tuple(p.id for p in parties if p.role == "employer"),
        "lockout": tuple(p.id for p in parties if p.role == "union"),
    }

    def entry(kind: StoppageKind, party: str, started: dt.datetime, ended: dt.datetime | None) -> StoppageEntry:
        since = local_date(started, tz)
        return StoppageEntry(
            negotiation=history.negotiation,
            title=state.title,
            timezone=state.timezone,
            on=on,
            kind=kind,
            party=party,
            against=against[kind],
            started=started,
            since=since,
            day=day_number(since, moment.as_of, tz),
            ended=ended,
        )

    entries = [entry(r.kind, r.party, r.started, None) for r in running_stoppages(state)]
    if isinstance(on, dt.datetime):
        return entries
    # Stoppages that started during the day and ended before its end count too.
    running = {(e.kind, e.party, e.started) for e in entries}
    day = _day_events(history, start_of_day(on, tz), end_of_day(on, tz), moment.fold_known_at)
    for i, record in enumerate(day):
        kind = _STARTS.get(type(record.event))
        party = getattr(record.event, "by", "")
        started = record.at.astimezone(tz)
        if kind is None or (kind, party, started) in running:
            continue
        ended = next((r.at.astimezone(tz) for r in day[i + 1 :] if _ends(history, r, kind, party, moment)), None)
        entries.append(entry(kind, party, started, ended))
    return entries


def _ends(history: History, record: Recorded, kind: StoppageKind, party: str, moment: Moment) -> bool:
    """Whether ``record`` ends ``party``'s stoppage of that kind.

    Spec 1.1: a union's ratification ends its own strike; the vote that closes
    the negotiation (every union has ratified) ends every stoppage; an
    employer's vote ends nothing.
    """
    event = record.event
    if isinstance(event, RatificationCompleted):
        if event.outcome != "ratified":
            return False
        if kind == "strike" and event.by == party:
            return True
        after = history.fold(STATUS_FOLD, as_of=record.at, known_at=moment.fold_known_at)
        return after.closed and event.by in after.unions()
    return _ENDS.get(type(event)) == kind and getattr(event, "by", None) == party


def _day_events(history: History, start: dt.datetime, end: dt.datetime, known_at: dt.datetime | None) -> list[Recorded]:
    return [r for r in history.between(start, end) if history.counts(r, known_at=known_at)]


def stoppages_on(
    histories: Iterable[History], *, on: When, known_at: When | None = None, now: dt.datetime
) -> list[StoppageEntry]:
    """The strikes and lockouts running on ``on``, across negotiations.

    A date ``D`` counts a stoppage that runs at the end of ``D`` (in the
    negotiation's time zone) or that started during ``D``; a datetime counts
    the stoppages running at that instant. Sorted by start, negotiation, party.
    """
    entries = [e for history in histories for e in _stoppages_in(history, on, known_at, now)]
    entries.sort(key=lambda e: (e.started, e.negotiation, e.party))
    return entries
