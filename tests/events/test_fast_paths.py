"""The converter's and the time module's fast paths decide exactly as the plain checks they stand for.

Each fast path (a cheaper test before a regex, a per-class plan of checks, a
converter without detailed validation) is compared here with the plain
version it replaced, written out again below as the reference: if one of them
ever diverges, the refusal of some line, or the event it gives, would change.
"""

from __future__ import annotations

import datetime as dt
import importlib
import re
from typing import Any

import attrs
import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from events import InvalidEventError, render_event
from events import time as event_time
from events.errors import InvalidMomentError
from events.model import EVENT_TYPES, Event, Meaning, meanings
from tests.events.test_converter import _mutated_event_objects
from tests.strategies import any_event, json_values, offsets

# The module, not the ``converter`` object ``events`` exports under the same name.
conv = importlib.import_module("events.converter")

_SUSPECTS = (b"\\u", b"\\u0000", b"\xef\xb7\x90", b"\xef\xb7\xaf", b"\xef\xbf\xbe", b"\xf0\x9f\xbf\xbf", "é".encode())


def _splice(event: Event, at: int, piece: bytes) -> bytes:
    raw = orjson.dumps(render_event(event))
    at %= len(raw) + 1
    return raw[:at] + piece + raw[at:]


def _lines() -> st.SearchStrategy[bytes]:
    """Bytes that look like lines: arbitrary, or digits, escapes and UTF-8 spliced into a real line."""
    pieces = st.sampled_from(_SUSPECTS) | st.binary(max_size=8) | st.text("0123456789", max_size=25).map(str.encode)
    spliced = st.builds(_splice, any_event(), st.integers(min_value=0), pieces)
    return st.binary(max_size=300) | spliced | st.lists(pieces, max_size=6).map(b"".join)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(_lines())
@example(b"x" + b"1" * 19)
@example(b"1" * 18 + b"-" + b"1")
@example("١٢٣٤٥٦٧٨٩٠١٢٣٤٥٦٧٨٩".encode())  # Arabic-Indic digits: \d of a str pattern, not of bytes
def test_byte_screens_match_their_regexes(raw: bytes) -> None:
    """The cheap screens of a line find what their regexes find, and nothing else."""
    assert conv._may_hold_forbidden(raw) == (conv._SUSPECT_BYTES.search(raw) is not None)
    assert conv._has_19_digits(raw) == (conv._BIG_INT_RE.search(raw) is not None)


# --- time ----------------------------------------------------------------------------------------


def _in_time_range_reference(value: dt.date) -> bool:
    if isinstance(value, dt.datetime):
        offset = value.utcoffset() or dt.timedelta(0)
        try:
            value = (value.replace(tzinfo=None) - offset).date()
        except OverflowError:
            return False
    return event_time.FIRST_DAY <= value <= event_time.LAST_DAY


_EDGE_YEARS = st.sampled_from((1, 2, 3, 9997, 9998, 9999))


@given(
    st.one_of(
        st.datetimes(timezones=offsets()),
        st.dates(),
        st.datetimes(),  # naive: taken as UTC
    ),
    _EDGE_YEARS,
)
def test_in_time_range_matches_the_exact_utc_date(value: dt.date, year: int) -> None:
    """The year shortcut agrees with the exact UTC date everywhere, near the ends of the calendar above all."""
    assert event_time.in_time_range(value) == _in_time_range_reference(value)
    try:
        moved = value.replace(year=year)
    except ValueError:  # 29 February
        return
    assert event_time.in_time_range(moved) == _in_time_range_reference(moved)


_FRACTION_RE = re.compile(r"\.(\d+)")


def _parse_datetime_reference(value: object) -> dt.datetime:
    if not isinstance(value, str) or not event_time.DATETIME_RE.fullmatch(value):
        raise event_time._refuse(value, event_time.EXPECTED_DATETIME)
    text = value.upper()
    frac = _FRACTION_RE.search(text)
    if frac and len(frac.group(1)) > 6:
        if frac.group(1)[6:].strip("0"):
            raise event_time._refuse(value, "at most microsecond precision")
        text = text[: frac.start(1) + 6] + text[frac.end(1) :]
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        raise event_time._refuse(value, "a real date and time") from None


def _outcome(parse: Any, value: object) -> tuple[str, object]:
    try:
        result = parse(value)
    except InvalidMomentError as e:
        return "refused", (str(e), e.expected)
    return type(result).__name__, result


_TIMESTAMPS = st.builds(
    "{}-{}-{}{}{}:{}:{}{}{}".format,
    st.sampled_from(("2023", "0001", "9999", "2024")),
    st.sampled_from(("01", "02", "12", "13")),
    st.sampled_from(("01", "29", "30", "31", "00")),
    st.sampled_from("Tt "),
    st.sampled_from(("00", "23", "24")),
    st.sampled_from(("00", "59", "60")),
    st.sampled_from(("00", "59", "60")),
    st.sampled_from(("", ".")) | st.text("0123456789", min_size=1, max_size=10).map(".".__add__),
    st.sampled_from(("Z", "z", "+00:00", "-07:00", "+23:59", "+24:00", "", "+0700")),
)


@settings(max_examples=400)
@given(_TIMESTAMPS | st.text(max_size=40) | json_values(max_leaves=2))
@example("2023-05-01T10:00:00.1234567000Z")
@example("2023-05-01T10:00:00.1234567001Z")
@example("2023-05-01T10:00:00.123456789-07:00")
def test_parse_datetime_matches_the_reference(value: object) -> None:
    """Reading the fraction from the grammar's own match gives the same datetime, or the same refusal."""
    assert _outcome(event_time.parse_datetime, value) == _outcome(_parse_datetime_reference, value)
    reference_when = _parse_date_or(value)
    assert _outcome(event_time.parse_when, value) == _outcome(reference_when, value)


