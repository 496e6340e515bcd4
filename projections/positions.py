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
from collections.abc import Callable, Iterator
from typing import Any, Final, NamedTuple

import attrs
import immutables

from events.model import Event, ProposalAccepted, ProposalMade, ProposalWithdrawn, Value
from events.time import When, local_date
from negotiation.core.history import Fold, History, Recorded
from projections.errors import NotIndexedError
from projections.status import Moment

__all__ = [
    "POSITIONS_FOLD",
    "POSITION_EVENTS",
    "Link",
    "Position",
    "Positions",
    "PositionsLog",
    "Proposal",
    "position_of",
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

    An acceptance of another party's proposal is a link too: its ``proposal``
    is the accepted one, ``event`` and ``accepted`` the acceptance's id (spec 1.1).
    Links compare by their own step only; compare ``list(link)`` for whole records.
    """

    proposal: Proposal | None
    event: str
    at: dt.datetime
    key: int
    """The event's valid-time sort key (``Recorded.key``)."""
    accepted: str | None = None
    """The ``proposal.accepted`` id when this step is an acceptance."""
    previous: Link | None = attrs.field(default=None, eq=False, repr=False)
    """The link before (not compared nor shown: chains can be long; walk them with ``iter``)."""

    def __iter__(self) -> Iterator[Link]:
        """The links from this one back to the first, newest first."""
        link: Link | None = self
        while link is not None:
            yield link
            link = link.previous


class PositionsLog(NamedTuple):
    """The fold's state: each party's record per issue, and every proposal by id.

    ``links``: (party, issue) -> the newest link of the party's record on it.
    ``proposals``: proposal id -> the proposal, so an acceptance finds what it
    accepts in one step (spec 1.1). Both are persistent maps: a step copies
    nothing, and checkpoints share memory with the state before. (A named
    tuple, not an attrs class: one is built per proposal of every fold.)
    """

    links: immutables.Map[tuple[str, str], Link]
    proposals: immutables.Map[str, Proposal]

    def records(self) -> Iterator[tuple[tuple[str, str], Link]]:
        """``((party, issue), newest link)`` of every record."""
        return iter(self.links.items())


def _empty() -> PositionsLog:
    return PositionsLog(immutables.Map(), immutables.Map())


def _made(log: PositionsLog, record: Recorded, event: ProposalMade) -> PositionsLog:
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
    link = Link(proposal=proposal, event=event.id, at=record.at, key=record.key, previous=log.links.get(key))
    return PositionsLog(log.links.set(key, link), log.proposals.set(event.id, proposal))


def _withdrawn(log: PositionsLog, record: Recorded, event: ProposalWithdrawn) -> PositionsLog:
    key = (event.by, event.issue)
    previous = log.links.get(key)
    if previous is None:
        return log  # nothing stood: nothing to withdraw
    link = Link(proposal=None, event=event.id, at=record.at, key=record.key, previous=previous)
    return PositionsLog(log.links.set(key, link), log.proposals)


def _accepted(log: PositionsLog, record: Recorded, event: ProposalAccepted) -> PositionsLog:
    accepted = log.proposals.get(event.proposal)
    if accepted is None or accepted.issue != event.issue:
        return log  # not known (yet) at this knowledge time: nothing to take over
    key = (event.by, event.issue)
    link = Link(
        proposal=accepted,
        event=event.id,
        at=record.at,
        key=record.key,
        accepted=event.id,
        previous=log.links.get(key),
    )
    return PositionsLog(log.links.set(key, link), log.proposals)


_STEPS: Final[dict[type[Any], Callable[[PositionsLog, Recorded, Any], PositionsLog]]] = {
    ProposalMade: _made,
    ProposalWithdrawn: _withdrawn,
    ProposalAccepted: _accepted,
}

POSITION_EVENTS: Final[frozenset[type[Event]]] = frozenset(_STEPS)
"""The event types the positions fold reads; an event of any other type leaves its log as it is."""


def _step(log: PositionsLog, record: Recorded) -> PositionsLog:
    step = _STEPS.get(type(record.event))
    return log if step is None else step(log, record, record.event)


POSITIONS_FOLD: Final[Fold[PositionsLog]] = Fold("projections.positions", _empty, _step)
"""The positions read model (the gap read model derives from the same fold)."""


@attrs.frozen(kw_only=True)
class Position:
    """A party's standing proposal on an issue.

    ``since`` is the local date (negotiation time zone) the proposal was made,
    or accepted (then ``accepted`` is the acceptance's id and ``event`` the accepted proposal's);
    ``history`` lists the party's earlier proposals on the issue, oldest first
    (walked on demand: the JSON answer never needs it). A position read from the
    indexed tables (``negotiation.indexed.IndexedQueries``) has no ``link``: the
    tables keep what stands, not the record behind it, so ``history``,
    ``proposal`` and ``chain`` raise ``projections.errors.NotIndexedError``.
    """

    party: str
    issue: str
    terms: str
    value: Value | None
    since: dt.date
    at: dt.datetime
    """When the proposal was made, in the negotiation's time zone."""
    event: str
    """The ``proposal.made`` event id (for an accepted proposal: the accepted one's)."""
    link: Link | None = attrs.field(default=None, eq=False, repr=False)
    """The newest link of the party's record on the issue; ``None`` when read from the indexed tables."""
    accepted: str | None = None
    """The ``proposal.accepted`` id when the party took this position by accepting another's proposal."""

    @property
    def chain(self) -> Link:
        """The party's record on the issue, newest link first (walk it with ``iter``).

        ``NotIndexedError`` for a position read from the indexed tables.
        """
        if self.link is None:
            raise NotIndexedError(
                f"the indexed tables hold {self.party}'s standing position on {self.issue}, not the record behind it; "
                "ask the folds (negotiation.queries.HistoryQueries)"
            )
        return self.link

    @property
    def proposal(self) -> Proposal:
        """The standing ``proposal.made``."""
        proposal = self.chain.proposal
        assert proposal is not None  # noqa: S101 - a position is built from a proposal
        return proposal

    @property
    def history(self) -> tuple[Proposal, ...]:
        """The party's earlier proposals on this issue (also those before a withdrawal), oldest first."""
        earlier = [link.proposal for link in self.chain if link.proposal is not None][1:]
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


def position_of(key: tuple[str, str], link: Link, tz: dt.tzinfo) -> Position | None:
    """The position a party's record on an issue (``key``: party, issue; its newest ``link``) shows, if any."""
    proposal = link.proposal
    if proposal is None:
        return None
    # An accepted proposal stands from the acceptance on (``link.at``).
    at = link.at.astimezone(tz)
    return Position(
        party=key[0],
        issue=key[1],
        terms=proposal.terms,
        value=proposal.value,
        since=local_date(at, tz),
        at=at,
        event=proposal.event,
        link=link,
        accepted=link.accepted,
    )


def standing(log: PositionsLog, tz: dt.tzinfo) -> tuple[Position, ...]:
    """The standing positions of a folded log, sorted by party, then issue."""
    out = [p for key, link in log.records() if (p := position_of(key, link, tz)) is not None]
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
