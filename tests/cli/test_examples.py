"""Golden answers of the CLI on the real-world example logs in ``examples/``."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

Run = Callable[..., Result]

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
WGA = EXAMPLES / "wga_amptp_2023.jsonl"
SAG = EXAMPLES / "sag_aftra_amptp_2023.jsonl"

pytestmark = pytest.mark.skipif(not (WGA.exists() and SAG.exists()), reason="the example logs are not there")


@pytest.fixture
def examples_db(cli_run: Run, db: str) -> str:
    """A store with both example negotiations imported."""
    result = cli_run("--db", db, "import", str(WGA), str(SAG))
    assert result.exit_code == 0, result.stderr
    return db


def test_examples_verify_cleanly(cli_run: Run, db: str) -> None:
    """Both example logs pass verify against an empty store."""
    result = cli_run("--db", db, "verify", str(WGA), str(SAG))
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""


def test_wga_on_strike_day_102(cli_run: Run, examples_db: str) -> None:
    """On 2023-08-11 the WGA had been on strike since 2023-05-02: day 102, talks active."""
    result = cli_run("--db", examples_db, "status", "wga-amptp-2023", "--at", "2023-08-11", "--json")
    assert result.exit_code == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["phase"] == "strike"
    assert answer["talks"] == "active"
    assert answer["stoppage"]["kind"] == "strike"
    assert answer["stoppage"]["since"] == "2023-05-02"
    assert answer["stoppage"]["day"] == 102


def test_both_strikes_on_2023_08_11(cli_run: Run, examples_db: str) -> None:
    """On 2023-08-11 both the WGA and SAG-AFTRA were on strike."""
    result = cli_run("--db", examples_db, "stoppages", "--on", "2023-08-11", "--json")
    assert result.exit_code == 0, result.stderr
    running = {s["negotiation"]: s["day"] for s in json.loads(result.stdout)["stoppages"]}
    assert running["wga-amptp-2023"] == 102
    assert "sag-aftra-amptp-2023" in running


def test_examples_round_trip(cli_run: Run, examples_db: str, tmp_path: Path) -> None:
    """Exporting the examples and importing the export elsewhere gives the same export."""
    first = cli_run("--db", examples_db, "export")
    assert first.exit_code == 0
    path = tmp_path / "export.jsonl"
    path.write_text(first.stdout, encoding="utf-8")
    other = str(tmp_path / "other.db")
    assert cli_run("--db", other, "import", str(path)).exit_code == 0
    assert cli_run("--db", other, "export").stdout == first.stdout
    again = cli_run("--db", examples_db, "import", str(WGA), str(SAG))
    assert again.exit_code == 0
    assert "nothing new to store" in again.stdout


def test_wga_acceptance_and_ratification_in_the_tables(cli_run: Run, examples_db: str) -> None:
    """Spec 1.1 in the text output: the accepted wage offer in positions and diff, ratified_by in status."""
    positions = cli_run("--db", examples_db, "positions", "wga-amptp-2023", "--at", "2023-09-24")
    assert positions.exit_code == 0, positions.stderr
    wages = positions.stdout.split("issue wages", 1)[1]
    assert re.search(r"wga +5 percent +2023-09-24 +wga-024 +wga-041", wages)  # event, then the acceptance
    assert "accepted" in positions.stdout.splitlines()[2]  # the column's header
    before = cli_run("--db", examples_db, "status", "wga-amptp-2023", "--at", "2023-09-24")
    assert re.search(r"ratified by +none", before.stdout)
    after = cli_run("--db", examples_db, "status", "wga-amptp-2023", "--at", "2023-10-09")
    assert re.search(r"ratified by +wga", after.stdout)
    diff = cli_run("--db", examples_db, "diff", "wga-amptp-2023", "--from", "2023-09-23", "--to", "2023-09-24")
    assert diff.exit_code == 0, diff.stderr
    assert "wga on wages" in diff.stdout
    assert "[wga-024, accepted in wga-041]" in " ".join(diff.stdout.split())
