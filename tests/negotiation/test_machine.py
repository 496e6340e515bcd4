"""The state machine: one test per rule of spec section 2, then the effects of events.

Every rule test builds a valid prefix, shows that the rule refuses an event
that breaks it (``RuleViolationError`` naming the rule and the event) and that
it lets a valid event of the same kind through. The rules that need the whole
stream (retraction targets, ids, recording times, late events) are checked by
``History.plan``, the way every append checks them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from functools import partial

import attrs
import immutables
import pytest
from hypothesis import HealthCheck, given, settings

from events import EVENT_TYPES, Event, Party
from events.model import meanings
from negotiation import RULES, TRANSITIONS, RuleViolationError, check, evolve, fold
from negotiation.core import machine
from negotiation.core.errors import EventConflictError, RefusedEventError
from negotiation.core.history import CLOCK_SKEW
from negotiation.core.machine import ANSWER_NEUTRAL, BOOKKEEPING
from negotiation.core.state import NegotiationState, phase, replace
from tests.negotiation.helpers import (
    AI,
    EMPLOYER,
    MEDIATOR,
    NEGOTIATION,
    NOW,
    PARTIES,
    PAY,
    UNION,
    accepted,
    at,
    contract_expired,
    contract_extended,
    history_of,
    issue_tabled,
    lockout_declared,
    lockout_ended,
    opened,
    party_joined,
    proposal,
    ratification,
    rejected,
    retraction,
    statement,
    strike_authorized,
    strike_called,
    strike_ended,
    talks_held,
    talks_requested,
    talks_resumed,
    talks_scheduled,
    talks_suspended,
    tentative,
    withdrawn,
)
from tests.projections import builders
from tests.projections.strategies import Drawn, negotiations
from tests.strategies import any_event

OPEN = opened("open", 0)
SECOND_UNION = "ibew"


def refuse(prefix: Sequence[Event], event: Event, rule: str) -> RuleViolationError:
    """Assert that ``check`` refuses ``event`` after ``prefix`` for ``rule``; return the error."""
    state = fold(prefix)
    with pytest.raises(RuleViolationError) as info:
        check(state, event)
    err = info.value
    assert err.rule == rule
    assert err.event_id == event.id
    assert err.event is event
    assert event.id in str(err)
    assert rule in str(err)
    return err


def allow(prefix: Sequence[Event], event: Event) -> NegotiationState:
    """Assert that ``check`` accepts ``event`` after ``prefix``; return the state after it."""
    state = fold(prefix)
    check(state, event)
    return evolve(state, event)


def refuse_plan(stored: Sequence[Event], batch: Sequence[Event], rule: str, *, now: dt.datetime = NOW) -> Exception:
    """Assert that ``History.plan`` refuses ``batch`` on top of ``stored`` for ``rule``."""
    history = history_of(stored)
    before = history.events()
    with pytest.raises(RefusedEventError) as info:
        history.plan(list(batch), now=now)
    err = info.value
    assert err.rule == rule
    assert err.event_id in str(err)
    assert rule in str(err)
    assert history.events() == before
    return err


# --- one test per rule ------------------------------------------------------------


def test_rule_opened_first() -> None:
    """No event but negotiation.opened is accepted before the negotiation is opened."""
    for event in (statement("s", 1), proposal("p", 1), retraction("r", 1, "x"), talks_held("t", 1)):
        refuse([], event, "opened-first")
    allow([OPEN], statement("s", 1))


def test_rule_opened_first_in_valid_time() -> None:
    """An event that occurred before the opening is refused even when appended after it."""
    err = refuse_plan([OPEN], [statement("early", -1)], "opened-first")
    assert err.event_id == "early"
    history_of([OPEN], [statement("later", 1)])


def test_rule_opened_once() -> None:
    """A second negotiation.opened is refused; the first is accepted."""
    allow([], OPEN)
    refuse([OPEN], opened("open-again", 1), "opened-once")
    refuse([OPEN, tentative("ta", 1), ratification("vote", 2)], opened("open-again", 3), "opened-once")


def test_rule_closed_after_ratification() -> None:
    """After ratification only statement.issued and event.retracted are accepted."""
    closed = [OPEN, strike_called("strike", 1), tentative("ta", 2), ratification("vote", 3)]
    refuse(closed, proposal("p", 4), "closed-after-ratification")
    refuse(closed, strike_called("strike-2", 4), "closed-after-ratification")
    refuse(closed, tentative("ta-2", 4), "closed-after-ratification")
    allow(closed, statement("s", 4))
    allow(closed, retraction("r", 4, "strike"))
    # A rejected vote does not close the negotiation.
    allow([OPEN, tentative("ta", 2), ratification("vote", 3, outcome="rejected")], proposal("p", 4))


def test_rule_known_party() -> None:
    """Every by and to names a party of the negotiation."""
    err = refuse([OPEN], statement("s", 1, by="sag-aftra"), "known-party")
    assert "sag-aftra" in err.reason
    err = refuse([OPEN], talks_requested("tr", 1, to="nobody"), "known-party")
    assert "to" in err.reason
    refuse([OPEN], talks_suspended("ts", 1, by="nobody"), "known-party")
    refuse([OPEN], proposal("p", 1, by="nobody"), "known-party")
    refuse([OPEN, tentative("ta", 1)], ratification("v", 2, by="nobody"), "known-party")
    allow([OPEN], talks_requested("tr", 1))
    allow([OPEN], talks_suspended("ts", 1))  # by is optional
    allow([OPEN, party_joined("join", 1)], statement("s", 2, by=MEDIATOR))


def test_rule_on_agenda() -> None:
    """Every issue named by an event is on the negotiation's agenda."""
    for event in (
        proposal("p", 1, issue="health"),
        withdrawn("w", 1, issue="health"),
        accepted("a", 1, proposal="p0", issue="health"),
    ):
        refuse([OPEN], event, "on-agenda")
    allow([OPEN], proposal("p", 1, issue=PAY))
    allow([OPEN, issue_tabled("tab", 1, issue="health")], proposal("p", 2, issue="health"))


