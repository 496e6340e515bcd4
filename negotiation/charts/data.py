"""The data of the charts, drawn from the query answers (never a second reading of the events).

The functions ask any ``negotiation.queries.Queries``: the store's indexed
tables (``negotiation.indexed.IndexedQueries``, what the command line and the
HTTP service pass, through ``negotiation.answers.Answers.queries``), the pure
folds (``HistoryQueries``) or the facade itself, with the same data from each.
``negotiation_data`` asks the same questions the command line asks:
``timeline`` (the events, as their JSON answer), ``status`` (sampled at each
date where an event can change the phase or a stoppage), ``gaps`` (each
party's numbers on an issue and how they moved) and ``positions`` (who
accepted what, spec 1.1's ``accepted`` field when present). ``stoppages_data``
does the same for every negotiation of the store. The result is plain rows of
strings and numbers, with every piece of untrusted text made printable.

At scale, what cannot be seen is aggregated: beyond ``MAX_EVENT_MARKS`` events
the event marks become counts per lane and period, beyond ``MAX_STEPS`` moves a
numeric panel keeps the last move per party and period, and status is sampled
at no more than ``MAX_SAMPLES`` dates. The output stays bounded whatever the
length of the history.
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

import attrs

from negotiation.tabular import printable
from projections.answers import gaps_json, positions_json, status_json, timeline_json

if TYPE_CHECKING:
    from negotiation.queries import Queries

__all__ = [
    "LANES",
    "MAX_EVENT_MARKS",
    "MAX_SAMPLES",
    "MAX_STEPS",
    "NegotiationData",
    "Panel",
    "StoppagesData",
    "negotiation_data",
    "printable",
    "stoppages_data",
]

Row = dict[str, Any]
When = dt.date | dt.datetime

MAX_EVENT_MARKS: Final = 1500
"""Above this many events in the range, events are drawn as counts per lane and period."""
MAX_STEPS: Final = 600
"""Above this many moves on an issue, a panel keeps the last move per party and period."""
MAX_SAMPLES: Final = 400
"""Status is asked at most at this many dates (phase bands and stoppages): about one per 2 pixels."""

LANES: Final = ("stoppage", "talks", "proposals", "statements", "agreement and votes", "contract")
"""The rows of the timeline, top to bottom."""

_LANE_OF: Final = {
    "strike.authorized": "stoppage",
    "strike.called": "stoppage",
    "strike.ended": "stoppage",
    "lockout.declared": "stoppage",
    "lockout.ended": "stoppage",
    "talks.requested": "talks",
    "talks.scheduled": "talks",
    "talks.held": "talks",
    "talks.suspended": "talks",
    "talks.resumed": "talks",
    "proposal.made": "proposals",
    "proposal.withdrawn": "proposals",
    "proposal.accepted": "proposals",
    "proposal.rejected": "proposals",
    "statement.issued": "statements",
    "agreement.tentative": "agreement and votes",
    "ratification.completed": "agreement and votes",
    "negotiation.opened": "contract",
    "contract.expired": "contract",
    "contract.extended": "contract",
    "party.joined": "contract",
    "issue.tabled": "contract",
}
"""The lane of each event type; ``event.retracted`` is left out (what it retracts is already gone)."""

_STATUS_CHANGERS: Final = frozenset(t for t, lane in _LANE_OF.items() if lane not in {"proposals", "statements"}) | {
    "event.retracted"
}
"""Event types after which the status (phase, talks, stoppage) may differ: where status is sampled."""

_DAY_MARKED: Final = frozenset({"talks.resumed", "agreement.tentative"})
"""Events during a stoppage labelled with the stoppage's day (sparse enough to read)."""
_DAY_LABEL_GAP: Final = 10
"""Days between two day labels, at least: closer ones would overlap."""

_MAX_TEXT: Final = 280
"""Tooltip texts (terms, statements) are cut to this many characters."""


def _iso(day: dt.date) -> str:
    return day.isoformat()


def _day(when: When) -> dt.date:
    return when.date() if isinstance(when, dt.datetime) else when


@attrs.frozen(kw_only=True)
class Panel:
    """One issue's numbers in one unit: each party's standing amount as steps, the gap, the acceptances."""

    issue: str
    unit: str
    steps: tuple[Row, ...]
    """``{"date", "party", "role", "amount", "event"}``: each party's amount from that date on."""
    gap: tuple[Row, ...]
    """``{"date", "union", "employer"}``: the two sides' amounts from that date on (both known)."""
    acceptances: tuple[Row, ...]
    """``{"date", "party", "amount", "event", "accepted"}``: a party took the other side's number."""
    thinned: bool = False
    """Whether moves were thinned to the last per party and period (``MAX_STEPS``)."""


