"""Hypothesis strategies for the event vocabulary, shared by the test modules.

Everything here builds *format-valid* values: events that ``events.converter``
must accept and render, with no claim that a sequence of them obeys the rules
of section 2 of the spec. A strategy for rule-valid sequences can build on
``events_of(cls, **overrides)``: every field can be pinned or narrowed, e.g.
``events_of(StrikeCalled, negotiation=st.just("n"), by=st.sampled_from(unions))``.

Field strategies are chosen by the field's type and, for strings, by its name
(``FIELD_NAME_STRATEGIES``), mirroring the spec rather than the converter, so
that a new event class with the usual field names needs no change here.
"""

from __future__ import annotations

import datetime as dt
import types
import typing
from collections.abc import Callable
from typing import Any

import attrs
from hypothesis import strategies as st

from events import EVENT_TYPES, AgendaIssue, Event, Party, Source, Value
from events.converter import FORBIDDEN_CHARACTERS

__all__ = [
    "CURRENCIES",
    "EVENT_ID_FIELDS",
    "MARKUP",
    "SLUG_FIELDS",
    "TIMEZONES",
    "agenda_issues",
    "any_event",
    "aware_datetimes",
    "dates",
    "event_ids",
    "events_of",
    "field_strategy",
    "json_values",
    "offsets",
    "parties",
    "shares",
    "slugs",
    "sources",
    "texts",
    "timezones",
    "values",
    "whens",
]

FORBIDDEN = (
    "\x00"
    + "".join(map(chr, range(0xFDD0, 0xFDF0)))
    + "".join(chr(p << 16 | 0xFFFE) + chr(p << 16 | 0xFFFF) for p in range(17))
)
"""What an event may not hold but UTF-8 can carry: NUL and the 66 non-characters (lone surrogates it cannot)."""
assert all(FORBIDDEN_CHARACTERS.fullmatch(c) for c in FORBIDDEN)
MIN_DATE = dt.date(1990, 1, 1)
MAX_DATE = dt.date(2030, 12, 31)

TIMEZONES = (
    "UTC",
    "America/Los_Angeles",
    "America/New_York",
    "America/St_Johns",
    "Europe/Berlin",
    "Asia/Kolkata",
    "Australia/Adelaide",
    "Pacific/Chatham",
)
"""IANA zones with whole-hour, half-hour and 45-minute offsets, with and without DST."""

MARKUP = (
    "[bold]",
    "[/bold]",
    "[red]x[/]",
    "\x1b[31m",
    "\x1b[0m",
    "<b>",
    "</script>",
    "\x01",
    "\r\n",
    "\u202e",
    "\u2066",
    "\u2028",
    "\u0085",
    "\ufeff",
    '"',
    "\\",
    "\U0001f4a5",
)
"""Text that terminals, rich markup or JSON escaping might misread."""

# Fields named in the spec as slugs (negotiation, party and issue ids) and as
# event ids (1-128 printable characters).
SLUG_FIELDS = frozenset({"negotiation", "by", "to", "issue"})
EVENT_ID_FIELDS = frozenset({"id", "proposal", "target", "in_response_to"})

_SLUG_HEAD = "abcdefghijklmnopqrstuvwxyz0123456789"
_SLUG_TAIL = _SLUG_HEAD + "._-"


# --- scalars ---------------------------------------------------------------


def slugs(max_size: int = 128) -> st.SearchStrategy[str]:
    """Slugs: ``^[a-z0-9][a-z0-9._-]{0,127}$``, up to ``max_size`` characters."""
    return st.builds(
        str.__add__,
        st.sampled_from(_SLUG_HEAD),
        st.text(alphabet=_SLUG_TAIL, max_size=max_size - 1),
    )


def _printable_chars() -> st.SearchStrategy[str]:
    # str.isprintable(): no Cc, Cf, Cs, Co, Cn, Zl, Zp, and no Zs but the space.
    return st.characters(codec="utf-8", exclude_categories=("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp", "Zs")) | st.just(
        " "
    )


def event_ids() -> st.SearchStrategy[str]:
    """Event ids: 1-128 printable characters (any script, spaces, quotes, brackets)."""
    return st.text(_printable_chars(), min_size=1, max_size=128).filter(str.isprintable)


