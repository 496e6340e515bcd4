"""The bargaining state machine: one table of transitions, a pure check, a pure evolve.

``TRANSITIONS`` declares, for every event type, the rules it must pass and the
effect it has on the state. ``check(state, event)`` returns nothing or raises a
``RuleViolationError`` naming the event and the rule; ``evolve(state, event)``
returns the next state. Neither does I/O.

Events are folded in valid-time order (``occurred_at``, ties by append order).
Retractions are not folded as effects: a retracted event is left out of the
fold, which is how a retraction "falls back" to what stood before.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

import attrs
import immutables

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
    meanings,
)
from events.time import instant
from negotiation.core.errors import RuleViolationError
from negotiation.core.state import NegotiationState, ProposalRef, StoppageKind, replace

__all__ = [
    "ANSWER_NEUTRAL",
    "BOOKKEEPING",
    "COUNT_ONLY",
    "RULES",
    "TRANSITIONS",
    "Rule",
    "Transition",
    "check",
    "evolve",
    "fold",
]

Guard = Callable[[NegotiationState, Any], str | None]
Effect = Callable[[NegotiationState, Any], dict[str, Any]]
"""An effect returns the fields that change; ``evolve`` applies them at once."""


@attrs.frozen
class Rule:
    """A named condition; ``test`` returns the reason for refusing, or ``None``."""

    name: str
    description: str
    test: Guard


@attrs.frozen
class Transition:
    """What an event type must satisfy and what it does to the state.

    ``commutes``: the effect only counts the event or adds an entry keyed by
    the event's own id, and no rule can refuse a later event because of it.
    Such an event, recorded late, needs checking only where it lands in the
    timeline, not against everything after it.
    """

    rules: tuple[Rule, ...]
    effect: Effect
    commutes: bool = False


# --- rules -------------------------------------------------------------------


def _opened_first(state: NegotiationState, event: Event) -> str | None:
    return None if state.opened else "the negotiation has not been opened (negotiation.opened comes first)"


def _opened_once(state: NegotiationState, event: Event) -> str | None:
    return "the negotiation is already open" if state.opened else None


def _not_closed(state: NegotiationState, event: Event) -> str | None:
    if state.closed:
        return f"the agreement was ratified; {event.TYPE} is no longer accepted"
    return None


def _not_closed_but_return(kind: StoppageKind) -> Guard:
    """Closed, except for the end of a stoppage that a ratification already ended."""

    def test(state: NegotiationState, event: Any) -> str | None:
        if state.closed and (kind, event.by) not in state.ended_by_vote:
            return (
                f"the agreement was ratified; {event.TYPE} is no longer accepted"
                f" ({event.by!r} has no {kind} that the vote ended)"
            )
        return None

    return test


def _not_closed_for_unions(state: NegotiationState, event: RatificationCompleted) -> str | None:
    party = state.parties.get(event.by)
    if state.closed and party is not None and party.role == "union":
        return f"the agreement was ratified; {event.by!r} (a union) can no longer vote on it"
    return None


def _declared(event: Event, kinds: frozenset[Meaning]) -> Iterable[tuple[str, str]]:
    """``(field, value)`` of the event's fields declared as one of ``kinds`` (``events.model.Meaning``)."""
    for name in _declared_names(type(event), kinds):
        value = getattr(event, name)
        if isinstance(value, str):
            yield name, value


_DECLARED: dict[tuple[type[Event], frozenset[Meaning]], tuple[str, ...]] = {}


def _declared_names(cls: type[Event], kinds: frozenset[Meaning]) -> tuple[str, ...]:
    """The fields of ``cls`` declared as one of ``kinds``, in field order (cached).

    Every event passes two or three such rules: matching the meanings once per
    class spares each check the enum hashing (``Enum.__hash__`` is Python code).
    """
    key = (cls, kinds)
    cached = _DECLARED.get(key)
    if cached is None:
        cached = _DECLARED[key] = tuple(name for name, what in meanings(cls) if what in kinds)
    return cached


_PARTIES: Final = frozenset({Meaning.PARTY, Meaning.ACTOR})
_ISSUES: Final = frozenset({Meaning.ISSUE})
_PROPOSALS: Final = frozenset({Meaning.PROPOSAL})


