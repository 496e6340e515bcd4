"""Spec 1.1 on small logs of our own: golden answers for each of its three points, and its bad input.

1. Several unions at one table (Verizon 2016: CWA and IBEW each ratified on its own).
2. The return to work after the vote (MLB 2022: the owners voted, the lockout was lifted that evening).
3. Acceptance closes the gap (the WGA accepted the AMPTP's 5% on 2023-09-24).

The logs are JSON Lines, imported the way a user imports them; the answers are
the ``--json`` documents (``projections.answers``), compared key for key.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from events import ProposalAccepted, StatementIssued, parse_line
from negotiation import Negotiations
from negotiation.core.errors import RuleViolationError
from negotiation.core.history import CHECKPOINT_INTERVAL, History
from projections.answers import diff_json, gaps_json, positions_json, status_json, timeline_json
from projections.positions import positions_of
from projections.status import status_of

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def line(id: str, type: str, negotiation: str, occurred_at: str, recorded_at: str, **data: Any) -> str:
    """One event line of the spec's form."""
    obj = {"id": id, "type": type, "negotiation": negotiation, "occurred_at": occurred_at}
    obj |= {"recorded_at": recorded_at, "data": data}
    return orjson.dumps(obj).decode()


# --- 1. several unions at one table ----------------------------------------------------------

VZ = "verizon-2016"


def _vz(id: str, type: str, day: str, recorded: str | None = None, **data: Any) -> str:
    return line(id, type, VZ, day, recorded or f"{day[:10]}T23:00:00-04:00", **data)


VERIZON = [
    _vz(
        "vz-01",
        "negotiation.opened",
        "2016-04-01",
        title="Verizon wireline contracts, 2016",
        timezone="America/New_York",
        parties=[
            {"id": "cwa", "name": "Communications Workers of America", "role": "union"},
            {"id": "ibew", "name": "International Brotherhood of Electrical Workers", "role": "union"},
            {"id": "verizon", "name": "Verizon", "role": "employer"},
        ],
        issues=[{"id": "wages", "title": "Wages"}],
    ),
    _vz("vz-02", "strike.called", "2016-04-13", by="cwa"),
    _vz("vz-03", "strike.called", "2016-04-13", by="ibew"),
    _vz("vz-04", "agreement.tentative", "2016-05-30"),
    _vz("vz-05", "ratification.completed", "2016-06-10", by="cwa", yes_share=0.87, outcome="ratified"),
    _vz("vz-06", "ratification.completed", "2016-06-17", by="ibew", yes_share=0.8, outcome="ratified"),
    _vz("vz-07", "strike.ended", "2016-06-18", by="ibew"),
]


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Negotiations]:
    """A memory store."""
    with Negotiations("memory:") as negotiations:
        yield negotiations


def imported(app: Negotiations, tmp_path: Path, lines: list[str], name: str = "log.jsonl") -> Path:
    """Import ``lines`` as one file; every line must be accepted."""
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = app.import_files([path], now=NOW)
    assert report.ok, [str(r) for r in report.refused]
    return path


def status(app: Negotiations, negotiation: str, day: str, known_at: str | None = None) -> dict[str, Any]:
    """The ``status --json`` document at the end of ``day``, without the query's own times."""
    known = None if known_at is None else dt.date.fromisoformat(known_at)
    answer = status_json(app.status(negotiation, as_of=dt.date.fromisoformat(day), known_at=known))
    del answer["as_of"], answer["known_at"]
    return answer


def test_each_union_ratifies_on_its_own(app: Negotiations, tmp_path: Path) -> None:
    """CWA's vote ends CWA's strike only; IBEW's closes the negotiation; ratified_by grows in id order."""
    imported(app, tmp_path, VERIZON)
    assert status(app, VZ, "2016-06-12") == {
        "negotiation": VZ,
        "phase": "tentative_agreement",
        "talks": "none",
        "stoppage": {"kind": "strike", "parties": ["ibew"], "since": "2016-04-13", "day": 61},
        "agreement": "tentative",
        "contract": "in_force",
        "events_applied": 5,
        "ratified_by": ["cwa"],
    }
    assert status(app, VZ, "2016-06-17") == {
        "negotiation": VZ,
        "phase": "ratified",
        "talks": "none",
        "stoppage": None,
        "agreement": "ratified",
        "contract": "new",
        "events_applied": 6,
        "ratified_by": ["cwa", "ibew"],
    }
    assert status(app, VZ, "2016-05-31")["ratified_by"] == []


