"""The one module that owns time: moments, their grammar, zones, days.

It sits in the bottom layer (``events``) because the converter parses
``occurred_at`` and ``recorded_at`` with it, and ``events`` imports nothing
else of ours; every other module imports its time rules from here.

Two rules turn a date into an instant, and they differ on purpose:

- a date in an event's ``occurred_at`` means 00:00 of that day in the
  negotiation's time zone (``start_of_day``, ``instant``): the event happened
  that day;
- a date given as a query moment (``--at``, ``known_at``, ``as_of``) means the
  END of that day (``as_instant``): all of that day's events count.

One grammar reads moments, in event lines and from the command line or HTTP
(``parse_when``): a date ``YYYY-MM-DD`` or an RFC 3339 timestamp with an offset
(``T``, ``t`` or a space between date and time; ``Z``, ``z`` or ``+hh:mm``; at
most microsecond precision). It raises ``InvalidMomentError``.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import zoneinfo
from typing import Final

from events.errors import InvalidMomentError

__all__ = [
    "DATETIME_RE",
    "DATE_RE",
    "FIRST_DAY",
    "LAST_DAY",
    "TIME_RANGE",
    "UTC",
    "When",
    "as_instant",
    "day_number",
    "end_of_day",
    "in_time_range",
    "instant",
    "is_zone_name",
    "local_date",
    "parse_date",
    "parse_datetime",
    "parse_when",
    "render_when",
    "start_instant",
    "start_of_day",
    "zone",
]

When = dt.datetime | dt.date
"""An instant with offset, or a whole day (``YYYY-MM-DD``) in the negotiation's time zone.

``datetime`` subclasses ``date``: test for ``datetime`` first."""

UTC: Final = dt.UTC

DATE_RE: Final = re.compile(r"\d{4}-\d{2}-\d{2}")
"""A calendar date, ``YYYY-MM-DD``."""
DATETIME_RE: Final = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})")
"""An RFC 3339 timestamp with an offset (up to nine fractional digits; finer than microseconds must be 0)."""

EXPECTED_DATETIME: Final = "an RFC 3339 timestamp with offset"
EXPECTED_DATE: Final = "a date YYYY-MM-DD"
EXPECTED_WHEN: Final = "a date YYYY-MM-DD or an RFC 3339 timestamp with offset"


FIRST_DAY: Final = dt.date(1, 1, 2)
LAST_DAY: Final = dt.date(9999, 12, 30)
TIME_RANGE: Final = f"a moment from {FIRST_DAY.isoformat()} to {LAST_DAY.isoformat()} (UTC)"
"""The moments accepted from users and in new events. Python's dates run from year 1 to
9999; a day is kept free at each end so that any time zone, the end of a day and a day's
arithmetic stay within them (beyond, folds and answers ended in ``OverflowError``)."""


def in_time_range(value: dt.date) -> bool:
    """Whether ``value`` (a date, or an aware datetime taken in UTC) lies in ``FIRST_DAY`` .. ``LAST_DAY``."""
    if 1 < value.year < 9999:
        # An offset is less than a day, so a moment of the years 2 to 9998 is in range in UTC too: only
        # the first and the last year need the exact UTC date (every time field of every line comes here).
        return True
    if isinstance(value, dt.datetime):
        offset = value.utcoffset() or dt.timedelta(0)
        try:
            value = (value.replace(tzinfo=None) - offset).date()
        except OverflowError:
            return False
    return FIRST_DAY <= value <= LAST_DAY


# --- zones ---------------------------------------------------------------------------------


@functools.cache
def zone(name: str | None) -> dt.tzinfo:
    """The ``tzinfo`` for an IANA name; ``None`` means UTC."""
    return UTC if name in (None, "UTC") else zoneinfo.ZoneInfo(name)


@functools.lru_cache(maxsize=1024)  # bounded: the names come from untrusted input
def is_zone_name(name: str) -> bool:
    """Whether ``name`` is an IANA time zone name the zone database knows."""
    if not 1 <= len(name) <= 255 or not name.isprintable():
        return False
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        # OSError: a directory ("America") or a name too long for the file system.
        return False
    return True


# --- dates and instants ----------------------------------------------------------------------


def start_of_day(day: dt.date, tz: dt.tzinfo) -> dt.datetime:
    """00:00 of ``day`` in ``tz``."""
    return dt.datetime(day.year, day.month, day.day, tzinfo=tz)


def end_of_day(day: dt.date, tz: dt.tzinfo) -> dt.datetime:
    """The last microsecond of ``day`` in ``tz``: all of that day's events count."""
    return dt.datetime.combine(day, dt.time.max, tzinfo=tz)