def _known_parties(state: NegotiationState, event: Event) -> str | None:
    for field, party in _declared(event, _PARTIES):
        if party not in state.parties:
            return f"{field}: {party!r} is not a party of the negotiation"
    return None


def _on_agenda(state: NegotiationState, event: Event) -> str | None:
    for field, issue in _declared(event, _ISSUES):
        if issue not in state.issues:
            return f"{field}: {issue!r} is not on the agenda"
    return None


_ARTICLE: Final = {"union": "a union", "employer": "an employer", "mediator": "a mediator"}


def _role_is(role: str, kind: str) -> Guard:
    def test(state: NegotiationState, event: Any) -> str | None:
        party = state.parties.get(event.by)
        if party is not None and party.role != role:
            return f"{kind} are called and ended by {_ARTICLE[role]}; {event.by!r} is {_ARTICLE[party.role]}"
        return None

    return test


def _not_running(attr: str, kind: str) -> Guard:
    def test(state: NegotiationState, event: Any) -> str | None:
        running: Mapping[str, Any] = getattr(state, attr)
        return f"{event.by!r} already has a {kind} running" if event.by in running else None

    return test


def _running(attr: str, kind: StoppageKind) -> Guard:
    def test(state: NegotiationState, event: Any) -> str | None:
        running: Mapping[str, Any] = getattr(state, attr)
        if event.by in running or (kind, event.by) in state.ended_by_vote:
            return None  # running, or ended by a ratification: the return to work is recorded late
        return f"{event.by!r} has no {kind} running"

    return test


def _break_in_talks(state: NegotiationState, event: Event) -> str | None:
    if state.talks == "suspended" or state.strikes or state.lockouts:
        return None
    return f"talks are {state.talks} and no stoppage is running; nothing to resume"


def _agreement_pending(state: NegotiationState, event: Event) -> str | None:
    if state.agreement == "tentative":
        return None
    if state.agreement == "ratified" and not _is_union(state, event):
        return None  # an employer's vote after closing: recorded, decides nothing
    return f"no tentative agreement awaits a vote (agreement: {state.agreement})"


def _is_union(state: NegotiationState, event: Any) -> bool:
    party = state.parties.get(event.by)
    return party is not None and party.role == "union"


def _vote_once(state: NegotiationState, event: RatificationCompleted) -> str | None:
    if event.by in state.voted:
        return f"{event.by!r} has already voted on the current tentative agreement"
    return None


def _proposal_reference(state: NegotiationState, event: ProposalAccepted | ProposalRejected) -> str | None:
    for field, proposal in _declared(event, _PROPOSALS):
        ref = state.proposals.get(proposal)
        if ref is None:
            return f"{field}: {proposal!r} is not a proposal.made of this negotiation (or it was retracted)"
        if ref.by == event.by:
            return f"{field}: {proposal!r} was made by {event.by!r} itself"
        if ref.issue != event.issue:
            return f"{field}: {proposal!r} is on issue {ref.issue!r}, not {event.issue!r}"
    return None


def _not_withdrawn(state: NegotiationState, event: ProposalAccepted) -> str | None:
    ref = state.proposals.get(event.proposal)
    if ref is None:
        return None  # proposal-reference says why
    if state.withdrawals.get((ref.by, ref.issue), 0) > ref.withdrawals:
        return f"proposal: {ref.by!r} withdrew {event.proposal!r} on {ref.issue!r} before it was accepted"
    return None


