"""Questions across negotiations: the catalog, stoppages on a date, who is involved where."""

from __future__ import annotations

import datetime as dt

import pytest

from negotiation.core.history import History
from projections import catalog_json, catalog_of, involving_of, stoppages_json, stoppages_on
from tests.projections.builders import NOW, Log
from tests.projections.timelines import SAG, WGA, sag, wga

D = dt.date
PDT = dt.timezone(dt.timedelta(hours=-7))


@pytest.fixture(scope="module")
def histories() -> list[History]:
    return [wga().history(), sag().history()]


def _stopped(histories: list[History], on: dt.date, **query: object) -> list[tuple[str, str, int]]:
    entries = stoppages_on(histories, on=on, now=NOW, **query)  # type: ignore[arg-type]
    return [(e.negotiation, e.party, e.day) for e in entries]


def test_both_guilds_struck_amptp_on_aug_11(histories: list[History]) -> None:
    """On 2023-08-11 the WGA (day 102) and SAG-AFTRA (day 29) were both on strike against the AMPTP."""
    entries = stoppages_on(histories, on=D(2023, 8, 11), now=NOW)
    assert [(e.negotiation, e.party, e.kind, e.against, e.since, e.day, e.ended) for e in entries] == [
        (WGA, "wga", "strike", ("amptp",), D(2023, 5, 2), 102, None),
        (SAG, "sag-aftra", "strike", ("amptp",), D(2023, 7, 14), 29, None),
    ]


def test_a_stoppage_starting_that_day_counts(histories: list[History]) -> None:
    """SAG-AFTRA's strike began at 00:01 on Jul 14: listed on the 14th, not the 13th."""
    assert _stopped(histories, D(2023, 7, 13)) == [(WGA, "wga", 73)]
    assert _stopped(histories, D(2023, 7, 14)) == [(WGA, "wga", 74), (SAG, "sag-aftra", 1)]


def test_a_stoppage_ending_that_day_does_not_count(histories: list[History]) -> None:
    """The WGA strike ended at 00:01 on Sep 27: it does not run at the end of that day."""
    assert _stopped(histories, D(2023, 9, 26)) == [(WGA, "wga", 148), (SAG, "sag-aftra", 75)]
    assert _stopped(histories, D(2023, 9, 27)) == [(SAG, "sag-aftra", 76)]


def test_a_one_day_stoppage_counts_with_its_end() -> None:
    """A strike that started and ended on the same day is listed for that day, with its end."""
    log = Log("one-day")
    log.open("2023-02-01", unions=("nurses",), employers=("hospital",))
    log.add("strike.called", "s1", "2023-03-01T07:00", by="nurses")
    log.add("strike.ended", "s2", "2023-03-01T19:00", by="nurses")
    history = log.history()
    (entry,) = stoppages_on([history], on=D(2023, 3, 1), now=NOW)
    pst = dt.timezone(dt.timedelta(hours=-8))
    assert (entry.party, entry.day, entry.ended) == ("nurses", 1, dt.datetime(2023, 3, 1, 19, 0, tzinfo=pst))
    assert stoppages_on([history], on=D(2023, 3, 2), now=NOW) == []
    assert stoppages_json(stoppages_on([history], on=D(2023, 3, 1), now=NOW))["stoppages"][0]["ended"] == (
        "2023-03-01T19:00:00-08:00"
    )


def test_each_negotiation_uses_its_own_time_zone() -> None:
    """The end of a day is local: a Berlin strike from Aug 12 01:00 is not running on Aug 11."""
    log = Log("berlin", tz="Europe/Berlin")
    log.open("2023-08-01", unions=("verdi",), employers=("lufthansa",))
    log.add("strike.called", "s1", "2023-08-12T01:00", by="verdi")  # Aug 11, 16:00 in Los Angeles
    history = log.history()
    assert stoppages_on([history], on=D(2023, 8, 11), now=NOW) == []
    assert [e.party for e in stoppages_on([history], on=D(2023, 8, 12), now=NOW)] == ["verdi"]


