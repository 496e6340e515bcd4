"""Each party's standing proposal per issue, at any valid and knowledge time.

The fold keeps, per (party, issue), a persistent linked list of what the party
did on that issue: every ``proposal.made`` and ``proposal.withdrawn``, newest
first. A step adds one link and sets one key of an ``immutables.Map``: constant
work and memory shared with the previous state, so checkpoints stay cheap.

The standing position is the newest link when it is a proposal; a withdrawal
removes it. A retracted proposal (or withdrawal) is never folded once its
retraction is known, so the party falls back to its previous standing proposal
on that issue without any special case here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Final, TypeAlias

import attrs
import immutables

from events.model import ProposalMade, ProposalWithdrawn, Value
from events.time import When, local_date
from negotiation.core.history import Fold, History, Recorded
from projections.status import Moment

__all__ = [
    "POSITIONS_FOLD",
    "Link",
    "Position",
    "Positions",
    "PositionsLog",
    "Proposal",
    "positions_from",
    "positions_of",
    "standing",
]


@attrs.frozen(kw_only=True)
class Proposal:
    """A ``proposal.made`` as the positions see it."""

    event: str
    """The proposal's event id."""
    party: str
    issue: str
    terms: str
    value: Value | None
    at: dt.datetime
    """When it was made (valid time)."""
    recorded_at: dt.datetime
    """When it became known (knowledge time)."""
    in_response_to: str | None = None


@attrs.frozen(kw_only=True)
class Link:
    """One step of a party's record on an issue: a proposal, or a withdrawal (``proposal`` is None).

    Links compare by their own step only; compare ``list(link)`` for whole records.
    """

    proposal: Proposal | None
    event: str
    at: dt.datetime
    key: int
    """The event's valid-time sort key (``Recorded.key``)."""
    previous: Link | None = attrs.field(default=None, eq=False, repr=False)
    """The link before (not compared nor shown: chains can be long; walk them with ``iter``)."""

    def __iter__(self) -> Iterator[Link]:
        """The links from this one back to the first, newest first."""
        link: Link | None = self
        while link is not None:
            yield link
            link = link.previous


PositionsLog: TypeAlias = immutables.Map[tuple[str, str], Link]
"""The fold's state: (party, issue) -> the newest link of the party's record on it."""


def _empty() -> PositionsLog:
    return immutables.Map()


def _step(log: PositionsLog, record: Recorded) -> PositionsLog:
    event = record.event
    if isinstance(event, ProposalMade):
        key = (event.by, event.issue)
        proposal = Proposal(
            event=event.id,
            party=event.by,
            issue=event.issue,
            terms=event.terms,
            value=event.value,
            at=record.at,
            recorded_at=record.known,
            in_response_to=event.in_response_to,
        )
        link = Link(proposal=proposal, event=event.id, at=record.at, key=record.key, previous=log.get(key))
        return log.set(key, link)
    if isinstance(event, ProposalWithdrawn):
        key = (event.by, event.issue)
        previous = log.get(key)
        if previous is None:
            return log  # nothing stood: nothing to withdraw
        return log.set(key, Link(proposal=None, event=event.id, at=record.at, key=record.key, previous=previous))
    return log


POSITIONS_FOLD: Final[Fold[PositionsLog]] = Fold("projections.positions", _empty, _step)
"""The positions read model (the gap read model derives from the same fold)."""


@attrs.frozen(kw_only=True)
class Position:
    """A party's standing proposal on an issue.

    ``since`` is the local date (negotiation time zone) the proposal was made;
    ``history`` lists the party's earlier proposals on the issue, oldest first
    (walked on demand: the JSON answer never needs it).
    """

    party: str
    issue: str
    terms: str
    value: Value | None
    since: dt.date
    at: dt.datetime
    """When the proposal was made, in the negotiation's time zone."""
    event: str
    """The ``proposal.made`` event id."""
    link: Link = attrs.field(eq=False, repr=False)

    @property
    def proposal(self) -> Proposal:
        """The standing ``proposal.made``."""
        assert self.link.proposal is not None  # noqa: S101 - a position is built from a proposal
        return self.link.proposal

    @property
    def history(self) -> tuple[Proposal, ...]:
        """The party's earlier proposals on this issue (also those before a withdrawal), oldest first."""
        earlier = [link.proposal for link in self.link if link.proposal is not None][1:]
        return tuple(reversed(earlier))


@attrs.frozen(kw_only=True)
class Positions:
    """The spec's ``positions`` answer: standing positions sorted by party, then issue."""

    negotiation: str
    as_of: dt.datetime
    known_at: dt.datetime
    at_version: int | None = None
    timezone: str
    positions: tuple[Position, ...]

    def __iter__(self) -> Iterator[Position]:
        """The standing positions, by party then issue."""
        return iter(self.positions)

    def __len__(self) -> int:
        """How many positions stand."""
        return len(self.positions)

    def get(self, party: str, issue: str) -> Position | None:
        """The party's standing position on the issue, if any."""
        return next((p for p in self.positions if p.party == party and p.issue == issue), None)

    def of(self, party: str) -> dict[str, Position]:
        """Issue id -> the party's standing position."""
        return {p.issue: p for p in self.positions if p.party == party}

    def by_party(self) -> dict[str, dict[str, Position]]:
        """Party id -> issue id -> standing position (parties with none are left out)."""
        out: dict[str, dict[str, Position]] = {}
        for p in self.positions:
            out.setdefault(p.party, {})[p.issue] = p
        return out


def standing(log: PositionsLog, tz: dt.tzinfo) -> tuple[Position, ...]:
    """The standing positions of a folded log, sorted by party, then issue."""
    out = []
    for (party, issue), link in log.items():
        proposal = link.proposal
        if proposal is None:
            continue
        at = proposal.at.astimezone(tz)
        out.append(
            Position(
                party=party,
                issue=issue,
                terms=proposal.terms,
                value=proposal.value,
                since=local_date(at, tz),
                at=at,
                event=proposal.event,
                link=link,
            )
        )
    out.sort(key=lambda p: (p.party, p.issue))
    return tuple(out)


def positions_from(log: PositionsLog, moment: Moment) -> Positions:
    """Build the answer from a folded log."""
    return Positions(
        negotiation=moment.negotiation,
        as_of=moment.as_of,
        known_at=moment.known_at,
        at_version=moment.at_version,
        timezone=moment.timezone,
        positions=standing(log, moment.tz),
    )


def positions_of(
    history: History,
    *,
    as_of: When | None = None,
    known_at: When | None = None,
    at_version: int | None = None,
    now: dt.datetime,
) -> Positions:
    """The standing positions at that point; ``NotOpenedError`` before it was opened."""
    moment = Moment.resolve(history, as_of=as_of, known_at=known_at, at_version=at_version, now=now)
    moment.state(history)  # NotOpenedError before the opening
    return positions_from(moment.fold(history, POSITIONS_FOLD), moment)
