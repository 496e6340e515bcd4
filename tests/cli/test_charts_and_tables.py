"""The command line's chart, gap and --csv, and its tables at 80 and 120 columns (the tabular snapshots)."""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from tests.charts.shapes import EXAMPLES
from tests.cli.conftest import NEGOTIATION

Run = Callable[..., Result]
WGA = "wga-amptp-2023"
SNAPSHOTS = Path(__file__).resolve().parents[1] / "negotiation" / "snapshots"


@pytest.fixture
def hollywood(cli_run: Run, tmp_path: Path) -> str:
    db = str(tmp_path / "hollywood.db")
    files = [str(EXAMPLES / "wga_amptp_2023.jsonl"), str(EXAMPLES / "sag_aftra_amptp_2023.jsonl")]
    assert cli_run("--db", db, "import", "--quiet", *files).exit_code == 0
    return db


def test_chart_svg(cli_run: Run, hollywood: str, tmp_path: Path) -> None:
    out = tmp_path / "wga.svg"
    result = cli_run("--db", hollywood, "chart", WGA, "--output", str(out))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"{out}\n"
    texts = ["".join(t.itertext()) for t in ET.parse(out).iter("{http://www.w3.org/2000/svg}text")]  # noqa: S314
    assert "strike by wga: 148 days" in texts
    assert "day 102" in texts


def test_chart_of_the_stoppages(cli_run: Run, hollywood: str, tmp_path: Path) -> None:
    out = tmp_path / "stoppages.html"
    args = ["--db", hollywood, "chart", "--stoppages", "--from", "2023-01-01", "--to", "2023-12-31", "-o", str(out)]
    result = cli_run(*args)
    assert result.exit_code == 0, result.stderr
    page = out.read_text(encoding="utf-8")
    assert "wga vs amptp: 148 days" in page
    assert "sag-aftra vs amptp: 118 days" in page


def test_chart_known_at_and_range(cli_run: Run, hollywood: str, tmp_path: Path) -> None:
    out = tmp_path / "aug.svg"
    args = ["--db", hollywood, "chart", WGA, "--from", "2023-08-01", "--to", "2023-08-15", "--known-at", "2023-08-12"]
    result = cli_run(*args, "-o", str(out))
    assert result.exit_code == 0, result.stderr
    svg = out.read_text(encoding="utf-8")
    assert "2023-08-01 to 2023-08-15, as known at 2023-08-12T23:59:59" in svg
    assert "wga-024" not in svg  # the Aug. 11 offer was recorded on Aug. 22