def test_rule_union_strikes() -> None:
    """Strikes are called and ended by unions only."""
    refuse([OPEN], strike_called("s", 1, by=EMPLOYER), "union-strikes")
    refuse([OPEN, party_joined("join", 1)], strike_called("s", 2, by=MEDIATOR), "union-strikes")
    refuse([OPEN, strike_called("s", 1)], strike_ended("e", 2, by=EMPLOYER), "union-strikes")
    allow([OPEN, strike_called("s", 1)], strike_ended("e", 2))


def test_rule_employer_lockouts() -> None:
    """Lockouts are declared and ended by employers only."""
    refuse([OPEN], lockout_declared("l", 1, by=UNION), "employer-lockouts")
    refuse([OPEN, lockout_declared("l", 1)], lockout_ended("e", 2, by=UNION), "employer-lockouts")
    allow([OPEN, lockout_declared("l", 1)], lockout_ended("e", 2))


def test_rule_stoppage_not_running() -> None:
    """A party cannot start a stoppage it already has running; others can."""
    refuse([OPEN, strike_called("s1", 1)], strike_called("s2", 2), "stoppage-not-running")
    refuse([OPEN, lockout_declared("l1", 1)], lockout_declared("l2", 2), "stoppage-not-running")
    second_union = party_joined("join", 1, party_id="sag-aftra", role="union")
    allow([OPEN, second_union, strike_called("s1", 2)], strike_called("s2", 3, by="sag-aftra"))
    allow([OPEN, strike_called("s1", 1), strike_ended("e1", 2)], strike_called("s2", 3))
    allow([OPEN, strike_called("s1", 1)], lockout_declared("l1", 2))


def test_rule_stoppage_running() -> None:
    """A party cannot end a stoppage it has not started."""
    refuse([OPEN], strike_ended("e", 1), "stoppage-running")
    refuse([OPEN], lockout_ended("e", 1), "stoppage-running")
    refuse([OPEN, strike_called("s", 1), strike_ended("e1", 2)], strike_ended("e2", 3), "stoppage-running")
    second_union = party_joined("join", 1, party_id="sag-aftra", role="union")
    refuse([OPEN, second_union, strike_called("s", 2)], strike_ended("e", 3, by="sag-aftra"), "stoppage-running")
    allow([OPEN, lockout_declared("l", 1)], lockout_ended("e", 2))


