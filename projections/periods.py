"""The bitemporal read models as periods: rows that each hold over a valid-time and a knowledge-time interval.

The indexed read side (``projections.persisted``) stores, per negotiation, what
the pure folds answer at every valid time ``V`` and knowledge time ``K``, so
that a query reads a row instead of folding a history. This module derives
those rows from the folds (one source of truth for the rules) and works out
what an appended event changes; it does no I/O.

Three kinds of *facts* hold at one knowledge time (times are integer
microseconds since the epoch, ``INFINITY`` for "open"):

- ``status``: ``(valid_from,) -> (answer, extra)``: the status answer (the
  spec's, without ``negotiation``/``as_of``/``known_at``, the stoppage's
  ``day`` and ``events_applied``, which depend on the question) from an
  ``occurred_at`` instant where it changes on, until the next change point;
  ``answer`` is ``None`` when the negotiation is not open; ``extra`` holds
  title, time zone and parties for the catalog. Most events (statements,
  proposals, talks held) change no status answer and make no status row;
- ``position``: ``(party, issue, valid_from) -> (position,)``: the party's
  standing position on the issue changes at ``valid_from`` (``None``: none stands);
- ``stoppage``: ``(party, kind, started) -> (ended,)``: one strike or lockout.

A *row* is a fact with the knowledge interval ``[known_from, known_to)`` over
which it holds. ``changes`` compares the rows of a region before and after an
event: a late event or a retraction closes the knowledge interval of the rows
it changes and inserts their successors; an event recorded after everything
known so far and occurring after everything known so far inserts O(1) rows and
closes at most its stoppages' rows.
"""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
from collections.abc import Iterable, Sequence
from typing import Any, Final, Literal

import attrs
import orjson

from events.model import Event, EventRetracted, NegotiationOpened
from negotiation.core.history import STATUS_FOLD, History, Recorded, micros, valid_us
from negotiation.core.machine import ANSWER_NEUTRAL, COUNT_ONLY, TRANSITIONS, evolve
from negotiation.core.state import NegotiationState, StoppageKind, replace, zone
from projections.answers import position_json, status_json
from projections.positions import POSITION_EVENTS, POSITIONS_FOLD, Link, PositionsLog, position_of
from projections.status import Moment, parties_of, status_from

__all__ = [
    "INFINITY",
    "Change",
    "Row",
    "Tip",
    "changes",
    "facts_from",
    "moment_of",
    "position_facts_from",
    "region_facts",
    "rows_of",
    "status_answer",
    "take",
    "target_of",
]

INFINITY: Final = 1 << 62
"""An open end, in microseconds (year 146,140): greater than any instant."""
_EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_ANY_TIME: Final = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)

Table = Literal["status", "position", "stoppage"]
Key = tuple[Any, ...]
Payload = tuple[Any, ...]
Fact = tuple[Table, Key, Payload]


def moment_of(us: int) -> dt.datetime:
    """The aware UTC instant of ``us`` microseconds since the epoch."""
    return _EPOCH + dt.timedelta(microseconds=us)


def _dumps(value: object) -> str:
    return orjson.dumps(value).decode()


_ANSWERS: dict[tuple[Any, ...], tuple[str, str]] = {}
"""What ``status_answer`` renders, by the state fields the answer depends on. Catch-up asks for an answer per
event, and most events change none of these fields."""


def status_answer(negotiation: str, state: NegotiationState) -> tuple[str | None, str | None]:
    """The stored status answer of a state and its catalog extras (JSON texts); ``None`` when not open.

    The stored answer leaves out ``events_applied``: a running count would
    change with every event, so every event (and every late one, for every
    change point after it) would write a row. Readers count it from the events
    table instead, and a row is stored only where the answer really changes.
    """
    if not state.opened:
        return None, None
    key = (
        state.title,
        state.timezone,
        state.parties,
        state.talks,
        state.talks_started,
        state.strikes,
        state.lockouts,
        state.agreement,
        state.contract,
        state.ratified_by,
    )
    found = _ANSWERS.get(key)
    if found is None:
        if len(_ANSWERS) >= 4096:
            _ANSWERS.clear()
        found = _ANSWERS[key] = _render(negotiation, state)
    return found


