"""Helpers that write hand-made timelines tersely, in the spec's JSON form.

``Log`` builds events of one negotiation from the spec's ``data`` objects,
through ``events.parse_event`` (so the tests read like the event-log files),
with ``recorded_at`` defaulting to the occurred instant; ``history_of``
validates them as the store would (``History.plan``) and takes them in.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from events import Event, parse_event
from negotiation.core.history import History
from negotiation.core.state import instant, zone

NOW = dt.datetime(2024, 6, 1, 12, 0, tzinfo=dt.UTC)
"""The fixed "now" of the pure tests: after every hand-written event."""

LA = "America/Los_Angeles"


def when(text: str, tz: str = LA) -> dt.datetime | dt.date:
    """``YYYY-MM-DD`` -> a date; ``YYYY-MM-DDTHH:MM`` -> local wall time in ``tz``; else RFC 3339."""
    if len(text) == 10:
        return dt.date.fromisoformat(text)
    moment = dt.datetime.fromisoformat(text)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone(tz))


def moment(text: str, tz: str = LA) -> dt.datetime:
    """The instant of ``when(text)``: a date is 00:00 of that day in ``tz``."""
    return instant(when(text, tz), zone(tz))


class Log:
    """Events of one negotiation, in the order they are appended."""

    def __init__(self, negotiation: str, tz: str = LA) -> None:
        self.negotiation = negotiation
        self.tz = tz
        self.events: list[Event] = []

    def add(self, type_: str, id_: str, occurred: str, recorded: str | None = None, **data: Any) -> Event:
        """Append an event; ``occurred``/``recorded`` as in ``when`` (recorded defaults to occurred)."""
        occurred_at = when(occurred, self.tz)
        recorded_at = moment(recorded, self.tz) if recorded is not None else instant(occurred_at, zone(self.tz))
        event = parse_event(
            {
                "id": id_,
                "type": type_,
                "negotiation": self.negotiation,
                "occurred_at": occurred_at.isoformat(),
                "recorded_at": recorded_at.isoformat(),
                "data": data,
            }
        )
        self.events.append(event)
        return event

    def open(
        self,
        occurred: str,
        *,
        unions: Iterable[str] = ("wga",),
        employers: Iterable[str] = ("amptp",),
        issues: Iterable[str] = ("wages", "ai"),
        title: str = "Test negotiation",
        id_: str = "open",
    ) -> Event:
        """A ``negotiation.opened`` with the given parties and issues."""
        parties = [{"id": u, "name": u.upper(), "role": "union"} for u in unions]
        parties += [{"id": e, "name": e.upper(), "role": "employer"} for e in employers]
        return self.add(
            "negotiation.opened",
            id_,
            occurred,
            title=title,
            parties=parties,
            issues=[{"id": i, "title": i.title()} for i in issues],
            timezone=self.tz,
        )

    def history(self) -> History:
        """The events validated and taken in, as the store would."""
        return history_of(self.events, self.negotiation)


def history_of(events: Iterable[Event], negotiation: str | None = None, *, now: dt.datetime = NOW) -> History:
    """A ``History`` of ``events``, validated as one appended batch."""
    batch = list(events)
    history = History(negotiation if negotiation is not None else batch[0].negotiation)
    history.apply(history.plan(batch, now=now))
    return history
