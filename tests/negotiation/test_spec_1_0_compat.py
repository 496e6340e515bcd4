"""Spec 1.1 changes no answer for a log with one union, no employer vote and no acceptance.

``Reference10`` is a small, separate implementation of the 1.0 answers (spec
1.0, section 2 and 3: one vote decides, acceptances change no position),
written from the spec, not from the library: a plain fold over the events that
count at a point, in valid-time order. The property draws rule-valid logs
(``tests.projections.strategies``) with one union, drops their acceptances,
and compares the library's ``status`` and ``positions`` documents at many
(valid time, knowledge time) points with the reference's, key for key (the
status's new ``ratified_by`` aside, which 1.0 did not have). The library runs
its 1.1 code throughout (per-union votes, ``ratified_by``, the return-to-work
bookkeeping, acceptance links): the property holds only if all of it falls
back to 1.0 exactly.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import attrs
from hypothesis import given, settings
from hypothesis import strategies as st

from events import (
    AgreementTentative,
    ContractExpired,
    ContractExtended,
    Event,
    EventRetracted,
    LockoutDeclared,
    LockoutEnded,
    NegotiationOpened,
    ProposalAccepted,
    ProposalMade,
    ProposalWithdrawn,
    RatificationCompleted,
    StrikeCalled,
    StrikeEnded,
    TalksHeld,
    TalksRequested,
    TalksResumed,
    TalksScheduled,
    TalksSuspended,
)
from negotiation.core.history import History
from negotiation.core.state import instant, zone
from projections.answers import positions_json, status_json
from projections.positions import positions_of
from projections.status import status_of
from tests.projections.strategies import Drawn, negotiations

NOW = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)


@attrs.define
class Reference10:
    """The 1.0 answers, folded naively from the events that count at a point."""

    tz: dt.tzinfo = dt.UTC
    talks: str = "none"
    started: bool = False
    strikes: dict[str, dt.datetime] = attrs.Factory(dict)
    lockouts: dict[str, dt.datetime] = attrs.Factory(dict)
    agreement: str = "none"
    contract: str = "in_force"
    applied: int = 0
    positions: dict[tuple[str, str], ProposalMade] = attrs.Factory(dict)
    at: dict[str, dt.datetime] = attrs.Factory(dict)

    def step(self, event: Event) -> None:
        """One event of spec 1.0."""
        self.applied += 1
        when = instant(event.occurred_at, self.tz)
        talks = {TalksRequested: "requested", TalksScheduled: "scheduled", TalksHeld: "active", TalksResumed: "active"}
        if isinstance(event, NegotiationOpened):
            self.tz = zone(event.timezone)
        elif type(event) in talks:
            self.talks = talks[type(event)]
            self.started |= not isinstance(event, TalksScheduled)
        elif isinstance(event, TalksSuspended):
            self.talks = "suspended"
        elif isinstance(event, StrikeCalled | LockoutDeclared):
            (self.strikes if isinstance(event, StrikeCalled) else self.lockouts)[event.by] = when
        elif isinstance(event, StrikeEnded | LockoutEnded):
            (self.strikes if isinstance(event, StrikeEnded) else self.lockouts).pop(event.by, None)
        elif isinstance(event, ContractExpired | ContractExtended):
            self.contract = "expired" if isinstance(event, ContractExpired) else "extended"
        elif isinstance(event, AgreementTentative):
            self.agreement = "tentative"
        elif isinstance(event, RatificationCompleted):
            self.agreement = event.outcome
            if event.outcome == "ratified":
                self.contract = "new"
                self.strikes.clear()
                self.lockouts.clear()
        elif isinstance(event, ProposalMade):
            self.positions[event.by, event.issue] = event
            self.at[event.id] = when
        elif isinstance(event, ProposalWithdrawn):
            self.positions.pop((event.by, event.issue), None)

    def status(self, as_of: dt.datetime) -> dict[str, Any]:
        """Spec 1.0's ``status`` without the query's own times."""
        if self.agreement == "ratified":
            phase = "ratified"
        elif self.agreement == "tentative":
            phase = "tentative_agreement"
        elif self.lockouts:
            phase = "lockout"
        elif self.strikes:
            phase = "strike"
        elif self.talks == "suspended":
            phase = "impasse"
        else:
            phase = "bargaining" if self.started else "opened"
        running = sorted([(t, p) for p, t in self.strikes.items()] + [(t, p) for p, t in self.lockouts.items()])
        stoppage = None
        if running:
            since = running[0][0].astimezone(self.tz).date()
            stoppage = {
                "kind": "lockout" if self.lockouts else "strike",
                "parties": [p for _, p in running],
                "since": since.isoformat(),
                "day": (as_of.astimezone(self.tz).date() - since).days + 1,
            }
        return {
            "phase": phase,
            "talks": self.talks,
            "stoppage": stoppage,
            "agreement": self.agreement,
            "contract": self.contract,
            "events_applied": self.applied,
        }

    def positions_answer(self) -> dict[str, dict[str, Any]]:
        """Spec 1.0's ``positions`` map."""
        out: dict[str, dict[str, Any]] = {}
        for (party, issue), made in sorted(self.positions.items()):
            value = None if made.value is None else {"amount": made.value.amount, "unit": made.value.unit}
            out.setdefault(party, {})[issue] = {
                "terms": made.terms,
                "value": value,
                "since": self.at[made.id].astimezone(self.tz).date().isoformat(),
                "event": made.id,
            }
        return out


