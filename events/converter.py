"""The JSON Lines form of events: one cattrs converter, both directions.

``parse_line``/``parse_event`` read the spec's form and refuse anything else with
an ``InvalidEventError`` naming the field path, the event id and what was
expected; ``render_line``/``render_event`` write the normalized form (envelope
keys in spec order, absent optional fields left out, timestamps in RFC 3339).

Schema evolution: each event class names its current schema version
(``Event.SCHEMA``; ``proposal.made`` is at 2). A line of an older schema is
upcast when it is read, one version at a time, by the functions of
``UPCASTERS`` (keyed by type and the schema they read), so old files and old
stores still load; rendering always writes the current schema. A schema newer
than the class knows is refused.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import math
import re
import reprlib
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, Final, TypeVar

import attrs
import cattrs
import orjson
from cattrs.cols import homogenous_tuple_structure_factory
from cattrs.errors import ClassValidationError, ForbiddenExtraKeysError, IterableValidationError
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from events import time
from events.errors import InvalidEventError, InvalidMomentError
from events.model import EVENT_TYPES, Event, Meaning, Source, Value, meanings

__all__ = [
    "DEFAULT_LIMITS",
    "FORBIDDEN_CHARACTERS",
    "UPCASTERS",
    "Limits",
    "Upcaster",
    "converter",
    "long_line_error",
    "one_line",
    "parse_datetime",
    "parse_event",
    "parse_line",
    "parse_trusted",
    "parse_when",
    "render_event",
    "render_line",
    "render_when",
]


@attrs.frozen(kw_only=True)
class Limits:
    """Size limits on untrusted input; all are configurable by the caller."""

    max_line_bytes: int = 1024 * 1024
    max_string_bytes: int = 64 * 1024
    max_input_bytes: int = 1024**3
    """The most read from one input that must be copied to disk to be read twice
    (standard input, a pipe, a device); a regular file is read in place, at any size."""


DEFAULT_LIMITS: Final = Limits()

ENVELOPE: Final = ("id", "type", "negotiation", "occurred_at", "recorded_at", "schema", "source", "data")
REQUIRED: Final = ("id", "type", "negotiation", "occurred_at", "data")
_ENVELOPE_FIELDS: Final = frozenset(a.name for a in attrs.fields(Event))
_ENVELOPE_KEYS: Final = frozenset(ENVELOPE)
_REQUIRED_KEYS: Final = frozenset(REQUIRED)

SLUG_RE: Final = re.compile(r"[a-z0-9][a-z0-9._-]{0,127}")
_ID_RE: Final = re.compile(rb'"id"\s*:\s*"([^"\\\x00-\x1f]{1,128})"')
_SLUG_EXPECTED: Final = "a slug matching ^[a-z0-9][a-z0-9._-]{0,127}$"
# The integers orjson can write: whatever parses must render again.
_M = TypeVar("_M")

_INT_MIN: Final = -(2**63)
_INT_MAX: Final = 2**64 - 1
# How much of an over-long line is searched for its event id.
_ID_SEARCH_BYTES: Final = 4096
_CURRENCY_RE: Final = re.compile(r"[A-Z]{3}")
# Characters no string of an event may hold: NUL (PostgreSQL's text and jsonb
# refuse it, libpq and C tools stop at it), lone surrogates (not Unicode text:
# they cannot be written as UTF-8) and the 66 Unicode non-characters (U+FDD0 to
# U+FDEF and the last two code points of every plane: reserved for a program's
# internal use, never for interchange). Refused at the door, so that every
# store, export and read model holds the same text.
FORBIDDEN_CHARACTERS: Final = re.compile(
    "[\x00\ud800-\udfff\ufdd0-\ufdef"
    + "".join(chr(plane << 16 | 0xFFFE) + chr(plane << 16 | 0xFFFF) for plane in range(17))
    + "]"
)
# The bytes of a line that may hold such a character: any \\u escape, or the
# UTF-8 of U+FDD0-U+FDEF, U+FFFE/U+FFFF and U+xFFFE/U+xFFFF. A line without
# them (nearly every line) skips the walk over its strings.
_SUSPECT_BYTES: Final = re.compile(
    rb"\\u|\xef\xb7[\x90-\xaf]|\xef\xbf[\xbe\xbf]|[\xf0-\xf4][\x8f\x9f\xaf\xbf]\xbf[\xbe\xbf]"
)


def _may_hold_forbidden(raw: bytes) -> bool:
    r"""Whether ``_SUSPECT_BYTES`` occurs in ``raw``, found without running the regex on most lines.

    Every alternative but the escape needs a byte above 0x7f, so an ASCII line
    (nearly every line) is only searched for ``\u``: ``in`` and ``isascii``
    take well under a microsecond where the regex took about ten.
    """
    return b"\\u" in raw or (not raw.isascii() and _SUSPECT_BYTES.search(raw) is not None)


class _FieldError(ValueError):
    """Raised by hooks; carries what was expected for the error message.

    ``step`` is a path below the field being structured (e.g. ``.wages`` of a
    ``terms`` object), appended to the field's path.
    """

    def __init__(self, reason: str, expected: str | None = None, step: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.expected = expected
        self.step = step


def _bounded_repr() -> reprlib.Repr:
    # Untrusted values may nest ~1000 deep or be megabytes long: builtin repr()
    # would hit the recursion limit or copy all of it just to be cut.
    r = reprlib.Repr()
    r.maxlevel = 2
    r.maxstring = r.maxother = r.maxlong = 60
    r.maxlist = r.maxtuple = r.maxdict = 4
    return r


_REPR: Final = _bounded_repr()


def one_line(text: str) -> str:
    """``text`` with every non-printable character escaped, so messages stay one line."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _truncate(value: object, limit: int = 60) -> str:
    text = one_line(_REPR.repr(value))
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _names(keys: typing.Iterable[object], limit: int = 5) -> str:
    """The field names ``keys`` for a message: sorted, escaped, at most ``limit`` of them."""
    names = sorted(one_line(str(k))[:60] for k in keys)
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def _moment(parse: Callable[[object], _M]) -> Callable[[object], _M]:
    """``parse`` of ``events.time`` with its refusal as a field error (the converter's message form)."""

    @functools.wraps(parse)
    def hook(value: object) -> _M:
        try:
            return parse(value)
        except InvalidMomentError as e:
            raise _FieldError(f"got {_truncate(value)}", e.expected) from None

    return hook