def test_rule_resume_needs_break() -> None:
    """talks.resumed only while talks are suspended or a stoppage is running."""
    refuse([OPEN], talks_resumed("r", 1), "resume-needs-break")
    refuse([OPEN, talks_held("h", 1)], talks_resumed("r", 2), "resume-needs-break")
    refuse([OPEN, talks_suspended("x", 1), talks_resumed("r1", 2)], talks_resumed("r2", 3), "resume-needs-break")
    allow([OPEN, talks_held("h", 1), talks_suspended("x", 2)], talks_resumed("r", 3))
    allow([OPEN, talks_held("h", 1), strike_called("s", 2)], talks_resumed("r", 3))
    allow([OPEN, lockout_declared("l", 1)], talks_resumed("r", 2))


def test_rule_vote_needs_agreement() -> None:
    """ratification.completed needs a tentative agreement that has not been voted on."""
    refuse([OPEN], ratification("v", 1), "vote-needs-agreement")
    voted_down = [OPEN, tentative("ta", 1), ratification("v1", 2, outcome="rejected")]
    refuse(voted_down, ratification("v2", 3), "vote-needs-agreement")
    allow([OPEN, tentative("ta", 1)], ratification("v", 2))
    allow([*voted_down, tentative("ta-2", 3)], ratification("v2", 4))


def test_rule_vote_once() -> None:
    """Each party votes once on a tentative agreement; a new agreement is voted on afresh."""
    two = opened(parties=(*PARTIES, Party(id=SECOND_UNION, name="IBEW", role="union")))
    voted = [two, tentative("ta", 1), ratification("v1", 2)]
    err = refuse(voted, ratification("v1-again", 3), "vote-once")
    assert UNION in err.reason
    refuse([*voted, ratification("emp", 3, by=EMPLOYER)], ratification("emp-2", 4, by=EMPLOYER), "vote-once")
    allow(voted, ratification("v2", 3, by=SECOND_UNION))
    # A union that rejected votes again on the next tentative agreement.
    rejected_once = [OPEN, tentative("ta", 1), ratification("no", 2, outcome="rejected"), tentative("ta-2", 3)]
    allow(rejected_once, ratification("yes", 4))


def test_rule_accept_not_withdrawn() -> None:
    """proposal.accepted refers to a proposal its maker has not withdrawn since."""
    offer = proposal("offer", 1, by=UNION, issue=AI)
    err = refuse([OPEN, offer, withdrawn("w", 2)], accepted("x", 3, proposal="offer"), "accept-not-withdrawn")
    assert "withdrew" in err.reason
    # Made again after the withdrawal: the new one stands and can be accepted, the old one not.
    again = [OPEN, offer, withdrawn("w", 2), proposal("offer-2", 3)]
    refuse(again, accepted("x", 4, proposal="offer"), "accept-not-withdrawn")
    allow(again, accepted("x", 4, proposal="offer-2"))
    # A superseded proposal was not withdrawn: it may still be accepted.
    allow([OPEN, offer, proposal("offer-2", 2)], accepted("x", 3, proposal="offer"))
    # Withdrawing on another issue, or by another party, does not touch it.
    elsewhere = [OPEN, offer, withdrawn("w", 2, issue=PAY), withdrawn("w2", 2, by=EMPLOYER)]
    allow(elsewhere, accepted("x", 3, proposal="offer"))
    # proposal.rejected of a withdrawn proposal stays accepted, as in 1.0.
    allow([OPEN, offer, withdrawn("w", 2)], rejected("x", 3, proposal="offer"))


