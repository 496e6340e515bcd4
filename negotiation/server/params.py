"""Query parameters and headers, parsed as the command line parses its options.

Dates and times follow the command line: ``YYYY-MM-DD`` (the end of that day
in the negotiation's time zone) or RFC 3339 with an offset. Anything else,
and any parameter a route does not know, is a 400 problem naming it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Collection, Mapping
from typing import Final

from events.errors import InvalidMomentError
from events.time import TIME_RANGE, in_time_range, parse_when
from negotiation.problems import BadRequestError

__all__ = ["check_known", "moment", "optional_moment", "position_header"]

_DIGITS_RE: Final = re.compile(r"[0-9]{1,18}")
_SHOWN: Final = 60


def _shown(value: str) -> str:
    text = value if len(value) <= _SHOWN else value[:_SHOWN] + "…"
    return repr(text)


def moment(name: str, value: str) -> dt.date | dt.datetime:
    """``YYYY-MM-DD`` as a date, RFC 3339 with an offset as an aware datetime; else ``InvalidMomentError``.

    The grammar and the accepted range are ``events.time``'s, the same as the command line's.
    """
    shown = value if len(value) <= _SHOWN else value[:_SHOWN] + "…"
    try:
        when = parse_when(value)
    except InvalidMomentError:
        raise InvalidMomentError(
            shown, f"{name}: not a date YYYY-MM-DD or an RFC 3339 time with offset (2023-08-11T09:30:00-07:00)"
        ) from None
    if not in_time_range(when):
        # Beyond it, a zone or the end of a day would leave Python's years 1 to 9999.
        raise InvalidMomentError(shown, f"{name}: out of range: expected {TIME_RANGE}")
    return when


def optional_moment(name: str, value: str | None) -> dt.date | dt.datetime | None:
    """``moment`` of a parameter that may be left out."""
    return None if value is None else moment(name, value)


def position_header(name: str, value: str | None) -> int | None:
    """A position header (``Last-Event-ID``, ``Min-Position``): digits only, else 400."""
    if value is None:
        return None
    if not _DIGITS_RE.fullmatch(value.strip()):
        msg = f"header {name}: {_shown(value)} is not a position (digits)"
        raise BadRequestError(msg)
    return int(value.strip())


def check_known(params: Mapping[str, object], known: Collection[str]) -> None:
    """Refuse a query parameter the route does not take (a typo would silently change the answer)."""
    for key in params:
        if key not in known:
            msg = f"unknown query parameter {_shown(key)}; this route takes: {', '.join(sorted(known)) or 'none'}"
            raise BadRequestError(msg)