parse_datetime: Final = _moment(time.parse_datetime)
parse_when: Final = _moment(time.parse_when)
_parse_date: Final = _moment(time.parse_date)
render_when: Final = time.render_when


def _is_when(tp: Any) -> bool:
    args = set(typing.get_args(tp))
    return typing.get_origin(tp) in (types.UnionType, typing.Union) and args == {dt.datetime, dt.date}


def _is_optional_when(tp: Any) -> bool:
    # cattrs has no hook for a three-member union with None (for_date).
    args = set(typing.get_args(tp))
    return typing.get_origin(tp) in (types.UnionType, typing.Union) and args == {
        dt.datetime,
        dt.date,
        type(None),
    }


def _parse_optional_when(value: object, _: Any = None) -> dt.datetime | dt.date | None:
    return None if value is None else parse_when(value)


def _render_optional_when(value: dt.date | None) -> str | None:
    return None if value is None else render_when(value)


def _str(value: object, _: Any = None) -> str:
    if not isinstance(value, str):
        raise _FieldError(f"got {_truncate(value)}", "a string")
    return value


def _int(value: object, _: Any = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _FieldError(f"got {_truncate(value)}", "an integer")
    if not _INT_MIN <= value <= _INT_MAX:
        raise _FieldError(f"got {_truncate(value)}", "an integer between -2**63 and 2**64-1")
    return value


def _float(value: object, _: Any = None) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _FieldError(f"got {_truncate(value)}", "a number")
    result = float(value)
    if not math.isfinite(result):
        raise _FieldError(f"got {_truncate(value)}", "a finite number")
    return result


def _number(value: object, _: Any = None) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _FieldError(f"got {_truncate(value)}", "a number")
    if isinstance(value, float) and not math.isfinite(value):
        raise _FieldError(f"got {_truncate(value)}", "a finite number")
    if isinstance(value, int) and not _INT_MIN <= value <= _INT_MAX:
        raise _FieldError(f"got {_truncate(value)}", "a number between -2**63 and 2**64-1")
    return value


def _str_dict(value: object, _: Any = None) -> dict[str, str]:
    # The only such field is agreement.tentative's terms: {issue_id: text}.
    if not isinstance(value, dict):
        raise _FieldError(f"got {_truncate(value)}", "an object of strings")
    for key, item in value.items():
        if not isinstance(key, str) or not SLUG_RE.fullmatch(key):
            raise _FieldError(f"key {_truncate(key)}", f"issue ids as keys, {_SLUG_EXPECTED}")
        if not isinstance(item, str):
            raise _FieldError(f"got {_truncate(item)}", "a string", step=f".{key}")
    return dict(value)


def _is_literal(tp: Any) -> bool:
    return typing.get_origin(tp) is typing.Literal


def _literal(value: object, tp: Any) -> Any:
    allowed = typing.get_args(tp)
    if value not in allowed or not isinstance(value, str):
        raise _FieldError(f"got {_truncate(value)}", "one of " + ", ".join(allowed))
    return value


def _is_homogeneous_tuple(tp: Any) -> bool:
    args = typing.get_args(tp)
    return typing.get_origin(tp) is tuple and len(args) == 2 and args[1] is Ellipsis


def _make_converter(*, detailed: bool = True) -> cattrs.Converter:
    conv = cattrs.Converter(forbid_extra_keys=True, detailed_validation=detailed)

    def array_only(tp: Any) -> Callable[[Any, Any], Any]:
        # cattrs would make a tuple of any iterable: {} or "" as an empty list.
        inner = homogenous_tuple_structure_factory(tp, conv)

        def structure(value: Any, _: Any) -> Any:
            if not isinstance(value, list | tuple):
                raise _FieldError(f"got {_truncate(value)}", "an array")
            return inner(value, tp)

        return structure

    def object_only(cls: type[Any]) -> Callable[[Any, Any], Any]:
        # Without this, a string or a list where an object belongs fails deep in
        # cattrs with an AttributeError about .keys().
        inner = make_dict_structure_fn(cls, conv)

        def structure(value: Any, _: Any) -> Any:
            if not isinstance(value, dict):
                raise _FieldError(f"got {_truncate(value)}", "an object")
            return inner(value, cls)

        return structure

    conv.register_structure_hook_factory(_is_homogeneous_tuple, array_only)
    conv.register_structure_hook_factory(attrs.has, object_only)
    conv.register_structure_hook(str, _str)
    conv.register_structure_hook(int, _int)
    conv.register_structure_hook(float, _float)
    conv.register_structure_hook_func(lambda t: t == (int | float), _number)
    conv.register_structure_hook_func(lambda t: t == dict[str, str], _str_dict)
    conv.register_structure_hook(dt.datetime, lambda v, _: parse_datetime(v))
    conv.register_structure_hook(dt.date, lambda v, _: _parse_date(v))
    conv.register_structure_hook_func(_is_when, lambda v, _: parse_when(v))
    conv.register_structure_hook_func(_is_optional_when, _parse_optional_when)
    conv.register_structure_hook_func(_is_literal, _literal)
    conv.register_unstructure_hook(dt.datetime, render_when)
    conv.register_unstructure_hook(dt.date, render_when)
    conv.register_unstructure_hook_func(_is_when, render_when)
    conv.register_unstructure_hook_func(_is_optional_when, _render_optional_when)

    def omit_defaults(cls: type[Any]) -> Callable[[Any], dict[str, Any]]:
        # Absent optional fields (None) are left out of the line; ``schema`` is
        # always unstructured, and left out by ``render_event`` when it is 1.
        overrides: dict[str, Any] = {
            a.name: override(omit_if_default=True)
            for a in attrs.fields(cls)
            if a.default is not attrs.NOTHING and not (a.name == "schema" and issubclass(cls, Event))
        }
        return make_dict_unstructure_fn(cls, conv, **overrides)

    conv.register_unstructure_hook_factory(attrs.has, omit_defaults)
    return conv


def _is_optional(tp: Any) -> bool:
    """``X | None`` for one type ``X`` (``When | None`` has three members: ``_is_optional_when``)."""
    args = typing.get_args(tp)
    return typing.get_origin(tp) in (types.UnionType, typing.Union) and len(args) == 2 and type(None) in args


def _optional_hooks(conv: cattrs.Converter) -> None:
    """Structure ``X | None`` with ``X``'s hook, found once (cattrs looks it up again for every value)."""

    def optional(tp: Any) -> Callable[[Any, Any], Any]:
        inner_type = next(arg for arg in typing.get_args(tp) if arg is not type(None))
        inner = conv.get_structure_hook(inner_type)

        def structure(value: Any, _: Any) -> Any:
            return None if value is None else inner(value, inner_type)

        return structure

    conv.register_structure_hook_factory(_is_optional, optional)


def _make_fast_converter() -> cattrs.Converter:
    """``converter``'s hooks without detailed validation, and without the work only a refusal needs.

    Whatever it refuses (any exception) is structured again by ``converter``,
    whose errors name the path, so its hooks only have to accept the same
    values and build the same result: times go straight to ``events.time``
    (no error translation), and ``X | None`` fields call ``X``'s hook, found
    once, where cattrs looks it up for every value.
    """
    conv = _make_converter(detailed=False)
    _optional_hooks(conv)
    conv.register_structure_hook(dt.datetime, lambda v, _: time.parse_datetime(v))
    conv.register_structure_hook(dt.date, lambda v, _: time.parse_date(v))
    conv.register_structure_hook_func(_is_when, lambda v, _: time.parse_when(v))
    conv.register_structure_hook_func(_is_optional_when, lambda v, _: None if v is None else time.parse_when(v))
    return conv


converter: Final = _make_converter()
_fast: Final = _make_fast_converter()
"""The same checks without cattrs' detailed validation: about twice as fast. Input
it refuses is structured again by ``converter``, whose errors name the path."""


def _trusted_when(value: str) -> dt.datetime | dt.date:
    return dt.date.fromisoformat(value) if len(value) == 10 else dt.datetime.fromisoformat(value)


def _make_trusted_converter() -> cattrs.Converter:
    """Structures lines this library rendered itself (``render_line``), checking nothing again.

    Every stored line passed ``parse_line`` and was rendered in the normalized
    form (``render_when`` times, numbers as numbers), so the hooks only build
    values: no patterns, ranges or names are checked. Reading the store back
    (catch-up, loading a history) spends about a third of its time decoding.
    """
    conv = cattrs.Converter(detailed_validation=False)
    same: Callable[[Any, Any], Any] = lambda value, _: value  # noqa: E731 - one hook, registered several times
    conv.register_structure_hook(str, same)
    conv.register_structure_hook(int, same)
    conv.register_structure_hook(float, lambda value, _: float(value))
    conv.register_structure_hook_func(lambda t: t == (int | float), same)
    conv.register_structure_hook_func(lambda t: t == dict[str, str], lambda value, _: dict(value))
    conv.register_structure_hook(dt.datetime, lambda value, _: dt.datetime.fromisoformat(value))
    conv.register_structure_hook(dt.date, lambda value, _: dt.date.fromisoformat(value))
    conv.register_structure_hook_func(_is_when, lambda value, _: _trusted_when(value))
    conv.register_structure_hook_func(_is_optional_when, lambda v, _: None if v is None else _trusted_when(v))
    conv.register_structure_hook_func(_is_literal, same)
    _optional_hooks(conv)
    return conv


_trusted: Final = _make_trusted_converter()
"""The one cattrs converter for events and their parts."""
_TRUSTED_HOOKS: Final[dict[type[Event], Callable[[Any, Any], Any]]] = {}
"""``_trusted``'s hook of each event class, looked up once, when first needed (``structure`` dispatches
on every call; generating them all on import would slow every command down)."""


# --- validation that depends on the field's name, not its type -------------


# A path below the line's object, built only when an error needs it:
# (parent, ".key" or "[index]") links, or None for the object itself.
_Where = tuple[Any, str] | None


def _path_of(where: _Where) -> str:
    steps: list[str] = []
    while where is not None:
        where, step = where
        steps.append(step)
    return "".join(reversed(steps)).lstrip(".")


def _check_string(value: str, where: _Where, limits: Limits, what: str = "string") -> None:
    if value.isascii():
        size = len(value)
        if "\x00" in value:
            _refuse_character(value, where, what)
    else:
        if FORBIDDEN_CHARACTERS.search(value):
            _refuse_character(value, where, what)
        try:
            size = len(value.encode())
        except UnicodeEncodeError:
            # Only a Python caller can pass these (orjson refuses them), and
            # they could not be written back as UTF-8.
            raise InvalidEventError(
                f"{what} with a lone surrogate", path=_path_of(where), expected="valid Unicode text"
            ) from None
    if size > limits.max_string_bytes:
        raise InvalidEventError(
            f"{what} of {size} bytes is too long",
            path=_path_of(where),
            expected=f"at most {limits.max_string_bytes} bytes",
        )


def _refuse_character(value: str, where: _Where, what: str) -> typing.NoReturn:
    found = FORBIDDEN_CHARACTERS.search(value)
    assert found is not None  # noqa: S101 - only called when one was found
    code = ord(found.group())
    kind = "NUL" if code == 0 else "a lone surrogate" if 0xD800 <= code <= 0xDFFF else "a Unicode non-character"
    raise InvalidEventError(
        f"{what} holds {kind} (U+{code:04X}) at character {found.start() + 1}",
        path=_path_of(where),
        expected="text without NUL, lone surrogates or Unicode non-characters",
    )


def _key_step(key: object) -> str:
    text = str(key)
    return f".{text}" if len(text) <= 64 else f".{text[:61]}..."


def _check_strings(value: object, limits: Limits) -> None:
    """Refuse over-long strings and forbidden characters (keys included) anywhere in ``value``.

    Iterative: decoded JSON may nest deeper than Python's recursion limit.
    An over-long key is reported at the object holding it.
    """
    stack: list[tuple[object, _Where]] = [(value, None)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, str):
            _check_string(item, where, limits)
        elif isinstance(item, dict):
            for key, sub in reversed(item.items()):
                if isinstance(key, str):
                    _check_string(key, where, limits, "key")
                stack.append((sub, (where, _key_step(key))))
        elif isinstance(item, list | tuple):
            stack.extend((sub, (where, f"[{index}]")) for index, sub in reversed(list(enumerate(item))))


def _check_slug(value: str, path: str) -> None:
    if not SLUG_RE.fullmatch(value):
        raise InvalidEventError(f"got {_truncate(value)}", path=path, expected=_SLUG_EXPECTED)


def _is_event_id(value: object) -> typing.TypeGuard[str]:
    return isinstance(value, str) and 1 <= len(value) <= 128 and value.isprintable()


def check_event_id(value: object, path: str = "id") -> str:
    """Return ``value`` if it is a valid event id, else raise ``InvalidEventError``."""
    if not _is_event_id(value):
        raise InvalidEventError(f"got {_truncate(value)}", path=path, expected="1-128 printable characters")
    return value


def _data_path(name: str) -> str:
    return name if name in _ENVELOPE_FIELDS else f"data.{name}"


_SLUGS: Final = frozenset({Meaning.SLUG, Meaning.PARTY, Meaning.ACTOR, Meaning.ISSUE})
_IDS: Final = frozenset({Meaning.EVENT_ID, Meaning.EVENT, Meaning.PROPOSAL})


_SLUG_FIELD: Final = 0
_ID_FIELD: Final = 1
_SHARE_FIELD: Final = 2


def _check_declared(item: object, path: str) -> None:
    """Check every field of an attrs instance by what the class declares it means (``events.model.Meaning``).

    Nested attrs values (a party, an agenda issue, tuples of them) are checked
    the same way, so ``parties[0].id`` is a slug because ``Party.id`` says so.
    """
    checks, nested = _declared_checks(type(item))
    for name, kind in checks:
        value = getattr(item, name)
        if value is None or not isinstance(value, str | int | float):
            continue
        # The common case (a valid value) is tested inline; anything else goes to the
        # same refusal as ever, which builds the path only then.
        if kind == _SLUG_FIELD:
            if not (isinstance(value, str) and SLUG_RE.fullmatch(value)):
                _check_slug(value, _field_path(path, name))  # type: ignore[arg-type]  # a str, by the class's own type
        elif kind == _ID_FIELD:
            if not _is_event_id(value):
                check_event_id(value, _field_path(path, name))
        elif not 0.0 <= value <= 1.0:  # type: ignore[operator]  # a number, by the class's own type
            raise InvalidEventError(f"got {value!r}", path=_field_path(path, name), expected="a share between 0 and 1")
    for a in nested:
        value = getattr(item, a)
        where = _field_path(path, a)
        if isinstance(value, tuple):
            for index, sub in enumerate(value):
                _check_declared(sub, f"{where}[{index}].")
        elif value is not None:
            _check_declared(value, f"{where}.")


def _field_path(path: str, name: str) -> str:
    return f"{path}{name}" if path else _data_path(name)


_DECLARED: dict[type, tuple[tuple[tuple[str, int], ...], tuple[str, ...]]] = {}


def _declared_checks(cls: type) -> tuple[tuple[tuple[str, int], ...], tuple[str, ...]]:
    """``(field, check)`` of each declared field of ``cls`` in field order, and its ``_nested`` fields (cached).

    Sorting the meanings once per class spares every line the enum hashing
    (``Enum.__hash__`` is Python code) of testing them against ``_SLUGS`` and ``_IDS``.
    """
    cached = _DECLARED.get(cls)
    if cached is None:
        checks: list[tuple[str, int]] = []
        for name, what in meanings(cls):
            if what in _SLUGS:
                checks.append((name, _SLUG_FIELD))
            elif what in _IDS:
                checks.append((name, _ID_FIELD))
            elif what is Meaning.SHARE:
                checks.append((name, _SHARE_FIELD))
        _DECLARED[cls] = cached = (tuple(checks), _nested(cls))
    return cached


_NESTED: dict[type, tuple[str, ...]] = {}


def _nested(cls: type) -> tuple[str, ...]:
    """The fields of ``cls`` that hold attrs instances with declared meanings (or tuples of them)."""
    cached = _NESTED.get(cls)
    if cached is None:
        names = []
        for a in attrs.fields(cls):
            tp = a.type
            inner = typing.get_args(tp)[0] if _is_homogeneous_tuple(tp) else tp
            if isinstance(inner, type) and attrs.has(inner) and meanings(inner):
                names.append(a.name)
        _NESTED[cls] = cached = tuple(names)
    return cached


def _check_names(event: Event) -> None:
    _check_declared(event, "")
    _check_envelope_paths(event)


def _check_envelope_paths(event: Event) -> None:
    value = getattr(event, "value", None)
    if isinstance(value, Value) and value.currency is not None and not _CURRENCY_RE.fullmatch(value.currency):
        raise InvalidEventError(
            f"got {_truncate(value.currency)}",
            path="data.value.currency",
            expected="an ISO 4217 currency code such as USD",
        )
    timezone = getattr(event, "timezone", None)
    if timezone is not None and not time.is_zone_name(timezone):
        raise InvalidEventError(f"got {_truncate(timezone)}", path="data.timezone", expected="an IANA time zone name")
    for name in _time_fields(type(event)):
        value = getattr(event, name)
        if value is not None and not time.in_time_range(value):
            # Checked here, not when parsing: stored events are read back without this check (parse_trusted),
            # so a store written before it stays readable.
            raise InvalidEventError(f"got {value.isoformat()}", path=_data_path(name), expected=time.TIME_RANGE)
    if (
        event.recorded_at is not None
        and isinstance(event.occurred_at, dt.datetime)
        and event.recorded_at < event.occurred_at
    ):
        raise InvalidEventError(
            "recorded before it occurred",
            path="recorded_at",
            expected=f"a time not earlier than occurred_at {event.occurred_at.isoformat()}",
        )


_TIME_FIELDS: dict[type[Event], tuple[str, ...]] = {}


def _time_fields(cls: type[Event]) -> tuple[str, ...]:
    """The fields of ``cls`` that hold a date or a datetime."""
    cached = _TIME_FIELDS.get(cls)
    if cached is None:
        kinds = (dt.date, dt.datetime, dt.date | None, dt.datetime | None)
        cached = _TIME_FIELDS[cls] = tuple(
            a.name for a in attrs.fields(cls) if a.type in kinds or _is_when(a.type) or _is_optional_when(a.type)
        )
    return cached


# --- parsing ---------------------------------------------------------------


def _first_error(exc: BaseException, path: str) -> tuple[str, str, str | None]:
    """Walk cattrs' exception group to the first leaf: (path, reason, expected)."""
    if isinstance(exc, ClassValidationError | IterableValidationError):
        for sub in exc.exceptions:
            note = getattr(sub, "__notes__", None) or []
            step = ""
            for n in note:
                name = getattr(n, "name", None)
                index = getattr(n, "index", None)
                if name is not None:
                    step = f".{name}"
                elif index is not None:
                    step = f"[{index}]"
            return _first_error(sub, f"{path}{step}")
    if isinstance(exc, ForbiddenExtraKeysError):
        return path, f"unknown field(s) {_names(exc.extra_fields)}", "only the fields of the spec"
    if isinstance(exc, _FieldError):
        return f"{path}{exc.step}", exc.reason, exc.expected
    if isinstance(exc, KeyError):
        return path, "required field is missing", "a value"
    return path, str(exc) or type(exc).__name__, None


def _map_path(path: str) -> str:
    path = path.lstrip(".")
    head = path.partition(".")[0]
    head_name = re.split(r"[\[.]", head)[0]
    if head_name in _ENVELOPE_FIELDS:
        return path
    return f"data.{path}" if path else "data"


def parse_event(obj: object, *, limits: Limits = DEFAULT_LIMITS) -> Event:
    """Build an event from a decoded JSON object of the spec's form."""
    return _parse_object(obj, limits, check_strings=True)


def _parse_object(obj: object, limits: Limits, *, check_strings: bool) -> Event:
    if not isinstance(obj, dict):
        raise InvalidEventError(f"got {type(obj).__name__}", expected="a JSON object per line")
    try:
        return _parse_event(obj, limits, check_strings=check_strings)
    except InvalidEventError as e:
        # Read only for a refusal (_parse_event changes nothing in obj).
        raw_id = obj.get("id")
        event_id = raw_id if _is_event_id(raw_id) else None
        # One line, whatever the input held: field names and keys come from it.
        raise InvalidEventError(
            one_line(e.reason),
            path=one_line(e.path),
            event_id=event_id,
            line=e.line,
            expected=None if e.expected is None else one_line(e.expected),
        ) from None


def _parse_event(obj: dict[str, Any], limits: Limits, *, check_strings: bool) -> Event:
    if not obj.keys() >= _REQUIRED_KEYS:
        # The first missing one in the spec's order, as the message names it.
        key = next(key for key in REQUIRED if key not in obj)
        raise InvalidEventError("required field is missing", path=key, expected="a value")
    if not obj.keys() <= _ENVELOPE_KEYS:
        extra = obj.keys() - _ENVELOPE_KEYS
        raise InvalidEventError(
            f"unknown field(s) {_names(extra)}",
            expected="only the envelope fields of the spec",
        )
    check_event_id(obj["id"])
    kind = obj["type"]
    cls = EVENT_TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise InvalidEventError(
            f"unknown event type {_truncate(kind)}", path="type", expected="a type of the spec's catalog"
        )
    data = obj["data"]
    if not isinstance(data, dict):
        raise InvalidEventError(f"got {_truncate(data)}", path="data", expected="an object")
    if check_strings:
        _check_strings(obj, limits)
    clash = data.keys() & _ENVELOPE_FIELDS
    if clash:
        raise InvalidEventError(f"unknown field(s) {_names(clash)}", path="data", expected=f"the fields of {kind}")
    schema = _schema_of(obj, cls)
    while schema < cls.SCHEMA:
        data = UPCASTERS[cls.TYPE, schema](data)
        schema += 1
    merged = _flat(obj, data, schema)
    try:
        event: Event = _fast.get_structure_hook(cls)(merged, cls)
    except Exception:  # noqa: BLE001 - any refusal is structured again below, for its path
        try:
            event = converter.structure(merged, cls)
        except (ClassValidationError, IterableValidationError, ForbiddenExtraKeysError, _FieldError) as e:
            path, reason, expected = _first_error(e, "")
            raise InvalidEventError(reason, path=_map_path(path), expected=expected) from None
    _check_names(event)
    return event


def _flat(obj: Mapping[str, Any], data: Mapping[str, Any], schema: int) -> dict[str, Any]:
    """The fields of an event class: ``data``'s, the envelope's that are present, and ``schema``."""
    merged = dict(data)
    for key in ("id", "negotiation", "occurred_at", "recorded_at", "source"):
        value = obj.get(key)
        if value is not None:
            merged[key] = value
    merged["schema"] = schema
    return merged


def parse_trusted(line: bytes) -> Event:
    """Read a line this library wrote itself (a stored event) without checking it again.

    The store holds only normalized lines that passed ``parse_line``; reading
    them back skips the checks. A line of an older schema, or anything else
    unexpected, goes through ``parse_line`` (which upcasts and names errors).
    """
    try:
        obj = orjson.loads(line)
        cls = EVENT_TYPES[obj["type"]]
        if obj.get("schema", 1) == cls.SCHEMA:
            hook = _TRUSTED_HOOKS.get(cls)
            if hook is None:
                hook = _TRUSTED_HOOKS[cls] = _trusted.get_structure_hook(cls)
            event: Event = hook(_flat(obj, obj["data"], cls.SCHEMA), cls)
            return event
    except Exception:  # noqa: BLE001, S110 - parse_line reads it again and says what is wrong
        pass
    return parse_line(line)


# --- schema versions ---------------------------------------------------------

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]
"""Reads the ``data`` object of one schema version and returns it in the next (a new dict).

It may raise ``InvalidEventError`` (with a path) for data that the old schema
did not allow; it runs before the data is structured, so it must not assume
any field has the right type.
"""


