"""The domain events of a negotiation: one frozen class per catalog type.

Every class carries the envelope (``id``, ``negotiation``, ``occurred_at``,
``recorded_at``, ``schema``, ``source``) followed by the fields of its ``data``
object. The classes hold no behaviour: the rules live in ``negotiation`` and the
JSON Lines form in ``events.converter``.

``occurred_at`` keeps what the source said: an aware ``datetime`` or a plain
``date``, the latter meaning 00:00 of that day in the negotiation's time zone.
A value of ``None`` means "absent": it is left out of the rendered line.
"""

from __future__ import annotations

import datetime as dt
from typing import ClassVar, Literal

import attrs

from events.time import When

__all__ = [
    "EVENT_TYPES",
    "AgendaIssue",
    "AgreementTentative",
    "ContractExpired",
    "ContractExtended",
    "Event",
    "EventRetracted",
    "IssueTabled",
    "LockoutDeclared",
    "LockoutEnded",
    "NegotiationOpened",
    "Party",
    "PartyJoined",
    "ProposalAccepted",
    "ProposalMade",
    "ProposalRejected",
    "ProposalWithdrawn",
    "RatificationCompleted",
    "Role",
    "Source",
    "StatementIssued",
    "StrikeAuthorized",
    "StrikeCalled",
    "StrikeEnded",
    "TalksHeld",
    "TalksRequested",
    "TalksResumed",
    "TalksScheduled",
    "TalksSuspended",
    "Value",
]

Role = Literal["union", "employer", "mediator"]
Outcome = Literal["ratified", "rejected"]


@attrs.frozen(kw_only=True)
class Source:
    """Where the fact was reported: all fields optional."""

    url: str | None = None
    title: str | None = None
    publisher: str | None = None
    published_at: str | None = None


@attrs.frozen(kw_only=True)
class Party:
    """A party at the table."""

    id: str
    name: str
    role: Role


@attrs.frozen(kw_only=True)
class AgendaIssue:
    """An issue on the bargaining agenda."""

    id: str
    title: str


@attrs.frozen(kw_only=True)
class Value:
    """A number attached to a proposal, e.g. ``{"amount": 5, "unit": "percent", "currency": "USD"}``.

    ``currency`` (an ISO 4217 code) came with schema 2 of ``proposal.made``;
    values read from schema 1 have none.
    """

    amount: int | float
    unit: str
    currency: str | None = None


def _current_schema(event: Event) -> int:
    return type(event).SCHEMA


@attrs.frozen(kw_only=True)
class Event:
    """The envelope every event carries.

    ``SCHEMA`` is the current schema version of the class's ``data`` (1 unless
    the type's form changed); ``schema`` defaults to it. Lines of older
    schemas are upcast when they are read (``events.converter.UPCASTERS``).
    """

    TYPE: ClassVar[str] = ""
    SCHEMA: ClassVar[int] = 1

    id: str
    negotiation: str
    occurred_at: When
    recorded_at: dt.datetime | None = None
    schema: int = attrs.field(default=attrs.Factory(_current_schema, takes_self=True))
    source: Source | None = None


@attrs.frozen(kw_only=True)
class NegotiationOpened(Event):
    """The negotiation starts; must come first, exactly once."""

    TYPE: ClassVar[str] = "negotiation.opened"

    title: str
    parties: tuple[Party, ...]
    issues: tuple[AgendaIssue, ...]
    timezone: str | None = None
    contract_expires_on: dt.date | None = None


@attrs.frozen(kw_only=True)
class PartyJoined(Event):
    """A party, e.g. a federal mediator, joins."""

    TYPE: ClassVar[str] = "party.joined"

    party: Party


@attrs.frozen(kw_only=True)
class IssueTabled(Event):
    """A party adds an issue to the agenda."""

    TYPE: ClassVar[str] = "issue.tabled"

    by: str
    issue: AgendaIssue


@attrs.frozen(kw_only=True)
class TalksRequested(Event):
    """A party asks another to come to the table."""

    TYPE: ClassVar[str] = "talks.requested"

    by: str
    to: str
    for_date: When | None = None


@attrs.frozen(kw_only=True)
class TalksScheduled(Event):
    """A bargaining session is set."""

    TYPE: ClassVar[str] = "talks.scheduled"

    for_date: When | None = None


@attrs.frozen(kw_only=True)
class TalksHeld(Event):
    """A bargaining session took place."""

    TYPE: ClassVar[str] = "talks.held"

    note: str | None = None


@attrs.frozen(kw_only=True)
class TalksSuspended(Event):
    """Talks broke off."""

    TYPE: ClassVar[str] = "talks.suspended"

    by: str | None = None
    reason: str | None = None


