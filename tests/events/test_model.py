"""The event classes: frozen, keyword-only value objects, one per catalog type of the spec."""

from __future__ import annotations

import datetime as dt
import typing
from typing import Any

import attrs
import attrs.exceptions
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from events import (
    EVENT_TYPES,
    AgendaIssue,
    AgreementTentative,
    Event,
    Party,
    Source,
    TalksHeld,
    TalksResumed,
    Value,
)
from tests.strategies import any_event, events_of

# The catalog of section 1 of the spec: type -> (required data fields, optional data fields).
CATALOG: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "negotiation.opened": (
        frozenset({"title", "parties", "issues"}),
        frozenset({"timezone", "contract_expires_on"}),
    ),
    "party.joined": (frozenset({"party"}), frozenset()),
    "issue.tabled": (frozenset({"by", "issue"}), frozenset()),
    "talks.requested": (frozenset({"by", "to"}), frozenset({"for_date"})),
    "talks.scheduled": (frozenset(), frozenset({"for_date"})),
    "talks.held": (frozenset(), frozenset({"note"})),
    "talks.suspended": (frozenset(), frozenset({"by", "reason"})),
    "talks.resumed": (frozenset(), frozenset({"note"})),
    "proposal.made": (frozenset({"by", "issue", "terms"}), frozenset({"value", "in_response_to"})),
    "proposal.withdrawn": (frozenset({"by", "issue"}), frozenset()),
    "proposal.accepted": (frozenset({"by", "issue", "proposal"}), frozenset()),
    "proposal.rejected": (frozenset({"by", "issue", "proposal"}), frozenset()),
    "statement.issued": (frozenset({"by", "text"}), frozenset({"audience"})),
    "strike.authorized": (frozenset({"by", "yes_share"}), frozenset({"turnout"})),
    "strike.called": (frozenset({"by"}), frozenset()),
    "strike.ended": (frozenset({"by"}), frozenset()),
    "lockout.declared": (frozenset({"by"}), frozenset()),
    "lockout.ended": (frozenset({"by"}), frozenset()),
    "contract.expired": (frozenset(), frozenset()),
    "contract.extended": (frozenset({"until"}), frozenset()),
    "agreement.tentative": (frozenset(), frozenset({"terms"})),
    "ratification.completed": (frozenset({"by", "yes_share", "outcome"}), frozenset({"turnout"})),
    "event.retracted": (frozenset({"target", "reason"}), frozenset()),
}
ENVELOPE_REQUIRED = ("id", "negotiation", "occurred_at")
ENVELOPE_OPTIONAL = ("recorded_at", "schema", "source")

TYPES = sorted(EVENT_TYPES.values(), key=lambda cls: cls.TYPE)
TYPE_IDS = [cls.TYPE for cls in TYPES]


def _has_dict_field(event: Event) -> bool:
    return any(isinstance(getattr(event, a.name), dict) for a in attrs.fields(type(event)))


def _other_value(value: Any) -> Any:
    """A value of the same kind as ``value`` that is not equal to it."""
    if isinstance(value, str):
        return value + "x"
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float):
        return value + 1
    if isinstance(value, dt.date):
        return value - dt.timedelta(days=1)
    return None if value is not None else "x"


def test_catalog_has_exactly_the_spec_types() -> None:
    """EVENT_TYPES maps exactly the 23 catalog types of the spec to their classes."""
    assert len(CATALOG) == 23
    assert set(EVENT_TYPES) == set(CATALOG)
    for name, cls in EVENT_TYPES.items():
        assert name == cls.TYPE
        assert issubclass(cls, Event)
        assert cls is not Event
    assert len(set(EVENT_TYPES.values())) == 23


@pytest.mark.parametrize("cls", TYPES, ids=TYPE_IDS)
def test_fields_are_the_envelope_and_the_spec_data(cls: type[Event]) -> None:
    """Each class holds the envelope, then exactly the spec's data fields, the optional ones defaulting."""
    fields = attrs.fields(cls)
    names = [a.name for a in fields]
    assert names[:6] == [*ENVELOPE_REQUIRED, *ENVELOPE_OPTIONAL]
    required, optional = CATALOG[cls.TYPE]
    data = {a.name: a for a in fields[6:]}
    assert set(data) == required | optional
    for name, a in data.items():
        assert (a.default is attrs.NOTHING) == (name in required), name
        if name in optional:
            assert a.default is None, name
    for a in fields:
        if a.name in ENVELOPE_REQUIRED:
            assert a.default is attrs.NOTHING
    schema = attrs.fields(cls).schema.default
    assert isinstance(schema, attrs.Factory)  # the class's current schema version, SCHEMA
    assert schema.takes_self
    current = 2 if cls.TYPE == "proposal.made" else 1
    assert current == cls.SCHEMA