def _proposal_made_1_to_2(data: dict[str, Any]) -> dict[str, Any]:
    """``proposal.made`` 1 -> 2: ``value`` gained an optional ``currency``; schema 1 has none."""
    value = data.get("value")
    if isinstance(value, dict) and "currency" in value:
        raise InvalidEventError(
            "unknown field(s) currency",
            path="data.value",
            expected='no currency in schema 1 (write "schema": 2 for a value with a currency)',
        )
    return dict(data)


UPCASTERS: Final[Mapping[tuple[str, int], Upcaster]] = {
    ("proposal.made", 1): _proposal_made_1_to_2,
}
"""``(type, schema it reads)`` -> upcaster to the next schema; every type has one per version below its ``SCHEMA``."""


def _schema_of(obj: Mapping[str, Any], cls: type[Event]) -> int:
    """The line's schema version (absent or null: 1), refused unless 1 to the class's ``SCHEMA``."""
    raw = obj.get("schema")
    if raw is None:
        return 1
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise InvalidEventError(f"got {_truncate(raw)}", path="schema", expected="an integer schema version")
    if raw < 1:
        raise InvalidEventError(f"got {raw}", path="schema", expected="a schema version >= 1")
    if raw > cls.SCHEMA:
        known = "schema 1" if cls.SCHEMA == 1 else f"schema 1 to {cls.SCHEMA}"
        raise InvalidEventError(
            f"schema {_truncate(raw)} is newer than this version of negotiation-log reads",
            path="schema",
            expected=f"{known} for {cls.TYPE}",
        )
    return raw


