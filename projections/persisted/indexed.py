# SQL here is built from constant view names and quoted schema names only, never from input.
# ruff: noqa: S608
"""Answers read from the bitemporal tables: the ``--json`` documents without folding a history.

``IndexedReads`` answers ``status``, ``positions``, ``catalog`` (``list``),
``stoppages`` and ``timeline`` for any valid time and knowledge time from the
SQL views of the active version (``projections.persisted.tables``), each in
one read transaction, so a reader sees a whole committed page or nothing. The
documents equal the pure answers (``projections.answers``) key for key; what
depends on the question (``as_of``, ``known_at``, a stoppage's ``day``) is
added here. The gaps (``gaps``) fold the negotiation's position events read
from the events table, as the pure path folds them. Versions (``at_version``)
are left to the pure path.

The facade's answer objects (``negotiation.indexed.IndexedQueries``, which
also answers ``diff``) are built from these documents and from what only the
objects hold (``details``, ``running_at``); the timeline, statements and
stoppages are read as objects (``timeline_entries``, ``statement_entries``,
``stoppage_entries``), which the documents render.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Final

import attrs
import orjson

from events.converter import parse_trusted
from events.model import NegotiationOpened, Party, StatementIssued
from negotiation.core.errors import NegotiationNotFoundError
from negotiation.core.history import Recorded, micros
from negotiation.core.state import end_of_day, instant, local_date, zone
from projections.answers import stoppages_json, timeline_json
from projections.catalog import StoppageEntry
from projections.errors import NotOpenedError
from projections.gap import Gap, gaps_of_records
from projections.periods import INFINITY, moment_of
from projections.persisted.sql import POSITION_EVENTS_TERM, Cursor, SQLViews
from projections.persisted.tables import SQL_VIEWS, loads
from projections.status import RunningStoppage, Stoppage, When, as_instant, day_number, start_instant, stoppage_from
from projections.timeline import TimelineEntry, summarize

__all__ = ["Details", "IndexedReads"]

_EVERYTHING: Final = INFINITY - 1
"""The knowledge time that sees every row still open (``known_to`` is exclusive)."""
_TWO_DAYS_US: Final = 2 * 24 * 3600 * 1_000_000
"""More than any time zone's offset from UTC, either way (µs)."""


def _us(moment: dt.datetime | None, default: int) -> int:
    return default if moment is None else micros(moment)


@attrs.frozen(kw_only=True)
class Details:
    """What the facade's answer objects hold beyond the JSON answers, at one point (``IndexedReads.details``).

    Everything but ``timezone`` is empty when the negotiation was not open at that point.
    """

    timezone: str
    """The negotiation's time zone: its first event's, as ``History.timezone``."""
    title: str = ""
    parties: tuple[Party, ...] = ()
    """Unions, then employers, then mediators, each by id (``projections.status.parties_of``)."""
    contract_expires_on: dt.date | None = None
    stoppage: Stoppage | None = None
    """The stoppage the status reports, with each party's start (``Stoppage.running``)."""
    taken: dict[tuple[str, str], dt.datetime] = attrs.field(factory=dict)
    """(party, issue) -> when its standing position was taken (``Position.at``); asked for with ``taken=True``."""


