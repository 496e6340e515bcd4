"""The events of a negotiation in valid-time order, each with a one-line summary.

``timeline_of`` lists the events that count (as known at a knowledge time) in
a valid-time range: it finds the range by bisection and checks only the events
inside it, so its cost is the size of the answer, not of the history.
``statements_of`` lists the parties' public statements as of a valid time
through a checkpointed fold that keeps them as a persistent linked list.

Summaries are plain text on one line (whitespace runs, newlines included,
become one space); they name parties and issues by id, e.g.
``wga called a strike`` or ``amptp proposed on ai: <terms>``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final

import attrs

from events.model import (
    AgreementTentative,
    ContractExpired,
    ContractExtended,
    Event,
    EventRetracted,
    IssueTabled,
    LockoutDeclared,
    LockoutEnded,
    Meaning,
    NegotiationOpened,
    PartyJoined,
    ProposalAccepted,
    ProposalMade,
    ProposalRejected,
    ProposalWithdrawn,
    RatificationCompleted,
    StatementIssued,
    StrikeAuthorized,
    StrikeCalled,
    StrikeEnded,
    TalksHeld,
    TalksRequested,
    TalksResumed,
    TalksScheduled,
    TalksSuspended,
    Value,
    meanings,
)
from events.time import When, local_date
from negotiation.core.history import Fold, History, Recorded
from projections.status import Moment, as_instant, start_instant

__all__ = [
    "STATEMENTS_FOLD",
    "SUMMARIES",
    "StatementLink",
    "TimelineEntry",
    "actor_of",
    "counts",
    "entry_of",
    "statements_of",
    "summarize",
    "timeline_of",
]

_SPACE: Final = re.compile(r"\s+")


def _line(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


def _when(value: dt.date) -> str:
    return value.isoformat()


def _number(x: float) -> str:
    if isinstance(x, float) and x.is_integer() and abs(x) < 1e15:
        return str(int(x))
    return str(x)


def _value(value: Value | None) -> str:
    return "" if value is None else f" ({_number(value.amount)} {_line(value.unit)})"


def _share(share: float) -> str:
    return f"{share:.1%}"


def _opened(e: NegotiationOpened) -> str:
    parties = ", ".join(p.id for p in e.parties)
    return f"negotiation opened: {_line(e.title)}" + (f" ({parties})" if parties else "")


def _talks_requested(e: TalksRequested) -> str:
    when = "" if e.for_date is None else f" for {_when(e.for_date)}"
    return f"{e.by} requested talks with {e.to}{when}"


def _talks_scheduled(e: TalksScheduled) -> str:
    return "talks scheduled" + ("" if e.for_date is None else f" for {_when(e.for_date)}")


def _talks_held(e: TalksHeld) -> str:
    return "talks held" + ("" if e.note is None else f": {_line(e.note)}")


def _talks_suspended(e: TalksSuspended) -> str:
    by = "" if e.by is None else f" by {e.by}"
    reason = "" if e.reason is None else f": {_line(e.reason)}"
    return f"talks suspended{by}{reason}"


def _talks_resumed(e: TalksResumed) -> str:
    return "talks resumed" + ("" if e.note is None else f": {_line(e.note)}")


def _statement(e: StatementIssued) -> str:
    audience = "" if e.audience is None else f" (to {_line(e.audience)})"
    return f"{e.by} said{audience}: {_line(e.text)}"


def _authorized(e: StrikeAuthorized) -> str:
    turnout = "" if e.turnout is None else f", turnout {_share(e.turnout)}"
    return f"{e.by} members authorized a strike ({_share(e.yes_share)} yes{turnout})"


def _tentative(e: AgreementTentative) -> str:
    issues = ", ".join(sorted(e.terms)) if e.terms else ""
    return "tentative agreement reached" + (f" on {issues}" if issues else "")


def _ratification(e: RatificationCompleted) -> str:
    turnout = "" if e.turnout is None else f", turnout {_share(e.turnout)}"
    return f"{e.by} members {e.outcome} the agreement ({_share(e.yes_share)} yes{turnout})"


_SUMMARIES: Final[dict[type[Event], Callable[[Any], str]]] = {
    NegotiationOpened: _opened,
    PartyJoined: lambda e: f"{e.party.id} joined as {e.party.role}",
    IssueTabled: lambda e: f"{e.by} tabled {e.issue.id}: {_line(e.issue.title)}",
    TalksRequested: _talks_requested,
    TalksScheduled: _talks_scheduled,
    TalksHeld: _talks_held,
    TalksSuspended: _talks_suspended,
    TalksResumed: _talks_resumed,
    ProposalMade: lambda e: f"{e.by} proposed on {e.issue}: {_line(e.terms)}{_value(e.value)}",
    ProposalWithdrawn: lambda e: f"{e.by} withdrew its proposal on {e.issue}",
    ProposalAccepted: lambda e: f"{e.by} accepted proposal {e.proposal} on {e.issue}",
    ProposalRejected: lambda e: f"{e.by} rejected proposal {e.proposal} on {e.issue}",
    StatementIssued: _statement,
    StrikeAuthorized: _authorized,
    StrikeCalled: lambda e: f"{e.by} called a strike",
    StrikeEnded: lambda e: f"{e.by} ended its strike",
    LockoutDeclared: lambda e: f"{e.by} declared a lockout",
    LockoutEnded: lambda e: f"{e.by} ended its lockout",
    ContractExpired: lambda e: "the contract expired",
    ContractExtended: lambda e: f"the contract was extended until {_when(e.until)}",
    AgreementTentative: _tentative,
    RatificationCompleted: _ratification,
    EventRetracted: lambda e: f"retracted {e.target}: {_line(e.reason)}",
}


SUMMARIES: Final[Mapping[type[Event], Callable[[Any], str]]] = _SUMMARIES
"""Event class -> its one-line summary: every class of ``EVENT_TYPES`` has one (a test says so)."""


def summarize(event: Event) -> str:
    """A one-line human summary of an event, naming parties and issues by id."""
    summary = _SUMMARIES.get(type(event))
    return summary(event) if summary is not None else event.TYPE


@attrs.frozen(kw_only=True)
class TimelineEntry:
    """An event at its place in the timeline."""

    negotiation: str
    at: dt.datetime
    """When it happened (valid time), in the negotiation's time zone."""
    date: dt.date
    """The local date of ``at``."""
    recorded_at: dt.datetime
    """When it became known (knowledge time), as stored."""
    seq: int
    """Its position in the negotiation's append order (1-based)."""
    event: Event
    summary: str

    @property
    def id(self) -> str:
        """The event id."""
        return self.event.id

    @property
    def type(self) -> str:
        """The catalog type, e.g. ``strike.called``."""
        return self.event.TYPE

    @property
    def party(self) -> str | None:
        """The acting party (the field its class declares ``Meaning.ACTOR``), if it names one."""
        return actor_of(self.event)