def test_known_at_between_the_two_votes_shows_the_first_only(app: Negotiations, tmp_path: Path) -> None:
    """Asked after both votes, as known between them: only CWA's vote counts (both were recorded late)."""
    late = [*VERIZON[:4]]
    late.append(
        _vz(
            "vz-05",
            "ratification.completed",
            "2016-06-10",
            "2016-06-11T12:00:00-04:00",
            by="cwa",
            yes_share=0.87,
            outcome="ratified",
        )
    )
    late.append(
        _vz(
            "vz-06",
            "ratification.completed",
            "2016-06-17",
            "2016-06-20T12:00:00-04:00",
            by="ibew",
            yes_share=0.8,
            outcome="ratified",
        )
    )
    imported(app, tmp_path, late)
    between = status(app, VZ, "2016-06-30", known_at="2016-06-15")
    assert (between["phase"], between["ratified_by"], between["stoppage"]["parties"]) == (
        "tentative_agreement",
        ["cwa"],
        ["ibew"],
    )
    assert status(app, VZ, "2016-06-30", known_at="2016-06-10")["ratified_by"] == []
    assert status(app, VZ, "2016-06-30")["ratified_by"] == ["cwa", "ibew"]
    # The diff between the votes names the new fact.
    diff = diff_json(app.diff(VZ, start=dt.date(2016, 6, 12), end=dt.date(2016, 6, 17)))
    assert diff["status"]["ratified_by"] == {"before": ["cwa"], "after": ["cwa", "ibew"]}
    assert diff["status"]["phase"] == {"before": "tentative_agreement", "after": "ratified"}


def test_a_rejection_voids_the_agreement(app: Negotiations, tmp_path: Path) -> None:
    """IBEW rejects after CWA ratified: back to bargaining, ratified_by empty, the strike goes on."""
    rejected = _vz("vz-06", "ratification.completed", "2016-06-17", by="ibew", yes_share=0.4, outcome="rejected")
    imported(app, tmp_path, [*VERIZON[:5], rejected])
    answer = status(app, VZ, "2016-06-18")
    assert (answer["agreement"], answer["ratified_by"], answer["stoppage"]["parties"]) == ("rejected", [], ["ibew"])


# --- 2. the return to work after the vote -----------------------------------------------------

MLB = "mlb-2021"


def _mlb(id: str, type: str, at: str, **data: Any) -> str:
    return line(id, type, MLB, at, at if "T" in at else f"{at}T23:00:00-05:00", **data)


LOCKOUT = [
    _mlb(
        "mlb-01",
        "negotiation.opened",
        "2021-09-01",
        title="MLB and MLBPA, basic agreement",
        timezone="America/New_York",
        parties=[
            {"id": "mlbpa", "name": "MLB Players Association", "role": "union"},
            {"id": "mlb", "name": "Major League Baseball", "role": "employer"},
        ],
        issues=[{"id": "minimum-salary", "title": "Minimum salary"}],
    ),
    _mlb("mlb-02", "lockout.declared", "2021-12-02T00:01:00-05:00", by="mlb"),
    _mlb("mlb-03", "agreement.tentative", "2022-03-10T16:00:00-05:00"),
    _mlb(
        "mlb-04", "ratification.completed", "2022-03-10T16:30:00-05:00", by="mlbpa", yes_share=0.6, outcome="ratified"
    ),
    _mlb("mlb-05", "ratification.completed", "2022-03-10T17:00:00-05:00", by="mlb", yes_share=1.0, outcome="ratified"),
    _mlb("mlb-06", "lockout.ended", "2022-03-10T19:00:00-05:00", by="mlb"),
]


