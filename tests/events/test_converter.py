"""The JSON Lines form: round trips, the normalized form, and every way a line is refused."""

from __future__ import annotations

import copy
import datetime as dt
import importlib
import json
import re
from collections.abc import Callable
from typing import Any
from unittest import mock

import attrs
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from events import (
    DEFAULT_LIMITS,
    EVENT_TYPES,
    AgreementTentative,
    Event,
    InvalidEventError,
    Limits,
    NegotiationOpened,
    ProposalMade,
    StrikeAuthorized,
    TalksHeld,
    TalksScheduled,
    parse_event,
    parse_line,
    render_event,
    render_line,
)
from events.converter import parse_trusted
from tests.strategies import any_event, events_of, json_values, texts

TYPES = sorted(EVENT_TYPES.values(), key=lambda cls: cls.TYPE)
TYPE_IDS = [cls.TYPE for cls in TYPES]
ENVELOPE_ORDER = ("id", "type", "negotiation", "occurred_at", "recorded_at", "schema", "source", "data")
TIMESTAMP_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{6})?[+-]\d{2}:\d{2}")

# --- sample lines ------------------------------------------------------------

PROPOSAL: dict[str, Any] = {
    "id": "e-17",
    "type": "proposal.made",
    "negotiation": "wga-amptp-2023",
    "occurred_at": "2023-05-01T10:00:00-07:00",
    "recorded_at": "2023-05-02T09:00:00+00:00",
    "source": {"url": "https://example.org/wga", "publisher": "WGA"},
    "data": {
        "by": "wga",
        "issue": "ai",
        "terms": "No AI-written source material",
        "value": {"amount": 5, "unit": "percent"},
    },
}
OPENED: dict[str, Any] = {
    "id": "e-1",
    "type": "negotiation.opened",
    "negotiation": "wga-amptp-2023",
    "occurred_at": "2023-03-20",
    "data": {
        "title": "WGA v. AMPTP 2023",
        "parties": [
            {"id": "wga", "name": "Writers Guild of America", "role": "union"},
            {"id": "amptp", "name": "AMPTP", "role": "employer"},
        ],
        "issues": [{"id": "ai", "title": "Artificial intelligence"}],
        "timezone": "America/Los_Angeles",
        "contract_expires_on": "2023-05-01",
    },
}
VOTE: dict[str, Any] = {
    "id": "e-30",
    "type": "strike.authorized",
    "negotiation": "wga-amptp-2023",
    "occurred_at": "2023-04-17",
    "data": {"by": "wga", "yes_share": 0.979, "turnout": 0.785},
}
RATIFIED: dict[str, Any] = {
    "id": "e-90",
    "type": "ratification.completed",
    "negotiation": "wga-amptp-2023",
    "occurred_at": "2023-10-09",
    "data": {"by": "wga", "yes_share": 0.99, "outcome": "ratified"},
}


def edit(obj: dict[str, Any], path: str, value: Any = ..., *, drop: bool = False) -> dict[str, Any]:
    """A deep copy of ``obj`` with the dotted ``path`` set to ``value`` (or removed)."""
    out = copy.deepcopy(obj)
    *parents, last = path.split(".")
    node: Any = out
    for step in parents:
        node = node[int(step)] if isinstance(node, list) else node[step]
    key: Any = int(last) if isinstance(node, list) else last
    if drop:
        del node[key]
    else:
        node[key] = value
    return out


def line(obj: Any) -> bytes:
    """The JSON text of ``obj`` (stdlib json: it writes NaN and lone surrogates on request)."""
    return json.dumps(obj, ensure_ascii=False).encode("utf-8", "surrogatepass")


def refused(raw: bytes | str, *, limits: Limits = DEFAULT_LIMITS) -> InvalidEventError:
    """The error ``parse_line`` raises for ``raw``, after checking its message is one line naming the id."""
    with pytest.raises(InvalidEventError) as info:
        parse_line(raw, limits=limits)
    err = info.value
    text = str(err)
    assert len(text.splitlines()) == 1, text
    assert text.isprintable(), text
    if err.event_id is not None:
        assert f"event {err.event_id}: " in text
    if err.path:
        assert f"{err.path}: " in text
    return err


# --- round trips -------------------------------------------------------------


