"""Every example is exercised: the scripts in ``examples/``, the two 2023 logs, ``make demo``, and docs/reference.md.

``examples/embed_in_service.py`` is run by ``tests/projections/test_persisted.py``
(``test_the_example_service_runs``, on every store); here a test only checks
that every example script is run by some test.

The golden answers are the real 2023 history as the example logs record it
(see ``examples/SOURCES.md``): the WGA struck from 2023-05-02 to 2023-09-27,
SAG-AFTRA from 2023-07-14 to 2023-11-09.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from events import EVENT_TYPES, Event, parse_line
from negotiation import RULES, Negotiations
from projections import positions_json, status_json, stoppages_json

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
WGA_FILE = EXAMPLES / "wga_amptp_2023.jsonl"
SAG_FILE = EXAMPLES / "sag_aftra_amptp_2023.jsonl"
REFERENCE = ROOT / "docs" / "reference.md"
WGA = "wga-amptp-2023"
SAG = "sag-aftra-amptp-2023"


@pytest.fixture(scope="module")
def app() -> Iterator[Negotiations]:
    """A memory store with both example logs imported."""
    with Negotiations("memory:") as negotiations:
        report = negotiations.import_files([WGA_FILE, SAG_FILE])
        assert report.ok, report.refused
        yield negotiations


def status(app: Negotiations, negotiation: str, day: str, known_at: str | None = None) -> dict[str, Any]:
    """The spec's status answer at the end of ``day``, as ``negotiation status --json`` prints it."""
    known = None if known_at is None else dt.date.fromisoformat(known_at)
    return status_json(app.status(negotiation, as_of=dt.date.fromisoformat(day), known_at=known))


# --- the example scripts ----------------------------------------------------------------------


def test_quickstart_runs(tmp_path: Path) -> None:
    """``examples/quickstart.py`` exits 0 and prints the idempotent append and the statuses."""
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "quickstart.py")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "stored 6 events, 0 already present"
    assert lines[1] == "appending again: stored 0, 6 already present"
    assert [json.loads(line)["id"] for line in lines[2:8]] == [f"qs-{n}" for n in range(1, 7)]
    assert lines[-2:] == ["2023-04-01: phase bargaining, talks active", "2023-05-02: phase strike, talks active"]
    assert list(tmp_path.iterdir()) == []  # it wrote its store in a temporary folder


def test_every_example_script_is_run_by_a_test() -> None:
    """Each ``examples/*.py`` is run as a subprocess by some test of the suite."""
    tests = "\n".join(path.read_text(encoding="utf-8") for path in (ROOT / "tests").rglob("test_*.py"))
    for script in sorted(EXAMPLES.glob("*.py")):
        assert f'"{script.name}"' in tests, f"no test runs examples/{script.name}"


# --- the example logs ---------------------------------------------------------------------------


def test_example_logs_verify_and_import_cleanly() -> None:
    """Both logs pass verify, import every event, and a second import stores nothing."""
    with Negotiations("memory:") as app:
        checked = app.import_files([WGA_FILE, SAG_FILE], dry_run=True)
        assert (checked.ok, checked.lines, checked.accepted, checked.stored) == (True, 80, 80, 0)
        report = app.import_files([WGA_FILE, SAG_FILE])
        assert (report.ok, report.stored, report.negotiations) == (True, 80, (WGA, SAG))
        again = app.import_files([WGA_FILE, SAG_FILE])
        assert (again.ok, again.stored, again.duplicates) == (True, 0, 80)
        assert [len(app.events(n)) for n in (WGA, SAG)] == [46, 34]


def test_example_logs_round_trip_through_export() -> None:
    """Exporting the examples and importing the export elsewhere gives the same events."""
    with Negotiations("memory:") as first, Negotiations("memory:") as second:
        first.import_files([WGA_FILE, SAG_FILE])
        lines = list(first.export())
        second.append([parse_line(line) for line in lines])
        assert list(second.export()) == lines


def test_wga_impasse_on_2023_05_01() -> None:
    """On 2023-05-01 talks had broken off and the contract had expired: impasse, no strike yet."""
    with Negotiations("memory:") as app:
        app.import_files([WGA_FILE])
        answer = status(app, WGA, "2023-05-01")
    assert (answer["phase"], answer["talks"], answer["stoppage"], answer["contract"]) == (
        "impasse",
        "suspended",
        None,
        "expired",
    )