def _readable_id(raw: bytes) -> str | None:
    """The event id of a line that is not valid JSON, when it can still be read."""
    found = _ID_RE.search(raw)
    if not found:
        return None
    try:
        text = found.group(1).decode()
    except UnicodeDecodeError:
        return None
    return text if _is_event_id(text) else None


_BIG_INT_RE: Final = re.compile(rb"\d{19}")
"""A run of 19 digits: the line may hold an integer orjson reads as a float."""
_DIGITS_AS_ZEROS: Final = bytes(0x30 if 0x30 <= b <= 0x39 else 0x20 for b in range(256))
"""A ``bytes.translate`` table: each ASCII digit to ``0``, every other byte to a space."""
_NINETEEN_DIGITS: Final = b"0" * 19


def _has_19_digits(raw: bytes) -> bool:
    r"""Whether ``_BIG_INT_RE`` occurs in ``raw`` (a bytes ``\d`` is ``[0-9]``).

    Translating the digits to zeros and looking for 19 of them costs about a
    microsecond; the regex tried a match at every digit of every line (ids and
    times are full of them) and took about ten.
    """
    return _NINETEEN_DIGITS in raw.translate(_DIGITS_AS_ZEROS)


def _refuse_inexact_integers(raw: bytes, *, event_id: object) -> None:
    """Refuse integers beyond 64 bits: orjson would read them as floats, silently changing them."""

    def exact(text: str) -> int:
        value = int(text)
        if not -(2**63) <= value < 2**64:
            raise InvalidEventError(
                f"integer {_truncate(text)} is too large to be read exactly",
                expected="an integer within 64 bits (or a string)",
                event_id=event_id if _is_event_id(event_id) else None,
            )
        return value

    json.loads(raw, parse_int=exact)