def test_rule_proposal_reference() -> None:
    """proposal.accepted/rejected refer to a proposal.made of another party on the same issue."""
    offer = proposal("offer", 1, by=UNION, issue=AI)
    prefix = [OPEN, offer]
    for respond in (accepted, rejected):
        err = refuse(prefix, respond("x", 2, proposal="nothing"), "proposal-reference")
        assert "nothing" in err.reason
        refuse(prefix, respond("x", 2, proposal="offer", by=UNION), "proposal-reference")
        refuse(prefix, respond("x", 2, proposal="offer", issue=PAY), "proposal-reference")
        refuse(prefix, respond("x", 2, proposal="open"), "proposal-reference")
        allow(prefix, respond("x", 2, proposal="offer"))


def test_rule_retraction_target() -> None:
    """event.retracted targets an existing, unretracted, non-retraction event of the negotiation."""
    stored = [OPEN, statement("s1", 1), retraction("r1", 2, "s1")]
    err = refuse_plan(stored, [retraction("r2", 3, "no-such-event")], "retraction-target")
    assert isinstance(err, RuleViolationError)
    assert err.event_id == "r2"
    refuse_plan(stored, [retraction("r2", 3, "s1")], "retraction-target")
    refuse_plan(stored, [retraction("r2", 3, "r1")], "retraction-target")
    refuse_plan([OPEN, statement("s1", 1)], [retraction("r2", 3, "s1"), retraction("r3", 4, "s1")], "retraction-target")
    # The target must be of this negotiation: an event of another one is unknown here.
    refuse_plan(stored, [retraction("r2", 3, "other-open")], "retraction-target")
    history_of([OPEN, statement("s1", 1)], [retraction("r1", 2, "s1")])


def test_rule_unique_id() -> None:
    """An id stored once; the same id with other content is a conflict (EventConflictError)."""
    err = refuse_plan([OPEN, statement("s1", 1)], [statement("s1", 1, text="Something else")], "unique-id")
    assert isinstance(err, EventConflictError)
    assert err.event_id == "s1"
    err = refuse_plan([OPEN], [statement("s1", 1), statement("s1", 2)], "unique-id")
    assert isinstance(err, EventConflictError)
    plan = history_of([OPEN, statement("s1", 1)]).plan([statement("s1", 1)], now=NOW)
    assert plan.new == ()
    assert [e.id for e in plan.duplicates] == ["s1"]


def test_rule_recorded_after_occurred() -> None:
    """recorded_at may not be earlier than occurred_at."""
    early = statement("s", 10, recorded_at=at(9))
    err = refuse_plan([OPEN], [early], "recorded-after-occurred")
    assert isinstance(err, RuleViolationError)
    # An event that occurred in the future is recorded before it occurred.
    refuse_plan([OPEN], [statement("future", NOW + dt.timedelta(days=1))], "recorded-after-occurred")
    history_of([OPEN], [statement("s", 10, recorded_at=at(10))])


def test_rule_recorded_not_future() -> None:
    """recorded_at may not be later than the moment of appending, clock skew aside."""
    late = statement("s", 1, recorded_at=NOW + CLOCK_SKEW + dt.timedelta(seconds=1))
    err = refuse_plan([OPEN], [late], "recorded-not-future")
    assert isinstance(err, RuleViolationError)
    history_of([OPEN], [statement("s", 1, recorded_at=NOW + CLOCK_SKEW - dt.timedelta(seconds=1))])


def test_rule_late_event_keeps_timeline_valid() -> None:
    """A late event is accepted only if the whole timeline stays valid; the error names what it breaks."""
    stored = [OPEN, strike_called("strike", 5), strike_ended("end", 9)]
    history = history_of(stored)
    with pytest.raises(RuleViolationError) as info:
        history.plan([strike_ended("early-end", 7)], now=NOW)
    err = info.value
    assert err.event_id == "early-end"
    assert err.breaks == "end"
    assert err.rule == "stoppage-running"
    assert "end" in str(err)
    history.apply(history.plan([statement("late-statement", 7)], now=NOW))
    assert [e.id for e in history.events()][-1] == "late-statement"


def test_every_rule_has_its_test() -> None:
    """Each rule name the library can refuse for has a test_rule_<name> in this module."""
    missing = [name for name in RULES if f"test_rule_{name.replace('-', '_')}" not in globals()]
    assert missing == []