def _render(negotiation: str, state: NegotiationState) -> tuple[str, str]:
    """``status_answer`` of an open state, rendered through the spec's answer."""
    tz = state.tz
    moment = Moment(negotiation=negotiation, timezone=state.timezone, tz=tz, as_of=_ANY_TIME, known_at=_ANY_TIME)
    answer = status_json(status_from(state, moment))
    for key in ("negotiation", "as_of", "known_at", "events_applied"):
        del answer[key]
    if answer["stoppage"] is not None:
        del answer["stoppage"]["day"]  # counted up to the time asked about, by the reader
    extra = {
        "title": state.title,
        "timezone": state.timezone,
        "parties": [{"id": p.id, "name": p.name, "role": p.role} for p in parties_of(state)],
    }
    return _dumps(answer), _dumps(extra)


_POSITIONS: dict[tuple[str, str, int, dt.tzinfo], tuple[Link, str | None]] = {}
"""``_position_text`` by (party, issue, ``id`` of the link, time zone), with the link itself: holding it keeps
its ``id`` from being reused while the entry lives, and an entry counts only for that very object (links
compare by their own step only, not by the record behind them). Each text is asked for as the new one and
again as the old one of the next change, and once more by each re-derivation of a region."""


def _position_text(key: tuple[str, str], link: Link | None, tz: dt.tzinfo) -> str | None:
    """The position answer (JSON text) a party's record on an issue shows; ``None``: nothing stands."""
    if link is None:
        return None
    memo = (*key, id(link), tz)
    found = _POSITIONS.get(memo)
    if found is not None and found[0] is link:
        return found[1]
    shown = position_of(key, link, tz)
    text = None if shown is None else _dumps(position_json(shown))
    if len(_POSITIONS) >= 8192:
        _POSITIONS.clear()
    _POSITIONS[memo] = (link, text)
    return text


def _running(state: NegotiationState) -> dict[tuple[str, StoppageKind], int]:
    running: dict[tuple[str, StoppageKind], int] = {(p, "strike"): micros(t) for p, t in state.strikes.items()}
    running.update({(p, "lockout"): micros(t) for p, t in state.lockouts.items()})
    return running


def _position_facts(
    facts: dict[tuple[Table, Key], Payload], before: PositionsLog, log: PositionsLog, at: int, tz: dt.tzinfo
) -> None:
    """Note the position facts that change at ``at``, from the log ``before`` to ``log``."""
    for key, link in log.links.items():
        old = before.links.get(key)
        if old is not link:
            text = _position_text(key, link, tz)
            if text != _position_text(key, old, tz):
                facts[("position", (*key, at))] = (text,)


def facts_from(
    negotiation: str, state: NegotiationState, log: PositionsLog, records: Iterable[Recorded], *, tz: dt.tzinfo
) -> set[Fact]:
    """The facts from a region's start on, given the fold states just before it.

    ``state`` and ``log`` are the folds at the instant before the region;
    ``records`` are the events that count in the region, in valid-time order;
    ``tz`` is the negotiation's time zone (``History.tz``, its first stored
    opening's), in which positions are dated as the pure answer dates them,
    even when that opening was retracted and replaced by one in another zone.
    """
    facts: dict[tuple[Table, Key], Payload] = {}
    started = _running(state)
    shown = status_answer(negotiation, state)
    for at, group in itertools.groupby(records, key=valid_us):
        before = log
        for record in group:
            state = evolve(state, record.event)
            log = POSITIONS_FOLD.step(log, record)
        shown, started = _instant_facts(
            facts, negotiation, shown, started, before=before, state=state, log=log, at=at, tz=tz
        )
    for key, start in started.items():
        facts[("stoppage", (*key, start))] = (INFINITY,)
    return {(table, key, payload) for (table, key), payload in facts.items()}