def offsets() -> st.SearchStrategy[dt.timezone]:
    """Fixed UTC offsets in whole minutes, as RFC 3339 can write them (-23:59..+23:59)."""
    return st.builds(
        lambda minutes: dt.timezone(dt.timedelta(minutes=minutes)),
        st.integers(min_value=-(24 * 60 - 1), max_value=24 * 60 - 1),
    ) | st.just(dt.UTC)


def aware_datetimes(
    min_value: dt.datetime = dt.datetime(1990, 1, 1),
    max_value: dt.datetime = dt.datetime(2030, 12, 31, 23, 59, 59, 999_999),
) -> st.SearchStrategy[dt.datetime]:
    """Aware datetimes with microseconds and a random fixed offset, years 1990-2030 by default."""
    return st.datetimes(min_value=min_value, max_value=max_value, timezones=offsets())


def dates() -> st.SearchStrategy[dt.date]:
    """Calendar dates, years 1990-2030."""
    return st.dates(min_value=MIN_DATE, max_value=MAX_DATE)


def whens() -> st.SearchStrategy[dt.date | dt.datetime]:
    """A valid time as the spec allows it: a date or an aware datetime."""
    return st.one_of(dates(), aware_datetimes())


def texts(max_size: int = 40) -> st.SearchStrategy[str]:
    """Any Unicode text an event may hold: control characters, markup, escapes, bidi controls, emoji.

    Not NUL, lone surrogates or non-characters: the event-log format refuses
    them (``forbidden_texts`` makes those).
    """
    chars = st.characters(codec="utf-8", exclude_characters=FORBIDDEN)
    plain = st.text(chars, max_size=max_size)
    marked = st.lists(plain | st.sampled_from(MARKUP), max_size=4).map("".join)
    return st.one_of(plain, marked).map(lambda s: s[:max_size] if len(s) > max_size else s)


def shares() -> st.SearchStrategy[float]:
    """A share in [0, 1], both ends included."""
    return st.floats(min_value=0.0, max_value=1.0) | st.sampled_from((0.0, 1.0, 0.5))


def timezones() -> st.SearchStrategy[str]:
    """An IANA zone name from a small list."""
    return st.sampled_from(TIMEZONES)


# --- the parts of events ---------------------------------------------------


def _optional(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


def sources() -> st.SearchStrategy[Source]:
    """Provenance records, every field optional."""
    return st.builds(
        Source,
        url=_optional(st.sampled_from(("https://example.org/a?b=c&d=e", "")) | texts()),
        title=_optional(texts()),
        publisher=_optional(texts()),
        published_at=_optional(texts(20)),
    )


CURRENCIES = ("USD", "EUR", "CAD", "GBP", "JPY", "AUD", "XXX")
"""ISO 4217 codes (XXX: no currency), for ``Value.currency`` (schema 2 of ``proposal.made``)."""


def values() -> st.SearchStrategy[Value]:
    """A proposal's number: any finite float or 64-bit integer, with a unit and, sometimes, a currency."""
    amounts = st.integers(min_value=-(2**63), max_value=2**63 - 1) | st.floats(allow_nan=False, allow_infinity=False)
    return st.builds(Value, amount=amounts, unit=texts(12), currency=_optional(st.sampled_from(CURRENCIES)))


def parties(ids: st.SearchStrategy[str] | None = None) -> st.SearchStrategy[Party]:
    """Parties with a slug id, any name and a role of the spec."""
    return st.builds(
        Party,
        id=slugs(24) if ids is None else ids,
        name=texts(),
        role=st.sampled_from(typing.get_args(attrs.fields(Party).role.type)),
    )


def agenda_issues(ids: st.SearchStrategy[str] | None = None) -> st.SearchStrategy[AgendaIssue]:
    """Agenda issues with a slug id and any title."""
    return st.builds(AgendaIssue, id=slugs(24) if ids is None else ids, title=texts())


def json_values(max_leaves: int = 20) -> st.SearchStrategy[Any]:
    """Any JSON value (finite numbers; keys and strings of any UTF-8 text)."""
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**63), max_value=2**64 - 1),
        st.floats(allow_nan=False, allow_infinity=False),
        texts(20),
    )
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts(10), inner, max_size=4),
        max_leaves=max_leaves,
    )


# --- field strategies, by type and name -----------------------------------