def test_every_rule_has_a_description() -> None:
    """RULES maps every rule used by TRANSITIONS to a non-empty description."""
    used = {rule.name for transition in TRANSITIONS.values() for rule in transition.rules}
    assert used <= RULES.keys()
    assert all(RULES.values())


def test_transitions_cover_the_catalog() -> None:
    """Every event type of the catalog has a transition."""
    assert set(TRANSITIONS) == set(EVENT_TYPES.values())


# --- effects -------------------------------------------------------------------------

SAMPLES: dict[str, Callable[..., Event]] = {
    "party.joined": party_joined,
    "issue.tabled": issue_tabled,
    "talks.requested": talks_requested,
    "talks.scheduled": talks_scheduled,
    "talks.held": talks_held,
    "talks.suspended": talks_suspended,
    "talks.resumed": talks_resumed,
    "proposal.made": proposal,
    "proposal.withdrawn": withdrawn,
    "proposal.accepted": partial(accepted, proposal="offer"),
    "proposal.rejected": partial(rejected, proposal="offer"),
    "strike.authorized": strike_authorized,
    "strike.called": partial(strike_called, by="sag-aftra"),
    "strike.ended": strike_ended,
    "lockout.declared": lockout_declared,
    "lockout.ended": lockout_ended,
    "contract.expired": contract_expired,
    "contract.extended": contract_extended,
    "agreement.tentative": tentative,
    "ratification.completed": ratification,
}
"""One event of every type that ratification closes, valid in an open negotiation."""


def test_samples_cover_every_closing_type() -> None:
    """SAMPLES has every catalog type but the opening, statements and retractions."""
    assert set(SAMPLES) == set(EVENT_TYPES) - {"negotiation.opened", "statement.issued", "event.retracted"}


@pytest.mark.parametrize("kind", sorted(SAMPLES))
def test_after_ratification_only_statements_and_retractions(kind: str) -> None:
    """Every other event type is refused once the agreement is ratified."""
    prefix = [
        OPEN,
        party_joined("join", 0.5, party_id="sag-aftra", role="union"),
        proposal("offer", 1),
        tentative("ta", 2),
        ratification("vote", 3),
        ratification("vote-2", 3.5, by="sag-aftra"),  # 1.1: each union votes; the last one closes
    ]
    event = SAMPLES[kind](f"late-{kind}", 4)
    refuse(prefix, event, "closed-after-ratification")
    # Before the vote the same event is accepted (a vote there needs no agreement yet to fail).
    running = fold([*prefix[:3], strike_called("strike", 1.5), lockout_declared("lockout", 1.6)])
    if kind not in ("lockout.declared", "ratification.completed"):
        check(running, event)


def test_opened_effect() -> None:
    """negotiation.opened sets the title, time zone, contract date, parties and issues."""
    state = allow([], opened(timezone="America/Los_Angeles", contract_expires_on=dt.date(2023, 5, 1)))
    assert state.opened
    assert state.negotiation == NEGOTIATION
    assert state.timezone == "America/Los_Angeles"
    assert state.contract_expires_on == dt.date(2023, 5, 1)
    assert set(state.parties) == {UNION, EMPLOYER}
    assert set(state.issues) == {AI, PAY}
    assert phase(state) == "opened"
    assert state.events_applied == 1
    assert fold([OPEN]).timezone == "UTC"


def test_party_and_issue_effects() -> None:
    """party.joined adds a party, issue.tabled adds an issue to the agenda."""
    state = fold([OPEN, party_joined("join", 1), issue_tabled("tab", 2, issue="health")])
    assert state.parties[MEDIATOR].role == "mediator"
    assert "health" in state.issues
    assert state.events_applied == 3