def _instant_facts(
    facts: dict[tuple[Table, Key], Payload],
    negotiation: str,
    shown: Payload,
    started: dict[tuple[str, StoppageKind], int],
    *,
    before: PositionsLog,
    state: NegotiationState,
    log: PositionsLog,
    at: int,
    tz: dt.tzinfo,
) -> tuple[Payload, dict[tuple[str, StoppageKind], int]]:
    """Note the facts that change at instant ``at`` in ``facts``; the answer and stoppages in force after it.

    From the answer ``shown``, the stoppages ``started`` and the log ``before``
    in force just before it, to the folds ``state`` and ``log`` after its events.
    Returns the answer and the stoppages in force after it. Only the folds before and after an
    instant decide its facts, not the order of its events (``facts_from``, ``_take_same_instant``).
    """
    answer = status_answer(negotiation, state)
    if answer != shown:  # a change point: the answer differs from the one in force just before
        facts[("status", (at,))] = shown = answer
    if log is not before:
        _position_facts(facts, before, log, at, tz)
    running_now = _running(state)
    for key, start in started.items():
        if running_now.get(key) != start:
            facts[("stoppage", (*key, start))] = (at,)
    return shown, running_now


def _last_instant_facts(
    negotiation: str,
    before: tuple[NegotiationState, PositionsLog],
    state: NegotiationState,
    log: PositionsLog,
    *,
    at: int,
    tz: dt.tzinfo,
) -> set[Fact]:
    """``facts_from`` of a region that is one instant, the last: from the folds ``before`` it to ``state``, ``log``."""
    state0, log0 = before
    facts: dict[tuple[Table, Key], Payload] = {}
    shown, started = status_answer(negotiation, state0), _running(state0)
    _, running = _instant_facts(facts, negotiation, shown, started, before=log0, state=state, log=log, at=at, tz=tz)
    for key, start in running.items():
        facts[("stoppage", (*key, start))] = (INFINITY,)
    return {(table, key, payload) for (table, key), payload in facts.items()}


def position_facts_from(log: PositionsLog, records: Iterable[Recorded], *, tz: dt.tzinfo) -> set[Fact]:
    """The position facts alone of ``facts_from`` (the core state is not folded)."""
    facts: dict[tuple[Table, Key], Payload] = {}
    for at, group in itertools.groupby(records, key=valid_us):
        before = log
        for record in group:
            log = POSITIONS_FOLD.step(log, record)
        if log is not before:
            _position_facts(facts, before, log, at, tz)
    return {(table, key, payload) for (table, key), payload in facts.items()}


def region_facts(history: History, start: int, known: int | None, *, positions_only: bool = False) -> set[Fact]:
    """The facts from valid time ``start`` (µs) on, as known at ``known`` (``None``: everything stored).

    ``positions_only``: the position facts alone (``position_facts_from``).
    """
    known_at = None if known is None else moment_of(known)
    as_of = moment_of(start - 1)
    log = history.fold(POSITIONS_FOLD, as_of=as_of, known_at=known_at)
    records = [r for r in history.between(moment_of(start), None) if history.counts(r, known_at=known_at)]
    if positions_only:
        return position_facts_from(log, records, tz=history.tz)
    state = history.fold(STATUS_FOLD, as_of=as_of, known_at=known_at)
    return facts_from(history.negotiation, state, log, records, tz=history.tz)


@attrs.frozen
class Row:
    """A fact with the knowledge interval over which it holds."""

    table: Table
    key: Key
    payload: Payload
    known_from: int
    known_to: int


def rows_of(grid: Sequence[int], facts: Sequence[set[Fact]]) -> list[Row]:
    """The rows of facts known at each knowledge time of ``grid`` (ascending; the last holds on)."""
    rows: list[Row] = []
    open_: dict[Fact, int] = {}
    for g, present in zip(grid, facts, strict=True):
        rows.extend(Row(*fact, open_.pop(fact), g) for fact in [f for f in open_ if f not in present])
        for fact in present:
            if fact not in open_:
                open_[fact] = g
    rows.extend(Row(*fact, known_from, INFINITY) for fact, known_from in open_.items())
    return rows


@attrs.frozen
class Change:
    """One write to a period table.

    ``close``: the stored row ``(table, key)`` whose knowledge interval ends at
    ``known_to`` now ends at ``at`` (deleted if it began there); ``extend``: its
    ``known_to`` becomes ``to``; ``insert``: a new row.
    """

    op: Literal["close", "extend", "insert"]
    table: Table
    key: Key
    known_to: int = 0
    at: int = 0
    to: int = 0
    row: Row | None = None


