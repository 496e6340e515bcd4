"""Rule-valid event sequences of one negotiation, valid by construction.

``negotiations()`` draws an opening, then steps chosen among what the rules of
spec section 2 allow at that point (a small model tracks talks, stoppages, the
agreement and the proposals), with strictly increasing ``occurred_at`` so that
valid-time order does not depend on append order (``same_instants``: several
events at one instant, appended in the order drawn). ``recorded_at`` is the
occurred instant plus a delay that is sometimes long (late-recorded events).
Retractions target only events whose removal keeps the timeline valid
(statements, strike authorizations, withdrawals and proposals nobody
accepted or rejected).

The events are returned in append order: sorted by ``recorded_at`` (ties keep
valid-time order), the opening first, a retraction always after its target.
The whole list is valid as one appended batch.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import attrs
from hypothesis import strategies as st

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
    Value,
)
from negotiation.core.state import zone

__all__ = ["NEGOTIATION", "Drawn", "negotiations"]

NEGOTIATION = "n-1"
TIMEZONES = ("UTC", "America/Los_Angeles", "Europe/Berlin", "Asia/Kolkata", "Pacific/Chatham")
UNITS = ("percent", "usd")


@attrs.frozen(kw_only=True)
class Drawn:
    """A drawn negotiation: its events in append order, and facts about them."""

    events: tuple[Event, ...]
    timezone: str
    retractions: tuple[str, ...]
    """The ids of the retraction events."""

    @property
    def first(self) -> dt.datetime:
        """The earliest occurred instant."""
        return min(_instant(e) for e in self.events)

    @property
    def last_occurred(self) -> dt.datetime:
        """The latest occurred instant."""
        return max(_instant(e) for e in self.events)

    @property
    def last_recorded(self) -> dt.datetime:
        """The latest recorded_at."""
        return max(_recorded(e) for e in self.events)


def _instant(event: Event) -> dt.datetime:
    assert isinstance(event.occurred_at, dt.datetime)
    return event.occurred_at


def _recorded(event: Event) -> dt.datetime:
    assert event.recorded_at is not None
    return event.recorded_at


@attrs.define
class _Model:
    unions: list[str]
    employers: list[str]
    issues: list[str]
    talks: str = "none"
    strikes: set[str] = attrs.Factory(set)
    lockouts: set[str] = attrs.Factory(set)
    agreement: str = "none"
    proposals: dict[str, tuple[str, str]] = attrs.Factory(dict)
    """Proposal id -> (by, issue), for proposals that may still be referenced."""
    referenced: set[str] = attrs.Factory(set)
    withdrawn: set[str] = attrs.Factory(set)
    """Proposals their maker withdrew: spec 1.1 refuses accepting them (rejecting stays allowed)."""
    retractable: list[str] = attrs.Factory(list)
    mediator: bool = False

    @property
    def parties(self) -> list[str]:
        return self.unions + self.employers + (["fmcs"] if self.mediator else [])

    @property
    def closed(self) -> bool:
        return self.agreement == "ratified"

    def allowed(self, proposals: int = 3) -> list[str]:
        """The kinds of event the rules allow next, ``proposal`` ``proposals`` times (its weight)."""
        if self.closed:
            return ["statement", "retract"] if self.retractable else ["statement"]
        kinds = [
            "talks.requested",
            "talks.scheduled",
            "talks.held",
            "talks.suspended",
            *["proposal"] * proposals,
            "withdraw",
            "statement",
            "strike.authorized",
            "contract",
            "agreement.tentative",
            "issue.tabled",
        ]
        if not self.mediator:
            kinds.append("party.joined")
        if self.talks == "suspended" or self.strikes or self.lockouts:
            kinds.append("talks.resumed")
        if set(self.unions) - self.strikes:
            kinds += ["strike.called", "strike.called"]
        if self.strikes:
            kinds.append("strike.ended")
        if set(self.employers) - self.lockouts:
            kinds.append("lockout.declared")
        if self.lockouts:
            kinds.append("lockout.ended")
        if self.agreement == "tentative":
            kinds += ["ratification", "ratification"]
        if self._references():
            kinds.append("respond")
        if self.retractable:
            kinds.append("retract")
        return kinds

    def _references(self) -> list[tuple[str, str, str]]:
        """(responder, proposal id, issue) pairs a proposal.accepted/rejected may name."""
        return [
            (party, pid, issue)
            for pid, (by, issue) in sorted(self.proposals.items())
            for party in self.parties
            if party != by
        ]


@st.composite
def negotiations(
    draw: st.DrawFn,
    *,
    min_steps: int = 1,
    max_steps: int = 40,
    retractions: bool = True,
    proposals: int = 3,
    focus: bool = False,
    same_instants: bool = False,
) -> Drawn:
    """A valid negotiation: an opening, then ``min_steps``..``max_steps`` events.

    ``proposals``: the weight of a ``proposal.made`` among the kinds the rules allow at each step;
    ``focus``: every proposal is a number on the first issue in the first unit (gaps arise in most such
    negotiations that have a union's and an employer's proposal); ``same_instants``: about half the events
    occur at the instant of the one before (as date-only logs have several events a day), recorded no
    earlier than it, so that append order, which breaks valid-time ties, is the order they were drawn in.
    """
    tz_name = draw(st.sampled_from(TIMEZONES))
    tz = zone(tz_name)
    unions = ["u1", "u2"][: draw(st.integers(1, 2))]
    employers = ["e1", "e2"][: draw(st.integers(1, 2))]
    issues = ["pay", "ai", "hours"][: draw(st.integers(1, 3))]
    model = _Model(unions=unions, employers=employers, issues=list(issues))
    start = dt.datetime(2023, 1, 1, tzinfo=dt.UTC) + dt.timedelta(minutes=draw(st.integers(0, 60 * 24 * 300)))
    now = start.astimezone(tz)
    opened = NegotiationOpened(
        id="e0",
        negotiation=NEGOTIATION,
        occurred_at=now,
        recorded_at=now,
        title="Drawn",
        parties=tuple(Party(id=p, name=p.upper(), role="union") for p in unions)
        + tuple(Party(id=p, name=p.upper(), role="employer") for p in employers),
        issues=tuple(AgendaIssue(id=i, title=i) for i in issues),
        timezone=tz_name,
    )
    events: list[Event] = [opened]
    retraction_ids: list[str] = []
    steps = draw(st.integers(min_steps, max_steps))
    for i in range(1, steps + 1):
        same = same_instants and i > 1 and draw(st.booleans())
        if not same:
            now = now + dt.timedelta(minutes=draw(st.integers(1, 60 * 24 * 4)))
        kinds = model.allowed(proposals)
        if not retractions and "retract" in kinds:
            kinds = [k for k in kinds if k != "retract"]
        kind = draw(st.sampled_from(kinds))
        delay = draw(
            st.one_of(
                st.just(dt.timedelta(0)),
                st.integers(0, 180).map(lambda m: dt.timedelta(minutes=m)),
                st.integers(1, 40).map(lambda d: dt.timedelta(days=d)),  # recorded late
            )
        )
        if same:
            delay = max(delay, _recorded(events[-1]) - now)  # recorded no earlier than the event before
        event = _step(draw, model, kind, f"e{i}", now, delay, {e.id: e for e in events}, focus=focus)
        if isinstance(event, EventRetracted):
            retraction_ids.append(event.id)
        events.append(event)
    ordered = sorted(events, key=lambda e: (e is not opened, _recorded(e)))
    return Drawn(events=tuple(ordered), timezone=tz_name, retractions=tuple(retraction_ids))


def _step(
    draw: st.DrawFn,
    model: _Model,
    kind: str,
    id_: str,
    now: dt.datetime,
    delay: dt.timedelta,
    earlier: dict[str, Event],
    *,
    focus: bool = False,
) -> Event:
    envelope: dict[str, Any] = {
        "id": id_,
        "negotiation": NEGOTIATION,
        "occurred_at": now,
        "recorded_at": (now + delay).astimezone(dt.UTC),
    }
    party = st.sampled_from(model.parties)
    if kind == "talks.requested":
        by = draw(party)
        to = draw(st.sampled_from([p for p in model.parties if p != by]))
        model.talks = "requested"
        return TalksRequested(**envelope, by=by, to=to)
    if kind == "talks.scheduled":
        model.talks = "scheduled"
        return TalksScheduled(**envelope)
    if kind in ("talks.held", "talks.resumed"):
        model.talks = "active"
        return TalksHeld(**envelope) if kind == "talks.held" else TalksResumed(**envelope)
    if kind == "talks.suspended":
        model.talks = "suspended"
        return TalksSuspended(**envelope, by=draw(st.none() | party))
    if kind == "proposal":
        # Mostly a union's or an employer's number on the first issue in the first unit, so that gaps (a union and
        # an employer both standing on a number in one unit) arise often; the rest stays possible.
        by = draw(st.sampled_from([*model.unions, *model.employers, *model.parties]))
        issue = model.issues[0] if focus else draw(st.sampled_from([model.issues[0], *model.issues]))
        units = (UNITS[0],) if focus else (UNITS[0], *UNITS)
        number = st.builds(Value, amount=st.integers(0, 12) | st.sampled_from((2.5, 0.1)), unit=st.sampled_from(units))
        value = draw(number) if focus or draw(st.integers(0, 3)) else None
        model.proposals[id_] = (by, issue)
        model.retractable.append(id_)
        return ProposalMade(**envelope, by=by, issue=issue, terms=f"terms of {id_}", value=value)
    if kind == "withdraw":
        by, issue = draw(party), draw(st.sampled_from(model.issues))
        model.withdrawn |= {pid for pid, made in model.proposals.items() if made == (by, issue)}
        # Retracting it only makes those proposals acceptable again: the model stays conservative.
        model.retractable.append(id_)
        return ProposalWithdrawn(**envelope, by=by, issue=issue)
    if kind == "respond":
        by, proposal, issue = draw(st.sampled_from(model._references()))
        model.referenced.add(proposal)
        if proposal in model.retractable:
            model.retractable.remove(proposal)
        kinds = (ProposalRejected,) if proposal in model.withdrawn else (ProposalAccepted, ProposalRejected)
        cls = draw(st.sampled_from(kinds))
        return cls(**envelope, by=by, issue=issue, proposal=proposal)
    if kind == "statement":
        model.retractable.append(id_)
        return StatementIssued(**envelope, by=draw(party), text=f"statement {id_}")
    if kind == "strike.authorized":
        model.retractable.append(id_)
        return StrikeAuthorized(**envelope, by=draw(st.sampled_from(model.unions)), yes_share=0.9)
    if kind == "strike.called":
        by = draw(st.sampled_from(sorted(set(model.unions) - model.strikes)))
        model.strikes.add(by)
        return StrikeCalled(**envelope, by=by)
    if kind == "strike.ended":
        by = draw(st.sampled_from(sorted(model.strikes)))
        model.strikes.discard(by)
        return StrikeEnded(**envelope, by=by)
    if kind == "lockout.declared":
        by = draw(st.sampled_from(sorted(set(model.employers) - model.lockouts)))
        model.lockouts.add(by)
        return LockoutDeclared(**envelope, by=by)
    if kind == "lockout.ended":
        by = draw(st.sampled_from(sorted(model.lockouts)))
        model.lockouts.discard(by)
        return LockoutEnded(**envelope, by=by)
    if kind == "contract":
        if draw(st.booleans()):
            return ContractExpired(**envelope)
        return ContractExtended(**envelope, until=(now + dt.timedelta(days=30)).date())
    if kind == "agreement.tentative":
        model.agreement = "tentative"
        return AgreementTentative(**envelope, terms={model.issues[0]: "agreed"})
    if kind == "ratification":
        outcome = draw(st.sampled_from(("ratified", "rejected")))
        model.agreement = outcome
        if outcome == "ratified":
            model.strikes.clear()
            model.lockouts.clear()
        return RatificationCompleted(**envelope, by=model.unions[0], yes_share=0.7, outcome=outcome)
    if kind == "issue.tabled":
        issue = f"i{id_}"
        model.issues.append(issue)
        return IssueTabled(**envelope, by=draw(party), issue=AgendaIssue(id=issue, title=issue))
    if kind == "party.joined":
        model.mediator = True
        return PartyJoined(**envelope, party=Party(id="fmcs", name="FMCS", role="mediator"))
    if kind == "retract":
        target = draw(st.sampled_from(model.retractable))
        model.retractable.remove(target)
        model.proposals.pop(target, None)
        target_known = _recorded(earlier[target])
        recorded = max(now, target_known) + delay
        return EventRetracted(
            **{**envelope, "recorded_at": recorded.astimezone(dt.UTC)}, target=target, reason="misreported"
        )
    raise AssertionError(kind)