def _parse_date_or(value: object) -> Any:
    def parse(value: object) -> dt.date:
        if isinstance(value, str) and event_time.DATE_RE.fullmatch(value):
            return event_time.parse_date(value)
        if isinstance(value, str) and event_time.DATETIME_RE.fullmatch(value):
            return _parse_datetime_reference(value)
        raise event_time._refuse(value, event_time.EXPECTED_WHEN)

    return parse


# --- the declared meanings ------------------------------------------------------------------------


def _check_declared_reference(item: object, path: str) -> None:
    """The reflective walk ``_check_declared`` replaced: every meaning tested against the kinds, per value."""
    cls = type(item)
    for name, what in meanings(cls):
        value = getattr(item, name)
        if value is None or not isinstance(value, str | int | float):
            continue
        where = f"{path}{name}" if path else conv._data_path(name)
        if what in conv._SLUGS:
            conv._check_slug(value, where)  # type: ignore[arg-type]
        elif what in conv._IDS:
            conv.check_event_id(value, where)
        elif what is Meaning.SHARE and not 0.0 <= value <= 1.0:  # type: ignore[operator]
            raise InvalidEventError(f"got {value!r}", path=where, expected="a share between 0 and 1")
    for a in conv._nested(cls):
        value = getattr(item, a)
        where = f"{path}{a}" if path else conv._data_path(a)
        if isinstance(value, tuple):
            for index, sub in enumerate(value):
                _check_declared_reference(sub, f"{where}[{index}].")
        elif value is not None:
            _check_declared_reference(value, f"{where}.")


_BAD_VALUES = st.sampled_from(["", "Not A Slug", "x" * 129, "tab\there", "\x00", "ok-slug", "é", 1.5, -0.1, 0.5, 7])


@st.composite
def _damaged_events(draw: st.DrawFn) -> object:
    """A valid event with a few declared fields (nested ones too) set to values that may be refused."""
    event = draw(any_event())
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        declared = [name for name, _ in meanings(type(event))]
        nested = [n for n in conv._nested(type(event)) if getattr(event, n)]
        if nested and draw(st.booleans()):
            name = draw(st.sampled_from(nested))
            value = getattr(event, name)
            if isinstance(value, tuple):
                index = draw(st.integers(min_value=0, max_value=len(value) - 1))
                inner = value[index]
                field = draw(st.sampled_from([n for n, _ in meanings(type(inner))]))
                damaged = attrs.evolve(inner, **{field: draw(_BAD_VALUES)})
                event = attrs.evolve(event, **{name: (*value[:index], damaged, *value[index + 1 :])})
            else:
                field = draw(st.sampled_from([n for n, _ in meanings(type(value))]))
                event = attrs.evolve(event, **{name: attrs.evolve(value, **{field: draw(_BAD_VALUES)})})
        elif declared:
            event = attrs.evolve(event, **{draw(st.sampled_from(declared)): draw(_BAD_VALUES)})
    return event


def _refusal(check: Any, *args: Any) -> tuple[str, ...] | None:
    try:
        check(*args)
    except InvalidEventError as e:
        return str(e), e.path, str(e.expected)
    except TypeError as e:  # a number where a slug belongs: only a Python caller can build that event
        return type(e).__name__, str(e)
    return None


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(_damaged_events())
def test_declared_checks_match_the_reflective_walk(event: object) -> None:
    """The per-class plan of checks refuses the same field first, with the same message, or accepts."""
    assert _refusal(conv._check_declared, event, "") == _refusal(_check_declared_reference, event, "")


# --- structuring -----------------------------------------------------------------------------------


def _flat_of(obj: dict[str, Any]) -> tuple[dict[str, Any], type[Event]] | None:
    type_ = obj.get("type")
    # A mutated object may hold any JSON value there, a list say, which no mapping can be asked for.
    cls = EVENT_TYPES.get(type_) if isinstance(type_, str) else None
    data = obj.get("data")
    if cls is None or not isinstance(data, dict):
        return None
    try:
        schema = conv._schema_of(obj, cls)
        while schema < cls.SCHEMA:
            data = conv.UPCASTERS[cls.TYPE, schema](data)
            schema += 1
    except InvalidEventError:
        return None
    return conv._flat(obj, data, schema), cls


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(_mutated_event_objects() | any_event().map(render_event))
def test_the_fast_converter_accepts_only_what_the_checked_one_accepts(obj: dict[str, Any]) -> None:
    """Whatever the converter without detailed validation builds, the checked converter builds the same."""
    found = _flat_of(obj)
    if found is None:
        return
    merged, cls = found
    try:
        fast = conv._fast.get_structure_hook(cls)(merged, cls)
    except Exception:  # noqa: BLE001 - refused: the checked converter says why
        return
    assert conv.converter.structure(merged, cls) == fast


@pytest.mark.parametrize("cls", sorted(EVENT_TYPES.values(), key=lambda cls: cls.TYPE), ids=lambda cls: cls.TYPE)
def test_every_event_type_has_a_fast_hook(cls: type[Event]) -> None:
    """The fast converter builds every type (a type it cannot build would always take the slow path)."""
    assert callable(conv._fast.get_structure_hook(cls))