def changes(before: Iterable[Row], after: Iterable[Row], at: int, ended: Iterable[Fact] = ()) -> list[Change]:
    """The writes that turn the rows ``before`` into ``after`` (both clipped to knowledge times from ``at`` on).

    ``ended``: the facts whose stored rows end at ``at`` (held just before it,
    not at it). One of them that holds again from ``at`` on has its row
    extended, not a second row inserted beside it: a fact's rows stay one per
    interval it holds over, which the next late event's writes rely on (they
    find a row by the end of its interval).
    """
    old = {(r.table, r.key, r.payload, r.known_from, r.known_to) for r in before}
    new = {(r.table, r.key, r.payload, r.known_from, r.known_to) for r in after}
    gone = old - new
    came = new - old
    result: list[Change] = []
    extended: set[tuple[Any, ...]] = set()
    starting = {(t, k, p): kt for (t, k, p, kf, kt) in came if kf == at}
    for table, key, payload, known_from, known_to in sorted(gone, key=repr):
        to = starting.get((table, key, payload)) if known_from == at else None
        if to is not None:
            result.append(Change("extend", table, key, known_to=known_to, to=to))
            extended.add((table, key, payload, at, to))
        else:
            result.append(Change("close", table, key, known_to=known_to, at=at))
    for table, key, payload in sorted(ended, key=repr):
        to = starting.get((table, key, payload))
        if to is not None and (table, key, payload, at, to) not in extended:
            result.append(Change("extend", table, key, known_to=at, to=to))
            extended.add((table, key, payload, at, to))
    result.extend(
        Change("insert", t, k, row=Row(t, k, p, kf, kt))
        for (t, k, p, kf, kt) in sorted(came, key=repr)
        if (t, k, p, kf, kt) not in extended
    )
    return result


@attrs.define
class Tip:
    """What the projector keeps of a negotiation to take the next event in cheaply."""

    history: History
    state: NegotiationState
    """The full-knowledge state at the end of the timeline."""
    log: PositionsLog
    last_at: int | None
    """The latest valid time of a stored event (µs), ``None`` before the first."""
    known: list[int]
    """The distinct knowledge times of the stored events (µs), ascending."""
    pending: list[Recorded] = attrs.field(factory=list)
    """Events taken in at the end of both timelines but not yet loaded into ``history`` (``flush``)."""
    last: Recorded | None = None
    """The record of the event taken in last."""
    before_last: tuple[NegotiationState, PositionsLog] | None = None
    """The full-knowledge folds just before the instant ``last_at`` (``None``: not known; ``_take_same_instant``)."""

    def flush(self) -> None:
        """Load the pending records into ``history``: its version and index are then the tip's.

        An event at the end of both timelines needs nothing of the history, so
        ``take`` keeps it aside and loads such runs in one call, when the history
        is next read (a late event or a retraction) or when its caller asks.
        """
        if self.pending:
            self.history.load_recorded(self.pending)
            self.pending = []

    @classmethod
    def of(cls, history: History) -> Tip:
        """The tip of a loaded history."""
        return cls(
            history=history,
            state=history.state(),
            log=history.fold(POSITIONS_FOLD),
            last_at=max((valid_us(r) for r in history.appended_after(0)), default=None),
            known=sorted({r.known_us for r in history.appended_after(0)}),
        )


def target_of(history: History, event_id: str) -> Recorded | None:
    """The stored event ``event_id`` (a retraction's target; retractions are rare: a scan is fine)."""
    return next((r for r in history.appended_after(0) if r.event.id == event_id), None)


def _record(tip: Tip, event: Event) -> Recorded:
    history = tip.history
    tz = history.tz
    if history.timezone is None and isinstance(event, NegotiationOpened):
        tz = zone(event.timezone or "UTC")
    return Recorded.of(event, history.version + len(tip.pending) + 1, tz)


