"""The domain events of a negotiation: one frozen class per catalog type.

Every class carries the envelope (``id``, ``negotiation``, ``occurred_at``,
``recorded_at``, ``schema``, ``source``) followed by the fields of its ``data``
object. The classes hold no behaviour: the rules live in ``negotiation`` and the
JSON Lines form in ``events.converter``.

``occurred_at`` keeps what the source said: an aware ``datetime`` or a plain
``date``, the latter meaning 00:00 of that day in the negotiation's time zone.
A value of ``None`` means "absent": it is left out of the rendered line.

Each class is the single declaration of its fields' meaning: a field that
names a party, an issue or another event says so in its ``attrs`` metadata
(``by: str = attrs.field(metadata=ACTOR)``, see ``Meaning``). The converter
checks the form, the state machine checks the reference (``known-party``,
``on-agenda``, ``proposal-reference``) and the timeline finds the acting
party from that declaration alone. Adding an event type: one class here
(listed in ``EVENT_TYPES`` and exported by ``events``), one row in
``negotiation.core.machine.TRANSITIONS``, one summary in
``projections.timeline.SUMMARIES``; ``tests/events/test_meanings.py`` fails
until all of them, and every reference field's declaration, are there.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping
from types import MappingProxyType
from typing import ClassVar, Final, Literal

import attrs

from events.time import When

__all__ = [
    "ACTOR",
    "EVENT_ID",
    "EVENT_REF",
    "EVENT_TYPES",
    "ISSUE_REF",
    "PARTY_REF",
    "PROPOSAL_REF",
    "SHARE",
    "SLUG",
    "AgendaIssue",
    "AgreementTentative",
    "ContractExpired",
    "ContractExtended",
    "Event",
    "EventRetracted",
    "IssueTabled",
    "LockoutDeclared",
    "LockoutEnded",
    "Meaning",
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
    "meaning",
    "meanings",
]

Role = Literal["union", "employer", "mediator"]
Outcome = Literal["ratified", "rejected"]


class Meaning(enum.Enum):
    """What a field's value means, beyond its Python type (read from ``attrs`` metadata).

    The converter checks the value's form (a slug, an event id, a share), the
    state machine checks what it refers to (a party at the table, an issue on
    the agenda, a stored proposal), the timeline reads the acting party: all
    from this declaration, never from the field's name.
    """

    SLUG = "slug"
    """A slug naming something the event declares (a negotiation, a new party or issue)."""
    PARTY = "party"
    """A slug naming a party of the negotiation."""
    ACTOR = "actor"
    """A party of the negotiation that acts: the event's ``by``."""
    ISSUE = "issue"
    """A slug naming an issue on the negotiation's agenda."""
    EVENT_ID = "event-id"
    """The event's own id (1-128 printable characters)."""
    EVENT = "event"
    """An id naming another event of the negotiation (form checked; existence by the history)."""
    PROPOSAL = "proposal"
    """An id naming a ``proposal.made`` of the negotiation (its existence is a rule)."""
    SHARE = "share"
    """A number between 0 and 1."""


def _declare(what: Meaning) -> Mapping[str, Meaning]:
    return MappingProxyType({"meaning": what})


SLUG: Final = _declare(Meaning.SLUG)
PARTY_REF: Final = _declare(Meaning.PARTY)
ACTOR: Final = _declare(Meaning.ACTOR)
ISSUE_REF: Final = _declare(Meaning.ISSUE)
EVENT_ID: Final = _declare(Meaning.EVENT_ID)
EVENT_REF: Final = _declare(Meaning.EVENT)
PROPOSAL_REF: Final = _declare(Meaning.PROPOSAL)
SHARE: Final = _declare(Meaning.SHARE)
"""Field metadata: ``by: str = attrs.field(metadata=ACTOR)`` declares what the field means."""


def meaning(attribute: attrs.Attribute[object]) -> Meaning | None:
    """What ``attribute`` declares it means, or ``None`` (plain data)."""
    found = attribute.metadata.get("meaning")
    return found if isinstance(found, Meaning) else None


_MEANINGS: dict[type, tuple[tuple[str, Meaning], ...]] = {}