@attrs.frozen(kw_only=True)
class NegotiationData:
    """Everything the negotiation chart draws, as plain rows."""

    negotiation: str
    title: str
    start: dt.date
    end: dt.date
    """The last day shown (inclusive)."""
    known_at: str | None
    parties: tuple[Row, ...]
    """``{"id", "name", "role"}``: unions, then employers, then mediators."""
    phases: tuple[Row, ...]
    """``{"start", "end", "phase"}``: ``end`` exclusive."""
    stoppages: tuple[Row, ...]
    """``{"start", "end", "kind", "parties", "days", "label"}``: ``end`` exclusive."""
    events: tuple[Row, ...]
    """``{"date", "lane", "type", "id", "by", "summary", "day"}``; empty when aggregated."""
    event_counts: tuple[Row, ...]
    """``{"start", "end", "lane", "count"}``: events per lane and period, when aggregated."""
    day_labels: tuple[Row, ...]
    """``{"date", "label"}``: the stoppage's day at the talks it resumed and the agreement."""
    expiry: tuple[Row, ...]
    """``{"date", "label"}``: the old contract's expiry, when in range."""
    panels: tuple[Panel, ...]
    total_events: int
    """Events in the range (before any aggregation)."""
    notes: tuple[str, ...] = ()
    """What was aggregated, in words, for the chart's subtitle."""


@attrs.frozen(kw_only=True)
class StoppagesData:
    """Every strike and lockout of the store in a range, one row per negotiation."""

    start: dt.date
    end: dt.date
    known_at: str | None
    bars: tuple[Row, ...]
    """``{"row", "negotiation", "title", "start", "end", "kind", "parties", "against", "days", "label"}``."""


# --- status sampling: phases and stoppages ------------------------------------------------------


def _sample_dates(
    dates: Iterable[dt.date], start: dt.date, end: dt.date, extra: Iterable[dt.date] = ()
) -> list[dt.date]:
    chosen = sorted({start, *(d for d in dates if start <= d <= end), *(d for d in extra if start <= d <= end)})
    if len(chosen) > MAX_SAMPLES:
        # Evenly spaced, keeping the first and last: a longer history is not read more often.
        step = len(chosen) / MAX_SAMPLES
        chosen = sorted({chosen[min(len(chosen) - 1, math.floor(i * step))] for i in range(MAX_SAMPLES)} | {chosen[-1]})
    return chosen


def _statuses(
    queries: Queries, negotiation: str, dates: Sequence[dt.date], known_at: When | None
) -> list[tuple[dt.date, Row]]:
    """The ``status`` answer at the end of each date (left out before the negotiation was opened).

    One ``status`` question per date (``_sample_dates`` bounds them): from the
    tables, an indexed read each, no history folded. A negotiation that is not
    stored raises ``NegotiationNotFoundError`` (``NotOpenedError`` is only "not
    open yet" on that date).
    """
    from projections.errors import NotOpenedError

    answers = []
    for day in dates:
        try:
            answers.append((day, status_json(queries.status(negotiation, as_of=day, known_at=known_at))))
        except NotOpenedError:
            continue
    return answers


def _phases(samples: Sequence[tuple[dt.date, Row]], end: dt.date) -> list[Row]:
    bands: list[Row] = []
    for i, (day, answer) in enumerate(samples):
        until = samples[i + 1][0] if i + 1 < len(samples) else end + dt.timedelta(days=1)
        if bands and bands[-1]["phase"] == answer["phase"]:
            bands[-1]["end"] = _iso(until)
        else:
            bands.append({"start": _iso(day), "end": _iso(until), "phase": answer["phase"]})
    return bands