@pytest.mark.parametrize(
    ("events", "talks", "started", "expected_phase"),
    [
        ([], "none", False, "opened"),
        ([talks_requested("a", 1)], "requested", True, "bargaining"),
        ([talks_scheduled("a", 1)], "scheduled", False, "opened"),
        ([talks_held("a", 1)], "active", True, "bargaining"),
        ([talks_held("a", 1), talks_suspended("b", 2)], "suspended", True, "impasse"),
        ([talks_held("a", 1), talks_suspended("b", 2), talks_resumed("c", 3)], "active", True, "bargaining"),
        ([talks_suspended("b", 2)], "suspended", False, "impasse"),
    ],
)
def test_talks_effects(events: list[Event], talks: str, started: bool, expected_phase: str) -> None:
    """The talks events move the talks state and mark talks as started."""
    state = fold([OPEN, *events])
    assert state.talks == talks
    assert state.talks_started is started
    assert phase(state) == expected_phase


def test_stoppage_effects() -> None:
    """Strikes and lockouts run from their occurred_at (a date meaning midnight in the zone) until ended."""
    tz_open = opened(timezone="America/Los_Angeles")
    state = fold([tz_open, strike_called("s", dt.date(2023, 5, 2))])
    assert dict(state.strikes) == {UNION: dt.datetime(2023, 5, 2, 7, tzinfo=dt.UTC)}
    assert phase(state) == "strike"
    state = fold([tz_open, strike_called("s", dt.date(2023, 5, 2)), lockout_declared("l", 70)])
    assert set(state.lockouts) == {EMPLOYER}
    assert state.lockouts[EMPLOYER] == at(70)
    assert phase(state) == "lockout"
    state = evolve(state, strike_ended("e", 80))
    assert dict(state.strikes) == {}
    assert phase(state) == "lockout"
    state = evolve(state, lockout_ended("le", 81))
    assert dict(state.lockouts) == {}
    assert phase(state) == "opened"


def test_contract_effects() -> None:
    """contract.expired and contract.extended set the contract state; a ratified vote makes it new."""
    assert fold([OPEN]).contract == "in_force"
    assert fold([OPEN, contract_expired("x", 1)]).contract == "expired"
    assert fold([OPEN, contract_expired("x", 1), contract_extended("y", 2)]).contract == "extended"
    assert fold([OPEN, contract_expired("x", 1), tentative("ta", 2), ratification("v", 3)]).contract == "new"


def test_tentative_agreement_effect() -> None:
    """agreement.tentative awaits a vote and sets the phase."""
    state = fold([OPEN, strike_called("s", 1), tentative("ta", 2, terms={AI: "consent"})])
    assert state.agreement == "tentative"
    assert phase(state) == "tentative_agreement"
    assert set(state.strikes) == {UNION}


def test_ratified_closes_and_ends_stoppages() -> None:
    """A ratified vote closes the negotiation and ends every running stoppage."""
    state = fold([OPEN, strike_called("s", 1), lockout_declared("l", 2), tentative("ta", 3), ratification("v", 4)])
    assert state.agreement == "ratified"
    assert state.closed
    assert dict(state.strikes) == {}
    assert dict(state.lockouts) == {}
    assert phase(state) == "ratified"


def test_rejected_keeps_stoppage_and_bargaining() -> None:
    """A rejected vote returns to bargaining; the running strike goes on."""
    prefix = [OPEN, contract_expired("x", 1), strike_called("s", 2), tentative("ta", 3)]
    state = fold([*prefix, ratification("v", 4, outcome="rejected")])
    assert state.agreement == "rejected"
    assert not state.closed
    assert state.contract == "expired"
    assert set(state.strikes) == {UNION}
    assert state.strikes[UNION] == at(2)
    assert phase(state) == "strike"


def test_proposal_made_is_remembered() -> None:
    """proposal.made records who proposed on which issue, for later references."""
    state = fold([OPEN, proposal("p1", 1, by=EMPLOYER, issue=PAY)])
    assert state.proposals["p1"].by == EMPLOYER
    assert state.proposals["p1"].issue == PAY


@pytest.mark.parametrize(
    "event",
    [
        statement("s", 1),
        strike_authorized("a", 1),
        accepted("acc", 2, proposal="offer"),
        retraction("r", 2, "offer"),
    ],
    ids=lambda e: e.TYPE,
)
def test_events_without_effect_only_count(event: Event) -> None:
    """Statements, authorizations, responses and retractions change nothing but the count (of the core state)."""
    before = fold([OPEN, proposal("offer", 1)])
    after = allow([OPEN, proposal("offer", 1)], event)
    assert after.events_applied == before.events_applied + 1
    assert after == attrs.evolve(before, events_applied=before.events_applied + 1)


