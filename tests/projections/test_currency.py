"""Values with a currency (schema 2 of proposal.made) in the positions answer and in gaps."""

from __future__ import annotations

import datetime as dt
from typing import Any

from events import Event, parse_event
from projections import gaps_of, positions_json, positions_of
from tests.projections.builders import Log, history_of

NOW = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def _proposal(id_: str, by: str, day: str, value: dict[str, Any]) -> Event:
    return parse_event(
        {
            "id": id_,
            "type": "proposal.made",
            "negotiation": "n",
            "occurred_at": day,
            "recorded_at": f"{day}T12:00:00-07:00",
            "schema": 2,
            "data": {"by": by, "issue": "wages", "terms": "t", "value": value},
        }
    )


def _history(union: dict[str, Any], employer: dict[str, Any]) -> Any:
    log = Log("n")
    log.open("2023-03-20")
    return history_of(
        [*log.events, _proposal("u1", "wga", "2023-03-21", union), _proposal("e1", "amptp", "2023-03-22", employer)]
    )


def test_positions_answer_shows_a_currency_only_when_given() -> None:
    """A value's currency appears in the positions answer; a value without one keeps the spec's two keys."""
    history = _history({"amount": 6, "unit": "percent"}, {"amount": 40, "unit": "usd-per-hour", "currency": "USD"})
    answer = positions_json(positions_of(history, now=NOW))
    assert answer["positions"]["wga"]["wages"]["value"] == {"amount": 6, "unit": "percent"}
    assert answer["positions"]["amptp"]["wages"]["value"] == {"amount": 40, "unit": "usd-per-hour", "currency": "USD"}


def test_no_gap_between_values_in_different_currencies() -> None:
    """Amounts in the same unit but different currencies are not compared."""
    history = _history(
        {"amount": 50, "unit": "per-hour", "currency": "USD"}, {"amount": 40, "unit": "per-hour", "currency": "CAD"}
    )
    assert gaps_of(history, now=NOW) == []


def test_gap_between_values_in_the_same_currency_names_it() -> None:
    """Amounts in the same unit and currency give a gap that names the currency."""
    history = _history(
        {"amount": 50, "unit": "per-hour", "currency": "USD"}, {"amount": 40, "unit": "per-hour", "currency": "USD"}
    )
    (gap,) = gaps_of(history, now=NOW)
    assert (gap.unit, gap.currency, gap.distance) == ("per-hour", "USD", 10)