@attrs.frozen(kw_only=True)
class TalksResumed(Event):
    """The first session after a suspension or during a stoppage."""

    TYPE: ClassVar[str] = "talks.resumed"

    note: str | None = None


@attrs.frozen(kw_only=True)
class ProposalMade(Event):
    """The party's position on the issue from now on.

    Schema 2 added ``value.currency``.
    """

    TYPE: ClassVar[str] = "proposal.made"
    SCHEMA: ClassVar[int] = 2

    by: str
    issue: str
    terms: str
    value: Value | None = None
    in_response_to: str | None = None


@attrs.frozen(kw_only=True)
class ProposalWithdrawn(Event):
    """The party no longer has a standing position on the issue."""

    TYPE: ClassVar[str] = "proposal.withdrawn"

    by: str
    issue: str


@attrs.frozen(kw_only=True)
class ProposalAccepted(Event):
    """A party accepts another party's proposal."""

    TYPE: ClassVar[str] = "proposal.accepted"

    by: str
    issue: str
    proposal: str


@attrs.frozen(kw_only=True)
class ProposalRejected(Event):
    """A party rejects another party's proposal."""

    TYPE: ClassVar[str] = "proposal.rejected"

    by: str
    issue: str
    proposal: str


@attrs.frozen(kw_only=True)
class StatementIssued(Event):
    """A public statement, press release or letter to members."""

    TYPE: ClassVar[str] = "statement.issued"

    by: str
    text: str
    audience: str | None = None


@attrs.frozen(kw_only=True)
class StrikeAuthorized(Event):
    """Members authorize a strike."""

    TYPE: ClassVar[str] = "strike.authorized"

    by: str
    yes_share: float
    turnout: float | None = None


@attrs.frozen(kw_only=True)
class StrikeCalled(Event):
    """A union's work stoppage starts at ``occurred_at``."""

    TYPE: ClassVar[str] = "strike.called"

    by: str


@attrs.frozen(kw_only=True)
class StrikeEnded(Event):
    """A union's strike ends."""

    TYPE: ClassVar[str] = "strike.ended"

    by: str


@attrs.frozen(kw_only=True)
class LockoutDeclared(Event):
    """An employer's lockout starts at ``occurred_at``."""

    TYPE: ClassVar[str] = "lockout.declared"

    by: str


@attrs.frozen(kw_only=True)
class LockoutEnded(Event):
    """An employer's lockout ends."""

    TYPE: ClassVar[str] = "lockout.ended"

    by: str


@attrs.frozen(kw_only=True)
class ContractExpired(Event):
    """The old contract ran out."""

    TYPE: ClassVar[str] = "contract.expired"


@attrs.frozen(kw_only=True)
class ContractExtended(Event):
    """The old contract was extended."""

    TYPE: ClassVar[str] = "contract.extended"

    until: dt.date


@attrs.frozen(kw_only=True)
class AgreementTentative(Event):
    """A tentative agreement, optionally with its terms per issue id."""

    TYPE: ClassVar[str] = "agreement.tentative"

    terms: dict[str, str] | None = attrs.field(default=None, hash=False)


@attrs.frozen(kw_only=True)
class RatificationCompleted(Event):
    """Members voted on the tentative agreement."""

    TYPE: ClassVar[str] = "ratification.completed"

    by: str
    yes_share: float
    outcome: Outcome
    turnout: float | None = None


@attrs.frozen(kw_only=True)
class EventRetracted(Event):
    """The target stops counting from this event's ``recorded_at`` on."""

    TYPE: ClassVar[str] = "event.retracted"

    target: str
    reason: str


EVENT_TYPES: dict[str, type[Event]] = {
    cls.TYPE: cls
    for cls in (
        NegotiationOpened,
        PartyJoined,
        IssueTabled,
        TalksRequested,
        TalksScheduled,
        TalksHeld,
        TalksSuspended,
        TalksResumed,
        ProposalMade,
        ProposalWithdrawn,
        ProposalAccepted,
        ProposalRejected,
        StatementIssued,
        StrikeAuthorized,
        StrikeCalled,
        StrikeEnded,
        LockoutDeclared,
        LockoutEnded,
        ContractExpired,
        ContractExtended,
        AgreementTentative,
        RatificationCompleted,
        EventRetracted,
    )
}
"""Catalog type name -> event class."""

for _cls in (Source, Party, AgendaIssue, Value, Event, *EVENT_TYPES.values()):
    # Resolve the string annotations once, so that tools reading attrs.fields
    # (the converter among them) see real types.
    attrs.resolve_types(_cls)