def test_withdrawal_effect() -> None:
    """A withdrawal counts against the party's issue: its proposals made before are withdrawn, later ones not."""
    state = allow([OPEN, proposal("offer", 1), proposal("pay", 1, issue=PAY)], withdrawn("w", 2))
    assert dict(state.withdrawals) == {(UNION, AI): 1}
    assert state.proposals["offer"].withdrawals == 0
    again = allow([OPEN, proposal("offer", 1), withdrawn("w", 2)], proposal("offer-2", 3))
    assert again.proposals["offer-2"].withdrawals == 1


# --- spec 1.1: several unions, employer votes, the return to work after the vote -----------

TWO_UNIONS = opened(parties=(*PARTIES, Party(id=SECOND_UNION, name="IBEW", role="union")))


def test_each_union_ratifies_on_its_own() -> None:
    """The first union's ratification ends its own strike only; the last one closes and ends every stoppage."""
    prefix = [
        TWO_UNIONS,
        strike_called("s1", 1),
        strike_called("s2", 1, by=SECOND_UNION),
        lockout_declared("l", 1.5),
        tentative("ta", 2),
    ]
    first = allow(prefix, ratification("v1", 3))
    assert first.agreement == "tentative"
    assert phase(first) == "tentative_agreement"
    assert first.ratified_by == {UNION}
    assert set(first.strikes) == {SECOND_UNION}
    assert set(first.lockouts) == {EMPLOYER}
    assert not first.closed
    last = allow([*prefix, ratification("v1", 3)], ratification("v2", 4, by=SECOND_UNION))
    assert last.closed
    assert last.contract == "new"
    assert last.ratified_by == {UNION, SECOND_UNION}
    assert not last.strikes
    assert not last.lockouts
    assert last.ended_by_vote == {("strike", UNION), ("strike", SECOND_UNION), ("lockout", EMPLOYER)}


def test_a_union_rejection_voids_the_agreement() -> None:
    """A rejection by any union returns to bargaining; ratified_by empties; the next agreement is voted afresh."""
    prefix = [TWO_UNIONS, strike_called("s2", 1, by=SECOND_UNION), tentative("ta", 2), ratification("v1", 3)]
    state = allow(prefix, ratification("no", 4, outcome="rejected", by=SECOND_UNION))
    assert state.agreement == "rejected"
    assert state.ratified_by == frozenset()
    assert set(state.strikes) == {SECOND_UNION}
    voted_down = [*prefix, ratification("no", 4, outcome="rejected", by=SECOND_UNION)]
    refuse(voted_down, ratification("v1b", 5), "vote-needs-agreement")
    again = allow(voted_down, tentative("ta-2", 5))
    assert again.voted == frozenset()


def test_an_employer_vote_decides_nothing() -> None:
    """An employer's vote before or after the unions' is accepted and changes nothing but the count."""
    prefix = [OPEN, strike_called("s", 1), tentative("ta", 2)]
    before = fold(prefix)
    after = allow(prefix, ratification("owners", 3, by=EMPLOYER))
    assert attrs.evolve(after, voted=frozenset(), events_applied=before.events_applied) == before
    closed = [*prefix, ratification("players", 3)]
    late = allow(closed, ratification("owners", 4, by=EMPLOYER))
    assert late.closed
    assert late.ratified_by == {UNION}
    # Without a tentative agreement even an employer cannot vote.
    refuse([OPEN], ratification("owners", 1, by=EMPLOYER), "vote-needs-agreement")
    # A union cannot vote once the agreement is ratified.
    refuse(closed, ratification("again", 4), "closed-after-ratification")