FIELD_NAME_STRATEGIES: dict[str, Callable[[], st.SearchStrategy[Any]]] = {
    **dict.fromkeys(SLUG_FIELDS, slugs),
    **dict.fromkeys(EVENT_ID_FIELDS, event_ids),
    "timezone": timezones,
}
"""String fields whose values are not free text. Everything else of type str gets ``texts()``."""

FIELD_TYPE_STRATEGIES: dict[Any, Callable[[], st.SearchStrategy[Any]]] = {
    Party: parties,
    AgendaIssue: agenda_issues,
    Value: values,
    Source: sources,
    dt.date: dates,
    dt.datetime: aware_datetimes,
    dt.datetime | dt.date: whens,
    float: shares,  # the only float fields are shares
    tuple[Party, ...]: lambda: st.lists(parties(), max_size=4, unique_by=lambda p: p.id).map(tuple),
    tuple[AgendaIssue, ...]: lambda: st.lists(agenda_issues(), max_size=4, unique_by=lambda i: i.id).map(tuple),
    dict[str, str]: lambda: st.dictionaries(slugs(24), texts(), max_size=4),
}
"""Field types and their strategies; extend both tables for new field types."""


def field_strategy(name: str, tp: Any) -> st.SearchStrategy[Any]:
    """A strategy for a field called ``name`` of type ``tp`` (``X | None`` allows None)."""
    args = typing.get_args(tp)
    if typing.get_origin(tp) in (types.UnionType, typing.Union) and type(None) in args:
        rest = tuple(a for a in args if a is not type(None))
        inner = rest[0] if len(rest) == 1 else typing.Union[rest]  # noqa: UP007 - built at run time
        return _optional(field_strategy(name, inner))
    if typing.get_origin(tp) is typing.Literal:
        return st.sampled_from(args)
    if tp is str:
        return FIELD_NAME_STRATEGIES.get(name, texts)()
    if tp in FIELD_TYPE_STRATEGIES:
        return FIELD_TYPE_STRATEGIES[tp]()
    raise TypeError(f"no strategy for field {name!r} of type {tp!r}: add one to tests/strategies.py")


# --- events ----------------------------------------------------------------


@st.composite
def _recorded_after(draw: st.DrawFn, occurred_at: dt.date) -> dt.datetime | None:
    """None, or a knowledge time not earlier than ``occurred_at`` when that is an instant."""
    if draw(st.booleans()):
        return None
    if not isinstance(occurred_at, dt.datetime):
        return draw(aware_datetimes())
    delay = draw(
        st.sampled_from((dt.timedelta(0), dt.timedelta(microseconds=1)))
        | st.timedeltas(min_value=dt.timedelta(0), max_value=dt.timedelta(days=3 * 365))
    )
    return (occurred_at + delay).astimezone(draw(offsets()))


@st.composite
def _event(draw: st.DrawFn, cls: type[Event], overrides: dict[str, st.SearchStrategy[Any]]) -> Event:
    kwargs: dict[str, Any] = {}
    for a in attrs.fields(cls):
        if a.name == "recorded_at" and "recorded_at" not in overrides:
            continue
        strategy = overrides.get(a.name)
        if strategy is None:
            # Events are read in their class's current schema (older ones are upcast).
            strategy = st.just(cls.SCHEMA) if a.name == "schema" else field_strategy(a.name, a.type)
        kwargs[a.name] = draw(strategy)
    if "recorded_at" not in overrides:
        kwargs["recorded_at"] = draw(_recorded_after(kwargs["occurred_at"]))
    return cls(**kwargs)


def events_of(cls: type[Event], **overrides: st.SearchStrategy[Any]) -> st.SearchStrategy[Event]:
    """Format-valid events of ``cls``; ``overrides`` replace the strategy of the named fields.

    Unless overridden, ``recorded_at`` is None or not earlier than ``occurred_at``.
    """
    names = {a.name for a in attrs.fields(cls)}
    unknown = overrides.keys() - names
    if unknown:
        raise TypeError(f"{cls.__name__} has no field(s) {sorted(unknown)}")
    return _event(cls, overrides)


def any_event() -> st.SearchStrategy[Event]:
    """A format-valid event of any type of the catalog."""
    return st.one_of([events_of(cls) for cls in EVENT_TYPES.values()])