def entry_of(record: Recorded, negotiation: str, tz: dt.tzinfo) -> TimelineEntry:
    """The timeline entry of a stored event."""
    at = record.at.astimezone(tz)
    return TimelineEntry(
        negotiation=negotiation,
        at=at,
        date=local_date(at, tz),
        recorded_at=record.known,
        seq=record.seq,
        event=record.event,
        summary=summarize(record.event),
    )


def counts(history: History, record: Recorded, known_at: dt.datetime | None) -> bool:
    """Whether a stored event counts as known at ``known_at`` (``None``: everything stored): ``History.counts``."""
    return history.counts(record, known_at=known_at)


def timeline_of(
    history: History,
    *,
    start: When | None = None,
    end: When | None = None,
    known_at: When | None = None,
) -> list[TimelineEntry]:
    """The events that count in ``[start, end]`` (valid time), in valid-time order.

    A date ``start`` means 00:00 of that day and a date ``end`` the end of that
    day, both in the negotiation's time zone, so both days are included.
    """
    tz = history.tz
    lo = None if start is None else start_instant(start, tz)
    hi = None if end is None else as_instant(end, tz)
    known = None if known_at is None else as_instant(known_at, tz)
    return [
        entry_of(record, history.negotiation, tz)
        for record in history.between(lo, hi)
        if history.counts(record, known_at=known)
    ]


# --- statements ------------------------------------------------------------------


@attrs.frozen
class StatementLink:
    """A persistent list of the statements folded so far, newest first."""

    record: Recorded
    previous: StatementLink | None = attrs.field(eq=False, repr=False)
    """The statement before (not compared nor shown: walk the list with ``iter``)."""

    def __iter__(self) -> Iterator[Recorded]:
        """The statements, newest first."""
        link: StatementLink | None = self
        while link is not None:
            yield link.record
            link = link.previous


def _no_statements() -> StatementLink | None:
    return None


def _statement_step(chain: StatementLink | None, record: Recorded) -> StatementLink | None:
    if isinstance(record.event, StatementIssued):
        return StatementLink(record, chain)
    return chain


STATEMENTS_FOLD: Final[Fold[StatementLink | None]] = Fold("projections.statements", _no_statements, _statement_step)
"""The parties' statements read model."""


def statements_of(
    history: History,
    *,
    party: str | None = None,
    as_of: When | None = None,
    known_at: When | None = None,
    now: dt.datetime,
) -> list[TimelineEntry]:
    """The statements issued up to ``as_of`` (by ``party``, if given), oldest first."""
    moment = Moment.resolve(history, as_of=as_of, known_at=known_at, now=now)
    moment.state(history)  # NotOpenedError before the opening
    chain = moment.fold(history, STATEMENTS_FOLD)
    records = [] if chain is None else [r for r in chain if party is None or _by(r) == party]
    return [entry_of(record, history.negotiation, moment.tz) for record in reversed(records)]


def _by(record: Recorded) -> str | None:
    return actor_of(record.event)


def actor_of(event: Event) -> str | None:
    """The acting party of ``event``: the value of the field its class declares ``Meaning.ACTOR``."""
    for name, what in meanings(type(event)):
        if what is Meaning.ACTOR:
            value = getattr(event, name)
            return value if isinstance(value, str) else None
    return None