OPENED_FIRST: Final = Rule("opened-first", "negotiation.opened comes first", _opened_first)
OPENED_ONCE: Final = Rule("opened-once", "negotiation.opened happens once", _opened_once)
NOT_CLOSED: Final = Rule(
    "closed-after-ratification",
    "after ratification only statement.issued, event.retracted, an employer's vote and the end of a stoppage"
    " that the vote ended are accepted",
    _not_closed,
)
KNOWN_PARTIES: Final = Rule("known-party", "every by and to names a party of the negotiation", _known_parties)
ON_AGENDA: Final = Rule("on-agenda", "every issue is on the negotiation's agenda", _on_agenda)
UNION_STRIKES: Final = Rule("union-strikes", "strikes are called and ended by unions", _role_is("union", "strikes"))
EMPLOYER_LOCKOUTS: Final = Rule(
    "employer-lockouts", "lockouts are declared and ended by employers", _role_is("employer", "lockouts")
)
STRIKE_NOT_RUNNING: Final = Rule(
    "stoppage-not-running",
    "a party cannot start a stoppage it already has running",
    _not_running("strikes", "strike"),
)
LOCKOUT_NOT_RUNNING: Final = Rule(
    "stoppage-not-running",
    "a party cannot start a stoppage it already has running",
    _not_running("lockouts", "lockout"),
)
STRIKE_RUNNING: Final = Rule(
    "stoppage-running", "a party cannot end a stoppage it has not started", _running("strikes", "strike")
)
LOCKOUT_RUNNING: Final = Rule(
    "stoppage-running", "a party cannot end a stoppage it has not started", _running("lockouts", "lockout")
)
BREAK_IN_TALKS: Final = Rule(
    "resume-needs-break",
    "talks.resumed only while talks are suspended or a stoppage is running",
    _break_in_talks,
)
AGREEMENT_PENDING: Final = Rule(
    "vote-needs-agreement",
    "ratification.completed needs a current tentative agreement (a union's vote: one not ratified yet)",
    _agreement_pending,
)
PROPOSAL_REFERENCE: Final = Rule(
    "proposal-reference",
    "proposal.accepted/rejected refer to a proposal.made of another party on the same issue",
    _proposal_reference,
)
NOT_WITHDRAWN: Final = Rule(
    "accept-not-withdrawn",
    "proposal.accepted refers to a proposal its maker has not withdrawn (a retracted one is not a proposal)",
    _not_withdrawn,
)
VOTE_ONCE: Final = Rule(
    "vote-once",
    "each party votes once on a tentative agreement",
    _vote_once,
)
UNIONS_CLOSED: Final = Rule(
    "closed-after-ratification",
    "after ratification a union's vote is no longer accepted (an employer's is, and decides nothing)",
    _not_closed_for_unions,
)
STRIKE_CLOSED: Final = Rule(
    "closed-after-ratification",
    "after ratification only the end of a strike that the vote ended is accepted",
    _not_closed_but_return("strike"),
)
LOCKOUT_CLOSED: Final = Rule(
    "closed-after-ratification",
    "after ratification only the end of a lockout that the vote ended is accepted",
    _not_closed_but_return("lockout"),
)

# --- effects -------------------------------------------------------------------


def _opened(state: NegotiationState, e: NegotiationOpened) -> dict[str, Any]:
    return {
        "negotiation": e.negotiation,
        "opened": True,
        "title": e.title,
        "timezone": e.timezone or "UTC",
        "contract_expires_on": e.contract_expires_on,
        "parties": state.parties.update({p.id: p for p in e.parties}),
        "issues": state.issues.update({i.id: i for i in e.issues}),
    }


def _party_joined(state: NegotiationState, e: PartyJoined) -> dict[str, Any]:
    return {"parties": state.parties.set(e.party.id, e.party)}


def _issue_tabled(state: NegotiationState, e: IssueTabled) -> dict[str, Any]:
    return {"issues": state.issues.set(e.issue.id, e.issue)}


def _talks(to: str, *, started: bool = False) -> Effect:
    def effect(state: NegotiationState, e: Event) -> dict[str, Any]:
        return {"talks": to, "talks_started": state.talks_started or started}

    return effect


def _proposal_made(state: NegotiationState, e: ProposalMade) -> dict[str, Any]:
    withdrawals = state.withdrawals.get((e.by, e.issue), 0)
    return {"proposals": state.proposals.set(e.id, ProposalRef(by=e.by, issue=e.issue, withdrawals=withdrawals))}


def _proposal_withdrawn(state: NegotiationState, e: ProposalWithdrawn) -> dict[str, Any]:
    key = (e.by, e.issue)
    return {"withdrawals": state.withdrawals.set(key, state.withdrawals.get(key, 0) + 1)}