def test_the_lockout_lifted_after_the_vote_changes_no_answer(app: Negotiations, tmp_path: Path) -> None:
    """The owners' vote and the lockout's end after the players' ratification are accepted and change nothing."""
    imported(app, tmp_path, LOCKOUT)
    after_players = status_json(
        app.status(MLB, as_of=dt.datetime(2022, 3, 10, 16, 45, tzinfo=dt.UTC) + dt.timedelta(hours=5))
    )
    at_the_end = status_json(app.status(MLB, as_of=dt.date(2022, 3, 11)))
    for answer in (after_players, at_the_end):
        del answer["as_of"], answer["known_at"]
    assert after_players == {
        "negotiation": MLB,
        "phase": "ratified",
        "talks": "none",
        "stoppage": None,
        "agreement": "ratified",
        "contract": "new",
        "events_applied": 4,
        "ratified_by": ["mlbpa"],
    }
    # Two more events applied (the owners' vote, the end of the lockout); no other answer changed.
    assert at_the_end == {**after_players, "events_applied": 6}
    summaries = [e["summary"] for e in timeline_json(app.timeline(MLB))["events"]]
    assert summaries[-2:] == ["mlb members ratified the agreement (100.0% yes)", "mlb ended its lockout"]
    assert [(s.party, s.day) for s in app.stoppages(on=dt.date(2022, 3, 9))] == [("mlb", 98)]
    assert app.stoppages(on=dt.date(2022, 3, 11)) == []


def test_the_lockout_end_is_accepted_once(app: Negotiations, tmp_path: Path) -> None:
    """A second lockout.ended after the vote is refused, naming its line and the rule; nothing is stored."""
    imported(app, tmp_path, LOCKOUT)
    before = len(app.events(MLB))
    again = tmp_path / "again.jsonl"
    again.write_text(_mlb("mlb-07", "lockout.ended", "2022-03-11", by="mlb") + "\n", encoding="utf-8")
    report = app.import_files([again], now=NOW)
    assert [str(r) for r in report.refused] == [
        f"{again}:1: mlb-07: the agreement was ratified; lockout.ended is no longer accepted "
        "('mlb' has no lockout that the vote ended) [rule: closed-after-ratification]"
    ]
    assert len(app.events(MLB)) == before


# --- 3. acceptance closes the gap -----------------------------------------------------------------

AC = "acme-2024"


def _ac(id: str, type: str, day: str, recorded: str | None = None, **data: Any) -> str:
    return line(id, type, AC, day, recorded or f"{day}T23:00:00Z", **data)


ACCEPTANCE = [
    _ac(
        "ac-01",
        "negotiation.opened",
        "2024-01-02",
        title="Acme and Local 7",
        parties=[
            {"id": "local-7", "name": "Local 7", "role": "union"},
            {"id": "acme", "name": "Acme", "role": "employer"},
        ],
        issues=[{"id": "pay", "title": "Pay"}],
    ),
    _ac(
        "ac-02",
        "proposal.made",
        "2024-01-10",
        by="local-7",
        issue="pay",
        terms="6% a year",
        value={"amount": 6, "unit": "percent"},
    ),
    _ac(
        "ac-03",
        "proposal.made",
        "2024-01-20",
        by="acme",
        issue="pay",
        terms="4% a year",
        value={"amount": 4, "unit": "percent"},
    ),
    _ac(
        "ac-04",
        "proposal.made",
        "2024-02-05",
        by="acme",
        issue="pay",
        terms="5% a year",
        value={"amount": 5, "unit": "percent"},
    ),
    # Accepted on the 12th, reported on the 14th.
    _ac(
        "ac-05", "proposal.accepted", "2024-02-12", "2024-02-14T12:00:00Z", by="local-7", issue="pay", proposal="ac-04"
    ),
]