class IndexedReads:
    """The query answers of a store's read models, read from their tables."""

    def __init__(self, views: SQLViews) -> None:
        self.views = views
        d = views.dialect
        self._name = {kind: d.name(view) for kind, view in SQL_VIEWS.items()}
        self._sql = d.sql

    @contextmanager
    def _read(self, *, sorting: bool = False) -> Iterator[Cursor]:
        """One read transaction: its statements all see the same committed pages (``Dialect.begin_read``)."""
        with self.views.datastore.transaction(commit=False) as c:
            self.views.dialect.begin_read(c, sorting=sorting)
            yield c

    def _one(self, c: Cursor, statement: str, params: tuple[Any, ...]) -> Any:
        c.execute(self._sql(statement), params)
        return c.fetchone()

    def _all(self, c: Cursor, statement: str, params: tuple[Any, ...] = ()) -> list[Any]:
        c.execute(self._sql(statement), params)
        return list(c.fetchall())

    # --- one negotiation ---------------------------------------------------------------

    def _zone(self, c: Cursor, negotiation: str) -> str:
        """The negotiation's time zone name; ``NegotiationNotFoundError`` when nothing is stored.

        ``History.tz``: its first stored opening's, which need not be its first
        event (a batch may open it after another event of the same instant) and
        may have been retracted (and replaced, perhaps in another zone).
        """
        events = self._name["events"]
        row = self._one(
            c,
            f"SELECT line FROM {events} WHERE negotiation = ? AND type = 'negotiation.opened' ORDER BY seq LIMIT 1",
            (negotiation,),
        )
        if row is not None:
            return _timezone(row["line"])
        if self._one(c, f"SELECT seq FROM {events} WHERE negotiation = ? AND seq = 1", (negotiation,)) is None:
            raise NegotiationNotFoundError(negotiation)
        return "UTC"

    def _status_row(self, c: Cursor, negotiation: str, valid: int, known: int, *, counted: bool) -> Any:
        """The status row in force at (valid, known); ``None`` when not open.

        ``counted``: with ``events_applied`` as ``n``, counted in the same statement (one round trip less).
        """
        count = f", (SELECT COUNT(*) FROM {self._name['events']} WHERE negotiation = ? AND {_COUNTED}) AS n"
        row = self._one(
            c,
            f"SELECT answer, extra{count if counted else ''} FROM {self._name['status_periods']} "
            "WHERE negotiation = ? AND valid_from <= ? AND known_from <= ? AND ? < known_to "
            "ORDER BY valid_from DESC LIMIT 1",
            (*((negotiation, valid, known, known) if counted else ()), negotiation, valid, known, known),
        )
        return None if row is None or row["answer"] is None else row

    def _status(self, c: Cursor, negotiation: str, valid: int, known: int) -> tuple[Any, Any] | None:
        row = self._status_row(c, negotiation, valid, known, counted=False)
        return None if row is None else (orjson.loads(row["answer"]), orjson.loads(row["extra"]))

    def _counted_status(self, c: Cursor, negotiation: str, valid: int, known: int) -> tuple[Any, Any, int] | None:
        """``_status`` with ``events_applied``."""
        row = self._status_row(c, negotiation, valid, known, counted=True)
        return None if row is None else (orjson.loads(row["answer"]), orjson.loads(row["extra"]), int(row["n"]))

    def _counts(self, c: Cursor, valid: int, known: int) -> dict[str, int]:
        """``events_applied`` of every negotiation at (valid, known) (``list --at``: one scan of the events)."""
        rows = self._all(
            c,
            f"SELECT negotiation, COUNT(*) AS n FROM {self._name['events']} WHERE {_COUNTED} GROUP BY negotiation",
            (valid, known, known),
        )
        return {row["negotiation"]: int(row["n"]) for row in rows}

    @staticmethod
    def _times(
        timezone: str, as_of: When | None, known_at: When | None, now: dt.datetime
    ) -> tuple[dt.tzinfo, dt.datetime | None, dt.datetime | None, dt.datetime, dt.datetime]:
        tz = zone(timezone)
        fold_as_of = None if as_of is None else as_instant(as_of, tz)
        fold_known_at = None if known_at is None else as_instant(known_at, tz)
        shown_as_of = (now if fold_as_of is None else fold_as_of).astimezone(tz)
        shown_known_at = (now if fold_known_at is None else fold_known_at).astimezone(tz)
        return tz, fold_as_of, fold_known_at, shown_as_of, shown_known_at

    def status(
        self, negotiation: str, *, as_of: When | None = None, known_at: When | None = None, now: dt.datetime
    ) -> dict[str, Any]:
        """The spec's status answer (``status_json``) at that point."""
        with self._read() as c:
            timezone = self._zone(c, negotiation)
            _, fold_as_of, fold_known_at, shown_as_of, shown_known_at = self._times(timezone, as_of, known_at, now)
            valid, known = _us(fold_as_of, INFINITY), _us(fold_known_at, _EVERYTHING)
            found = self._counted_status(c, negotiation, valid, known)
        if found is None:
            raise NotOpenedError(negotiation, as_of=fold_as_of, known_at=fold_known_at)
        answer, extra, count = found
        return {
            "negotiation": negotiation,
            "as_of": shown_as_of.isoformat(),
            "known_at": shown_known_at.isoformat(),
            # The stoppage's day in the state's zone, as the pure answer counts it.
            **_with_count(_with_day(answer, shown_as_of, zone(extra["timezone"])), count),
        }

    def positions(
        self, negotiation: str, *, as_of: When | None = None, known_at: When | None = None, now: dt.datetime
    ) -> dict[str, Any]:
        """The spec's positions answer (``positions_json``) at that point."""
        with self._read() as c:
            timezone = self._zone(c, negotiation)
            _, fold_as_of, fold_known_at, shown_as_of, shown_known_at = self._times(timezone, as_of, known_at, now)
            valid, known = _us(fold_as_of, INFINITY), _us(fold_known_at, _EVERYTHING)
            if self._status(c, negotiation, valid, known) is None:
                raise NotOpenedError(negotiation, as_of=fold_as_of, known_at=fold_known_at)
            rows = self._all(
                c,
                f"SELECT party, issue, valid_from, position FROM {self._name['position_periods']} "
                "WHERE negotiation = ? AND valid_from <= ? AND known_from <= ? AND ? < known_to",
                (negotiation, valid, known, known),
            )
        latest: dict[tuple[str, str], tuple[int, str | None]] = {}
        for row in rows:
            key = (row["party"], row["issue"])
            if key not in latest or row["valid_from"] > latest[key][0]:
                latest[key] = (row["valid_from"], row["position"])
        by_party: dict[str, dict[str, Any]] = {}
        for (party, issue), (_, position) in sorted(latest.items()):
            if position is not None:
                by_party.setdefault(party, {})[issue] = orjson.loads(position)
        return {
            "negotiation": negotiation,
            "as_of": shown_as_of.isoformat(),
            "known_at": shown_known_at.isoformat(),
            "positions": by_party,
        }

    def timeline(
        self,
        negotiation: str,
        *,
        start: When | None = None,
        end: When | None = None,
        known_at: When | None = None,
    ) -> dict[str, Any]:
        """The timeline answer (``timeline_json``): the events that count in ``[start, end]``."""
        entries = self.timeline_entries(negotiation, start=start, end=end, known_at=known_at)
        return timeline_json(entries, negotiation=negotiation)

    def timeline_entries(
        self,
        negotiation: str,
        *,
        start: When | None = None,
        end: When | None = None,
        known_at: When | None = None,
    ) -> list[TimelineEntry]:
        """The events that count in ``[start, end]`` (``projections.timeline.timeline_of``), in valid-time order."""
        with self._read() as c:
            tz = zone(self._zone(c, negotiation))
            low = -INFINITY if start is None else micros(start_instant(start, tz))
            high = INFINITY if end is None else micros(as_instant(end, tz))
            known = _EVERYTHING if known_at is None else micros(as_instant(known_at, tz))
            rows = self._events(c, negotiation, (low, high, known))
        return _entries(rows, negotiation, tz)

    def statement_entries(
        self,
        negotiation: str,
        *,
        party: str | None = None,
        as_of: When | None = None,
        known_at: When | None = None,
    ) -> list[TimelineEntry]:
        """The statements issued up to ``as_of`` (by ``party``, if given), oldest first (``statements_of``).

        ``NotOpenedError`` when the negotiation was not open then. Only the
        statements are read (by type, through the valid-time index).
        """
        with self._read() as c:
            tz = zone(self._zone(c, negotiation))
            fold_as_of = None if as_of is None else as_instant(as_of, tz)
            fold_known_at = None if known_at is None else as_instant(known_at, tz)
            valid, known = _us(fold_as_of, INFINITY), _us(fold_known_at, _EVERYTHING)
            if self._status(c, negotiation, valid, known) is None:
                raise NotOpenedError(negotiation, as_of=fold_as_of, known_at=fold_known_at)
            rows = self._events(c, negotiation, (-INFINITY, valid, known), kind=StatementIssued.TYPE)
        return [e for e in _entries(rows, negotiation, tz) if party is None or e.party == party]

    def gaps(self, negotiation: str, *, as_of: When | None = None, known_at: When | None = None) -> list[Gap]:
        """The gaps at that point (``projections.gap.gaps_of``), folded from the position events alone.

        A gap's moves walk each party's record on the issue, which the position
        rows do not keep (they hold what stands); the events table does. The
        proposals, withdrawals and acceptances that count at (as_of, known_at)
        are read in valid-time order through the partial index on them (the
        cost grows with them, not with the negotiation's other events nor the
        store) and folded by the positions fold from the start, as the history
        folds them (every other event leaves its state as it is). The roles and
        the zone positions and moves are dated in are the core state's there
        (the status row), as ``gaps_of`` takes them. One read transaction;
        ``NotOpenedError`` when the negotiation was not open then.
        """
        with self._read() as c:
            timezone = self._zone(c, negotiation)
            tz = zone(timezone)
            fold_as_of = None if as_of is None else as_instant(as_of, tz)
            fold_known_at = None if known_at is None else as_instant(known_at, tz)
            valid, known = _us(fold_as_of, INFINITY), _us(fold_known_at, _EVERYTHING)
            found = self._status(c, negotiation, valid, known)
            if found is None:
                raise NotOpenedError(negotiation, as_of=fold_as_of, known_at=fold_known_at)
            rows = self._all(
                c,
                f"SELECT seq, valid_at, line FROM {self._name['events']} WHERE negotiation = ? "
                f"AND {POSITION_EVENTS_TERM} AND valid_at <= ? AND known_at <= ? AND ? < retracted_at "
                "ORDER BY valid_at, seq",
                (negotiation, valid, known, known),
            )
        _, extra = found
        roles = {p["id"]: p["role"] for p in extra["parties"]}
        return gaps_of_records(negotiation, _records(rows, tz), roles, zone(extra["timezone"]))

    def _events(
        self, c: Cursor, negotiation: str, window: tuple[int, int, int], *, kind: str | None = None
    ) -> list[Any]:
        """The rows of the events of type ``kind`` (any, if ``None``) that count in ``window`` (low, high, known)."""
        low, high, known = window
        return self._all(
            c,
            f"SELECT seq, valid_at, line FROM {self._name['events']} WHERE negotiation = ? "
            "AND valid_at >= ? AND valid_at <= ? AND known_at <= ? AND ? < retracted_at"
            + ("" if kind is None else " AND type = ?")
            + " ORDER BY valid_at, seq",
            (negotiation, low, high, known, known, *(() if kind is None else (kind,))),
        )

    # --- across negotiations ---------------------------------------------------------------

    def _zones(self, c: Cursor) -> tuple[list[str], dict[str, list[str]]]:
        """Every negotiation in the order they were opened in the store, and time zone name -> negotiations.

        The time zone comes from the catalog row; a negotiation without one (its
        opening retracted) is read from its first event.
        """
        rows = self._all(
            c,
            f"SELECT e.negotiation, k.timezone FROM {self._name['events']} e "
            f"LEFT JOIN {self._name['catalog']} k ON k.negotiation = e.negotiation WHERE e.seq = 1 ORDER BY e.position",
        )
        order: list[str] = []
        zones: dict[str, list[str]] = {}
        for row in rows:
            negotiation, timezone = row["negotiation"], row["timezone"]
            if timezone is None:
                timezone = self._zone(c, negotiation)
            zones.setdefault(timezone, []).append(negotiation)
            order.append(negotiation)
        return order, zones

    def catalog(self, *, as_of: When | None = None, known_at: When | None = None, now: dt.datetime) -> dict[str, Any]:
        """The ``list`` answer (``catalog_json``): every negotiation open at that point."""
        if as_of is None and known_at is None:
            return {"negotiations": list(self.catalog_entries(now=now))}
        entries: dict[str, dict[str, Any]] = {}
        with self._read() as c:
            order, zones = self._zones(c)
            for timezone, negotiations in zones.items():
                _, fold_as_of, fold_known_at, shown_as_of, shown_known_at = self._times(timezone, as_of, known_at, now)
                valid, known = _us(fold_as_of, INFINITY), _us(fold_known_at, _EVERYTHING)
                wanted = set(negotiations)
                counts = self._counts(c, valid, known)
                for negotiation, answer_text, extra_text in self._latest(c, valid, known):
                    if negotiation not in wanted or answer_text is None:
                        continue
                    answer, extra = orjson.loads(answer_text), orjson.loads(extra_text)
                    shown = _with_day(answer, shown_as_of, zone(extra["timezone"]))  # the state's zone, as in status
                    entries[negotiation] = {
                        "negotiation": negotiation,
                        "title": extra["title"],
                        "timezone": timezone,
                        "parties": extra["parties"],
                        "phase": answer["phase"],
                        "stoppage": shown["stoppage"],
                        "events_applied": counts.get(negotiation, 0),
                        "as_of": shown_as_of.isoformat(),
                        "known_at": shown_known_at.isoformat(),
                    }
        return {"negotiations": [entries[n] for n in order if n in entries]}

    def catalog_entries(
        self, *, as_of: When | None = None, known_at: When | None = None, now: dt.datetime
    ) -> Iterator[dict[str, Any]]:
        """The entries of the ``list`` answer, in order, one at a time.

        As known now (no ``as_of``/``known_at``) they are read from the current
        tables while they are consumed, a batch of rows at a time, in one read
        transaction: a ``list`` of 100,000 negotiations is written out without
        being held in memory. At another point the answer is built first (``catalog``).
        """
        if as_of is not None or known_at is not None:
            yield from self.catalog(as_of=as_of, known_at=known_at, now=now)["negotiations"]
            return
        with self._read(sorting=True) as c:
            rows_of = self.views.dialect.tuple_rows(c)
            c.execute(
                self._sql(
                    # JSON as text on both databases: orjson reads it faster than psycopg's JSON loader (the stdlib's).
                    "SELECT s.negotiation, s.phase, CAST(s.stoppage AS TEXT) AS stoppage, s.events_applied, "
                    "s.timezone AS state_zone, c.title, c.timezone, CAST(c.parties AS TEXT) AS parties "
                    f"FROM {self._name['events']} e "
                    f"JOIN {self._name['status']} s ON s.negotiation = e.negotiation "
                    f"JOIN {self._name['catalog']} c ON c.negotiation = e.negotiation "
                    "WHERE e.seq = 1 ORDER BY e.position"  # the order they were opened in the store
                )
            )
            shown: dict[str, tuple[dt.datetime, str]] = {}  # "now" in each time zone, rendered once
            while rows := rows_of.fetchmany(_BATCH):
                # The batch's parties in one JSON text: one decoding rather than one per row.
                parties = orjson.loads("[" + ",".join([row[7] for row in rows]) + "]")
                for row, its_parties in zip(rows, parties, strict=True):
                    yield _now_entry(row, its_parties, now, shown)

    def _latest(self, c: Cursor, valid: int, known: int) -> list[tuple[str, Any, Any]]:
        """Each negotiation's status change point in force at (valid, known)."""
        rows = self._all(
            c,
            f"SELECT negotiation, valid_from, answer, extra FROM {self._name['status_periods']} "
            "WHERE valid_from <= ? AND known_from <= ? AND ? < known_to",
            (valid, known, known),
        )
        latest: dict[str, tuple[int, Any, Any]] = {}
        for row in rows:
            n = row["negotiation"]
            if n not in latest or row["valid_from"] > latest[n][0]:
                latest[n] = (row["valid_from"], row["answer"], row["extra"])
        return [(n, answer, extra) for n, (_, answer, extra) in latest.items()]

    def stoppages(self, *, on: When, known_at: When | None = None, now: dt.datetime) -> dict[str, Any]:
        """The ``stoppages`` answer (``stoppages_json``): strikes and lockouts running on ``on``."""
        return stoppages_json(self.stoppage_entries(on=on, known_at=known_at, now=now), on=on)

    def _day(
        self, on: When, known_at: When | None, now: dt.datetime, timezone: str
    ) -> tuple[dt.tzinfo, int, int, int, dt.datetime]:
        """What ``on`` covers in ``timezone``: (zone, first and last valid µs, knowledge µs, ``on`` as shown).

        A date is the whole local day, a moment that moment alone.
        """
        tz, fold_as_of, fold_known_at, shown_as_of, _ = self._times(
            timezone, on if isinstance(on, dt.datetime) else end_of_day(on, zone(timezone)), known_at, now
        )
        assert fold_as_of is not None  # noqa: S101 - ``on`` is given
        end = micros(fold_as_of)
        begin = end if isinstance(on, dt.datetime) else micros(instant(on, tz))
        return tz, begin, end, _us(fold_known_at, _EVERYTHING), shown_as_of

    def stoppage_entries(self, *, on: When, known_at: When | None = None, now: dt.datetime) -> list[StoppageEntry]:
        """The strikes and lockouts running on ``on`` (``projections.catalog.stoppages_on``), by start.

        One range read of the stoppage rows for every time zone at once: the
        day ``on`` (and a date ``known_at``) is another interval in each zone,
        so the read's bounds are those of UTC widened by two days, and each row
        is then held to its negotiation's own zone. Nothing is read per
        negotiation but the status of those with a stoppage then.
        """
        found: list[StoppageEntry] = []
        _, begin_utc, end_utc, known_utc, _ = self._day(on, known_at, now, "UTC")
        slack = _TWO_DAYS_US
        begin_any, end_any = begin_utc - slack, end_utc + slack
        known_low, known_high = (known_utc, known_utc) if known_at is None else (known_utc - slack, known_utc + slack)
        with self._read() as c:
            rows = self._all(
                c,
                f"SELECT s.negotiation, s.party, s.kind, s.started, s.ended, s.known_from, s.known_to, k.timezone "
                f"FROM {self._name['stoppage_periods']} s "
                f"LEFT JOIN {self._name['catalog']} k ON k.negotiation = s.negotiation "
                "WHERE s.ended > ? AND s.started <= ? AND s.known_from <= ? AND ? < s.known_to",
                (begin_any, end_any, known_high, known_low),
            )
            windows: dict[str, tuple[dt.tzinfo, int, int, int, dt.datetime]] = {}
            statuses: dict[str, Any] = {}
            for row in rows:
                negotiation = row["negotiation"]
                # The zone ``list`` groups by: the catalog's, else (its opening retracted) the first stored opening's.
                timezone = row["timezone"] or self._zone(c, negotiation)
                window = windows.get(timezone)
                if window is None:
                    window = windows[timezone] = self._day(on, known_at, now, timezone)
                tz, begin, end, known, shown_as_of = window
                if not (
                    row["ended"] > begin and row["started"] <= end and row["known_from"] <= known < row["known_to"]
                ):
                    continue
                running = row["ended"] > end
                if not (running or row["started"] >= begin):
                    continue
                if negotiation not in statuses:
                    statuses[negotiation] = self._status(c, negotiation, end, known)
                status = statuses[negotiation]
                if status is None:
                    continue
                _, extra = status
                roles = {"strike": "employer", "lockout": "union"}
                started = moment_of(row["started"]).astimezone(tz)
                since = local_date(started, tz)
                found.append(
                    StoppageEntry(
                        negotiation=negotiation,
                        title=extra["title"],
                        timezone=extra["timezone"],
                        on=on,
                        kind=row["kind"],
                        party=row["party"],
                        against=tuple(p["id"] for p in extra["parties"] if p["role"] == roles[row["kind"]]),
                        started=started,
                        since=since,
                        day=day_number(since, shown_as_of, tz),
                        ended=None if running else moment_of(row["ended"]).astimezone(tz),
                    )
                )
        found.sort(key=lambda e: (e.started, e.negotiation, e.party))
        return found

    # --- what the facade's answer objects hold beyond the documents ----------------------------

    def details(
        self,
        negotiation: str,
        *,
        as_of: When | None = None,
        known_at: When | None = None,
        now: dt.datetime,
        taken: bool = False,
    ) -> Details:
        """The negotiation's time zone, title, parties, contract expiry and running stoppage at that point.

        With ``taken``, also when each standing position was taken. One read
        transaction; ``NegotiationNotFoundError`` when nothing is stored.
        """
        with self._read() as c:
            timezone = self._zone(c, negotiation)
            tz, fold_as_of, fold_known_at, shown_as_of, _ = self._times(timezone, as_of, known_at, now)
            valid, known = _us(fold_as_of, INFINITY), _us(fold_known_at, _EVERYTHING)
            found = self._status(c, negotiation, valid, known)
            if found is None:
                return Details(timezone=timezone)
            answer, extra = found
            opening = self._one(  # the opening that counts there: the first one in valid time
                c,
                f"SELECT line FROM {self._name['events']} WHERE negotiation = ? AND type = ? AND valid_at <= ? "
                "AND known_at <= ? AND ? < retracted_at ORDER BY valid_at, seq LIMIT 1",
                (negotiation, NegotiationOpened.TYPE, valid, known, known),
            )
            rows = [] if answer["stoppage"] is None else self._running(c, valid, known, negotiation)
            positions = self._taken(c, negotiation, valid, known, tz) if taken else {}
        # The stoppage is the core state's: in the time zone of the opening that counts (``state.tz``).
        state_tz = zone(extra["timezone"])
        running = tuple(sorted((_running_stoppage(row, state_tz) for row in rows), key=lambda r: (r.started, r.party)))
        return Details(
            timezone=timezone,
            title=extra["title"],
            parties=tuple(Party(id=p["id"], name=p["name"], role=p["role"]) for p in extra["parties"]),
            contract_expires_on=None if opening is None else _contract_expires_on(opening["line"]),
            stoppage=stoppage_from(running, shown_as_of, state_tz),
            taken=positions,
        )

    def running_at(
        self, *, as_of: When | None = None, known_at: When | None = None
    ) -> dict[str, tuple[RunningStoppage, ...]]:
        """Negotiation -> each party's strike or lockout running at that point, by start then party.

        Dates resolve in each negotiation's time zone, as in ``catalog``, and
        the starts are shown in it; negotiations with none running are left out.
        """
        found: dict[str, list[RunningStoppage]] = {}
        with self._read() as c:
            for timezone, negotiations in self._zones(c)[1].items():
                tz = zone(timezone)
                valid = INFINITY if as_of is None else micros(as_instant(as_of, tz))
                known = _EVERYTHING if known_at is None else micros(as_instant(known_at, tz))
                wanted = set(negotiations)
                for row in self._running(c, valid, known):
                    if row["negotiation"] in wanted:
                        found.setdefault(row["negotiation"], []).append(_running_stoppage(row, tz))
        return {n: tuple(sorted(parts, key=lambda r: (r.started, r.party))) for n, parts in found.items()}

    def _running(self, c: Cursor, valid: int, known: int, negotiation: str | None = None) -> list[Any]:
        """The stoppage rows running at valid time ``valid`` as known at ``known`` (of one negotiation, if given).

        Running at ``valid``: started by then and ended after it; at the open end
        (``INFINITY``: everything stored) only those that never ended.
        """
        return self._all(
            c,
            f"SELECT negotiation, party, kind, started FROM {self._name['stoppage_periods']} "
            "WHERE ended > ? AND started <= ? AND known_from <= ? AND ? < known_to"
            + ("" if negotiation is None else " AND negotiation = ?"),
            (min(valid, INFINITY - 1), valid, known, known, *(() if negotiation is None else (negotiation,))),
        )

    def _taken(
        self, c: Cursor, negotiation: str, valid: int, known: int, tz: dt.tzinfo
    ) -> dict[tuple[str, str], dt.datetime]:
        """(party, issue) -> when the position standing at (valid, known) was taken, in ``tz``."""
        rows = self._all(
            c,
            f"SELECT party, issue, valid_from, position FROM {self._name['position_periods']} "
            "WHERE negotiation = ? AND valid_from <= ? AND known_from <= ? AND ? < known_to",
            (negotiation, valid, known, known),
        )
        latest: dict[tuple[str, str], tuple[int, bool]] = {}
        for row in rows:
            key = (row["party"], row["issue"])
            if key not in latest or row["valid_from"] > latest[key][0]:
                latest[key] = (row["valid_from"], row["position"] is not None)
        return {key: moment_of(at).astimezone(tz) for key, (at, stands) in latest.items() if stands}


