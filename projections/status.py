"""Where a negotiation stood: the spec's ``status`` answer, at any valid and knowledge time.

The status reuses the core fold (``negotiation.core.history.STATUS_FOLD``), so the
checkpoints the state machine keeps for validation also answer queries. This
module also resolves the times of a temporal query (``Moment``) for the other
read models, by the rules of ``events.time``: a ``datetime.date`` means the END
of that day in the negotiation's time zone, a ``datetime`` is used as given (a
naive one is read as wall-clock time in the negotiation's zone).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Sequence
from typing import Final, TypeVar

import attrs

from events import time
from events.model import Party
from events.time import When, day_number, local_date, zone
from negotiation.core.history import STATUS_FOLD, Fold, History
from negotiation.core.state import (
    AgreementState,
    ContractState,
    NegotiationState,
    Phase,
    StoppageKind,
    TalksState,
    phase,
)
from projections.errors import InvalidQueryError, NotOpenedError

__all__ = [
    "Moment",
    "RunningStoppage",
    "Status",
    "Stoppage",
    "When",
    "as_instant",
    "day_number",
    "parties_of",
    "running_stoppages",
    "start_instant",
    "status_from",
    "status_of",
    "stoppage_from",
    "stoppage_of",
]

S = TypeVar("S")


def _query_moment(rule: Callable[[When, dt.tzinfo], dt.datetime]) -> Callable[[When, dt.tzinfo], dt.datetime]:
    """``rule`` of ``events.time``, refusing anything but a date or a datetime with ``InvalidQueryError``."""

    @functools.wraps(rule)
    def resolve(when: When, tz: dt.tzinfo) -> dt.datetime:
        try:
            return rule(when, tz)
        except TypeError as e:
            raise InvalidQueryError(str(e)) from None

    return resolve


as_instant: Final = _query_moment(time.as_instant)
"""A query moment as an instant: a date is the END of that day in ``tz`` (see ``events.time``)."""
start_instant: Final = _query_moment(time.start_instant)
"""A range's lower bound as an instant: a date is 00:00 of that day in ``tz`` (see ``events.time``)."""


@attrs.frozen(kw_only=True)
class Moment:
    """The resolved point of a temporal query on one negotiation.

    ``as_of`` and ``known_at`` are the instants the answer reports (now when not
    given), in the negotiation's time zone; ``fold_as_of``/``fold_known_at`` are
    what the fold is asked (``None``: include everything stored).
    """

    negotiation: str
    timezone: str
    """The negotiation's IANA time zone name."""
    tz: dt.tzinfo
    as_of: dt.datetime
    known_at: dt.datetime
    at_version: int | None = None
    fold_as_of: dt.datetime | None = None
    fold_known_at: dt.datetime | None = None

    @classmethod
    def resolve(
        cls,
        history: History,
        *,
        as_of: When | None = None,
        known_at: When | None = None,
        at_version: int | None = None,
        now: dt.datetime,
    ) -> Moment:
        """Resolve the query's times against the negotiation's time zone."""
        return cls.of(
            history.negotiation,
            history.timezone or "UTC",
            as_of=as_of,
            known_at=known_at,
            at_version=at_version,
            now=now,
        )

    @classmethod
    def of(
        cls,
        negotiation: str,
        timezone: str,
        *,
        as_of: When | None = None,
        known_at: When | None = None,
        at_version: int | None = None,
        now: dt.datetime,
    ) -> Moment:
        """Resolve the query's times against ``timezone`` (an IANA name), without a ``History``.

        The indexed reads (``negotiation.indexed``) know a negotiation's time
        zone from its first stored event, as ``History.timezone`` does.
        """
        if at_version is not None and (isinstance(at_version, bool) or at_version < 0):
            raise InvalidQueryError(f"at_version must be a non-negative integer, got {at_version!r}")
        tz = zone(timezone)
        fold_as_of = None if as_of is None else as_instant(as_of, tz)
        fold_known_at = None if known_at is None else as_instant(known_at, tz)
        return cls(
            negotiation=negotiation,
            timezone=timezone,
            tz=tz,
            as_of=(now if fold_as_of is None else fold_as_of).astimezone(tz),
            known_at=(now if fold_known_at is None else fold_known_at).astimezone(tz),
            at_version=at_version,
            fold_as_of=fold_as_of,
            fold_known_at=fold_known_at,
        )

    def fold(self, history: History, fold: Fold[S]) -> S:
        """The fold's state at this point, from ``History``'s checkpoints."""
        return history.fold(fold, as_of=self.fold_as_of, known_at=self.fold_known_at, at_version=self.at_version)

    def state(self, history: History) -> NegotiationState:
        """The core state at this point (``NotOpenedError`` if it was not open yet)."""
        state = self.fold(history, STATUS_FOLD)
        if not state.opened:
            raise NotOpenedError(
                self.negotiation,
                as_of=self.fold_as_of,
                known_at=self.fold_known_at,
                at_version=self.at_version,
            )
        return state