@pytest.mark.parametrize("cls", TYPES, ids=TYPE_IDS)
@settings(max_examples=15, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_round_trip_every_type(cls: type[Event], data: st.DataObject) -> None:
    """Parsing the rendered line of any valid event gives back an equal event of the same class."""
    event = data.draw(events_of(cls))
    parsed = parse_line(render_line(event))
    assert type(parsed) is cls
    assert parsed == event


@pytest.mark.parametrize("cls", TYPES, ids=TYPE_IDS)
@settings(max_examples=15, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_trusted_read_of_a_rendered_line_equals_the_checked_one(cls: type[Event], data: st.DataObject) -> None:
    """``parse_trusted`` reads back what ``render_line`` wrote as ``parse_line`` does, without falling back to it."""
    event = data.draw(events_of(cls))
    line = render_line(event)
    with mock.patch.object(converter_module, "parse_line", _no_fallback):
        trusted = parse_trusted(line)
    assert type(trusted) is cls
    assert trusted == parse_line(line) == event
    assert render_line(trusted) == line


converter_module = importlib.import_module("events.converter")
"""The module (``events.converter`` as an attribute is the package's cattrs converter)."""


def _no_fallback(line: object) -> Event:
    raise AssertionError(f"parse_trusted fell back to parse_line for {line!r}")


@settings(max_examples=75)
@given(any_event())
def test_normalized_form_is_a_fixed_point(event: Event) -> None:
    """Rendering a parsed line gives the very same bytes: the normalized form is a fixed point."""
    rendered = render_line(event)
    assert render_line(parse_line(rendered)) == rendered
    assert render_line(parse_line(rendered.decode())) == rendered


def _denormalize(obj: dict[str, Any], draw: Callable[[st.SearchStrategy[Any]], Any]) -> dict[str, Any]:
    """An equivalent but not normalized spelling of a rendered event object."""
    out = copy.deepcopy(obj)
    if "schema" not in out and draw(st.booleans()):
        out["schema"] = 1
    for key in ("recorded_at", "source"):
        if key not in out and draw(st.booleans()):
            out[key] = None
    for holder, key in ((out, "occurred_at"), (out, "recorded_at"), (out["data"], "for_date")):
        value = holder.get(key)
        if isinstance(value, str) and "T" in value:
            if draw(st.booleans()):
                value = value.replace("+00:00", "Z")
            if draw(st.booleans()):
                value = value.replace("T", " ", 1)
            if "." in value and draw(st.booleans()):
                value = re.sub(r"\.(\d{6})", r".\g<1>000", value)  # nanosecond digits, all zero
            holder[key] = value
    for key in ("yes_share", "turnout"):
        if out["data"].get(key) in (0.0, 1.0) and draw(st.booleans()):
            out["data"][key] = int(out["data"][key])
    order = draw(st.permutations(list(out)))
    return {key: out[key] for key in order}


@settings(max_examples=60)
@given(any_event(), st.data())
def test_equivalent_spellings_parse_to_the_same_event(event: Event, data: st.DataObject) -> None:
    """Shuffled keys, explicit nulls and defaults, Z and space in timestamps all parse and render normalized."""
    spelled = _denormalize(render_event(event), data.draw)
    raw = json.dumps(spelled, ensure_ascii=data.draw(st.booleans()), indent=data.draw(st.sampled_from([None, 1])))
    parsed = parse_line(raw.replace("\n", " "))
    assert parsed == event
    assert render_line(parsed) == render_line(event)


def _walk(value: Any) -> list[Any]:
    found = [value]
    if isinstance(value, dict):
        for item in value.values():
            found += _walk(item)
    elif isinstance(value, list):
        for item in value:
            found += _walk(item)
    return found


@settings(max_examples=75)
@given(any_event())
def test_rendering_leaves_out_absent_fields(event: Event) -> None:
    """The rendered line holds no null anywhere, and a field is absent exactly when it is None."""
    rendered = orjson.loads(render_line(event))
    assert None not in _walk(rendered)
    for a in attrs.fields(type(event)):
        value = getattr(event, a.name)
        holder = rendered if a.name in ENVELOPE_ORDER else rendered["data"]
        if a.name == "schema":
            assert ("schema" in holder) == (value != 1)
        else:
            assert (a.name in holder) == (value is not None), a.name


@settings(max_examples=75)
@given(any_event())
def test_envelope_key_order(event: Event) -> None:
    """Envelope keys come in spec order: id, type, negotiation, occurred_at, [recorded_at], [schema], [source], data."""
    keys = list(orjson.loads(render_line(event)))
    expected = [
        key
        for key in ENVELOPE_ORDER
        if key not in ("recorded_at", "schema", "source")
        or (key == "schema" and event.schema != 1)
        or (key != "schema" and getattr(event, key) is not None)
    ]
    assert keys == expected
    assert keys[0] == "id"
    assert keys[-1] == "data"


@settings(max_examples=75)
@given(any_event())
def test_rendered_line_is_compact_utf8_with_rfc3339_times(event: Event) -> None:
    """A rendered line is one compact UTF-8 JSON object; every timestamp carries an offset."""
    rendered = render_line(event)
    assert b"\n" not in rendered
    assert b"\r" not in rendered
    assert rendered == orjson.dumps(orjson.loads(rendered))
    obj = orjson.loads(rendered)
    if event.recorded_at is not None:
        assert TIMESTAMP_RE.fullmatch(obj["recorded_at"])
    if isinstance(event.occurred_at, dt.datetime):
        assert TIMESTAMP_RE.fullmatch(obj["occurred_at"])
    else:
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", obj["occurred_at"])


def test_sample_lines_parse_to_the_expected_events() -> None:
    """Hand-written lines of the spec's form parse to the expected field values."""
    opened = parse_line(line(OPENED))
    assert isinstance(opened, NegotiationOpened)
    assert opened.occurred_at == dt.date(2023, 3, 20)
    assert [p.role for p in opened.parties] == ["union", "employer"]
    assert opened.timezone == "America/Los_Angeles"
    assert opened.contract_expires_on == dt.date(2023, 5, 1)
    made = parse_line(line(PROPOSAL))
    assert isinstance(made, ProposalMade)
    assert made.occurred_at == dt.datetime(2023, 5, 1, 17, tzinfo=dt.UTC)
    assert made.value is not None
    assert made.value.amount == 5
    assert isinstance(made.value.amount, int)
    assert made.source is not None
    assert made.source.publisher == "WGA"
    assert made.source.title is None
    vote = parse_line(line(VOTE))
    assert isinstance(vote, StrikeAuthorized)
    assert vote.yes_share == pytest.approx(0.979)


def test_render_of_a_known_event_is_exact() -> None:
    """A known event renders to the exact normalized bytes, dates and offsets as written."""
    event = TalksScheduled(
        id="e-5",
        negotiation="wga-amptp-2023",
        occurred_at=dt.datetime(2023, 4, 1, 9, 30, 0, 120, tzinfo=dt.timezone(dt.timedelta(hours=-7))),
        recorded_at=dt.datetime(2023, 4, 2, tzinfo=dt.UTC),
        for_date=dt.date(2023, 4, 10),
    )
    assert render_line(event) == (
        b'{"id":"e-5","type":"talks.scheduled","negotiation":"wga-amptp-2023",'
        b'"occurred_at":"2023-04-01T09:30:00.000120-07:00","recorded_at":"2023-04-02T00:00:00+00:00",'
        b'"data":{"for_date":"2023-04-10"}}'
    )


def test_agreement_terms_round_trip_in_order() -> None:
    """Tentative agreement terms keep their issue ids and their order."""
    event = AgreementTentative(
        id="e-80",
        negotiation="n",
        occurred_at=dt.date(2023, 9, 24),
        terms={"wages": "+5%", "ai": "no AI credits"},
    )
    rendered = render_line(event)
    assert rendered.endswith(b'"data":{"terms":{"wages":"+5%","ai":"no AI credits"}}}')
    assert parse_line(rendered) == event


def test_recorded_at_equal_to_occurred_at_across_offsets_is_accepted() -> None:
    """recorded_at at the same instant as occurred_at, written in another offset, is accepted."""
    event = parse_line(line(edit(PROPOSAL, "recorded_at", "2023-05-01T12:00:00-05:00")))
    assert event.recorded_at == event.occurred_at


def test_fractional_seconds_beyond_microseconds() -> None:
    """Nanosecond digits that are zero are accepted; nonzero ones are refused, not silently cut."""
    ok = parse_line(line(edit(PROPOSAL, "occurred_at", "2023-05-01T10:00:00.123456000-07:00")))
    assert isinstance(ok.occurred_at, dt.datetime)
    assert ok.occurred_at.microsecond == 123456
    err = refused(line(edit(PROPOSAL, "occurred_at", "2023-05-01T10:00:00.123456789-07:00")))
    assert err.path == "occurred_at"
    assert err.event_id == "e-17"


def test_parse_event_takes_a_decoded_object() -> None:
    """parse_event builds the same event from a mapping as parse_line from its text."""
    assert parse_event(copy.deepcopy(PROPOSAL)) == parse_line(line(PROPOSAL))


# --- refused lines: one test per class of malformed input ---------------------


@pytest.mark.parametrize("kind", ["strike.started", "Strike.Called", "", 42, None, ["talks.held"]])
def test_unknown_type(kind: Any) -> None:
    """A type outside the catalog is refused at path type, naming the event."""
    err = refused(line(edit(PROPOSAL, "type", kind)))
    assert err.path == "type"
    assert err.event_id == "e-17"
    assert "unknown event type" in err.reason


@pytest.mark.parametrize("field", ["type", "negotiation", "occurred_at", "data"])
def test_missing_envelope_field(field: str) -> None:
    """A missing required envelope field is refused at its own path."""
    err = refused(line(edit(PROPOSAL, field, drop=True)))
    assert err.path == field
    assert err.event_id == "e-17"
    assert "missing" in err.reason


def test_missing_id() -> None:
    """A line without an id is refused at path id, and names no event."""
    err = refused(line(edit(PROPOSAL, "id", drop=True)))
    assert err.path == "id"
    assert err.event_id is None


@pytest.mark.parametrize(
    ("obj", "field", "path"),
    [
        (PROPOSAL, "data.by", "data.by"),
        (PROPOSAL, "data.terms", "data.terms"),
        (PROPOSAL, "data.value.unit", "data.value.unit"),
        (OPENED, "data.parties.1.role", "data.parties[1].role"),
        (OPENED, "data.issues", "data.issues"),
        (VOTE, "data.yes_share", "data.yes_share"),
        (RATIFIED, "data.outcome", "data.outcome"),
    ],
)
def test_missing_data_field(obj: dict[str, Any], field: str, path: str) -> None:
    """A missing required data field is refused at its dotted path under data."""
    err = refused(line(edit(obj, field, drop=True)))
    assert err.path == path
    assert err.event_id == obj["id"]
    assert "missing" in err.reason


@pytest.mark.parametrize(
    ("obj", "field", "value", "path"),
    [
        (VOTE, "data.yes_share", "0.9", "data.yes_share"),  # string where number
        (PROPOSAL, "data.value.amount", "5", "data.value.amount"),
        (PROPOSAL, "data.terms", 5, "data.terms"),  # number where string
        (PROPOSAL, "data.by", 7, "data.by"),
        (OPENED, "data.parties.0.name", 1.5, "data.parties[0].name"),
        (PROPOSAL, "source.url", 1, "source.url"),
        (VOTE, "data.turnout", True, "data.turnout"),  # bool where number
        (PROPOSAL, "data.value.amount", False, "data.value.amount"),
        (PROPOSAL, "schema", True, "schema"),
        (PROPOSAL, "schema", 1.5, "schema"),
        (OPENED, "data.parties", {}, "data.parties"),  # object where array
        (OPENED, "data.issues", "", "data.issues"),
        (PROPOSAL, "data.value", [5, "percent"], "data.value"),  # array where object
        (PROPOSAL, "source", "https://example.org", "source"),
    ],
)
def test_mistyped_field(obj: dict[str, Any], field: str, value: Any, path: str) -> None:
    """A value of the wrong JSON type is refused at its path, saying what was expected."""
    err = refused(line(edit(obj, field, value)))
    assert err.path == path
    assert err.event_id == obj["id"]
    assert err.expected


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("occurred_at", "2023-05-01T10:00:00"),
        ("occurred_at", "2023-05-01T10:00"),
        ("recorded_at", "2023-05-02T09:00:00"),
        ("recorded_at", "2023-05-02"),  # knowledge time is an instant, not a day
        ("occurred_at", "2023-05-01T10:00:00+0700"),
        ("occurred_at", "May 1, 2023"),
    ],
)
def test_timestamp_without_offset(field: str, value: str) -> None:
    """A timestamp without a UTC offset (or otherwise not RFC 3339) is refused at its field."""
    err = refused(line(edit(PROPOSAL, field, value)))
    assert err.path == field
    assert err.event_id == "e-17"
    assert err.expected is not None
    assert "offset" in err.expected