def _stoppage_runs(samples: Sequence[tuple[dt.date, Row]], end: dt.date) -> list[Row]:
    """Contiguous runs of a stoppage (by kind), from the status answers; ``end`` exclusive."""
    runs: list[Row] = []
    current: Row | None = None
    for day, answer in samples:
        stoppage = answer["stoppage"]
        if current is not None and (stoppage is None or current["kind"] != stoppage["kind"]):
            current["running"] = False
            current["end"] = _iso(day)
            current["days"] = (day - dt.date.fromisoformat(current["start"])).days
            runs.append(current)
            current = None
        if stoppage is None:
            continue
        if current is None:
            current = {"start": stoppage["since"], "kind": stoppage["kind"], "parties": [], "running": True}
        current["parties"] = sorted({*current["parties"], *stoppage["parties"]})
        current["days"] = stoppage["day"]
    if current is not None:
        # Still running at the end of the range: its day on the last day shown.
        current["end"] = _iso(end + dt.timedelta(days=1))
        current["days"] = (end - dt.date.fromisoformat(current["start"])).days + 1
        runs.append(current)
    for run in runs:
        running = run.pop("running")
        ongoing = " (running)" if running else ""
        run["parties"] = ", ".join(printable(p) for p in run["parties"])
        run["label"] = f"{run['kind']} by {run['parties']}: {run['days']:,} days{ongoing}"
    return runs


# --- events --------------------------------------------------------------------------------------


def _period(days: int, bound: int) -> int:
    """A period length in days (1, 7, 30, 91, 365) giving at most ``bound`` periods over ``days``."""
    for length in (1, 7, 30, 91, 365):
        if days / length <= bound:
            return length
    return max(1, math.ceil(days / bound))