def test_acceptance_makes_the_accepted_proposal_the_acceptors_position(app: Negotiations, tmp_path: Path) -> None:
    """From the acceptance on, the union stands on the employer's 5%: event, since, accepted; the gap is zero."""
    imported(app, tmp_path, ACCEPTANCE)
    answer = positions_json(app.positions(AC, as_of=dt.date(2024, 2, 12)))["positions"]
    assert answer == {
        "acme": {
            "pay": {
                "terms": "5% a year",
                "value": {"amount": 5, "unit": "percent"},
                "since": "2024-02-05",
                "event": "ac-04",
            }
        },
        "local-7": {
            "pay": {
                "terms": "5% a year",
                "value": {"amount": 5, "unit": "percent"},
                "since": "2024-02-12",
                "event": "ac-04",
                "accepted": "ac-05",
            }
        },
    }
    gap = gaps_json(app.gaps(AC, as_of=dt.date(2024, 2, 12)))["gaps"][0]
    assert (gap["distance"], gap["union"]["amount"], gap["union"]["event"]) == (0, 5, "ac-04")
    assert (gap["union"]["accepted"], gap["employer"]["accepted"]) == ("ac-05", None)
    assert [(m["party"], m["event"], m["from"], m["to"], m["distance"]) for m in gap["moves"]][-1] == (
        "local-7",
        "ac-05",
        6,
        5,
        0,
    )
    # As known on the 13th the acceptance was not reported yet: 6% against 5%, a gap of 1.
    known = app.positions(AC, as_of=dt.date(2024, 2, 12), known_at=dt.date(2024, 2, 13))
    union = known.get("local-7", "pay")
    assert union is not None
    assert (union.event, union.accepted) == ("ac-02", None)
    assert app.gaps(AC, as_of=dt.date(2024, 2, 12), known_at=dt.date(2024, 2, 13))[0].distance == 1
    # The diff and the timeline name the new fact.
    diff = diff_json(app.diff(AC, start=dt.date(2024, 2, 11), end=dt.date(2024, 2, 12)))
    assert diff["positions"]["changed"] == [
        {
            "party": "local-7",
            "issue": "pay",
            "before": {
                "terms": "6% a year",
                "value": {"amount": 6, "unit": "percent"},
                "since": "2024-01-10",
                "event": "ac-02",
            },
            "after": {
                "terms": "5% a year",
                "value": {"amount": 5, "unit": "percent"},
                "since": "2024-02-12",
                "event": "ac-04",
                "accepted": "ac-05",
            },
        }
    ]
    assert timeline_json(app.timeline(AC))["events"][-1]["summary"] == "local-7 accepted proposal ac-04 on pay"


def test_retracting_the_acceptance_falls_back(app: Negotiations, tmp_path: Path) -> None:
    """Once the acceptance is retracted, the union stands on its own 6% again; as known before, on 5%."""
    imported(app, tmp_path, ACCEPTANCE)
    retract = _ac("ac-06", "event.retracted", "2024-02-20", target="ac-05", reason="misreported")
    imported(app, tmp_path, [retract], name="retract.jsonl")
    union = app.positions(AC).get("local-7", "pay")
    assert union is not None
    assert (union.event, union.accepted, union.value and union.value.amount) == ("ac-02", None, 6)
    assert app.gaps(AC)[0].distance == 1
    before = app.positions(AC, known_at=dt.date(2024, 2, 19)).get("local-7", "pay")
    assert before is not None
    assert (before.event, before.accepted) == ("ac-04", "ac-05")


def test_a_later_proposal_of_the_acceptor_replaces_the_accepted_one(app: Negotiations, tmp_path: Path) -> None:
    """Accepting is a position like any other: the party's next proposal on the issue replaces it."""
    later = _ac(
        "ac-06",
        "proposal.made",
        "2024-03-01",
        by="local-7",
        issue="pay",
        terms="5.5%",
        value={"amount": 5.5, "unit": "percent"},
    )
    imported(app, tmp_path, [*ACCEPTANCE, later])
    union = app.positions(AC).get("local-7", "pay")
    assert union is not None
    assert (union.event, union.accepted) == ("ac-06", None)