@pytest.mark.parametrize(
    ("obj", "field", "value", "path"),
    [
        (OPENED, "occurred_at", "2023-02-30", "occurred_at"),
        (OPENED, "data.contract_expires_on", "2023-02-29", "data.contract_expires_on"),
        (PROPOSAL, "occurred_at", "2023-02-30T10:00:00Z", "occurred_at"),
        (PROPOSAL, "recorded_at", "2023-05-02T25:00:00Z", "recorded_at"),
        (PROPOSAL, "occurred_at", "2023-13-01", "occurred_at"),
        (PROPOSAL, "occurred_at", "2023-05-01T10:00:00+24:00", "occurred_at"),
    ],
)
def test_impossible_date(obj: dict[str, Any], field: str, value: str, path: str) -> None:
    """A well-formed but impossible date or time is refused as not a real one."""
    err = refused(line(edit(obj, field, value)))
    assert err.path == path
    assert err.event_id == obj["id"]
    assert err.expected is not None
    assert "real" in err.expected


@pytest.mark.parametrize(
    ("obj", "field", "value", "path"),
    [
        (PROPOSAL, "negotiation", "WGA-2023", "negotiation"),
        (PROPOSAL, "negotiation", "-wga", "negotiation"),
        (PROPOSAL, "negotiation", "a" * 129, "negotiation"),
        (PROPOSAL, "negotiation", "", "negotiation"),
        (PROPOSAL, "negotiation", "wga 2023", "negotiation"),
        (PROPOSAL, "data.by", "Wga", "data.by"),
        (PROPOSAL, "data.issue", ".ai", "data.issue"),
        (OPENED, "data.parties.1.id", "AMPTP", "data.parties[1].id"),
        (OPENED, "data.issues.0.id", "_ai", "data.issues[0].id"),
    ],
)
def test_bad_slug(obj: dict[str, Any], field: str, value: str, path: str) -> None:
    """Negotiation, party and issue ids outside ^[a-z0-9][a-z0-9._-]{0,127}$ are refused."""
    err = refused(line(edit(obj, field, value)))
    assert err.path == path
    assert err.event_id == obj["id"]