@pytest.mark.parametrize("cls", TYPES, ids=TYPE_IDS)
@settings(max_examples=5)
@given(data=st.data())
def test_events_are_frozen(cls: type[Event], data: st.DataObject) -> None:
    """Assigning or deleting any field of an event raises FrozenInstanceError and changes nothing."""
    event = data.draw(events_of(cls))
    before = attrs.asdict(event, recurse=False)
    for a in attrs.fields(cls):
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            setattr(event, a.name, _other_value(getattr(event, a.name)))
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            delattr(event, a.name)
    assert attrs.asdict(event, recurse=False) == before


@pytest.mark.parametrize(
    "part",
    [
        Party(id="wga", name="WGA", role="union"),
        AgendaIssue(id="ai", title="AI"),
        Value(amount=5, unit="percent"),
        Source(url="https://example.org"),
    ],
    ids=lambda p: type(p).__name__,
)
def test_parts_are_frozen(part: Any) -> None:
    """Parties, agenda issues, values and sources are frozen too."""
    name = attrs.fields(type(part))[0].name
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        setattr(part, name, "changed")


@settings(max_examples=50)
@given(any_event())
def test_events_without_dict_fields_are_hashable(event: Event) -> None:
    """An event holding no dict hashes, and equal copies hash equal, so events work in sets and as keys."""
    assume(not _has_dict_field(event))
    copy = attrs.evolve(event)
    assert copy is not event
    assert hash(copy) == hash(event)
    assert len({event, copy}) == 1
    assert {event: 1}[copy] == 1


def test_tentative_agreement_hashes_without_its_terms() -> None:
    """A tentative agreement with a terms dict still hashes: terms take part in equality, not in the hash."""
    base = AgreementTentative(id="e-1", negotiation="n", occurred_at=dt.date(2023, 9, 24), terms={"ai": "x"})
    other = attrs.evolve(base, terms={"ai": "y"})
    assert hash(base) == hash(other)
    assert base != other
    assert len({base, other}) == 2


@settings(max_examples=50)
@given(any_event())
def test_events_are_equal_by_value(event: Event) -> None:
    """Events are equal when all their fields are equal, and differ when any one field differs."""
    assert attrs.evolve(event) == event
    for a in attrs.fields(type(event)):
        value = getattr(event, a.name)
        changed = _other_value(value)
        if isinstance(value, tuple | dict):
            continue
        assert attrs.evolve(event, **{a.name: changed}) != event, a.name


def test_equal_fields_of_different_types_are_not_equal() -> None:
    """Two events of different types are unequal even with identical fields."""
    fields: dict[str, Any] = {"id": "e-1", "negotiation": "n", "occurred_at": dt.date(2023, 1, 1)}
    assert TalksHeld(**fields) != TalksResumed(**fields)
    assert TalksHeld(**fields) == TalksHeld(**fields)


def test_dates_and_instants_are_not_equal() -> None:
    """An event on a day and one at midnight UTC of that day are different facts."""
    day = TalksHeld(id="e-1", negotiation="n", occurred_at=dt.date(2023, 1, 1))
    instant = attrs.evolve(day, occurred_at=dt.datetime(2023, 1, 1, tzinfo=dt.UTC))
    assert day != instant


def test_same_instant_in_other_offsets_is_equal() -> None:
    """Aware timestamps compare as instants, whatever offset they were written in."""
    utc = TalksHeld(id="e-1", negotiation="n", occurred_at=dt.datetime(2023, 1, 1, 17, tzinfo=dt.UTC))
    pacific = attrs.evolve(utc, occurred_at=dt.datetime(2023, 1, 1, 9, tzinfo=dt.timezone(dt.timedelta(hours=-8))))
    assert utc == pacific


@pytest.mark.parametrize("cls", TYPES, ids=TYPE_IDS)
@settings(max_examples=3)
@given(data=st.data())
def test_constructors_are_keyword_only(cls: type[Event], data: st.DataObject) -> None:
    """Every event class refuses positional arguments but accepts the same values by keyword."""
    event = data.draw(events_of(cls))
    values = {a.name: getattr(event, a.name) for a in attrs.fields(cls)}
    assert cls(**values) == event
    with pytest.raises(TypeError):
        cls(*values.values())
    with pytest.raises(TypeError):
        cls(values["id"], **{k: v for k, v in values.items() if k != "id"})


def test_required_fields_are_required() -> None:
    """Leaving out a required field raises TypeError."""
    with pytest.raises(TypeError):
        TalksHeld(id="e-1", negotiation="n")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Party(id="wga", name="WGA")  # type: ignore[call-arg]


def test_literal_fields_name_the_spec_words() -> None:
    """Party roles and ratification outcomes are typed with exactly the spec's words."""
    role = attrs.fields(Party).role.type
    assert set(typing.get_args(role)) == {"union", "employer", "mediator"}
    outcome = attrs.fields(EVENT_TYPES["ratification.completed"]).outcome.type
    assert set(typing.get_args(outcome)) == {"ratified", "rejected"}