def test_wga_strike_day_1_on_2023_05_02(app: Negotiations) -> None:
    """The WGA strike started at 00:01 on 2023-05-02: day 1."""
    answer = status(app, WGA, "2023-05-02")
    assert answer["phase"] == "strike"
    assert answer["stoppage"] == {"kind": "strike", "parties": ["wga"], "since": "2023-05-02", "day": 1}


def test_wga_strike_day_102_talks_active_on_2023_08_11(app: Negotiations) -> None:
    """On 2023-08-11, strike day 102, talks were active again."""
    answer = status(app, WGA, "2023-08-11")
    assert answer["phase"] == "strike"
    assert answer["talks"] == "active"
    assert answer["stoppage"] == {"kind": "strike", "parties": ["wga"], "since": "2023-05-02", "day": 102}
    assert (answer["agreement"], answer["contract"]) == ("none", "expired")


def test_wga_talks_not_yet_known_resumed_on_2023_08_11(app: Negotiations) -> None:
    """As known at the end of 2023-08-11 talks were still suspended: the session was reported on Aug. 12."""
    assert status(app, WGA, "2023-08-11", known_at="2023-08-11")["talks"] == "suspended"
    assert status(app, WGA, "2023-08-11", known_at="2023-08-12")["talks"] == "active"


def test_wga_tentative_agreement_during_the_strike_on_2023_09_24(app: Negotiations) -> None:
    """On 2023-09-24 the tentative agreement was reached while the strike still ran (day 146)."""
    answer = status(app, WGA, "2023-09-24")
    assert (answer["phase"], answer["agreement"]) == ("tentative_agreement", "tentative")
    assert answer["stoppage"] == {"kind": "strike", "parties": ["wga"], "since": "2023-05-02", "day": 146}


def test_wga_ratified_on_2023_10_09(app: Negotiations) -> None:
    """On 2023-10-09 the WGA ratified: new contract, no stoppage."""
    answer = status(app, WGA, "2023-10-09")
    assert (answer["phase"], answer["agreement"], answer["contract"]) == ("ratified", "ratified", "new")
    assert answer["stoppage"] is None


def test_sag_aftra_strike_day_1_on_2023_07_14(app: Negotiations) -> None:
    """SAG-AFTRA struck at 00:01 on 2023-07-14: day 1."""
    answer = status(app, SAG, "2023-07-14")
    assert answer["phase"] == "strike"
    assert answer["stoppage"] == {"kind": "strike", "parties": ["sag-aftra"], "since": "2023-07-14", "day": 1}


def test_sag_aftra_tentative_agreement_on_strike_day_118(app: Negotiations) -> None:
    """On 2023-11-08 SAG-AFTRA reached a tentative agreement on strike day 118."""
    answer = status(app, SAG, "2023-11-08")
    assert answer["phase"] == "tentative_agreement"
    assert answer["stoppage"] is not None
    assert answer["stoppage"]["day"] == 118


def test_both_strikes_run_on_2023_08_01(app: Negotiations) -> None:
    """On 2023-08-01 writers (day 92) and actors (day 19) were on strike against the AMPTP."""
    on = dt.date(2023, 8, 1)
    answer = stoppages_json(app.stoppages(on=on), on=on)
    running = {(s["negotiation"], s["party"], s["kind"], s["day"], s["ended"]) for s in answer["stoppages"]}
    assert running == {(WGA, "wga", "strike", 92, None), (SAG, "sag-aftra", "strike", 19, None)}
    assert all(s["against"] == ["amptp"] for s in answer["stoppages"])


def _wages_from_file(path: Path, day: dt.date) -> dict[str, tuple[str, float | int]]:
    """Party -> (event id, amount) of the last wages proposal made or accepted by ``day``, read straight from the file.

    Spec 1.1: accepting another party's proposal makes it the accepting party's position.
    """
    made: dict[str, tuple[str, float | int]] = {}
    amounts: dict[str, float | int] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        event = json.loads(line)
        data = event["data"]
        if data.get("issue") != "wages" or event["occurred_at"][:10] > str(day):
            continue
        if event["type"] == "proposal.made":
            made[data["by"]] = (event["id"], data["value"]["amount"])
            amounts[event["id"]] = data["value"]["amount"]
        elif event["type"] == "proposal.accepted":
            made[data["by"]] = (data["proposal"], amounts[data["proposal"]])
    return made