def _step(tip: Tip, record: Recorded, at: int, known: int) -> list[Change]:
    """The writes of an event at the end of both timelines: what ``changes`` would find, without deriving."""
    event = record.event
    state = evolve(tip.state, event)
    log = POSITIONS_FOLD.step(tip.log, record)
    result: list[Change] = []
    if type(event) not in ANSWER_NEUTRAL:  # (most events: their effect reaches no field an answer shows)
        negotiation = tip.history.negotiation
        answer = status_answer(negotiation, state)
        if answer != status_answer(negotiation, tip.state):
            status = Row("status", (at,), answer, known, INFINITY)
            result.append(Change("insert", "status", status.key, row=status))
    if log is not tip.log:
        tz = tip.history.tz  # as ``facts_from``: the negotiation's, not the state's
        for key, link in log.links.items():
            old = tip.log.links.get(key)
            if old is not link:
                text = _position_text(key, link, tz)
                if text != _position_text(key, old, tz):
                    row = Row("position", (*key, at), (text,), known, INFINITY)
                    result.append(Change("insert", "position", row.key, row=row))
    if state.strikes is not tip.state.strikes or state.lockouts is not tip.state.lockouts:
        # (``evolve`` keeps the maps of the fields an event does not change: most events start or end nothing.)
        before, after = _running(tip.state), _running(state)
        for key, start in before.items():
            if after.get(key) != start:
                row = Row("stoppage", (*key, start), (at,), known, INFINITY)
                result.append(Change("close", "stoppage", row.key, known_to=INFINITY, at=known))
                result.append(Change("insert", "stoppage", row.key, row=row))
        for key, start in after.items():
            if before.get(key) != start:
                row = Row("stoppage", (*key, start), (INFINITY,), known, INFINITY)
                result.append(Change("insert", "stoppage", row.key, row=row))
    tip.state, tip.log = state, log
    return result


_INERT: Final = COUNT_ONLY - POSITION_EVENTS
"""Event types that change no fact wherever they land: the status and positions folds only count them."""
_POSITIONS_ONLY: Final = ANSWER_NEUTRAL & POSITION_EVENTS
"""Event types that change position facts only."""
_NO_POSITION: Final = frozenset(TRANSITIONS) - POSITION_EVENTS - {EventRetracted}
"""Event types that change no position fact wherever they land (a retraction may: its target's)."""


def _inert(history: History, event: Event) -> Recorded | None:
    """The stored target of a retraction that changes no fact (an inert target that counts now), else ``None``."""
    if not isinstance(event, EventRetracted):
        return None
    target = target_of(history, event.target)
    if target is None or type(target.event) not in _INERT or not history.counts(target):
        return None
    return target


def _moving(history: History, positions_only: bool) -> set[int]:
    """The knowledge times at which a stored event that may change a derived fact became known.

    At a knowledge time when only events that change none of the facts
    derived became known (statements, say; for position facts, anything but a
    proposal, a withdrawal, an acceptance or a retraction), the facts are those
    of the knowledge time before: no row starts or ends there.
    """
    inert = _NO_POSITION if positions_only else _INERT
    return {r.known_us for r in history.appended_after(0) if type(r.event) not in inert}


def _changing(grid: list[int], moving: set[int]) -> list[int]:
    """``grid`` (knowledge times from the new event's own on) without those at which nothing derived can change.

    None is derived at a time not in ``moving`` (``_moving``); the first (the new event's) always stays.
    """
    return [grid[0], *(g for g in grid[1:] if g in moving)]


def _take_late(tip: Tip, record: Recorded, at: int, known: int) -> list[Change]:
    """``take`` of an event not at the end of both timelines, or a retraction (nothing pending)."""
    history, event = tip.history, record.event
    retracting = isinstance(event, EventRetracted)
    if type(event) in _INERT or _inert(history, event) is not None:
        # Counted where it lands (a retraction: and its target no longer counts); no answer changes.
        history.load_recorded([record], commutes=not retracting and TRANSITIONS[type(event)].commutes)
        if not retracting:
            tip.state = replace(tip.state, {"events_applied": tip.state.events_applied + 1})
        return []
    # A late proposal, withdrawal or acceptance changes no status or stoppage fact (its core effect is
    # bookkeeping no answer shows): only its region's position facts are derived.
    positions_only = not retracting and type(event) in _POSITIONS_ONLY
    start = at
    if retracting:
        assert isinstance(event, EventRetracted)  # noqa: S101 - for the type checker
        target = target_of(history, event.target)
        if target is not None:
            start = min(start, valid_us(target))
    moving = _moving(history, positions_only)
    grid = _changing(sorted({known, *tip.known[bisect.bisect_right(tip.known, known) :]}), moving)
    latest = max(known, tip.known[-1]) if tip.known else known
    asked = [None if g >= latest else g for g in grid]
    before_facts = [region_facts(history, start, g, positions_only=positions_only) for g in asked]
    ended: set[Fact] = set()
    i = bisect.bisect_left(tip.known, known)
    if i > 0 and known in moving:
        # Stored events that change facts became known at this very time: rows may end here, which the
        # event may make hold on (the facts as known just before, less those at this time).
        ended = region_facts(history, start, tip.known[i - 1], positions_only=positions_only) - before_facts[0]
    history.load_recorded([record])
    after_facts = [region_facts(history, start, g, positions_only=positions_only) for g in asked]
    tip.state = history.state()
    tip.log = history.fold(POSITIONS_FOLD)
    return changes(rows_of(grid, before_facts), rows_of(grid, after_facts), known, ended)


