"""The distance between the sides on an issue, and who moved how far to close it.

A gap exists on an issue for each (union, employer) pair whose standing
proposals on it both carry a numeric value in the same unit (and currency, when
one is given). Its ``moves`` are
every change of either party's number on the issue in that unit, in valid-time
order: ``before`` and ``after`` are the party's amounts, ``concession`` how far
it moved towards the other side's standing amount at that moment (negative
when it moved away), ``distance`` the gap right after the move.

The gap derives from the positions fold (same checkpoints, no fold of its own):
the standing positions come from one checkpointed fold; the moves walk the two
parties' records on the issue, so their cost grows with the number of
proposals on that issue, not with the length of the history.

``gaps_of`` folds a ``History``; ``gaps_of_records`` folds the position events
alone (all the positions fold reads), which the indexed tables hand over
(``projections.persisted.indexed.IndexedReads.gaps``) without a history.
"""

from __future__ import annotations

import datetime as dt
import heapq
from collections.abc import Iterable, Iterator, Mapping

import attrs

from events.time import When, local_date
from negotiation.core.history import History, Recorded
from projections.positions import POSITIONS_FOLD, Link, Position, standing
from projections.status import Moment

__all__ = ["Amount", "Gap", "GapMove", "GapSide", "gaps_from", "gaps_of", "gaps_of_records"]

Amount = int | float


def _clean(x: Amount) -> Amount:
    """Round float noise away (0.1 + 0.2); integers stay integers."""
    return round(x, 10) if isinstance(x, float) else x


@attrs.frozen(kw_only=True)
class GapMove:
    """One change of a party's number on the issue."""

    at: dt.datetime
    """When (valid time, negotiation time zone)."""
    date: dt.date
    party: str
    event: str
    """The ``proposal.made`` or ``proposal.withdrawn`` event id."""
    before: Amount | None
    """The party's amount before the move (None: no number in this unit)."""
    after: Amount | None
    """The party's amount after the move (None: withdrawn, or no number in this unit)."""
    concession: Amount | None
    """How far it moved towards the other side (negative: away); None when either had no number."""
    distance: Amount | None
    """The gap right after the move; None when either side has no number."""


@attrs.frozen(kw_only=True)
class GapSide:
    """One side of a gap: a party's standing number on the issue."""

    party: str
    amount: Amount
    event: str
    since: dt.date
    conceded: Amount
    """The sum of the party's concessions in ``moves`` (net of moves away)."""
    accepted: str | None = None
    """The ``proposal.accepted`` id when the party stands on the other side's proposal (spec 1.1)."""


@attrs.frozen(kw_only=True)
class Gap:
    """The distance between a union's and an employer's standing numbers on an issue."""

    negotiation: str
    issue: str
    unit: str
    currency: str | None = None
    """The currency of both sides' values (schema 2 of ``proposal.made``), if given."""
    union: GapSide
    employer: GapSide
    distance: Amount
    """``abs(union.amount - employer.amount)``."""
    moves: tuple[GapMove, ...]


def _amount(link: Link, measure: tuple[str, str | None]) -> Amount | None:
    proposal = link.proposal
    if proposal is None or proposal.value is None or (proposal.value.unit, proposal.value.currency) != measure:
        return None
    return proposal.value.amount


def _oldest_first(link: Link) -> list[Link]:
    return list(reversed(list(link)))


def _moves(union: Position, employer: Position, measure: tuple[str, str | None], tz: dt.tzinfo) -> tuple[GapMove, ...]:
    current: dict[str, Amount | None] = {union.party: None, employer.party: None}
    other = {union.party: employer.party, employer.party: union.party}
    merged: Iterator[tuple[int, str, Link]] = heapq.merge(
        ((link.key, union.party, link) for link in _oldest_first(union.chain)),
        ((link.key, employer.party, link) for link in _oldest_first(employer.chain)),
        key=lambda item: item[0],
    )
    moves = []
    for _, party, link in merged:
        before, after = current[party], _amount(link, measure)
        current[party] = after
        if before == after:
            continue
        theirs = current[other[party]]
        concession: Amount | None = None
        if before is not None and after is not None and theirs is not None:
            step = after - before
            toward = theirs - before
            concession = _clean(-abs(step) if toward == 0 else step if toward > 0 else -step)
        at = link.at.astimezone(tz)
        moves.append(
            GapMove(
                at=at,
                date=local_date(at, tz),
                party=party,
                event=link.event,
                before=before,
                after=after,
                concession=concession,
                distance=None if after is None or theirs is None else _clean(abs(after - theirs)),
            )
        )
    return tuple(moves)


def _side(position: Position, amount: Amount, moves: tuple[GapMove, ...]) -> GapSide:
    conceded = sum(m.concession for m in moves if m.party == position.party and m.concession is not None)
    return GapSide(
        party=position.party,
        amount=amount,
        event=position.event,
        since=position.since,
        conceded=_clean(conceded),
        accepted=position.accepted,
    )


def gaps_from(negotiation: str, positions: tuple[Position, ...], roles: Mapping[str, str], tz: dt.tzinfo) -> list[Gap]:
    """The gaps between standing positions; ``roles`` maps party id -> role."""
    numeric = [p for p in positions if p.value is not None]
    unions = [p for p in numeric if roles.get(p.party) == "union"]
    employers = [p for p in numeric if roles.get(p.party) == "employer"]
    gaps = []
    for u in unions:
        for e in employers:
            if u.issue != e.issue or u.value is None or e.value is None:
                continue
            measure = (u.value.unit, u.value.currency)
            if (e.value.unit, e.value.currency) != measure:
                continue
            unit = u.value.unit
            moves = _moves(u, e, measure, tz)
            gaps.append(
                Gap(
                    negotiation=negotiation,
                    issue=u.issue,
                    unit=unit,
                    currency=u.value.currency,
                    union=_side(u, u.value.amount, moves),
                    employer=_side(e, e.value.amount, moves),
                    distance=_clean(abs(u.value.amount - e.value.amount)),
                    moves=moves,
                )
            )
    gaps.sort(key=lambda g: (g.issue, g.union.party, g.employer.party))
    return gaps


def gaps_of(
    history: History, *, as_of: When | None = None, known_at: When | None = None, now: dt.datetime
) -> list[Gap]:
    """The gaps at that point; ``NotOpenedError`` before the negotiation was opened."""
    moment = Moment.resolve(history, as_of=as_of, known_at=known_at, now=now)
    state = moment.state(history)
    roles = {party.id: party.role for party in state.parties.values()}
    positions = standing(moment.fold(history, POSITIONS_FOLD), state.tz)
    return gaps_from(history.negotiation, positions, roles, state.tz)


def gaps_of_records(
    negotiation: str, records: Iterable[Recorded], roles: Mapping[str, str], tz: dt.tzinfo
) -> list[Gap]:
    """The gaps of the events that count at a point, folded from the start; ``gaps_from``'s ``roles`` and ``tz``.

    ``records`` are in valid-time order (``Recorded.key``) and may leave out
    every event the positions fold does not read (``POSITION_EVENTS``): the
    fold's state is the one ``gaps_of`` reads from the history's checkpoints.
    ``roles`` and ``tz`` are the core state's at that point (its parties' roles, its zone).
    """
    log = POSITIONS_FOLD.initial()
    for record in records:
        log = POSITIONS_FOLD.step(log, record)
    return gaps_from(negotiation, standing(log, tz), roles, tz)
