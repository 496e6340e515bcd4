"""Event builders for the negotiation tests.

One cast (a union, an employer, a mediator) and one agenda, a clock in days
from ``BASE`` and one builder per event type, each taking the event ``id``
first and the ``day`` second; every other field has a sensible default and
can be overridden by keyword. ``NOW`` is the fixed "moment of appending" for
``History.plan`` so that the tests never depend on the wall clock.

>>> opened("o")                          # doctest: +SKIP
>>> strike_called("s1", 5)               # doctest: +SKIP
>>> proposal("p1", 2, by=EMPLOYER, issue=PAY, terms="3%")  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any, TypeVar

from events import (
    AgendaIssue,
    AgreementTentative,
    ContractExpired,
    ContractExtended,
    Event,
    EventRetracted,
    IssueTabled,
    LockoutDeclared,
    LockoutEnded,
    NegotiationOpened,
    Party,
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
)
from negotiation.core.history import History

E = TypeVar("E", bound=Event)

NEGOTIATION = "wga-amptp-2023"
UNION = "wga"
EMPLOYER = "amptp"
MEDIATOR = "fmcs"
AI = "ai"
PAY = "pay"

PARTIES = (
    Party(id=UNION, name="Writers Guild of America", role="union"),
    Party(id=EMPLOYER, name="AMPTP", role="employer"),
)
ISSUES = (AgendaIssue(id=AI, title="Artificial intelligence"), AgendaIssue(id=PAY, title="Minimum pay"))

BASE = dt.datetime(2023, 3, 1, 12, 0, tzinfo=dt.UTC)
"""Day 0 of the test clock (noon UTC, so a date-only day is never ambiguous)."""
NOW = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
"""The fixed moment of appending for ``History.plan``: after every test day."""

When = int | float | dt.date


def at(day: float) -> dt.datetime:
    """The instant ``day`` days (fractions allowed) after ``BASE``."""
    return BASE + dt.timedelta(days=day)


def make(cls: type[E], id: str, day: When = 0, *, negotiation: str = NEGOTIATION, **fields: Any) -> E:
    """Any event: ``day`` is a day number of the test clock, or a date/datetime as is."""
    occurred = day if isinstance(day, dt.date) else at(day)
    return cls(id=id, negotiation=negotiation, occurred_at=occurred, **fields)


def opened(id: str = "open", day: When = 0, **fields: Any) -> NegotiationOpened:
    """``negotiation.opened`` with the test cast and agenda."""
    fields.setdefault("title", "WGA and AMPTP, 2023 MBA")
    fields.setdefault("parties", PARTIES)
    fields.setdefault("issues", ISSUES)
    return make(NegotiationOpened, id, day, **fields)


def party_joined(id: str, day: When, party_id: str = MEDIATOR, role: str = "mediator", **f: Any) -> PartyJoined:
    """``party.joined`` (a mediator by default)."""
    return make(PartyJoined, id, day, party=Party(id=party_id, name=party_id.upper(), role=role), **f)  # type: ignore[arg-type]


def issue_tabled(id: str, day: When, issue: str = "residuals", by: str = UNION, **f: Any) -> IssueTabled:
    """``issue.tabled`` adding ``issue`` to the agenda."""
    return make(IssueTabled, id, day, by=by, issue=AgendaIssue(id=issue, title=issue.title()), **f)


def talks_requested(id: str, day: When, by: str = UNION, to: str = EMPLOYER, **f: Any) -> TalksRequested:
    """``talks.requested``."""
    return make(TalksRequested, id, day, by=by, to=to, **f)


def talks_scheduled(id: str, day: When, **f: Any) -> TalksScheduled:
    """``talks.scheduled``."""
    return make(TalksScheduled, id, day, **f)


def talks_held(id: str, day: When, **f: Any) -> TalksHeld:
    """``talks.held``."""
    return make(TalksHeld, id, day, **f)


def talks_suspended(id: str, day: When, **f: Any) -> TalksSuspended:
    """``talks.suspended``."""
    return make(TalksSuspended, id, day, **f)


def talks_resumed(id: str, day: When, **f: Any) -> TalksResumed:
    """``talks.resumed``."""
    return make(TalksResumed, id, day, **f)


def proposal(id: str, day: When, by: str = UNION, issue: str = AI, terms: str = "terms", **f: Any) -> ProposalMade:
    """``proposal.made``."""
    return make(ProposalMade, id, day, by=by, issue=issue, terms=terms, **f)


def withdrawn(id: str, day: When, by: str = UNION, issue: str = AI, **f: Any) -> ProposalWithdrawn:
    """``proposal.withdrawn``."""
    return make(ProposalWithdrawn, id, day, by=by, issue=issue, **f)


def accepted(id: str, day: When, proposal: str, by: str = EMPLOYER, issue: str = AI, **f: Any) -> ProposalAccepted:
    """``proposal.accepted`` of the proposal with event id ``proposal``."""
    return make(ProposalAccepted, id, day, by=by, issue=issue, proposal=proposal, **f)


def rejected(id: str, day: When, proposal: str, by: str = EMPLOYER, issue: str = AI, **f: Any) -> ProposalRejected:
    """``proposal.rejected`` of the proposal with event id ``proposal``."""
    return make(ProposalRejected, id, day, by=by, issue=issue, proposal=proposal, **f)


def statement(id: str, day: When, by: str = UNION, text: str = "We stand together.", **f: Any) -> StatementIssued:
    """``statement.issued``."""
    return make(StatementIssued, id, day, by=by, text=text, **f)


def strike_authorized(id: str, day: When, by: str = UNION, yes_share: float = 0.979, **f: Any) -> StrikeAuthorized:
    """``strike.authorized``."""
    return make(StrikeAuthorized, id, day, by=by, yes_share=yes_share, **f)


def strike_called(id: str, day: When, by: str = UNION, **f: Any) -> StrikeCalled:
    """``strike.called``."""
    return make(StrikeCalled, id, day, by=by, **f)


def strike_ended(id: str, day: When, by: str = UNION, **f: Any) -> StrikeEnded:
    """``strike.ended``."""
    return make(StrikeEnded, id, day, by=by, **f)


def lockout_declared(id: str, day: When, by: str = EMPLOYER, **f: Any) -> LockoutDeclared:
    """``lockout.declared``."""
    return make(LockoutDeclared, id, day, by=by, **f)


def lockout_ended(id: str, day: When, by: str = EMPLOYER, **f: Any) -> LockoutEnded:
    """``lockout.ended``."""
    return make(LockoutEnded, id, day, by=by, **f)


def contract_expired(id: str, day: When, **f: Any) -> ContractExpired:
    """``contract.expired``."""
    return make(ContractExpired, id, day, **f)


def contract_extended(id: str, day: When, until: dt.date = dt.date(2023, 6, 30), **f: Any) -> ContractExtended:
    """``contract.extended``."""
    return make(ContractExtended, id, day, until=until, **f)


def tentative(id: str, day: When, **f: Any) -> AgreementTentative:
    """``agreement.tentative``."""
    return make(AgreementTentative, id, day, **f)


def ratification(
    id: str,
    day: When,
    outcome: str = "ratified",
    by: str = UNION,
    yes_share: float = 0.99,
    **f: Any,
) -> RatificationCompleted:
    """``ratification.completed`` (``ratified`` by default)."""
    return make(RatificationCompleted, id, day, by=by, yes_share=yes_share, outcome=outcome, **f)


def retraction(id: str, day: When, target: str, reason: str = "misreported", **f: Any) -> EventRetracted:
    """``event.retracted`` of the event with id ``target``."""
    return make(EventRetracted, id, day, target=target, reason=reason, **f)


def history_of(*batches: Iterable[Event], negotiation: str = NEGOTIATION, now: dt.datetime = NOW) -> History:
    """A ``History`` that has accepted each batch in turn (raises if one is refused)."""
    history = History(negotiation)
    for batch in batches:
        history.apply(history.plan(list(batch), now=now))
    return history


def ids(events: Iterable[Event]) -> list[str]:
    """The ids of ``events``, in order."""
    return [e.id for e in events]