@attrs.frozen(kw_only=True)
class RunningStoppage:
    """One party's running strike or lockout."""

    party: str
    kind: StoppageKind
    started: dt.datetime
    """The instant it started, in the negotiation's time zone."""


def running_stoppages(state: NegotiationState) -> tuple[RunningStoppage, ...]:
    """Every running strike and lockout, sorted by start, then party id."""
    tz = state.tz
    running = [
        RunningStoppage(party=party, kind="strike", started=start.astimezone(tz))
        for party, start in state.strikes.items()
    ]
    running += [
        RunningStoppage(party=party, kind="lockout", started=start.astimezone(tz))
        for party, start in state.lockouts.items()
    ]
    return tuple(sorted(running, key=lambda r: (r.started, r.party)))


@attrs.frozen(kw_only=True)
class Stoppage:
    """The work stoppage a status reports.

    ``kind`` is ``lockout`` if any lockout runs, else ``strike``; ``parties``
    are all parties with a running strike or lockout, sorted by start then id;
    ``since`` is the local date of the earliest start and ``day`` counts
    calendar days from it (that day being day 1) to the status's ``as_of``.
    """

    kind: StoppageKind
    parties: tuple[str, ...]
    since: dt.date
    day: int
    started: dt.datetime
    """The earliest start instant, in the negotiation's time zone."""
    running: tuple[RunningStoppage, ...]
    """Each party's stoppage, in the order of ``parties``."""


def stoppage_of(state: NegotiationState, as_of: dt.datetime) -> Stoppage | None:
    """The stoppage running in ``state``, counted up to ``as_of``; ``None`` when none runs."""
    return stoppage_from(running_stoppages(state), as_of, state.tz)


def stoppage_from(running: Sequence[RunningStoppage], as_of: dt.datetime, tz: dt.tzinfo) -> Stoppage | None:
    """The stoppage a status reports, from each party's running one (sorted by start, then party).

    ``None`` when none runs. The indexed reads build it from the stoppage rows
    running at the point asked about, the folds from the core state.
    """
    if not running:
        return None
    started = running[0].started
    since = local_date(started, tz)
    return Stoppage(
        kind="lockout" if any(r.kind == "lockout" for r in running) else "strike",
        parties=tuple(r.party for r in running),
        since=since,
        day=day_number(since, as_of, tz),
        started=started,
        running=tuple(running),
    )


@attrs.frozen(kw_only=True)
class Status:
    """The spec's ``status`` answer, with a little more for Python callers.

    ``as_of`` and ``known_at`` are the instants the answer holds for, in the
    negotiation's time zone (now, when the query did not give them).
    """

    negotiation: str
    as_of: dt.datetime
    known_at: dt.datetime
    at_version: int | None = None
    timezone: str
    title: str
    parties: tuple[Party, ...]
    phase: Phase
    talks: TalksState
    stoppage: Stoppage | None
    agreement: AgreementState
    contract: ContractState
    contract_expires_on: dt.date | None = None
    events_applied: int
    ratified_by: tuple[str, ...] = ()
    """The union parties that have ratified the current tentative agreement, sorted (spec 1.1)."""
    state: NegotiationState | None = attrs.field(default=None, eq=False, repr=False)
    """The core state the answer was built from; ``None`` when it was read from the indexed tables.

    The tables hold the answer, not the state (``negotiation.indexed.IndexedQueries``)."""

    @property
    def tz(self) -> dt.tzinfo:
        """The negotiation's time zone."""
        return zone(self.timezone)


_ROLE_ORDER = {"union": 0, "employer": 1, "mediator": 2}


def parties_of(state: NegotiationState) -> tuple[Party, ...]:
    """The parties at the table: unions, then employers, then mediators, each by id."""
    return tuple(sorted(state.parties.values(), key=lambda p: (_ROLE_ORDER.get(p.role, 3), p.id)))


def status_from(state: NegotiationState, moment: Moment) -> Status:
    """Build the answer from a folded state (which may be the empty, unopened state)."""
    return Status(
        negotiation=moment.negotiation,
        as_of=moment.as_of,
        known_at=moment.known_at,
        at_version=moment.at_version,
        timezone=moment.timezone,
        title=state.title,
        parties=parties_of(state),
        phase=phase(state),
        talks=state.talks,
        stoppage=stoppage_of(state, moment.as_of),
        agreement=state.agreement,
        contract=state.contract,
        contract_expires_on=state.contract_expires_on,
        events_applied=state.events_applied,
        ratified_by=tuple(sorted(state.ratified_by)),
        state=state,
    )


def status_of(
    history: History,
    *,
    as_of: When | None = None,
    known_at: When | None = None,
    at_version: int | None = None,
    now: dt.datetime,
) -> Status:
    """The negotiation's status at that point; ``NotOpenedError`` before it was opened."""
    moment = Moment.resolve(history, as_of=as_of, known_at=known_at, at_version=at_version, now=now)
    return status_from(moment.state(history), moment)