def reference(events: list[Event], as_of: dt.datetime, known_at: dt.datetime) -> Reference10:
    """Fold what counts at (``as_of``, ``known_at``): recorded by then, not retracted by then, in valid-time order.

    A retraction counts as an applied event itself (it changes nothing else).
    """
    opened = next(e for e in events if isinstance(e, NegotiationOpened))
    tz = zone(opened.timezone)
    retracted = {
        e.target
        for e in events
        if isinstance(e, EventRetracted) and e.recorded_at is not None and e.recorded_at <= known_at
    }
    counted = [
        (instant(e.occurred_at, tz), seq, e)
        for seq, e in enumerate(events)
        if e.recorded_at is not None
        and e.recorded_at <= known_at
        and instant(e.occurred_at, tz) <= as_of
        and e.id not in retracted
    ]
    ref = Reference10()
    for _, _, event in sorted(counted, key=lambda item: (item[0], item[1])):
        ref.step(event)
    return ref


def _points(drawn: Drawn) -> tuple[list[dt.datetime], list[dt.datetime]]:
    tz = zone(drawn.events[0].timezone)  # type: ignore[attr-defined]  # the opening comes first
    valid = sorted({instant(e.occurred_at, tz) for e in drawn.events})
    known = sorted({e.recorded_at for e in drawn.events if e.recorded_at is not None})
    return valid, known


@settings(max_examples=50, deadline=None)
@given(drawn=negotiations(max_steps=40), data=st.data())
def test_one_union_no_acceptance_answers_as_1_0(drawn: Drawn, data: st.DataObject) -> None:
    """status and positions equal the 1.0 reference's at every drawn point (``ratified_by`` aside)."""
    opened = drawn.events[0]
    assert isinstance(opened, NegotiationOpened)
    if sum(p.role == "union" for p in opened.parties) != 1:
        return
    events = [e for e in drawn.events if not isinstance(e, ProposalAccepted)]
    history = History(opened.negotiation)
    history.apply(history.plan(events, now=NOW))
    valid, known = _points(drawn)
    for _ in range(4):
        as_of = data.draw(st.sampled_from(valid), label="as_of")
        known_at = data.draw(st.sampled_from([*known, NOW]), label="known_at")
        if opened.recorded_at is None or opened.recorded_at > known_at:
            continue
        ref = reference(events, as_of, known_at)
        status = status_json(status_of(history, as_of=as_of, known_at=known_at, now=NOW))
        assert status.pop("ratified_by") == (["u1"] if ref.agreement == "ratified" else [])
        for key in ("negotiation", "as_of", "known_at"):
            del status[key]
        assert status == ref.status(as_of)
        positions = positions_json(positions_of(history, as_of=as_of, known_at=known_at, now=NOW))
        assert positions["positions"] == ref.positions_answer()