def instant(when: dt.date, tz: dt.tzinfo) -> dt.datetime:
    """When an event happened (``occurred_at``): a date means 00:00 of that day in ``tz``."""
    if isinstance(when, dt.datetime):
        return when
    return start_of_day(when, tz)


def as_instant(when: When, tz: dt.tzinfo) -> dt.datetime:
    """The instant a query moment stands for: a date is the END of that day in ``tz``.

    Aware datetimes are used as given; a naive datetime is wall-clock time in ``tz``.
    Anything else raises ``TypeError``.
    """
    if isinstance(when, dt.datetime):
        return when if when.tzinfo is not None else when.replace(tzinfo=tz)
    if isinstance(when, dt.date):
        return end_of_day(when, tz)
    raise TypeError(f"expected a date or a datetime, got {type(when).__name__}")


def start_instant(when: When, tz: dt.tzinfo) -> dt.datetime:
    """The instant a range's lower bound stands for: a date is 00:00 of that day in ``tz``."""
    if isinstance(when, dt.datetime):
        return as_instant(when, tz)
    if isinstance(when, dt.date):
        return start_of_day(when, tz)
    raise TypeError(f"expected a date or a datetime, got {type(when).__name__}")


def local_date(moment: dt.datetime, tz: dt.tzinfo) -> dt.date:
    """The calendar day of ``moment`` in ``tz``."""
    return moment.astimezone(tz).date()


def day_number(since: dt.date, moment: dt.datetime, tz: dt.tzinfo) -> int:
    """Calendar days in ``tz`` from ``since`` to the local date of ``moment``; ``since`` is day 1."""
    return (local_date(moment, tz) - since).days + 1


# --- the grammar -------------------------------------------------------------------------------


def _refuse(value: object, expected: str) -> InvalidMomentError:
    text = value if isinstance(value, str) else repr(value)
    return InvalidMomentError(text, f"expected {expected}", expected=expected)


def parse_datetime(value: object) -> dt.datetime:
    """An RFC 3339 timestamp with an offset; naive or malformed values raise ``InvalidMomentError``."""
    match = DATETIME_RE.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise _refuse(value, EXPECTED_DATETIME)
    return _datetime_of(match)


def _datetime_of(match: re.Match[str]) -> dt.datetime:
    """The datetime of a ``DATETIME_RE`` match (its group 1 is the fraction, dot included: the only dot)."""
    value = match.string
    text = value.upper()  # "t" and "z" are RFC 3339 too; fromisoformat reads only capitals
    fraction = match.group(1)
    if fraction is not None and len(fraction) > 7:
        # Python keeps microseconds; finer digits are refused rather than cut.
        if fraction[7:].strip("0"):
            raise _refuse(value, "at most microsecond precision")
        text = text[: match.start(1) + 7] + text[match.end(1) :]
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        raise _refuse(value, "a real date and time") from None


def parse_date(value: object) -> dt.date:
    """A calendar date ``YYYY-MM-DD``; anything else raises ``InvalidMomentError``."""
    if not isinstance(value, str) or not DATE_RE.fullmatch(value):
        raise _refuse(value, EXPECTED_DATE)
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise _refuse(value, "a real calendar date") from None


def parse_when(value: object) -> When:
    """A date ``YYYY-MM-DD`` as a ``date``, an RFC 3339 timestamp with offset as an aware ``datetime``.

    The grammar of ``occurred_at`` in event lines and of moments given on the
    command line or over HTTP. Anything else raises ``InvalidMomentError``.
    """
    if isinstance(value, str):
        if DATE_RE.fullmatch(value):
            return parse_date(value)
        match = DATETIME_RE.fullmatch(value)
        if match is not None:
            return _datetime_of(match)  # its errors say what is wrong with the timestamp
    raise _refuse(value, EXPECTED_WHEN)


def render_when(value: dt.date) -> str:
    """The spec's text for a date or an aware datetime."""
    return value.isoformat()