def test_stoppages_as_known_at_a_time(histories: list[History]) -> None:
    """The SAG-AFTRA strike was recorded at 08:00 on Jul 14: unknown at 07:00."""
    early = dt.datetime(2023, 7, 14, 7, 0, tzinfo=PDT)
    assert _stopped(histories, D(2023, 7, 14), known_at=early) == [(WGA, "wga", 74)]


def test_an_instant_counts_only_what_runs_then(histories: list[History]) -> None:
    """Given a datetime, only the stoppages running at that instant are listed."""
    midnight = dt.datetime(2023, 7, 14, 0, 0, tzinfo=PDT)
    assert _stopped(histories, midnight) == [(WGA, "wga", 74)]


def test_catalog_as_of(histories: list[History]) -> None:
    """The catalog lists the negotiations open at that time, with their phase."""
    assert [(e.negotiation, e.phase) for e in catalog_of(histories, as_of=D(2023, 6, 1), now=NOW)] == [(WGA, "strike")]
    later = catalog_of(histories, as_of=D(2023, 10, 10), now=NOW)
    assert [(e.negotiation, e.phase) for e in later] == [(WGA, "ratified"), (SAG, "strike")]
    assert [p.id for p in later[1].parties] == ["sag-aftra", "amptp"]
    assert later[1].title == "SAG-AFTRA-AMPTP 2023"


def test_involving(histories: list[History]) -> None:
    """Negotiations are found by any party id at the table."""
    assert [e.negotiation for e in involving_of(histories, "amptp", now=NOW)] == [WGA, SAG]
    assert [e.negotiation for e in involving_of(histories, "sag-aftra", now=NOW)] == [SAG]
    assert involving_of(histories, "nobody", now=NOW) == []
    assert involving_of(histories, "sag-aftra", as_of=D(2023, 6, 1), now=NOW) == []


def test_catalog_json(histories: list[History]) -> None:
    """The catalog JSON names each negotiation's parties, phase and stoppage."""
    answer = catalog_json(catalog_of(histories, as_of=D(2023, 8, 11), now=NOW))
    first = answer["negotiations"][0]
    assert first == {
        "negotiation": WGA,
        "title": "WGA-AMPTP 2023",
        "timezone": "America/Los_Angeles",
        "parties": [
            {"id": "wga", "name": "WGA", "role": "union"},
            {"id": "amptp", "name": "AMPTP", "role": "employer"},
        ],
        "phase": "strike",
        "stoppage": {"kind": "strike", "parties": ["wga"], "since": "2023-05-02", "day": 102},
        "events_applied": 12,
        "as_of": "2023-08-11T23:59:59.999999-07:00",
        "known_at": "2024-06-01T05:00:00-07:00",
    }


def test_stoppages_json(histories: list[History]) -> None:
    """The stoppages JSON lists one entry per stopped party."""
    answer = stoppages_json(stoppages_on(histories, on=D(2023, 8, 11), now=NOW))
    assert answer["on"] == "2023-08-11"
    assert answer["stoppages"][1] == {
        "negotiation": SAG,
        "title": "SAG-AFTRA-AMPTP 2023",
        "kind": "strike",
        "party": "sag-aftra",
        "against": ["amptp"],
        "started": "2023-07-14T00:01:00-07:00",
        "since": "2023-07-14",
        "day": 29,
        "ended": None,
    }
    assert stoppages_json([], on=D(2023, 1, 1)) == {"on": "2023-01-01", "stoppages": []}


def test_a_ratification_ends_a_one_day_stoppage() -> None:
    """A strike ended by a same-day ratification is listed with the ratification as its end."""
    log = Log("ratified-same-day")
    log.open("2023-02-01", unions=("nurses",), employers=("hospital",))
    log.add("strike.called", "s1", "2023-03-01T07:00", by="nurses")
    log.add("agreement.tentative", "ta", "2023-03-01T09:00")
    log.add("ratification.completed", "r", "2023-03-01T18:00", by="nurses", yes_share=0.9, outcome="ratified")
    (entry,) = stoppages_on([log.history()], on=D(2023, 3, 1), now=NOW)
    assert entry.ended is not None
    assert entry.ended.hour == 18