@pytest.fixture
def folds(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The negotiations whose history is loaded to be folded (``Negotiations.existing``); the store-wide folds fail."""
    from negotiation import Negotiations

    loaded: list[str] = []
    real = Negotiations.existing

    def existing(self: Negotiations, negotiation: str) -> object:
        loaded.append(negotiation)
        return real(self, negotiation)

    def histories(self: Negotiations) -> object:
        raise AssertionError("every history was loaded")

    monkeypatch.setattr(Negotiations, "existing", existing)
    monkeypatch.setattr(Negotiations, "histories", histories)
    return loaded


def test_chart_reads_the_tables_and_folds_no_history(
    cli_run: Run, hollywood: str, tmp_path: Path, folds: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 11: status (at every sampled date), timeline, positions and gaps come from the tables, not a fold.

    The numeric panels' gaps too: they are folded from the negotiation's position
    events read from the tables (``IndexedQueries.gaps``), never from its history.
    """
    from negotiation.queries import HistoryQueries

    def folded(*args: object, **kwargs: object) -> object:
        raise AssertionError("the gaps were folded from the history")

    monkeypatch.setattr(HistoryQueries, "gaps", folded)
    out = tmp_path / "wga.svg"
    result = cli_run("--db", hollywood, "chart", WGA, "--known-at", "2023-09-30", "--output", str(out))
    assert result.exit_code == 0, result.stderr
    texts = ["".join(t.itertext()) for t in ET.parse(out).iter("{http://www.w3.org/2000/svg}text")]  # noqa: S314
    assert "strike by wga: 148 days" in texts
    assert "day 102" in texts
    assert "wages (percent)" in texts  # the wage panel: both sides' numbers, from the gaps
    assert folds == []


def test_chart_of_the_stoppages_folds_no_history(
    cli_run: Run, hollywood: str, tmp_path: Path, folds: list[str]
) -> None:
    out = tmp_path / "stoppages.svg"
    args = ["--db", hollywood, "chart", "--stoppages", "--from", "2023-01-01", "--to", "2023-12-31", "-o", str(out)]
    result = cli_run(*args)
    assert result.exit_code == 0, result.stderr
    texts = ["".join(t.itertext()) for t in ET.parse(out).iter("{http://www.w3.org/2000/svg}text")]  # noqa: S314
    assert "wga vs amptp: 148 days" in texts
    assert folds == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["chart", WGA, "-o", "x.pdf"], "name a file ending in .html, .svg or .png"),
        (["chart", "-o", "x.svg"], "name a NEGOTIATION, or give --stoppages"),
        (["chart", "--stoppages", "-o", "x.svg"], "--stoppages needs --from and --to"),
        (
            ["chart", WGA, "--stoppages", "--from", "2023-01-01", "--to", "2023-02-01", "-o", "x.svg"],
            "give no NEGOTIATION",
        ),
        (["chart", WGA], "Missing option '-o' / '--output'"),
    ],
)
def test_chart_usage_errors(cli_run: Run, hollywood: str, args: list[str], message: str) -> None:
    result = cli_run("--db", hollywood, *args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert not Path("x.svg").exists()


def test_chart_of_an_unknown_negotiation(cli_run: Run, hollywood: str, tmp_path: Path) -> None:
    result = cli_run("--db", hollywood, "chart", "nope", "-o", str(tmp_path / "x.svg"))
    assert result.exit_code == 1
    assert result.stderr == "error: negotiation 'nope' not found\n"
    assert not (tmp_path / "x.svg").exists()


def test_chart_without_the_extra(cli_run: Run, hollywood: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "altair" else real(name, *a))
    result = cli_run("--db", hollywood, "chart", WGA, "-o", str(tmp_path / "x.svg"))
    assert result.exit_code == 1
    assert result.stderr == (
        "error: charts need the 'charts' extra (altair is not installed): pip install 'negotiation-log[charts]'\n"
    )


def test_gap(cli_run: Run, hollywood: str, folds: list[str]) -> None:
    """The gaps from the tables (no history loaded), as of a date and as known at another."""
    answer = json.loads(cli_run("--db", hollywood, "gap", WGA, "--at", "2023-08-22", "--json").stdout)
    [wages] = answer["gaps"]
    assert (wages["issue"], wages["union"]["amount"], wages["employer"]["amount"], wages["distance"]) == (
        "wages",
        6,
        5,
        1,
    )
    assert wages["employer"]["conceded"] == 1
    before = json.loads(
        cli_run("--db", hollywood, "gap", WGA, "--at", "2023-08-22", "--known-at", "2023-08-12", "--json").stdout
    )
    assert before["gaps"][0]["employer"]["amount"] == 4  # the Aug. 11 offer was not public yet
    shown = cli_run("--db", hollywood, "gap", WGA, "--at", "2023-08-22", env={"COLUMNS": "80"})
    assert shown.exit_code == 0
    assert "employer amount: 5" in shown.stdout
    empty = cli_run("--db", hollywood, "gap", WGA, "--at", "2023-03-21")
    assert empty.stdout == "no issue with comparable numbers on both sides\n"
    assert folds == []


@pytest.mark.parametrize(
    ("args", "header"),
    [
        (["list"], "negotiation,title,phase,stoppage,events"),
        (["status", WGA], "field,value"),
        (["positions", WGA], "issue,party,amount,unit,currency,since,event,accepted,terms"),
        (["timeline", WGA], "date,type,by,id,what"),
        (["diff", WGA, "--from", "2023-05-01", "--to", "2023-08-22"], "what,change,before,after"),
        (["stoppages", "--on", "2023-08-01"], "negotiation,kind,by,against,since,day,ended"),
        (
            ["gap", WGA],
            "issue,unit,union,union amount,union conceded,employer,employer amount,employer conceded,distance",
        ),
    ],
)
def test_csv_on_every_table_command(cli_run: Run, hollywood: str, args: list[str], header: str) -> None:
    result = cli_run("--db", hollywood, *args, "--csv")
    assert result.exit_code == 0, result.stderr
    assert result.stdout_bytes.startswith(header.encode() + b"\r\n")
    rows = list(csv.reader(io.StringIO(result.stdout, newline="")))
    assert len(rows) > 1
    assert all(len(row) == len(rows[0]) for row in rows)


def test_csv_and_json_together_is_a_usage_error(cli_run: Run, hollywood: str) -> None:
    result = cli_run("--db", hollywood, "status", WGA, "--csv", "--json")
    assert result.exit_code == 2
    assert "--json and --csv cannot be used together" in result.stderr


def test_csv_of_untrusted_text_is_inert(cli_run: Run, imported: str) -> None:
    result = cli_run("--db", imported, "timeline", NEGOTIATION, "--csv")
    assert result.exit_code == 0
    assert b"\x1b" not in result.stdout_bytes
    assert "\\x1b[31mRED" in result.stdout


@pytest.mark.parametrize("width", [80, 120])
def test_positions_at_80_and_120_columns(cli_run: Run, hollywood: str, width: int) -> None:
    """The terminal's width chooses the layout: the same text as the tabular snapshot (title in bold aside)."""
    args = ["--db", hollywood, "positions", WGA, "--at", "2023-08-11", "--known-at", "2024-01-01T00:00:00Z"]
    result = cli_run(*args, env={"COLUMNS": str(width)})
    assert result.exit_code == 0
    assert result.stdout == (SNAPSHOTS / f"positions-{width}.txt").read_text(encoding="utf-8")
    assert max(len(line) for line in result.stdout.splitlines()) <= width