def test_return_to_work_after_the_vote() -> None:
    """A strike.ended / lockout.ended after the vote that ended it is accepted, once, and changes no answer."""
    closed = [OPEN, strike_called("s", 1), lockout_declared("l", 1), tentative("ta", 2), ratification("v", 3)]
    state = fold(closed)
    after = allow(closed, lockout_ended("back", 3.5))
    assert (after.agreement, after.contract, phase(after), after.strikes, after.lockouts) == (
        state.agreement,
        state.contract,
        phase(state),
        state.strikes,
        state.lockouts,
    )
    refuse([*closed, lockout_ended("back", 3.5)], lockout_ended("back-again", 4), "closed-after-ratification")
    allow(closed, strike_ended("back-2", 4))
    # No stoppage was running: its end stays refused.
    refuse([OPEN, tentative("ta", 2), ratification("v", 3)], strike_ended("e", 4), "closed-after-ratification")
    # Before closing: a union's own ratification ended its strike; its late end is accepted.
    own = [TWO_UNIONS, strike_called("s", 1), tentative("ta", 2), ratification("v", 3)]
    allow(own, strike_ended("back", 4))
    refuse([*own, strike_ended("back", 4)], strike_ended("back-again", 5), "stoppage-running")


def test_check_and_evolve_are_pure() -> None:
    """check and evolve leave the given state unchanged and are deterministic."""
    state = fold([OPEN, strike_called("s", 1)])
    copy = fold([OPEN, strike_called("s", 1)])
    event = strike_ended("e", 2)
    check(state, event)
    after = evolve(state, event)
    assert state == copy
    assert evolve(state, event) == after
    assert after != state


def test_fold_checks_unless_told_not_to() -> None:
    """fold raises on an invalid sequence, and folds it unchecked with checked=False."""
    events = [OPEN, strike_ended("e", 1)]
    with pytest.raises(RuleViolationError):
        fold(events)
    assert fold(events, checked=False).events_applied == 2


# --- what the read side may skip (projections.periods) --------------------------------------------


def _shown(state: NegotiationState) -> dict[str, object]:
    """The fields of a state outside ``BOOKKEEPING``."""
    return {f.name: getattr(state, f.name) for f in attrs.fields(NegotiationState) if f.name not in BOOKKEEPING}


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(drawn=negotiations(max_steps=30, retractions=False))
def test_bookkeeping_is_read_by_no_effect_and_answer_neutral_events_change_only_it(drawn: Drawn) -> None:
    """Every effect gives the same other fields whatever the bookkeeping holds; neutral events change none.

    The indexed read side relies on both: a late event of an ``ANSWER_NEUTRAL``
    type changes no status or stoppage row, so only its position rows are derived.
    """
    state = NegotiationState()
    for record in builders.history_of(drawn.events).between(None, None):  # valid-time order
        event = record.event
        after = evolve(state, event)
        if type(event) in ANSWER_NEUTRAL:
            assert _shown(after) == _shown(state), event
        # The same event from a state whose bookkeeping is empty changes the other fields alike.
        bare = evolve(replace(state, {"proposals": immutables.Map(), "withdrawals": immutables.Map()}), event)
        assert _shown(bare) == _shown(after), event
        state = after


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(drawn=negotiations(max_steps=30, retractions=False))
def test_replace_is_attrs_evolve(drawn: Drawn) -> None:
    """``replace`` (an unrolled copy through the slots, then the changes) builds what ``attrs.evolve`` builds."""
    state = NegotiationState()
    for record in builders.history_of(drawn.events).between(None, None):
        changes = TRANSITIONS[type(record.event)].effect(state, record.event)
        changes["events_applied"] = state.events_applied + 1
        after = replace(state, changes)
        expected = attrs.evolve(state, **changes)
        assert after == expected
        assert all(getattr(after, f.name) is getattr(expected, f.name) for f in attrs.fields(NegotiationState))
        state = after
    assert replace(state, {"not_a_field": 1}) == state


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(any_event())
def test_declared_fields_match_the_meanings(event: Event) -> None:
    """The rules' per-class field lists give what matching each field's meaning gives."""
    for kinds in (machine._PARTIES, machine._ISSUES, machine._PROPOSALS):
        expected = [
            (name, getattr(event, name))
            for name, what in meanings(type(event))
            if what in kinds and isinstance(getattr(event, name), str)
        ]
        assert list(machine._declared(event, kinds)) == expected