def _take_same_instant(tip: Tip, record: Recorded, at: int, known: int) -> list[Change]:
    """``take`` of an event at the instant of the latest stored one, with no earlier row to end (see below).

    Known after every stored event, or every stored event known at its own
    knowledge time (one import without ``recorded_at``); nothing pending. It
    comes last in valid-time order (append order breaks ties), but the facts
    at that instant are those of all its events together, so it is not one
    step (``_step``). ``_take_late`` would derive the instant's facts
    before and after from its events, as known at each time: quadratic in
    the events of one instant (2,001 events on one day took 11 s). In these
    two cases only the facts as known now can change, and no row ends at this
    knowledge time for the event to make hold on (``_take_late``'s ``ended``:
    there is no earlier knowledge time, or nothing is known at this one yet);
    they follow from the folds before the instant (kept in
    ``tip.before_last``) and after it.
    """
    history, event = tip.history, record.event
    if tip.before_last is None:
        as_of = moment_of(at - 1)
        tip.before_last = (history.fold(STATUS_FOLD, as_of=as_of), history.fold(POSITIONS_FOLD, as_of=as_of))
    negotiation, tz = history.negotiation, history.tz
    before = _last_instant_facts(negotiation, tip.before_last, tip.state, tip.log, at=at, tz=tz)
    state, log = evolve(tip.state, event), POSITIONS_FOLD.step(tip.log, record)
    history.load_recorded([record])
    tip.state, tip.log = state, log
    after = _last_instant_facts(negotiation, tip.before_last, state, log, at=at, tz=tz)
    return changes(rows_of([known], [before]), rows_of([known], [after]), known, set())


def take(tip: Tip, event: Event) -> list[Change]:
    """Take ``event`` (the negotiation's next stored one) into ``tip.history``; the writes it makes.

    An event that occurred after every stored one and was recorded no earlier
    than any, and retracts nothing, is one step of the folds (O(1) rows); it
    is loaded into the history later (``Tip.flush``). An event that changes
    no fact wherever it lands (a statement, a rejection, a strike
    authorization, or the retraction of one) writes nothing, however late.
    Otherwise the rows of the region it changes (valid times from its own,
    or its target's; knowledge times from its own) are derived before and after.
    """
    history = tip.history
    record = _record(tip, event)
    at, known = valid_us(record), record.known_us
    retracting = isinstance(event, EventRetracted)
    if not retracting and (tip.last_at is None or at > tip.last_at) and (not tip.known or known >= tip.known[-1]):
        if history.timezone is None:  # (the zone its records are placed in is set by the first ones)
            history.load_recorded([record])
        else:
            tip.pending.append(record)
        tip.before_last = (tip.state, tip.log)  # every stored event is before this new instant
        result = _step(tip, record, at, known)
    elif (
        not retracting
        and at == tip.last_at
        and tip.known
        and (known > tip.known[-1] or tip.known == [known])
        and history.timezone is not None
    ):
        tip.flush()
        result = _take_same_instant(tip, record, at, known)
    else:
        tip.flush()
        tip.before_last = None  # a late event or a retraction may change what came before the last instant
        result = _take_late(tip, record, at, known)
    tip.last = record
    tip.last_at = at if tip.last_at is None else max(tip.last_at, at)
    i = bisect.bisect_left(tip.known, known)
    if i == len(tip.known) or tip.known[i] != known:
        tip.known.insert(i, known)
    return result