def test_slug_of_128_chars_is_accepted() -> None:
    """A slug of exactly 128 characters is the longest accepted."""
    assert parse_line(line(edit(PROPOSAL, "negotiation", "a" * 128))).negotiation == "a" * 128


@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity", b"1e999", b"-1e999"])
def test_nan_and_infinity_in_a_line(literal: bytes) -> None:
    """NaN and infinite numbers are not JSON: the line is refused, naming its id."""
    raw = line(VOTE).replace(b"0.979", literal)
    err = refused(raw)
    assert err.event_id == "e-30"
    assert err.path == ""


@pytest.mark.parametrize("number", [float("nan"), float("inf"), float("-inf")])
def test_nan_and_infinity_in_a_mapping(number: float) -> None:
    """A non-finite number handed to parse_event is refused at its field."""
    with pytest.raises(InvalidEventError) as info:
        parse_event(edit(PROPOSAL, "data.value.amount", number))
    assert info.value.path == "data.value.amount"
    assert info.value.event_id == "e-17"


@pytest.mark.parametrize(
    ("obj", "field", "value"),
    [
        (VOTE, "data.yes_share", -0.01),
        (VOTE, "data.yes_share", 1.0000001),
        (VOTE, "data.yes_share", 97.9),
        (VOTE, "data.turnout", 1.5),
        (RATIFIED, "data.yes_share", -1),
        (RATIFIED, "data.turnout", 2),
    ],
)
def test_share_out_of_range(obj: dict[str, Any], field: str, value: float) -> None:
    """yes_share and turnout outside 0..1 are refused at their path."""
    err = refused(line(edit(obj, field, value)))
    assert err.path == field
    assert err.event_id == obj["id"]