def _start(attr: str) -> Effect:
    def effect(state: NegotiationState, e: Any) -> dict[str, Any]:
        running: immutables.Map[str, Any] = getattr(state, attr)
        return {attr: running.set(e.by, instant(e.occurred_at, state.tz))}

    return effect


def _end(attr: str, kind: StoppageKind) -> Effect:
    def effect(state: NegotiationState, e: Any) -> dict[str, Any]:
        running: immutables.Map[str, Any] = getattr(state, attr)
        # Total, not only after ``check``: a fold "as known at" a time may see a
        # stoppage's end but not yet its (later recorded) start.
        if e.by in running:
            return {attr: running.delete(e.by)}
        # The return to work after the vote: recorded, changes nothing else.
        return {"ended_by_vote": state.ended_by_vote - {(kind, e.by)}}

    return effect


def _contract(to: str) -> Effect:
    def effect(state: NegotiationState, e: Event) -> dict[str, Any]:
        return {"contract": to}

    return effect


def _tentative(state: NegotiationState, e: AgreementTentative) -> dict[str, Any]:
    # A new tentative agreement is voted on afresh.
    return {"agreement": "tentative", "voted": frozenset(), "ratified_by": frozenset()}


def _ratification(state: NegotiationState, e: RatificationCompleted) -> dict[str, Any]:
    voted = state.voted | {e.by}
    if not _is_union(state, e):
        # An employer's (or mediator's) vote is recorded and decides nothing.
        return {"voted": voted}
    if e.outcome == "rejected":
        # Bargaining goes on; any stoppage goes on too; the agreement is void.
        return {"agreement": "rejected", "voted": voted, "ratified_by": frozenset()}
    ratified_by = state.ratified_by | {e.by}
    changes: dict[str, Any] = {"voted": voted, "ratified_by": ratified_by}
    if state.unions() <= ratified_by:
        # Every union ratified: the contract is new, the negotiation closed and every stoppage over.
        ended = {("strike", p) for p in state.strikes} | {("lockout", p) for p in state.lockouts}
        changes |= {
            "agreement": "ratified",
            "contract": "new",
            "strikes": immutables.Map(),
            "lockouts": immutables.Map(),
            "ended_by_vote": state.ended_by_vote | ended,
        }
    elif e.by in state.strikes:
        # A union's own ratification ends its own strike.
        changes |= {
            "strikes": state.strikes.delete(e.by),
            "ended_by_vote": state.ended_by_vote | {("strike", e.by)},
        }
    return changes


def _unchanged(state: NegotiationState, e: Event) -> dict[str, Any]:
    return {}


# --- the table -----------------------------------------------------------------

_OPEN = (OPENED_FIRST, NOT_CLOSED, KNOWN_PARTIES, ON_AGENDA)
"""Rules every event but the opening and the always-accepted ones must pass."""

