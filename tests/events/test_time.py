"""The time module (``events.time``): one grammar for moments, the two date rules, zones and days."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from events import time
from events.converter import parse_line
from events.errors import InvalidEventError, InvalidMomentError
from negotiation.cli import parse_moment
from tests.events.test_converter import OPENED

NY = time.zone("America/New_York")


def line(occurred_at: str) -> str:
    """An otherwise valid event line with this ``occurred_at``."""
    return json.dumps({**OPENED, "occurred_at": occurred_at})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2023-08-11", dt.date(2023, 8, 11)),
        ("2023-08-11T09:30:00Z", dt.datetime(2023, 8, 11, 9, 30, tzinfo=dt.UTC)),
        ("2023-08-11t09:30:00z", dt.datetime(2023, 8, 11, 9, 30, tzinfo=dt.UTC)),
        ("2023-08-11 09:30:00+02:00", dt.datetime(2023, 8, 11, 9, 30, tzinfo=dt.timezone(dt.timedelta(hours=2)))),
        ("2023-08-11T09:30:00.123456000-07:00", dt.datetime(2023, 8, 11, 16, 30, 0, 123456, tzinfo=dt.UTC)),
    ],
)
def test_one_grammar_for_the_command_line_and_event_lines(text: str, expected: dt.date) -> None:
    """The CLI's moments and the converter's ``occurred_at`` read the same text to the same value."""
    assert time.parse_when(text) == expected
    assert type(time.parse_when(text)) is type(expected)
    assert parse_moment(text) == expected
    assert parse_line(line(text)).occurred_at == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2023-08-11T09:30:00", "a date YYYY-MM-DD or an RFC 3339 timestamp with offset"),
        ("2023-02-30", "a real calendar date"),
        ("2023-08-11T25:00:00Z", "a real date and time"),
        ("2023-08-11T09:30:00.1234567Z", "at most microsecond precision"),
        ("yesterday", "a date YYYY-MM-DD or an RFC 3339 timestamp with offset"),
        ("", "a date YYYY-MM-DD or an RFC 3339 timestamp with offset"),
    ],
)
def test_refusals_say_what_was_expected_in_both_places(text: str, expected: str) -> None:
    """A refused moment raises InvalidMomentError; the converter reports the same expectation for the field."""
    with pytest.raises(InvalidMomentError) as caught:
        time.parse_when(text)
    assert caught.value.expected == expected
    assert caught.value.value == text
    with pytest.raises(InvalidEventError) as refused:
        parse_line(line(text))
    assert (refused.value.path, refused.value.expected) == ("occurred_at", expected)


def test_a_non_string_is_refused() -> None:
    """Numbers and nulls are not moments."""
    with pytest.raises(InvalidMomentError, match="expected"):
        time.parse_when(20230811)


def test_a_date_starts_an_event_and_ends_a_query() -> None:
    """``occurred_at`` dates are 00:00 of the day; query dates are its last microsecond, in the zone."""
    day = dt.date(2023, 3, 12)  # a DST change in New York
    assert time.instant(day, NY) == dt.datetime(2023, 3, 12, tzinfo=NY)
    assert time.start_instant(day, NY) == time.instant(day, NY)
    assert time.as_instant(day, NY) == dt.datetime(2023, 3, 12, 23, 59, 59, 999999, tzinfo=NY)
    aware = dt.datetime(2023, 3, 12, 12, tzinfo=dt.UTC)
    assert time.instant(aware, NY) is aware
    assert time.as_instant(aware, NY) is aware
    assert time.as_instant(dt.datetime(2023, 3, 12, 12), NY) == dt.datetime(2023, 3, 12, 12, tzinfo=NY)
    with pytest.raises(TypeError):
        time.as_instant("2023-03-12", NY)  # type: ignore[arg-type]


@given(st.dates(min_value=dt.date(1900, 1, 2), max_value=dt.date(2200, 12, 30)), st.integers(0, 400))
def test_day_counting(since: dt.date, days: int) -> None:
    """The day a stoppage started is day 1; every local calendar day after it adds one."""
    later = since + dt.timedelta(days=days)
    if later.year > 2200:
        return
    assert time.day_number(since, time.start_of_day(later, NY), NY) == days + 1
    assert time.day_number(since, time.end_of_day(later, NY), NY) == days + 1
    assert time.local_date(time.end_of_day(later, NY), NY) == later


def test_zones() -> None:
    """Names resolve through the zone database; None and UTC are UTC; bad names are not zones."""
    assert time.zone(None) is time.UTC
    assert time.zone("UTC") is time.UTC
    assert time.is_zone_name("America/Los_Angeles")
    assert not time.is_zone_name("America")
    assert not time.is_zone_name("Mars/Olympus")
    assert not time.is_zone_name("")