@pytest.mark.parametrize("share", [0, 1, 0.0, 1.0])
def test_share_bounds_are_accepted(share: float) -> None:
    """Shares of exactly 0 and 1 are accepted."""
    event = parse_line(line(edit(VOTE, "data.yes_share", share)))
    assert isinstance(event, StrikeAuthorized)
    assert event.yes_share == share


@pytest.mark.parametrize(
    "recorded",
    ["2023-05-01T16:59:59.999999+00:00", "2023-05-01T09:59:59-07:00", "2023-04-30T10:00:00-07:00"],
)
def test_recorded_before_occurred(recorded: str) -> None:
    """recorded_at earlier than occurred_at (compared as instants) is refused at recorded_at."""
    err = refused(line(edit(PROPOSAL, "recorded_at", recorded)))
    assert err.path == "recorded_at"
    assert err.event_id == "e-17"


@pytest.mark.parametrize(
    ("obj", "field", "path"),
    [
        (PROPOSAL, "data.terms", "data.terms"),
        (PROPOSAL, "source.publisher", "source.publisher"),
        (OPENED, "data.parties.1.name", "data.parties[1].name"),
    ],
)
def test_string_over_64_kib(obj: dict[str, Any], field: str, path: str) -> None:
    """A string over 64 KiB of UTF-8 is refused at its path; exactly 64 KiB is accepted."""
    limit = DEFAULT_LIMITS.max_string_bytes
    assert limit == 64 * 1024
    parse_line(line(edit(obj, field, "x" * limit)))
    err = refused(line(edit(obj, field, "x" * (limit + 1))))
    assert err.path == path
    assert err.event_id == obj["id"]


def test_string_limit_counts_utf8_bytes() -> None:
    """The string limit counts UTF-8 bytes, not characters."""
    err = refused(line(edit(PROPOSAL, "data.terms", "é" * (32 * 1024 + 1))))
    assert err.path == "data.terms"
    assert "65538 bytes" in err.reason


def test_long_object_key_is_refused() -> None:
    """An object key over the string limit is refused like a value."""
    err = refused(line(edit(PROPOSAL, "data." + "k" * 70_000, 1)))
    assert err.event_id == "e-17"
    assert err.path == "data"


def test_line_over_1_mib() -> None:
    """A line over 1 MiB is refused before decoding, naming the id at its start; 1 MiB exactly is read."""
    limit = DEFAULT_LIMITS.max_line_bytes
    assert limit == 1024 * 1024
    raw = line(PROPOSAL)
    assert parse_line(raw + b" " * (limit - len(raw))).id == "e-17"
    err = refused(raw + b" " * (limit - len(raw) + 1))
    assert err.event_id == "e-17"
    assert err.path == ""
    assert f"{limit + 1} bytes" in err.reason


def test_line_limit_counts_utf8_bytes_of_a_str() -> None:
    """A str line is measured in UTF-8 bytes."""
    text = line(PROPOSAL).decode()
    limits = Limits(max_line_bytes=len(text.encode()) + 1)
    padded = text.replace("No AI", "Né AI")
    assert len(padded) == len(text)
    parse_line(padded, limits=limits)
    err = refused(padded.replace("source material", "sourcé material"), limits=limits)
    assert err.path == ""


def test_configurable_limits() -> None:
    """Smaller Limits refuse lines and strings that the defaults accept."""
    raw = line(PROPOSAL)
    parse_line(raw)
    err = refused(raw, limits=Limits(max_line_bytes=len(raw) - 1))
    assert err.event_id == "e-17"
    assert err.path == ""
    parse_line(raw, limits=Limits(max_line_bytes=len(raw)))
    longest = len(PROPOSAL["data"]["terms"])
    parse_line(raw, limits=Limits(max_string_bytes=longest))
    err = refused(raw, limits=Limits(max_string_bytes=longest - 1))
    assert err.path == "data.terms"
    assert err.event_id == "e-17"
    with pytest.raises(InvalidEventError):
        parse_event(copy.deepcopy(PROPOSAL), limits=Limits(max_string_bytes=3))