TRANSITIONS: Final[Mapping[type[Event], Transition]] = {
    NegotiationOpened: Transition((OPENED_ONCE,), _opened),
    PartyJoined: Transition(_OPEN, _party_joined),
    IssueTabled: Transition(_OPEN, _issue_tabled),
    TalksRequested: Transition(_OPEN, _talks("requested", started=True)),
    TalksScheduled: Transition(_OPEN, _talks("scheduled")),
    TalksHeld: Transition(_OPEN, _talks("active", started=True)),
    TalksSuspended: Transition(_OPEN, _talks("suspended")),
    TalksResumed: Transition((*_OPEN, BREAK_IN_TALKS), _talks("active", started=True)),
    # Since 1.1 a withdrawal makes a proposal unacceptable: proposals and
    # withdrawals no longer commute (a late one may refuse a later acceptance).
    # An acceptance still does: it changes no core state and no rule reads it
    # (the positions it changes are a read model, refolded from where it lands).
    ProposalMade: Transition(_OPEN, _proposal_made),
    ProposalWithdrawn: Transition(_OPEN, _proposal_withdrawn),
    ProposalAccepted: Transition((*_OPEN, PROPOSAL_REFERENCE, NOT_WITHDRAWN), _unchanged, commutes=True),
    ProposalRejected: Transition((*_OPEN, PROPOSAL_REFERENCE), _unchanged, commutes=True),
    StatementIssued: Transition((OPENED_FIRST, KNOWN_PARTIES), _unchanged, commutes=True),
    StrikeAuthorized: Transition(_OPEN, _unchanged, commutes=True),
    StrikeCalled: Transition((*_OPEN, UNION_STRIKES, STRIKE_NOT_RUNNING), _start("strikes")),
    StrikeEnded: Transition(
        (OPENED_FIRST, STRIKE_CLOSED, KNOWN_PARTIES, ON_AGENDA, UNION_STRIKES, STRIKE_RUNNING),
        _end("strikes", "strike"),
    ),
    LockoutDeclared: Transition((*_OPEN, EMPLOYER_LOCKOUTS, LOCKOUT_NOT_RUNNING), _start("lockouts")),
    LockoutEnded: Transition(
        (OPENED_FIRST, LOCKOUT_CLOSED, KNOWN_PARTIES, ON_AGENDA, EMPLOYER_LOCKOUTS, LOCKOUT_RUNNING),
        _end("lockouts", "lockout"),
    ),
    ContractExpired: Transition(_OPEN, _contract("expired")),
    ContractExtended: Transition(_OPEN, _contract("extended")),
    AgreementTentative: Transition(_OPEN, _tentative),
    RatificationCompleted: Transition(
        (OPENED_FIRST, UNIONS_CLOSED, KNOWN_PARTIES, ON_AGENDA, AGREEMENT_PENDING, VOTE_ONCE), _ratification
    ),
    # Whether the target exists is a question of the whole stream, not of the
    # fold so far: the timeline checks it (negotiation.core.history).
    EventRetracted: Transition((OPENED_FIRST,), _unchanged),
}

COUNT_ONLY: Final[frozenset[type[Event]]] = frozenset(
    kind for kind, transition in TRANSITIONS.items() if transition.effect is _unchanged and kind is not EventRetracted
)
"""Event types whose only effect on the state is to be counted (``events_applied``), wherever they land.

(A retraction's own effect is nil too, but the history stops counting its target.)"""

BOOKKEEPING: Final = frozenset({"proposals", "withdrawals", "events_applied"})
"""State fields that only rules read (and the count): no effect reads them, so no other field depends on them."""

ANSWER_NEUTRAL: Final[frozenset[type[Event]]] = COUNT_ONLY | {ProposalMade, ProposalWithdrawn}
"""Event types whose effect changes only ``BOOKKEEPING`` fields: wherever one lands, every other field
of every later state is what it would be without it."""

RULES: Final[Mapping[str, str]] = {
    **{rule.name: rule.description for t in TRANSITIONS.values() for rule in t.rules},
    "retraction-target": "event.retracted targets an existing event of the same negotiation, once",
    "unique-id": "an event id is stored once per negotiation; the same id with other content is a conflict",
    "recorded-after-occurred": "recorded_at is not earlier than occurred_at",
    "recorded-not-future": "recorded_at is not later than the moment of appending (clock skew aside)",
}
"""Every rule name the library can refuse an event for, with its description."""


def check(state: NegotiationState, event: Event) -> None:
    """Return nothing if ``event`` may happen in ``state``, else raise ``RuleViolationError``."""
    for rule in TRANSITIONS[type(event)].rules:
        reason = rule.test(state, event)
        if reason is not None:
            raise RuleViolationError(reason, event=event, rule=rule.name)


def evolve(state: NegotiationState, event: Event) -> NegotiationState:
    """The state after ``event``; assumes ``check`` passed."""
    changes = TRANSITIONS[type(event)].effect(state, event)
    changes["events_applied"] = state.events_applied + 1
    return replace(state, changes)


def fold(events: Iterable[Event], state: NegotiationState | None = None, *, checked: bool = True) -> NegotiationState:
    """Fold ``events`` (already in valid-time order) from ``state``, checking each when asked."""
    current = NegotiationState() if state is None else state
    for event in events:
        if checked:
            check(current, event)
        current = evolve(current, event)
    return current