# --- bad input: one line each, naming the event, the rule and the line; nothing stored -----------------


BAD = [
    pytest.param(
        VERIZON[:5],
        _vz("vz-99", "ratification.completed", "2016-06-11", by="cwa", yes_share=0.9, outcome="ratified"),
        "'cwa' has already voted on the current tentative agreement [rule: vote-once]",
        id="union-votes-twice",
    ),
    pytest.param(
        VERIZON[:4],
        _vz("vz-99", "ratification.completed", "2016-06-11", by="teamsters", yes_share=0.9, outcome="ratified"),
        "by: 'teamsters' is not a party of the negotiation [rule: known-party]",
        id="vote-by-a-stranger",
    ),
    pytest.param(
        VERIZON[:3],
        _vz("vz-99", "ratification.completed", "2016-06-11", by="cwa", yes_share=0.9, outcome="ratified"),
        "no tentative agreement awaits a vote (agreement: none) [rule: vote-needs-agreement]",
        id="vote-without-agreement",
    ),
    pytest.param(
        ACCEPTANCE[:4],
        _ac("ac-99", "proposal.accepted", "2024-02-12", by="acme", issue="pay", proposal="ac-04"),
        "proposal: 'ac-04' was made by 'acme' itself [rule: proposal-reference]",
        id="accept-own-proposal",
    ),
    pytest.param(
        [*ACCEPTANCE[:4], _ac("ac-w", "proposal.withdrawn", "2024-02-10", by="acme", issue="pay")],
        _ac("ac-99", "proposal.accepted", "2024-02-12", by="local-7", issue="pay", proposal="ac-04"),
        "proposal: 'acme' withdrew 'ac-04' on 'pay' before it was accepted [rule: accept-not-withdrawn]",
        id="accept-withdrawn-proposal",
    ),
    pytest.param(
        [*ACCEPTANCE[:4], _ac("ac-r", "event.retracted", "2024-02-10", target="ac-04", reason="misreported")],
        _ac("ac-99", "proposal.accepted", "2024-02-12", by="local-7", issue="pay", proposal="ac-04"),
        "proposal: 'ac-04' is not a proposal.made of this negotiation (or it was retracted) [rule: proposal-reference]",
        id="accept-retracted-proposal",
    ),
]


@pytest.mark.parametrize(("stored", "bad", "message"), BAD)
def test_bad_input_is_refused_with_one_line_and_nothing_stored(
    app: Negotiations, tmp_path: Path, stored: list[str], bad: str, message: str
) -> None:
    """Stored first; then a file of a good line and the bad one: the bad line is named, nothing of the file stored."""
    imported(app, tmp_path, stored)
    negotiation = parse_line(bad).negotiation
    before = app.events(negotiation)
    good = line(
        "ok-1",
        "statement.issued",
        negotiation,
        "2016-06-11" if negotiation == VZ else "2024-02-12",
        "2024-06-01T00:00:00Z",
        by=parse_line(stored[0]).parties[0].id,
        text="A statement.",
    )  # type: ignore[attr-defined]
    path = tmp_path / "bad.jsonl"
    path.write_text(f"# a comment\n{good}\n{bad}\n", encoding="utf-8")
    report = app.import_files([path], now=NOW)
    event_id = parse_line(bad).id
    assert [str(r) for r in report.refused] == [f"{path}:3: {event_id}: {message}"]
    assert "\n" not in str(report.refused[0])
    assert app.events(negotiation) == before


# --- late ratifications and acceptances re-validate the timeline -----------------------------------


def test_a_late_ratification_that_would_close_too_early_is_refused(app: Negotiations, tmp_path: Path) -> None:
    """A union's last vote recorded late before a stored event that a closed negotiation refuses: named, refused."""
    imported(app, tmp_path, [*VERIZON[:5], _vz("vz-10", "talks.held", "2016-06-15")])
    late = tmp_path / "late.jsonl"
    late.write_text(
        _vz("vz-06", "ratification.completed", "2016-06-12", by="ibew", yes_share=0.8, outcome="ratified") + "\n",
        encoding="utf-8",
    )
    report = app.import_files([late], now=NOW)
    assert [str(r) for r in report.refused] == [
        f"{late}:1: vz-06: would make stored event vz-10 invalid: the agreement was ratified; talks.held is no "
        "longer accepted [rule: closed-after-ratification]"
    ]