@pytest.mark.parametrize(
    ("obj", "field", "path"),
    [
        (PROPOSAL, "data.colour", "data"),
        (PROPOSAL, "data.type", "data"),
        (PROPOSAL, "data.id", "data"),  # an envelope field inside data
        (PROPOSAL, "data.value.currency", "data.value"),
        (PROPOSAL, "source.author", "source"),
        (OPENED, "data.parties.0.email", "data.parties[0]"),
    ],
)
def test_unknown_data_field(obj: dict[str, Any], field: str, path: str) -> None:
    """An unknown field in data or a nested object is refused at that object, naming the field."""
    err = refused(line(edit(obj, field, "x")))
    assert err.path == path
    assert err.event_id == obj["id"]
    assert field.rsplit(".", 1)[1] in err.reason


@pytest.mark.parametrize("field", ["colour", "by", "Type", "data2"])
def test_unknown_envelope_field(field: str) -> None:
    """An unknown envelope field is refused at the line's root, naming the field."""
    err = refused(line(edit(PROPOSAL, field, "x")))
    assert err.path == ""
    assert err.event_id == "e-17"
    assert field in err.reason


def test_unknown_field_names_are_escaped() -> None:
    """Unknown field names with control characters are escaped, keeping the message one line."""
    err = refused(line(edit(PROPOSAL, "data.a\nb\u2028c", 1)))
    assert err.path == "data"
    assert "a\\nb\\u2028c" in str(err)


@pytest.mark.parametrize("data", [[], ["by", "wga"], "by=wga", 1, None, True])
def test_data_not_an_object(data: Any) -> None:
    """data that is not a JSON object is refused at path data."""
    err = refused(line(edit(PROPOSAL, "data", data)))
    assert err.path == "data"
    assert err.event_id == "e-17"


@pytest.mark.parametrize("raw", [b"[]", b'[{"id": "e-1"}]', b'"e-1"', b"42", b"null", b"true"])
def test_line_not_an_object(raw: bytes) -> None:
    """A line holding a JSON array or scalar is refused at the root, naming no event."""
    err = refused(raw)
    assert err.path == ""
    assert err.event_id is None
    assert err.expected is not None
    assert "object" in err.expected


@pytest.mark.parametrize("raw", [b"", b"   ", b"{", b'{"id": "e-1",}', b"# comment", b"{'id': 'e-1'}"])
def test_not_json(raw: bytes) -> None:
    """Text that is not JSON at all is refused (blank and comment lines are the caller's to skip)."""
    err = refused(raw)
    assert err.path == ""
    assert "not valid JSON" in err.reason


def test_invalid_json_names_a_readable_id() -> None:
    """A line broken after its id still names that id."""
    err = refused(line(PROPOSAL)[:-5])
    assert err.event_id == "e-17"


def test_invalid_utf8() -> None:
    """Bytes that are not UTF-8 are refused; the id is named when it is readable."""
    raw = line(PROPOSAL).replace(b"No AI", b"No \xff\xfe AI")
    err = refused(raw)
    assert err.event_id == "e-17"
    assert err.path == ""
    err = refused(line(PROPOSAL).replace(b'"e-17"', b'"e-\xc3"'))
    assert err.event_id is None


def test_lone_surrogates_are_refused() -> None:
    """Lone surrogates, escaped in bytes or raw in a str or a mapping, are refused."""
    escaped = line(PROPOSAL).replace(b"No AI", b"No \\ud800 AI")
    assert refused(escaped).event_id == "e-17"
    raw_str = line(PROPOSAL).decode().replace("No AI", "No \ud800 AI")
    assert refused(raw_str).event_id == "e-17"
    assert refused(line(PROPOSAL).decode().replace("e-17", "e-\udc00")).event_id is None
    with pytest.raises(InvalidEventError) as info:
        parse_event(edit(PROPOSAL, "data.terms", "No \ud800 AI"))
    assert info.value.path == "data.terms"
    assert info.value.event_id == "e-17"


def _nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


@pytest.mark.parametrize("depth", [5000, 100_000])
def test_deep_nesting_line(depth: int) -> None:
    """Thousands of nested arrays are refused as an InvalidEventError, not a RecursionError."""
    err = refused(_nested(depth))
    assert err.event_id is None
    assert err.path == ""
    raw = line(PROPOSAL).replace(b'"No AI-written source material"', _nested(depth))
    assert refused(raw).event_id == "e-17"


@pytest.mark.parametrize("field", ["terms", "value", "colour"])
def test_deep_nesting_that_json_allows(field: str) -> None:
    """Nesting just under the JSON decoder's limit is refused at its field without recursing in Python."""
    raw = line(edit(PROPOSAL, f"data.{field}", "HOLE")).replace(b'"HOLE"', _nested(1020))
    err = refused(raw)
    assert err.event_id == "e-17"
    assert err.path in (f"data.{field}", "data")
    source_raw = line(edit(PROPOSAL, "source", "HOLE")).replace(b'"HOLE"', _nested(1020))
    assert refused(source_raw).path == "source"