def long_line_error(size: int, head: bytes, limits: Limits = DEFAULT_LIMITS) -> InvalidEventError:
    """The refusal of a line of ``size`` bytes, over ``limits.max_line_bytes``, that starts with ``head``.

    A reader that stops keeping a line once it passes the limit keeps only its
    start; the event id is looked for there, so the refusal can name it.
    """
    return InvalidEventError(
        f"line of {size} bytes is too long",
        expected=f"at most {limits.max_line_bytes} bytes",
        event_id=_readable_id(head[:_ID_SEARCH_BYTES]),
    )


def parse_line(line: bytes | str, *, limits: Limits = DEFAULT_LIMITS) -> Event:
    """Parse one JSON Lines line (without the decision to skip blanks/comments)."""
    # A str may hold lone surrogates: keep them, as bytes orjson will refuse.
    raw = line.encode(errors="surrogatepass") if isinstance(line, str) else line
    size = len(raw)
    if size > limits.max_line_bytes:
        raise long_line_error(size, raw, limits)
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        # Name the event when its id can still be read, so the user finds it.
        raise InvalidEventError(
            f"not valid JSON ({one_line(str(e))})",
            expected="one UTF-8 JSON object per line",
            event_id=_readable_id(raw),
        ) from None
    # Decoded from UTF-8 by orjson, no string holds a lone surrogate, and none
    # is longer than the line: only a line longer than the string limit, or one
    # whose bytes may spell a forbidden character, needs the (costly) walk over
    # every string.
    event = _parse_object(obj, limits, check_strings=size > limits.max_string_bytes or _may_hold_forbidden(raw))
    if _has_19_digits(raw):
        _refuse_inexact_integers(raw, event_id=event.id)
    return event


# --- rendering -------------------------------------------------------------


def render_event(event: Event) -> dict[str, Any]:
    """The spec's JSON object for ``event``: envelope first, then ``data``."""
    flat: dict[str, Any] = converter.unstructure(event)
    out: dict[str, Any] = {"id": flat.pop("id"), "type": event.TYPE, "negotiation": flat.pop("negotiation")}
    out["occurred_at"] = flat.pop("occurred_at")
    if "recorded_at" in flat:
        out["recorded_at"] = flat.pop("recorded_at")
    schema = flat.pop("schema")
    if schema != 1:  # the spec's default: absent means 1
        out["schema"] = schema
    if "source" in flat:
        out["source"] = flat.pop("source")
    out["data"] = flat
    return out


def render_line(event: Event) -> bytes:
    """One normalized JSON Lines line for ``event``, without the newline."""
    return orjson.dumps(render_event(event))


def source_of(value: Mapping[str, Any] | None) -> Source | None:
    """Build a ``Source`` from its JSON object, for callers outside a line."""
    return None if value is None else converter.structure(value, Source)