def meanings(cls: type) -> tuple[tuple[str, Meaning], ...]:
    """``(field name, meaning)`` of every declared field of an attrs class, in field order (cached)."""
    cached = _MEANINGS.get(cls)
    if cached is None:
        cached = tuple((a.name, m) for a in attrs.fields(cls) if (m := meaning(a)) is not None)
        _MEANINGS[cls] = cached
    return cached


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

    id: str = attrs.field(metadata=SLUG)
    name: str
    role: Role


@attrs.frozen(kw_only=True)
class AgendaIssue:
    """An issue on the bargaining agenda."""

    id: str = attrs.field(metadata=SLUG)
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

    id: str = attrs.field(metadata=EVENT_ID)
    negotiation: str = attrs.field(metadata=SLUG)
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

    by: str = attrs.field(metadata=ACTOR)
    issue: AgendaIssue


@attrs.frozen(kw_only=True)
class TalksRequested(Event):
    """A party asks another to come to the table."""

    TYPE: ClassVar[str] = "talks.requested"

    by: str = attrs.field(metadata=ACTOR)
    to: str = attrs.field(metadata=PARTY_REF)
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

    by: str | None = attrs.field(default=None, metadata=ACTOR)
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

    by: str = attrs.field(metadata=ACTOR)
    issue: str = attrs.field(metadata=ISSUE_REF)
    terms: str
    value: Value | None = None
    in_response_to: str | None = attrs.field(default=None, metadata=EVENT_REF)


@attrs.frozen(kw_only=True)
class ProposalWithdrawn(Event):
    """The party no longer has a standing position on the issue."""

    TYPE: ClassVar[str] = "proposal.withdrawn"

    by: str = attrs.field(metadata=ACTOR)
    issue: str = attrs.field(metadata=ISSUE_REF)


@attrs.frozen(kw_only=True)
class ProposalAccepted(Event):
    """A party accepts another party's proposal."""

    TYPE: ClassVar[str] = "proposal.accepted"

    by: str = attrs.field(metadata=ACTOR)
    issue: str = attrs.field(metadata=ISSUE_REF)
    proposal: str = attrs.field(metadata=PROPOSAL_REF)


@attrs.frozen(kw_only=True)
class ProposalRejected(Event):
    """A party rejects another party's proposal."""

    TYPE: ClassVar[str] = "proposal.rejected"

    by: str = attrs.field(metadata=ACTOR)
    issue: str = attrs.field(metadata=ISSUE_REF)
    proposal: str = attrs.field(metadata=PROPOSAL_REF)


@attrs.frozen(kw_only=True)
class StatementIssued(Event):
    """A public statement, press release or letter to members."""

    TYPE: ClassVar[str] = "statement.issued"

    by: str = attrs.field(metadata=ACTOR)
    text: str
    audience: str | None = None


@attrs.frozen(kw_only=True)
class StrikeAuthorized(Event):
    """Members authorize a strike."""

    TYPE: ClassVar[str] = "strike.authorized"

    by: str = attrs.field(metadata=ACTOR)
    yes_share: float = attrs.field(metadata=SHARE)
    turnout: float | None = attrs.field(default=None, metadata=SHARE)


@attrs.frozen(kw_only=True)
class StrikeCalled(Event):
    """A union's work stoppage starts at ``occurred_at``."""

    TYPE: ClassVar[str] = "strike.called"

    by: str = attrs.field(metadata=ACTOR)


@attrs.frozen(kw_only=True)
class StrikeEnded(Event):
    """A union's strike ends."""

    TYPE: ClassVar[str] = "strike.ended"

    by: str = attrs.field(metadata=ACTOR)


@attrs.frozen(kw_only=True)
class LockoutDeclared(Event):
    """An employer's lockout starts at ``occurred_at``."""

    TYPE: ClassVar[str] = "lockout.declared"

    by: str = attrs.field(metadata=ACTOR)


@attrs.frozen(kw_only=True)
class LockoutEnded(Event):
    """An employer's lockout ends."""

    TYPE: ClassVar[str] = "lockout.ended"

    by: str = attrs.field(metadata=ACTOR)


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

    by: str = attrs.field(metadata=ACTOR)
    yes_share: float = attrs.field(metadata=SHARE)
    outcome: Outcome
    turnout: float | None = attrs.field(default=None, metadata=SHARE)


@attrs.frozen(kw_only=True)
class EventRetracted(Event):
    """The target stops counting from this event's ``recorded_at`` on."""

    TYPE: ClassVar[str] = "event.retracted"

    target: str = attrs.field(metadata=EVENT_REF)
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