def _timezone(line: str) -> str:
    """The time zone a negotiation's first event sets (``History.tz``): its opening's, else UTC."""
    first = orjson.loads(line)
    data = first.get("data") or {}
    timezone = data.get("timezone") if first.get("type") == "negotiation.opened" else None
    return str(timezone or "UTC")


def _contract_expires_on(line: str) -> dt.date | None:
    """The ``contract_expires_on`` of a stored ``negotiation.opened`` line (normalized: a date or absent)."""
    expires = (orjson.loads(line).get("data") or {}).get("contract_expires_on")
    return None if expires is None else dt.date.fromisoformat(expires)


def _entries(rows: list[Any], negotiation: str, tz: dt.tzinfo) -> list[TimelineEntry]:
    """The timeline entries of event rows (read outside the transaction: parsing takes a while)."""
    entries = []
    for row in rows:
        event = parse_trusted(row["line"].encode())
        at = moment_of(row["valid_at"]).astimezone(tz)
        recorded = event.recorded_at
        assert recorded is not None  # noqa: S101 - stored events always have one
        entries.append(
            TimelineEntry(
                negotiation=negotiation,
                at=at,
                date=local_date(at, tz),
                recorded_at=recorded,
                seq=row["seq"],
                event=event,
                summary=summarize(event),
            )
        )
    return entries