def test_wga_wage_positions_on_2023_09_24(app: Negotiations) -> None:
    """Wages on 2023-09-24: the WGA accepted the AMPTP's 5% (wga-024) that day (wga-041): both stand at 5%.

    Spec 1.1; under 1.0 the WGA still showed its 6% of March (wga-003).
    """
    day = dt.date(2023, 9, 24)
    wages = {
        party: issues["wages"] for party, issues in positions_json(app.positions(WGA, as_of=day))["positions"].items()
    }
    assert wages["amptp"]["value"] == {"amount": 5, "unit": "percent"}
    assert (wages["amptp"]["event"], wages["amptp"]["since"]) == ("wga-024", "2023-08-11")
    assert "accepted" not in wages["amptp"]
    assert wages["wga"]["value"] == {"amount": 5, "unit": "percent"}
    assert (wages["wga"]["event"], wages["wga"]["since"], wages["wga"]["accepted"]) == (
        "wga-024",
        "2023-09-24",
        "wga-041",
    )
    assert {p: (w["event"], w["value"]["amount"]) for p, w in wages.items()} == _wages_from_file(WGA_FILE, day)
    # The day before, and as known on the 24th (the acceptance was recorded on the 26th), the WGA was at 6%.
    for answer in (app.positions(WGA, as_of=day - dt.timedelta(days=1)), app.positions(WGA, as_of=day, known_at=day)):
        wga = answer.get("wga", "wages")
        assert wga is not None
        assert (wga.event, wga.since, wga.accepted) == ("wga-003", dt.date(2023, 3, 20), None)
    gap = next(g for g in app.gaps(WGA, as_of=day) if g.issue == "wages")
    assert gap.distance == 0


def test_wga_wage_positions_when_talks_broke_off(app: Negotiations) -> None:
    """On 2023-05-01 the WGA asked 6% and the AMPTP offered 4%, but as known that day neither number was public."""
    day = dt.date(2023, 5, 1)
    positions = app.positions(WGA, as_of=day)
    assert (positions.get("wga", "wages").value.amount, positions.get("amptp", "wages").value.amount) == (6, 4)
    known = app.positions(WGA, as_of=day, known_at=day)
    assert known.get("wga", "wages") is None
    assert known.get("amptp", "wages") is None


# --- make demo ------------------------------------------------------------------------------------