def test_a_late_acceptance_commutes_and_its_positions_are_exact() -> None:
    """A late proposal.accepted is checked where it lands only (it commutes); positions are refolded exactly."""
    events = [parse_line(text) for text in ACCEPTANCE[:4]]
    filler = [
        StatementIssued(
            id=f"st-{i}",
            negotiation=AC,
            occurred_at=dt.datetime(2024, 2, 15, tzinfo=dt.UTC) + dt.timedelta(minutes=i),
            recorded_at=dt.datetime(2024, 3, 1, tzinfo=dt.UTC),
            by="acme",
            text="We remain at the table.",
        )
        for i in range(3 * CHECKPOINT_INTERVAL)
    ]
    history = History(AC)
    history.apply(history.plan([*events, *filler], now=NOW))
    # Checkpoints of every fold exist past the landing point before the late event comes in.
    status_of(history, now=NOW)
    positions_of(history, now=NOW)
    acceptance = parse_line(ACCEPTANCE[4])
    assert isinstance(acceptance, ProposalAccepted)
    plan = history.plan([acceptance], now=NOW)
    assert plan.commutes
    history.apply(plan)
    fresh = History(AC, history.events())
    for as_of in (None, dt.date(2024, 2, 12), dt.date(2024, 2, 16)):
        for known_at in (None, dt.date(2024, 2, 13), dt.date(2024, 3, 2)):
            args: dict[str, Any] = {"as_of": as_of, "known_at": known_at, "now": NOW}
            assert positions_json(positions_of(history, **args)) == positions_json(positions_of(fresh, **args))
            assert status_json(status_of(history, **args)) == status_json(status_of(fresh, **args))
    union = positions_of(history, now=NOW).get("local-7", "pay")
    assert union is not None
    assert union.accepted == "ac-05"


def test_a_late_withdrawal_that_voids_a_stored_acceptance_is_refused() -> None:
    """proposal.withdrawn no longer commutes: recorded late before a stored acceptance of it, it is refused."""
    history = History(AC, [])
    history.apply(history.plan([parse_line(text) for text in ACCEPTANCE], now=NOW))
    withdrawal = parse_line(_ac("ac-w", "proposal.withdrawn", "2024-02-10", by="acme", issue="pay"))
    with pytest.raises(RuleViolationError) as info:
        history.plan([withdrawal], now=NOW)
    assert (info.value.event_id, info.value.rule, info.value.breaks) == ("ac-w", "accept-not-withdrawn", "ac-05")
    late_proposal = parse_line(_ac("ac-p", "proposal.made", "2024-02-07", by="acme", issue="pay", terms="4.5%"))
    plan = history.plan([late_proposal], now=NOW)
    assert not plan.commutes


def test_stoppages_of_a_day_end_at_the_right_vote(app: Negotiations, tmp_path: Path) -> None:
    """A strike called and ended on one day: another union's vote that day does not end it; its own end does."""
    day = [
        VERIZON[0],
        _vz("vz-04", "agreement.tentative", "2016-06-01"),
        _vz("vz-20", "strike.called", "2016-06-10T08:00:00-04:00", by="ibew"),
        _vz("vz-21", "ratification.completed", "2016-06-10T12:00:00-04:00", by="cwa", yes_share=0.9,
            outcome="ratified"),
        _vz("vz-22", "strike.ended", "2016-06-10T15:00:00-04:00", by="ibew"),
    ]  # fmt: skip
    imported(app, tmp_path, day)
    [entry] = app.stoppages(on=dt.date(2016, 6, 10))
    assert (entry.party, entry.ended) == ("ibew", dt.datetime(2016, 6, 10, 15, tzinfo=entry.started.tzinfo))
