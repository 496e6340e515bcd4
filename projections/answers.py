"""The JSON answers of the read models (``--json``), as plain dicts ready for ``orjson``.

``status_json`` and ``positions_json`` are the spec's section 3 shapes, key for
key and in the spec's key order; the others are this project's own, stable:
keys are only ever added. Instants are RFC 3339 with the negotiation's UTC
offset (``2023-08-11T23:59:59.999999-07:00``), dates are ``YYYY-MM-DD``,
amounts are JSON numbers, absent values are ``null``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from events.model import Party, Value
from events.time import zone
from projections.catalog import CatalogEntry, StoppageEntry
from projections.diff import Diff, FieldChange
from projections.gap import Gap, GapMove, GapSide
from projections.positions import Position, Positions
from projections.status import Status, Stoppage
from projections.timeline import TimelineEntry

__all__ = [
    "catalog_json",
    "diff_json",
    "gaps_json",
    "position_json",
    "positions_json",
    "statements_json",
    "status_json",
    "stoppage_json",
    "stoppages_json",
    "timeline_json",
]

JSON = dict[str, Any]


def _instant(moment: dt.datetime, tz: dt.tzinfo | None = None) -> str:
    return (moment if tz is None else moment.astimezone(tz)).isoformat()


def _value(value: Value | None) -> JSON | None:
    if value is None:
        return None
    # ``currency`` (schema 2) is added only when given: the spec's shape stays as it was.
    shown: JSON = {"amount": value.amount, "unit": value.unit}
    if value.currency is not None:
        shown["currency"] = value.currency
    return shown


def _party(party: Party) -> JSON:
    return {"id": party.id, "name": party.name, "role": party.role}


def stoppage_json(stoppage: Stoppage | None) -> JSON | None:
    """``{"kind", "parties", "since", "day"}`` (spec section 3), or ``None``."""
    if stoppage is None:
        return None
    return {
        "kind": stoppage.kind,
        "parties": list(stoppage.parties),
        "since": stoppage.since.isoformat(),
        "day": stoppage.day,
    }


def status_json(status: Status) -> JSON:
    """The spec's ``status`` answer.

    ``{"negotiation", "as_of", "known_at", "phase", "talks", "stoppage",
    "agreement", "contract", "events_applied", "ratified_by"}``; ``ratified_by``
    (spec 1.1) lists the unions that ratified the current tentative agreement,
    sorted by id (``[]`` when none).
    """
    tz = zone(status.timezone)
    return {
        "negotiation": status.negotiation,
        "as_of": _instant(status.as_of, tz),
        "known_at": _instant(status.known_at, tz),
        "phase": status.phase,
        "talks": status.talks,
        "stoppage": stoppage_json(status.stoppage),
        "agreement": status.agreement,
        "contract": status.contract,
        "events_applied": status.events_applied,
        "ratified_by": list(status.ratified_by),
    }


def position_json(position: Position) -> JSON:
    """One position: ``{"terms", "value", "since", "event"}`` (spec section 3).

    A position taken by accepting another party's proposal (spec 1.1) also has
    ``"accepted"``: the ``proposal.accepted`` id (``event`` is the accepted
    proposal's, ``since`` the acceptance's date); other positions have no such key.
    """
    shown: JSON = {
        "terms": position.terms,
        "value": _value(position.value),
        "since": position.since.isoformat(),
        "event": position.event,
    }
    if position.accepted is not None:
        shown["accepted"] = position.accepted
    return shown


def positions_json(positions: Positions) -> JSON:
    """The spec's ``positions`` answer.

    ``{"negotiation", "as_of", "known_at", "positions": {party: {issue: position}}}``,
    parties and issues sorted by id; parties without a standing position are left out.
    """
    tz = zone(positions.timezone)
    by_party: dict[str, JSON] = {}
    for position in positions.positions:
        by_party.setdefault(position.party, {})[position.issue] = position_json(position)
    return {
        "negotiation": positions.negotiation,
        "as_of": _instant(positions.as_of, tz),
        "known_at": _instant(positions.known_at, tz),
        "positions": by_party,
    }


def _entry(entry: TimelineEntry) -> JSON:
    return {
        "occurred_at": _instant(entry.at),
        "date": entry.date.isoformat(),
        "id": entry.id,
        "type": entry.type,
        "by": entry.party,
        "summary": entry.summary,
        "recorded_at": _instant(entry.recorded_at),
    }


def _negotiation(entries: Sequence[TimelineEntry], negotiation: str | None) -> str | None:
    if negotiation is not None:
        return negotiation
    return entries[0].negotiation if entries else None


def timeline_json(entries: Sequence[TimelineEntry], *, negotiation: str | None = None) -> JSON:
    """``{"negotiation", "events": [...]}``, in the entries' order.

    Each event: ``{"occurred_at", "date", "id", "type", "by", "summary",
    "recorded_at"}``; ``occurred_at`` is in the negotiation's time zone and
    ``date`` is its local date; ``by`` is ``null`` for events that name no
    acting party. ``negotiation`` defaults to the entries' (``null`` if none).
    """
    return {"negotiation": _negotiation(entries, negotiation), "events": [_entry(e) for e in entries]}


def statements_json(entries: Sequence[TimelineEntry], *, negotiation: str | None = None) -> JSON:
    """``{"negotiation", "statements": [...]}``: each as in ``timeline_json`` plus ``text``, ``audience``."""
    statements = []
    for entry in entries:
        item = _entry(entry)
        item["text"] = getattr(entry.event, "text", None)
        item["audience"] = getattr(entry.event, "audience", None)
        statements.append(item)
    return {"negotiation": _negotiation(entries, negotiation), "statements": statements}


def _change_value(value: object) -> object:
    if isinstance(value, tuple):
        return list(value)  # ratified_by
    return stoppage_json(value) if isinstance(value, Stoppage) else value


def _field_change(change: FieldChange) -> JSON:
    return {"before": _change_value(change.before), "after": _change_value(change.after)}


def diff_json(diff: Diff) -> JSON:
    """What changed between two times.

    ``{"negotiation", "from", "to", "known_at",
    "status": {field: {"before", "after"}},
    "positions": {"added": [{"party", "issue", "position"}],
    "changed": [{"party", "issue", "before", "after"}],
    "removed": [{"party", "issue", "position"}]}}``; ``status`` holds only
    the fields that changed (``phase``, ``talks``, ``stoppage`` as in
    ``status``, ``agreement``, ``contract``, ``events_applied``, ``ratified_by``);
    positions are
    as in ``positions``, each list sorted by party, then issue.
    """
    tz = zone(diff.end.timezone)
    added, changed, removed = [], [], []
    for c in diff.positions:
        where = {"party": c.party, "issue": c.issue}
        if c.before is None and c.after is not None:
            added.append({**where, "position": position_json(c.after)})
        elif c.after is None and c.before is not None:
            removed.append({**where, "position": position_json(c.before)})
        elif c.before is not None and c.after is not None:
            changed.append({**where, "before": position_json(c.before), "after": position_json(c.after)})
    return {
        "negotiation": diff.negotiation,
        "from": _instant(diff.start.as_of, tz),
        "to": _instant(diff.end.as_of, tz),
        "known_at": _instant(diff.end.known_at, tz),
        "status": {c.field: _field_change(c) for c in diff.status},
        "positions": {"added": added, "changed": changed, "removed": removed},
    }


def _catalog_entry(entry: CatalogEntry) -> JSON:
    tz = zone(entry.timezone)
    return {
        "negotiation": entry.negotiation,
        "title": entry.title,
        "timezone": entry.timezone,
        "parties": [_party(p) for p in entry.parties],
        "phase": entry.phase,
        "stoppage": stoppage_json(entry.stoppage),
        "events_applied": entry.events_applied,
        "as_of": _instant(entry.as_of, tz),
        "known_at": _instant(entry.known_at, tz),
    }


def catalog_json(entries: Sequence[CatalogEntry]) -> JSON:
    """``{"negotiations": [...]}``, in the entries' order.

    Each: ``{"negotiation", "title", "timezone", "parties": [{"id", "name",
    "role"}], "phase", "stoppage" (as in ``status``), "events_applied",
    "as_of", "known_at"}``, times in that negotiation's time zone.
    """
    return {"negotiations": [_catalog_entry(e) for e in entries]}


def _stoppage_entry(entry: StoppageEntry) -> JSON:
    return {
        "negotiation": entry.negotiation,
        "title": entry.title,
        "kind": entry.kind,
        "party": entry.party,
        "against": list(entry.against),
        "started": _instant(entry.started, zone(entry.timezone)),
        "since": entry.since.isoformat(),
        "day": entry.day,
        "ended": None if entry.ended is None else _instant(entry.ended, zone(entry.timezone)),
    }


def stoppages_json(entries: Sequence[StoppageEntry], *, on: dt.date | None = None) -> JSON:
    """``{"on", "stoppages": [...]}``, in the entries' order.

    ``on`` is the date (``YYYY-MM-DD``) or instant asked about (default: the
    entries', ``null`` if there are none). Each stoppage:
    ``{"negotiation", "title", "kind", "party", "against", "started", "since",
    "day", "ended"}``; ``ended`` is ``null`` unless it started and ended that day.
    """
    when = on if on is not None else entries[0].on if entries else None
    return {
        "on": None if when is None else when.isoformat(),
        "stoppages": [_stoppage_entry(e) for e in entries],
    }


def _side(side: GapSide) -> JSON:
    return {
        "party": side.party,
        "amount": side.amount,
        "event": side.event,
        "since": side.since.isoformat(),
        "conceded": side.conceded,
        "accepted": side.accepted,
    }


def _move(move: GapMove) -> JSON:
    return {
        "at": _instant(move.at),
        "date": move.date.isoformat(),
        "party": move.party,
        "event": move.event,
        "from": move.before,
        "to": move.after,
        "concession": move.concession,
        "distance": move.distance,
    }


def gaps_json(gaps: Sequence[Gap], *, negotiation: str | None = None) -> JSON:
    """``{"negotiation", "gaps": [...]}``, sorted by issue, union, employer.

    Each gap: ``{"issue", "unit", "currency", "distance", "union": side,
    "employer": side, "moves": [...]}`` (``currency`` null unless both sides
    gave it); a side is ``{"party", "amount", "event", "since", "conceded",
    "accepted"}`` (``accepted``: the ``proposal.accepted`` id when the party
    stands on the other side's proposal, spec 1.1, else ``null``);
    a move is ``{"at", "date", "party", "event", "from", "to", "concession",
    "distance"}`` (``null`` where a side had no number).
    """
    return {
        "negotiation": negotiation if negotiation is not None else gaps[0].negotiation if gaps else None,
        "gaps": [
            {
                "issue": g.issue,
                "unit": g.unit,
                "currency": g.currency,
                "distance": g.distance,
                "union": _side(g.union),
                "employer": _side(g.employer),
                "moves": [_move(m) for m in g.moves],
            }
            for g in gaps
        ],
    }
