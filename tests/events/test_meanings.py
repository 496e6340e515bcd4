"""The event class is the single declaration of its fields' meaning.

Adding an event type means one class (with its fields' meanings declared), one
transition row and one summary: these tests fail when any of them is missing,
and show that the converter, the rules and the timeline read the declaration,
not the field's name.
"""

from __future__ import annotations

import typing
from typing import ClassVar

import attrs
import pytest

import events
from events import EVENT_TYPES, Event, InvalidEventError, Meaning, meanings
from events.converter import _check_names
from events.model import ACTOR, ISSUE_REF, PARTY_REF, SHARE
from negotiation.core.machine import KNOWN_PARTIES, ON_AGENDA, TRANSITIONS, fold
from projections.timeline import SUMMARIES, TimelineEntry, actor_of, summarize
from tests.negotiation.helpers import NEGOTIATION, at, opened

PLAIN: typing.Final = frozenset(
    {
        # Free text, numbers, dates and structured values: their type says all there is.
        "title",
        "parties",
        "issues",
        "timezone",
        "contract_expires_on",
        "party",
        "issue",  # issue.tabled's AgendaIssue (its id is declared a slug in AgendaIssue)
        "for_date",
        "note",
        "reason",
        "terms",
        "value",
        "text",
        "audience",
        "outcome",
        "until",
        "occurred_at",
        "recorded_at",
        "schema",
        "source",
    }
)
"""Fields that carry no reference: every other field must declare its meaning."""


@pytest.mark.parametrize("cls", EVENT_TYPES.values(), ids=lambda c: c.TYPE)
def test_every_type_has_a_class_a_transition_and_a_summary(cls: type[Event]) -> None:
    """One class (exported by ``events``), one transition row, one summary per catalog type."""
    assert EVENT_TYPES[cls.TYPE] is cls
    assert getattr(events, cls.__name__) is cls
    assert cls.__name__ in events.__all__
    assert cls in TRANSITIONS, f"{cls.TYPE} has no row in negotiation.core.machine.TRANSITIONS"
    assert cls in SUMMARIES, f"{cls.TYPE} has no summary in projections.timeline"
    assert cls.__doc__


@pytest.mark.parametrize("cls", EVENT_TYPES.values(), ids=lambda c: c.TYPE)
def test_every_reference_field_declares_its_meaning(cls: type[Event]) -> None:
    """A field that is not plain data declares what it means; a plain one declares nothing."""
    declared = dict(meanings(cls))
    for a in attrs.fields(cls):
        if a.name in PLAIN and not (a.name == "issue" and a.type is str):
            assert a.name not in declared, f"{cls.TYPE}.{a.name}"
        else:
            assert a.name in declared, f"{cls.TYPE}.{a.name} declares no meaning (events.model.Meaning)"


def test_by_is_the_actor_and_proposals_are_references() -> None:
    """The declarations of the catalog, spot-checked."""
    assert dict(meanings(events.ProposalAccepted)) == {
        "id": Meaning.EVENT_ID,
        "negotiation": Meaning.SLUG,
        "by": Meaning.ACTOR,
        "issue": Meaning.ISSUE,
        "proposal": Meaning.PROPOSAL,
    }
    assert dict(meanings(events.TalksRequested))["to"] is Meaning.PARTY
    assert dict(meanings(events.RatificationCompleted))["yes_share"] is Meaning.SHARE
    assert dict(meanings(events.Party)) == {"id": Meaning.SLUG}


# A type the catalog does not know, to show that the name of a field means nothing.
@attrs.frozen(kw_only=True)
class _Sponsored(Event):
    """An event whose party field is not called ``by`` and whose ``by`` is plain text."""

    TYPE: ClassVar[str] = "test.sponsored"

    sponsor: str = attrs.field(metadata=ACTOR)
    witness: str = attrs.field(metadata=PARTY_REF)
    topic: str = attrs.field(metadata=ISSUE_REF)
    by: str = "anyone at all, this is free text"
    share: float = attrs.field(default=0.5, metadata=SHARE)


attrs.resolve_types(_Sponsored)


def _sponsored(**fields: object) -> _Sponsored:
    base: dict[str, object] = {"id": "x", "negotiation": NEGOTIATION, "occurred_at": at(1)}
    base |= {"sponsor": "wga", "witness": "amptp", "topic": "ai"}
    return _Sponsored(**(base | fields))  # type: ignore[arg-type]  # test data


def test_the_converter_reads_the_declaration_not_the_name() -> None:
    """A plain ``by`` is not checked as a slug; a declared ``sponsor`` is, whatever its name."""
    _check_names(_sponsored())
    with pytest.raises(InvalidEventError) as info:
        _check_names(_sponsored(sponsor="Not A Slug"))
    assert info.value.path == "data.sponsor"
    with pytest.raises(InvalidEventError) as info:
        _check_names(_sponsored(share=1.5))
    assert info.value.path == "data.share"


def test_the_rules_read_the_declaration_not_the_name() -> None:
    """known-party checks the declared party fields, on-agenda the declared issue fields."""
    state = fold([opened()])
    assert KNOWN_PARTIES.test(state, _sponsored()) is None
    reason = KNOWN_PARTIES.test(state, _sponsored(witness="nobody"))
    assert reason is not None
    assert reason.startswith("witness:")
    reason = ON_AGENDA.test(state, _sponsored(topic="pensions"))
    assert reason is not None
    assert reason.startswith("topic:")


def test_the_timeline_reads_the_actor_from_the_declaration() -> None:
    """The acting party is the field declared ``ACTOR``; an unknown type's summary is its type name."""
    event = _sponsored()
    assert actor_of(event) == "wga"
    assert summarize(event) == "test.sponsored"
    assert actor_of(events.TalksScheduled(id="s", negotiation=NEGOTIATION, occurred_at=at(1))) is None
    entry = TimelineEntry(
        negotiation=NEGOTIATION, at=at(1), date=at(1).date(), recorded_at=at(1), seq=1, event=event, summary=""
    )
    assert entry.party == "wga"