@pytest.mark.parametrize(
    "event_id",
    ["e\n17", "e\x0017", "e\x1b[31m17", "e\u202817", "e\x8517", "\t", "", "x" * 129, 17, None, ["e-17"]],
)
def test_bad_event_id(event_id: Any) -> None:
    """An id that is not 1-128 printable characters is refused at path id and not echoed raw."""
    err = refused(line(edit(PROPOSAL, "id", event_id)))
    assert err.path == "id"
    assert err.event_id is None


def test_event_id_of_128_printable_chars_is_accepted() -> None:
    """An id of 128 printable characters of any script, spaces included, is accepted."""
    event_id = ("Ωé 字 [b]" * 20)[:128]
    assert parse_line(line(edit(PROPOSAL, "id", event_id))).id == event_id


@pytest.mark.parametrize(
    ("obj", "field"),
    [(PROPOSAL, "data.in_response_to"), (edit(VOTE, "type", "event.retracted"), "data.target")],
)
def test_bad_event_id_reference(obj: dict[str, Any], field: str) -> None:
    """A reference to an event id with a control character or over 128 chars is refused at its path."""
    if obj["type"] == "event.retracted":
        obj = edit(obj, "data", {"target": "e-1", "reason": "misreported"})
    for bad in ("e\n1", "x" * 129, ""):
        err = refused(line(edit(obj, field, bad)))
        assert err.path == field
        assert err.event_id == obj["id"]


@pytest.mark.parametrize(
    ("obj", "field", "value", "path"),
    [
        (OPENED, "data.parties.0.role", "chair", "data.parties[0].role"),
        (OPENED, "data.parties.1.role", "Employer", "data.parties[1].role"),
        (OPENED, "data.parties.1.role", 1, "data.parties[1].role"),
        (RATIFIED, "data.outcome", "approved", "data.outcome"),
        (RATIFIED, "data.outcome", "", "data.outcome"),
        (RATIFIED, "data.outcome", ["ratified"], "data.outcome"),
    ],
)
def test_unknown_literal(obj: dict[str, Any], field: str, value: Any, path: str) -> None:
    """A role or outcome outside the spec's words is refused, listing the allowed ones."""
    err = refused(line(edit(obj, field, value)))
    assert err.path == path
    assert err.event_id == obj["id"]
    assert err.expected is not None
    assert err.expected.startswith("one of ")


def test_party_joined_role() -> None:
    """The role of a joining party is checked like the opening parties'."""
    obj = {
        "id": "e-40",
        "type": "party.joined",
        "negotiation": "n",
        "occurred_at": "2023-06-01",
        "data": {"party": {"id": "fmcs", "name": "FMCS", "role": "referee"}},
    }
    err = refused(line(obj))
    assert err.path == "data.party.role"
    assert err.event_id == "e-40"


@pytest.mark.parametrize(
    "zone",
    ["Mars/Olympus", "utc", "America", "America/", "../etc/passwd", "/etc/localtime", "", "A" * 300, 5],
)
def test_invalid_timezone(zone: Any) -> None:
    """A time zone that is not an IANA name is refused at data.timezone (never an OSError)."""
    err = refused(line(edit(OPENED, "data.timezone", zone)))
    assert err.path == "data.timezone"
    assert err.event_id == "e-1"


@pytest.mark.parametrize("key", ["AI", "", "a b", "x\ny"])
def test_agreement_terms_keys_are_issue_slugs(key: str) -> None:
    """Keys of tentative agreement terms must be issue ids (slugs)."""
    obj = {
        "id": "e-80",
        "type": "agreement.tentative",
        "negotiation": "n",
        "occurred_at": "2023-09-24",
        "data": {"terms": {"ai": "ok", key: "x"}},
    }
    err = refused(line(obj))
    assert err.path == "data.terms"
    assert err.event_id == "e-80"


def test_agreement_terms_values_are_strings() -> None:
    """A non-string term is refused at its issue's path."""
    obj = {
        "id": "e-80",
        "type": "agreement.tentative",
        "negotiation": "n",
        "occurred_at": "2023-09-24",
        "data": {"terms": {"ai": "ok", "wages": 5}},
    }
    assert refused(line(obj)).path == "data.terms.wages"


@pytest.mark.parametrize("schema", [0, -1, 2**64])
def test_bad_schema_version(schema: int) -> None:
    """A schema version below 1 or beyond what JSON integers can carry back is refused."""
    err = refused(line(edit(PROPOSAL, "schema", schema)))
    assert err.path == "schema"


def test_integer_too_big_to_render_is_refused_by_parse_event() -> None:
    """parse_event refuses integers that render_line could not write back."""
    with pytest.raises(InvalidEventError) as info:
        parse_event(edit(PROPOSAL, "data.value.amount", 2**70))
    assert info.value.path == "data.value.amount"