def _records(rows: list[Any], tz: dt.tzinfo) -> Iterator[Recorded]:
    """Event rows as the history holds them: at their valid instant in ``tz`` (``History.tz``), ``seq``-th appended."""
    for row in rows:
        event = parse_trusted(row["line"].encode())
        recorded = event.recorded_at
        assert recorded is not None  # noqa: S101 - stored events always have one
        yield Recorded.at_known(event, row["seq"], moment_of(row["valid_at"]).astimezone(tz), recorded)


def _running_stoppage(row: Any, tz: dt.tzinfo) -> RunningStoppage:
    return RunningStoppage(party=row["party"], kind=row["kind"], started=moment_of(row["started"]).astimezone(tz))


_COUNTED: Final = "valid_at <= ? AND known_at <= ? AND ? < retracted_at"
"""The events that count at (valid, known, known): ``events_applied`` is how many."""
_BATCH: Final = 500
"""Rows fetched at a time while a ``list`` is written out."""


def _now_entry(
    row: Any, parties: list[Any], now: dt.datetime, shown: dict[str, tuple[dt.datetime, str]]
) -> dict[str, Any]:
    """A ``list`` entry from a row of the current tables (status joined with catalog), as a tuple, and its parties.

    ``shown`` keeps ``now`` in each time zone met so far, with its text: a
    store's negotiations share a few zones, and a ``list`` has an entry per negotiation.
    """
    negotiation, phase, stoppage_text, events_applied, state_zone, title, timezone, _ = row
    at = shown.get(timezone)
    if at is None:
        moment = now.astimezone(zone(timezone))
        at = shown[timezone] = (moment, moment.isoformat())
    stoppage = None
    if stoppage_text is not None:  # an older layout's jsonb sorted the keys: the answer's order
        stored = loads(stoppage_text)
        since = dt.date.fromisoformat(stored["since"])
        day = day_number(since, at[0], zone(state_zone))
        stoppage = {"kind": stored["kind"], "parties": stored["parties"], "since": stored["since"], "day": day}
    return {
        "negotiation": negotiation,
        "title": title,
        "timezone": timezone,
        "parties": parties,
        "phase": phase,
        "stoppage": stoppage,
        "events_applied": events_applied,
        "as_of": at[1],
        "known_at": at[1],
    }


def _with_count(answer: dict[str, Any], count: int) -> dict[str, Any]:
    """The stored answer with ``events_applied`` in its place (before ``ratified_by``, as ``status_json`` has it)."""
    shown: dict[str, Any] = {}
    for key, value in answer.items():
        if key == "ratified_by":
            shown["events_applied"] = count
        shown[key] = value
    return shown


def _with_day(answer: dict[str, Any], as_of: dt.datetime, tz: dt.tzinfo) -> dict[str, Any]:
    """The stored answer with its stoppage's ``day`` counted up to ``as_of``."""
    stoppage = answer.get("stoppage")
    if stoppage is None:
        return answer
    since = dt.date.fromisoformat(stoppage["since"])
    return {**answer, "stoppage": {**stoppage, "day": day_number(since, as_of, tz)}}