@pytest.mark.slow
def test_make_demo(tmp_path: Path) -> None:
    """``make demo`` replays both logs into a fresh store and prints the telling answers."""
    make = shutil.which("make")
    bin_dir = Path(sys.executable).parent
    stamp = ROOT / ".venv" / ".installed-stamp"
    if make is None or not (bin_dir / "negotiation").exists() or not stamp.exists():
        pytest.skip("needs make, the installed console script and an installed .venv (make install)")
    db = tmp_path / "demo.db"
    db.write_text("not a database: the demo must start afresh")
    env = {**os.environ, "COLUMNS": "120"}
    env.pop("NEGOTIATION_DB", None)
    done = subprocess.run(
        # -o: never re-create the venv from the test; BIN: the interpreter running the tests.
        [
            make,
            "-s",
            "-o",
            str(stamp.relative_to(ROOT)),
            "demo",
            f"BIN={bin_dir}",
            f"DEMO_DB={db}",
            f"DEMO_CHARTS={tmp_path / 'charts'}",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=ROOT,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "80 events stored, 0 already present, 0 refused" in out
    sections = _Sections(out)
    assert re.search(r"phase +impasse", sections["WGA, 2023-05-01"])
    assert "strike by wga since 2023-05-02 (day 1)" in sections["WGA, 2023-05-02"]
    day_102 = json.loads(sections["WGA, 2023-08-11"].split("\n", 1)[1])
    assert (day_102["phase"], day_102["talks"], day_102["stoppage"]["day"]) == ("strike", "active", 102)
    assert "tentative_agreement" in sections["WGA, 2023-09-24"]
    assert "(day 146)" in sections["WGA, 2023-09-24"]
    assert re.search(r"phase +ratified", sections["WGA, 2023-10-09"])
    assert re.search(r"contract +new", sections["WGA, 2023-10-09"])
    assert "strike by sag-aftra since 2023-07-14 (day 1)" in sections["SAG-AFTRA, 2023-07-14"]
    assert "(day 118)" in sections["SAG-AFTRA, 2023-11-08"]
    stoppages = sections["Stoppages running on 2023-08-01"]
    assert re.search(r"wga-amptp-2023 .* 2023-05-02 .* 92\b", stoppages)
    assert re.search(r"sag-aftra-amptp-2023 .* 2023-07-14 .* 19\b", stoppages)
    assert "amptp  4 percent  [wga-010" in sections["WGA wages"]
    assert "amptp  5 percent  [wga-024, since 2023-08-11]" in sections["... and 5/4/3.5"]
    assert "wga    5 percent  [wga-024, since 2023-09-24, accepted: wga-041]" in sections["... and 5/4/3.5"]
    assert "amptp  4 percent  [wga-010" in sections["What we knew"]
    assert "wga-045" in sections["The end of the WGA strike"]
    assert re.search(r"wages +percent +wga +6 .* amptp +5 ", sections["How far apart on numbers"])
    pictures = sections["Pictures"]
    for name in ("wga-amptp-2023.html", "stoppages-2023.html"):
        path = tmp_path / "charts" / name
        assert f"\n{path}\n" in pictures  # the demo prints each chart's path
        assert path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


class _Sections:
    """The demo's output by ``== heading``; looked up by the heading's beginning."""

    def __init__(self, out: str) -> None:
        self.sections = [chunk.partition("\n")[::2] for chunk in out.split("\n== ")[1:]]

    def __getitem__(self, prefix: str) -> str:
        texts = [text for heading, text in self.sections if heading.startswith(prefix)]
        assert len(texts) == 1, f"{len(texts)} sections start with {prefix!r}"
        return texts[0]


# --- docs/reference.md ---------------------------------------------------------------------------


def reference_lines() -> list[str]:
    """The example event lines of docs/reference.md (lines starting with ``{"id":``)."""
    return [line for line in REFERENCE.read_text(encoding="utf-8").splitlines() if line.startswith('{"id":')]


def test_every_rule_is_documented() -> None:
    """Every rule name of ``negotiation.RULES`` (and ``format``) has a row in docs/reference.md's rules table."""
    text = REFERENCE.read_text(encoding="utf-8")
    missing = [rule for rule in [*RULES, "format"] if f"| `{rule}` |" not in text]
    assert missing == []


def test_reference_has_an_example_of_every_event_type() -> None:
    """docs/reference.md shows at least one example line of each of the catalog's types."""
    shown = {json.loads(line)["type"] for line in reference_lines()}
    assert shown == set(EVENT_TYPES)


def test_reference_examples_are_one_valid_negotiation() -> None:
    """The reference's example lines parse and, appended together, pass every rule and end ratified."""
    events: list[Event] = [parse_line(line) for line in reference_lines()]
    with Negotiations("memory:") as app:
        result = app.append(events)
        assert len(result.stored) == len(events)
        assert app.status("acme-2024").phase == "ratified"
        # Spec 1.1: local-7 accepted acme-18 (acme-19): both sides stand on it.
        assert [(p.party, p.event, p.accepted) for p in app.positions("acme-2024")] == [
            ("acme", "acme-18", None),
            ("local-7", "acme-18", "acme-19"),
        ]
        assert "acme-08" not in [s.id for s in app.statements("acme-2024")]  # retracted


def _json_blocks(text: str) -> list[Any]:
    return [orjson.loads(block) for block in re.findall(r"```json\n(\{\n.*?\n\})\n```", text, re.S)]


def test_reference_answers_are_real(app: Negotiations) -> None:
    """The status and positions answers shown in docs/reference.md are what the library answers."""
    documents = _json_blocks(REFERENCE.read_text(encoding="utf-8"))
    shown_status = next(d for d in documents if "phase" in d)
    assert status(app, WGA, "2023-08-11", known_at="2023-08-31") == shown_status
    shown_positions = next(d for d in documents if "positions" in d)
    answer = positions_json(
        app.positions(WGA, as_of=dt.date(2023, 9, 24), known_at=dt.date(2023, 10, 31)),
    )
    answer["positions"] = {party: {"wages": issues["wages"]} for party, issues in answer["positions"].items()}
    assert answer == shown_positions