def test_error_carries_the_file_position_when_given() -> None:
    """An error located at a line number prints it first, then the event."""
    err = refused(line(edit(PROPOSAL, "data.by", "WGA"))).at(line=12)
    assert str(err).startswith("line 12: event e-17: data.by: ")


# --- nothing but InvalidEventError ever comes out -----------------------------


def _only_invalid_event_error(raw: bytes | str) -> Event | None:
    try:
        return parse_line(raw)
    except InvalidEventError as err:
        text = str(err)
    assert len(text.splitlines()) == 1, text
    assert text.isprintable(), text
    return None


@settings(max_examples=300)
@given(st.binary(max_size=200) | st.text(max_size=100))
def test_arbitrary_bytes_never_crash(raw: bytes | str) -> None:
    """Arbitrary bytes or text (lone surrogates included) give an event or an InvalidEventError."""
    _only_invalid_event_error(raw)


@settings(max_examples=300)
@given(json_values(max_leaves=30))
def test_arbitrary_json_never_crashes(value: Any) -> None:
    """Any JSON value as a line gives an event or an InvalidEventError, never another exception."""
    _only_invalid_event_error(orjson.dumps(value))


_ANY_VALUE = json_values(max_leaves=8) | st.sampled_from(
    ["", "x" * 200, "2023-02-30", "2023-05-01T10:00:00Z", "wga", "ratified", "union", -1, 2.5, 2**64 - 1]
)


@st.composite
def _mutated_event_objects(draw: st.DrawFn) -> dict[str, Any]:
    """A rendered valid event with a few keys, at any depth, replaced, removed or added."""
    obj = render_event(draw(any_event()))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        holders: list[Any] = [v for v in _walk(obj) if isinstance(v, dict | list) and v]
        holders.append(obj)
        holder = draw(st.sampled_from(holders))
        if isinstance(holder, list):
            index = draw(st.integers(min_value=0, max_value=len(holder) - 1))
            holder[index] = draw(_ANY_VALUE)
            continue
        key = draw(st.sampled_from(sorted(holder)) | texts(8))
        if key in holder and draw(st.booleans()):
            del holder[key]
        else:
            holder[key] = draw(_ANY_VALUE)
    return obj


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(_mutated_event_objects())
def test_mutated_events_never_crash_and_what_parses_renders(obj: dict[str, Any]) -> None:
    """A damaged valid line is either refused with InvalidEventError, or parses to an event that round-trips."""
    event = _only_invalid_event_error(orjson.dumps(obj))
    if event is not None:
        rendered = render_line(event)
        assert parse_line(rendered) == event
        assert render_line(parse_line(rendered)) == rendered


_PYTHON_ONLY = st.one_of(
    st.text(st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1, max_size=3),
    st.integers(min_value=2**64, max_value=2**80),
    st.sampled_from([float("nan"), float("inf"), (1, 2), b"bytes", 1 + 2j, {1: "int key"}]),
)


@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
@given(any_event(), st.data())
def test_parse_event_refuses_python_values_json_cannot_carry(event: Event, data: st.DataObject) -> None:
    """parse_event given non-JSON Python values (surrogates, huge ints, NaN, bytes) refuses or round-trips."""
    obj = render_event(event)
    holder = data.draw(st.sampled_from([obj, obj["data"]]))
    key = data.draw(st.sampled_from(sorted(holder)) if holder else st.just("note"))
    holder[key] = data.draw(_PYTHON_ONLY)
    try:
        parsed: Event | None = parse_event(obj)
    except InvalidEventError as err:
        parsed, message = None, str(err)
    if parsed is None:
        assert len(message.splitlines()) == 1
    else:
        assert parse_line(render_line(parsed)) == parsed


@pytest.mark.parametrize("cls", [TalksHeld, ProposalMade])
def test_render_event_is_the_parsed_object(cls: type[Event]) -> None:
    """render_event returns the JSON object that parse_event reads back (in the type's current schema)."""
    obj: dict[str, Any] = {
        "id": "e-3",
        "type": cls.TYPE,
        "negotiation": "n",
        "occurred_at": "2023-05-01",
        **({"schema": cls.SCHEMA} if cls.SCHEMA != 1 else {}),  # proposal.made is at schema 2
        "data": {"note": "x"} if cls is TalksHeld else {"by": "a", "issue": "b", "terms": "t"},
    }
    assert render_event(parse_event(obj)) == obj


def test_integer_beyond_64_bits_is_refused_not_rounded() -> None:
    """An integer orjson would silently read as a float is refused, naming the event."""
    big = b"123456789012345678901234567890"
    raw = line(edit(PROPOSAL, "data.value.amount", "BIG")).replace(b'"BIG"', big)
    assert big in raw
    err = refused(raw)
    assert "too large to be read exactly" in err.reason
    assert err.event_id == PROPOSAL["id"]


def test_long_digit_runs_inside_strings_are_text() -> None:
    """Digits inside a string are not numbers: a long run of them is accepted as it is."""
    digits = "123456789012345678901234567890"
    event = parse_line(line(edit(PROPOSAL, "data.terms", digits)))
    assert event.terms == digits  # type: ignore[attr-defined]