def _counts(events: Sequence[Row], start: dt.date, end: dt.date) -> tuple[list[Row], int]:
    length = _period((end - start).days + 1, MAX_EVENT_MARKS // len(LANES))
    counted: dict[tuple[int, str], int] = {}
    for event in events:
        index = (dt.date.fromisoformat(event["date"]) - start).days // length
        counted[index, event["lane"]] = counted.get((index, event["lane"]), 0) + 1
    rows = [
        {
            "start": _iso(start + dt.timedelta(days=index * length)),
            "end": _iso(min(end + dt.timedelta(days=1), start + dt.timedelta(days=(index + 1) * length))),
            "lane": lane,
            "count": count,
        }
        for (index, lane), count in sorted(counted.items())
    ]
    return rows, length


def _day_of(samples: Sequence[tuple[dt.date, Row]], day: dt.date) -> int | None:
    """The stoppage's day number on ``day``, from the last status sampled on or before it."""
    index = bisect.bisect_right(samples, day, key=lambda sample: sample[0]) - 1
    if index < 0:
        return None
    stoppage = samples[index][1]["stoppage"]
    return None if stoppage is None else (day - dt.date.fromisoformat(stoppage["since"])).days + 1


# --- numeric panels ------------------------------------------------------------------------------


def _thin(moves: list[Row], start: dt.date, end: dt.date) -> tuple[list[Row], bool]:
    if len(moves) <= MAX_STEPS:
        return moves, False
    length = _period((end - start).days + 1, MAX_STEPS // 2)
    last: dict[tuple[str, int], Row] = {}
    for move in moves:
        last[move["party"], (dt.date.fromisoformat(move["date"]) - start).days // length] = move
    return sorted(last.values(), key=lambda m: m["date"]), True


def _panels(
    gaps: Mapping[str, Any], positions: Mapping[str, Any], roles: Mapping[str, str], start: dt.date, end: dt.date
) -> list[Panel]:
    accepted = {
        (party, issue): position
        for party, issues in positions["positions"].items()
        for issue, position in issues.items()
        if position.get("accepted")
    }
    groups: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for gap in gaps["gaps"]:
        unit = printable(gap["unit"]) + (f" ({printable(gap['currency'])})" if gap.get("currency") else "")
        groups.setdefault((gap["issue"], unit), []).append(gap)
    panels = []
    for (issue_id, unit), pairs in groups.items():
        # Two unions or two employers give several pairs on one issue: one panel, every party's line
        # (a party's moves are the same in each of its pairs), the first pair's gap shaded.
        gap = pairs[0]
        owner: dict[str, int] = {}
        for index, pair in enumerate(pairs):
            for side in ("union", "employer"):
                owner.setdefault(pair[side]["party"], index)
        moves = [
            {
                "date": move["date"],
                "party": printable(move["party"]),
                "role": roles.get(move["party"], ""),
                "amount": move["to"],
                "label": _amount(move["to"]),
                "event": printable(move["event"]),
                "edge": False,
            }
            for index, pair in enumerate(pairs)
            for move in pair["moves"]
            if owner.get(move["party"]) == index
        ]
        moves.sort(key=lambda m: m["date"])
        shown_start = _iso(start)
        # The standing amounts at the start of the range, then the moves within it.
        before: dict[str, Row] = {}
        within = []
        for move in moves:
            if move["date"] < shown_start:
                before[move["party"]] = {**move, "date": shown_start}
            elif move["date"] <= _iso(end):
                within.append(move)
        steps, thinned = _thin([*before.values(), *within], start, end)
        steps = [s for s in steps if s["amount"] is not None] + _ends(steps, end)
        panels.append(
            Panel(
                issue=printable(issue_id),
                unit=unit,
                steps=tuple(steps),
                gap=tuple(_gap_rows(steps, gap["union"]["party"], gap["employer"]["party"])),
                acceptances=tuple(
                    {
                        "date": position["since"],
                        "party": printable(party),
                        "amount": (position.get("value") or {}).get("amount"),
                        "event": printable(position["event"]),
                        "accepted": printable(position["accepted"]),
                    }
                    for (party, issue), position in sorted(accepted.items())
                    if issue == gap["issue"]
                    and (position.get("value") or {}).get("unit") == gap["unit"]
                    and shown_start <= position["since"] <= _iso(end)
                ),
                thinned=thinned,
            )
        )
    return panels


def _ends(steps: Sequence[Row], end: dt.date) -> list[Row]:
    """Each party's last amount again at the right edge, so its step line reaches it."""
    last: dict[str, Row] = {}
    for step in steps:
        last[step["party"]] = step
    edge = _iso(end + dt.timedelta(days=1))
    return [{**step, "date": edge, "edge": True} for step in last.values() if step["amount"] is not None]


def _amount(amount: float | None) -> str:
    if amount is None:
        return ""
    return "0" if amount == 0 else f"{amount:,g}"  # never "-0"


def _gap_rows(steps: Sequence[Row], union: str, employer: str) -> list[Row]:
    current: dict[str, Any] = {}
    rows: list[Row] = []
    for step in sorted(steps, key=lambda s: s["date"]):
        current[step["party"]] = step["amount"]
        u, e = current.get(printable(union)), current.get(printable(employer))
        row = {"date": step["date"], "union": u, "employer": e}
        if rows and rows[-1]["date"] == step["date"]:
            rows[-1] = row
        else:
            rows.append(row)
    return [r for r in rows if r["union"] is not None and r["employer"] is not None]


# --- the two charts' data ------------------------------------------------------------------------


def negotiation_data(
    queries: Queries,
    negotiation: str,
    *,
    start: When | None = None,
    end: When | None = None,
    known_at: When | None = None,
) -> NegotiationData:
    """The negotiation chart's data, from the answers of ``queries``.

    ``start``/``end`` default to the first/last event.
    """
    entries = [e for e in queries.timeline(negotiation, start=start, end=end, known_at=known_at) if e.type in _LANE_OF]
    first = _day(start) if start is not None else entries[0].date if entries else None
    last = _day(end) if end is not None else entries[-1].date if entries else None
    if first is None or last is None:
        whole = timeline_json(queries.timeline(negotiation, known_at=known_at))["events"]
        day = dt.date.fromisoformat(whole[-1]["date"]) if whole else dt.datetime.now(dt.UTC).date()
        first, last = first or day, last or day
    if last < first:
        first, last = last, first
    end_status = queries.status(negotiation, as_of=last, known_at=known_at)
    roles = {p.id: p.role for p in end_status.parties}
    expires = end_status.contract_expires_on
    change_dates = [e.date for e in entries if e.type in _STATUS_CHANGERS]
    extra = [expires, expires + dt.timedelta(days=1)] if expires is not None else []
    samples = _statuses(queries, negotiation, _sample_dates(change_dates, first, last, extra), known_at)
    notes: list[str] = []

    rows: list[Row] = []
    counts: list[Row] = []
    if len(entries) > MAX_EVENT_MARKS:
        # Too many to see one by one: only each event's lane and date count (no summary is made).
        counts, length = _counts([{"date": e.date.isoformat(), "lane": _LANE_OF[e.type]} for e in entries], first, last)
        notes.append(
            f"{len(entries):,} events, drawn as counts per {_period_name(length)} (more than {MAX_EVENT_MARKS:,})"
        )
    else:
        for event in timeline_json(entries, negotiation=negotiation)["events"]:
            stoppage_day = _day_of(samples, dt.date.fromisoformat(event["date"]))
            rows.append(
                {
                    "date": event["date"],
                    "lane": _LANE_OF[event["type"]],
                    "type": event["type"],
                    "id": printable(event["id"]),
                    "by": printable(event["by"]) if event["by"] is not None else "",
                    "summary": printable(event["summary"], limit=_MAX_TEXT),
                    "day": "" if stoppage_day is None else f"day {stoppage_day}",
                }
            )
    runs = _stoppage_runs(samples, last)
    day_labels: list[Row] = []
    for r in rows:
        if r["type"] in _DAY_MARKED and r["day"] and len(day_labels) < 50:
            day = dt.date.fromisoformat(r["date"])
            run_end = next((dt.date.fromisoformat(s["end"]) for s in runs if s["start"] <= r["date"] < s["end"]), None)
            if run_end is not None and (run_end - day).days < _DAY_LABEL_GAP:
                continue  # no room left in the stoppage's bar
            if not day_labels or (day - dt.date.fromisoformat(day_labels[-1]["date"])).days >= _DAY_LABEL_GAP:
                day_labels.append({"date": r["date"], "label": r["day"], "lane": "stoppage"})
    positions = positions_json(queries.positions(negotiation, as_of=last, known_at=known_at))
    gaps = gaps_json(queries.gaps(negotiation, as_of=last, known_at=known_at), negotiation=negotiation)
    panels = _panels(gaps, positions, roles, first, last)
    if any(p.thinned for p in panels):
        notes.append(f"numbers thinned to the last move per period (more than {MAX_STEPS:,} moves)")
    status = status_json(end_status)
    return NegotiationData(
        negotiation=printable(negotiation),
        title=printable(end_status.title) or printable(negotiation),
        start=first,
        end=last,
        known_at=None if known_at is None else str(status["known_at"]),
        parties=tuple({"id": printable(p.id), "name": printable(p.name), "role": p.role} for p in end_status.parties),
        phases=tuple(_phases(samples, last)),
        stoppages=tuple(runs),
        events=tuple(rows),
        event_counts=tuple(counts),
        day_labels=tuple(day_labels),
        expiry=tuple(
            {"date": _iso(expires), "label": "contract expires"}
            for _ in (expires,)
            if expires is not None and first <= expires <= last
        ),
        panels=tuple(panels),
        total_events=len(entries),
        notes=tuple(notes),
    )


def _span(run: Row, running: bool) -> str:
    """``May 2 to Sep 27, 2023``: from the day it started to the day it ended."""
    first, last = dt.date.fromisoformat(run["start"]), dt.date.fromisoformat(run["end"])
    if running:
        return f"since {first:%b} {first.day}, {first.year}"
    year = "" if first.year == last.year else f", {first.year}"
    return f"{first:%b} {first.day}{year} to {last:%b} {last.day}, {last.year}"


def _period_name(days: int) -> str:
    return {1: "day", 7: "week", 30: "30 days", 91: "quarter", 365: "year"}.get(days, f"{days} days")


def stoppages_data(queries: Queries, *, start: When, end: When, known_at: When | None = None) -> StoppagesData:
    """Every strike and lockout of the store between ``start`` and ``end``, from the answers of ``queries``."""
    first, last = _day(start), _day(end)
    if last < first:
        first, last = last, first
    bars: list[Row] = []
    for entry in queries.catalog(as_of=last, known_at=known_at):
        negotiation = entry.negotiation
        events = timeline_json(queries.timeline(negotiation, start=first, end=last, known_at=known_at))["events"]
        dates = [dt.date.fromisoformat(e["date"]) for e in events if e["type"] in _STATUS_CHANGERS]
        samples = _statuses(queries, negotiation, _sample_dates(dates, first, last), known_at)
        roles = {p.id: p.role for p in entry.parties}
        title = printable(entry.title) or printable(negotiation)
        for run in _stoppage_runs(samples, last):
            other = "union" if run["kind"] == "lockout" else "employer"
            against = ", ".join(printable(p) for p, role in roles.items() if role == other)
            shown = max(run["start"], _iso(first))
            running = run["label"].endswith("(running)")
            bars.append(
                {
                    "row": f"{title}",
                    "negotiation": printable(negotiation),
                    "title": title,
                    "start": shown,
                    "end": run["end"],
                    "since": run["start"],
                    "kind": run["kind"],
                    "parties": run["parties"],
                    "against": against,
                    "days": run["days"],
                    "label": f"{run['parties']} vs {against}: {run['days']:,} days" + (" (running)" if running else ""),
                    "span": _span(run, running),
                }
            )
    bars.sort(key=lambda b: (b["since"], b["negotiation"]))
    return StoppagesData(
        start=first,
        end=last,
        known_at=None if known_at is None else str(known_at),
        bars=tuple(bars),
    )
