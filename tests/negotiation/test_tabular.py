"""negotiation.tabular: one table per answer, as text at 80 and 120 columns (snapshots) and as RFC 4180 CSV.

Snapshots live in ``tests/negotiation/snapshots/``; ``UPDATE_SNAPSHOTS=1`` rewrites them (then read the diff).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from negotiation import Negotiations
from negotiation.tabular import COMMANDS, Column, Table, csv_cell, plain, printable, table_for, to_csv, to_text
from projections.answers import (
    catalog_json,
    diff_json,
    gaps_json,
    positions_json,
    statements_json,
    status_json,
    stoppages_json,
    timeline_json,
)
from tests.charts.shapes import EXAMPLES

SNAPSHOTS = Path(__file__).parent / "snapshots"
WGA = "wga-amptp-2023"
KNOWN = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def hollywood() -> Iterator[Negotiations]:
    with Negotiations("memory:") as app:
        app.import_files([EXAMPLES / "wga_amptp_2023.jsonl", EXAMPLES / "sag_aftra_amptp_2023.jsonl"])
        yield app


def _answers(app: Negotiations) -> dict[str, dict[str, Any]]:
    """One answer per command, at times whose answers spec 1.1 does not change (no acceptance yet)."""
    aug11, aug22 = dt.date(2023, 8, 11), dt.date(2023, 8, 22)
    return {
        "list": catalog_json(app.catalog(as_of=aug11, known_at=KNOWN)),
        "positions": positions_json(app.positions(WGA, as_of=aug11, known_at=KNOWN)),
        "timeline": timeline_json(
            app.timeline(WGA, start=dt.date(2023, 8, 1), end=aug22, known_at=KNOWN), negotiation=WGA
        ),
        "statements": statements_json(app.statements(WGA, as_of=dt.date(2023, 5, 4), known_at=KNOWN), negotiation=WGA),
        "diff": diff_json(app.diff(WGA, start=dt.date(2023, 5, 1), end=aug22, known_at=KNOWN)),
        "stoppages": stoppages_json(app.stoppages(on=dt.date(2023, 8, 1), known_at=KNOWN), on=dt.date(2023, 8, 1)),
        "gap": gaps_json(app.gaps(WGA, as_of=aug22, known_at=KNOWN), negotiation=WGA),
    }


@pytest.mark.parametrize("width", [80, 120])
@pytest.mark.parametrize("command", ["list", "positions", "timeline", "statements", "diff", "stoppages", "gap"])
def test_text_snapshots(hollywood: Negotiations, command: str, width: int) -> None:
    shown = to_text(table_for(command, _answers(hollywood)[command]), width)
    path = SNAPSHOTS / f"{command}-{width}.txt"
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        path.write_text(shown, encoding="utf-8")
    assert shown == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("width", [80, 120])
@pytest.mark.parametrize("command", ["list", "positions", "timeline", "statements", "diff", "stoppages", "gap"])
def test_text_fits_and_never_breaks_ids(hollywood: Negotiations, command: str, width: int) -> None:
    answer = _answers(hollywood)[command]
    table = table_for(command, answer)
    shown = to_text(table, width)
    assert max(len(line) for line in shown.splitlines()) <= width
    words = set(shown.split())
    ids = {row[i] for row in table.rows for i, c in enumerate(table.columns) if c.kind == "id" and row[i]}
    for id_ in ids:
        assert all(part in words for part in id_.replace(",", " ").split()), id_


def test_positions_are_grouped_by_issue(hollywood: Negotiations) -> None:
    table = table_for("positions", _answers(hollywood)["positions"])
    assert table.group == 0
    issues = [row[0] for row in table.rows]
    assert issues == sorted(issues)
    shown = to_text(table, 80)
    assert "issue foreign-residuals" in shown
    assert "foreign-resid\n" not in shown


def test_status_table_lists_every_field(hollywood: Negotiations) -> None:
    answer = status_json(hollywood.status(WGA, as_of=dt.date(2023, 8, 11), known_at=KNOWN))
    table = table_for("status", answer)
    rows = dict(table.rows)
    assert rows["phase"] == "strike"
    assert rows["stoppage"] == "strike by wga since 2023-05-02 (day 102)"
    assert rows["as of"] == "2023-08-11T23:59:59.999999-07:00"


@pytest.mark.parametrize("command", COMMANDS)
def test_csv_round_trips_through_a_csv_reader(hollywood: Negotiations, command: str) -> None:
    answers = _answers(hollywood)
    answers["status"] = status_json(hollywood.status(WGA, as_of=dt.date(2023, 8, 11), known_at=KNOWN))
    table = table_for(command, answers[command])
    text = to_csv(table)
    assert text.endswith("\r\n")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[0] == list(table.header)
    assert [tuple(r) for r in rows[1:]] == [tuple(csv_cell(c) for c in r) for r in table.csv_rows()]


def test_positions_csv_keeps_amount_unit_and_dates_apart(hollywood: Negotiations) -> None:
    rows = list(csv.DictReader(io.StringIO(to_csv(table_for("positions", _answers(hollywood)["positions"])))))
    wages = {r["party"]: r for r in rows if r["issue"] == "wages"}
    assert (wages["wga"]["amount"], wages["wga"]["unit"], wages["wga"]["since"]) == ("6", "percent", "2023-03-20")
    assert (wages["amptp"]["amount"], wages["amptp"]["event"]) == ("5", "wga-024")
    assert "value" not in rows[0]  # the text layout's merged cell is not a CSV column
    assert list(rows[0])[:3] == ["issue", "party", "amount"]


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("-3", "-3"),
        ("+1.5", "+1.5"),
        ("-2.5e3", "-2.5e3"),
        ("plain = text", "plain = text"),
        ("", ""),
    ],
)
def test_formula_injection_is_guarded(cell: str, written: str) -> None:
    assert csv_cell(cell) == written


def test_untrusted_text_in_csv_is_quoted_text() -> None:
    table = Table(
        title="t",
        columns=(Column(name="id", kind="id"), Column(name="terms")),
        rows=((printable("x"), printable('=1+1, "quoted"\n<script>alert(1)</script>\x1b[31m')),),
    )
    text = to_csv(table)
    assert text == 'id,terms\r\nx,"\'=1+1, ""quoted"" <script>alert(1)</script>\\x1b[31m"\r\n'
    assert "\x1b" not in text


def test_plain_cells() -> None:
    assert [plain(v) for v in (None, True, False, 5, 5.0, 3.5, ["a", "b"], "a\nb\x07")] == [
        "",
        "yes",
        "no",
        "5",
        "5",
        "3.5",
        "a, b",
        "a b\\x07",
    ]


def test_unknown_command() -> None:
    with pytest.raises(KeyError):
        table_for("export", {})


def test_an_empty_table_says_none() -> None:
    assert to_text(table_for("stoppages", {"on": "2020-01-01", "stoppages": []})) == (
        "Stoppages on 2020-01-01\n\n(none)\n"
    )


@given(st.lists(st.lists(st.text(max_size=30), min_size=2, max_size=2), max_size=8))
def test_any_text_survives_csv(cells: list[list[str]]) -> None:
    table = Table(
        title="t",
        columns=(Column(name="a", kind="id"), Column(name="b")),
        rows=tuple((printable(a), printable(b)) for a, b in cells),
    )
    rows = list(csv.reader(io.StringIO(to_csv(table), newline="")))
    assert len(rows) == len(cells) + 1
    for parsed, row in zip(rows[1:], table.rows, strict=True):
        assert parsed == [csv_cell(c) for c in row]
        # A cell a spreadsheet would read as a formula starts with a quote; a plain number ("-3", "+0") is
        # data a spreadsheet reads as that number, and stays as it is.
        assert all(
            not c.startswith(("=", "+", "-", "@", "\t", "\r")) or c.startswith("'") or _PLAIN_NUMBER.fullmatch(c)
            for c in parsed
        )


_PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


@pytest.mark.parametrize(
    ("cell", "written"),
    [("+0", "+0"), ("-3", "-3"), ("+1.5", "+1.5"), ("+1+1", "'+1+1"), ("-2+3", "'-2+3"), ("=1", "'=1"), ("@x", "'@x")],
)
def test_only_plain_numbers_start_with_a_sign_unquoted(cell: str, written: str) -> None:
    assert csv_cell(cell) == written


@given(st.lists(st.tuples(st.from_regex(r"[a-z][a-z0-9-]{0,30}", fullmatch=True), st.text(max_size=200)), max_size=6))
def test_text_layout_never_breaks_an_id(rows: list[tuple[str, str]]) -> None:
    table = Table(
        title="t",
        columns=(Column(name="id", kind="id"), Column(name="text")),
        rows=tuple((i, printable(t)) for i, t in rows),
    )
    for width in (40, 80, 120):
        words = to_text(table, width).split()
        assert all(i in words for i, _ in rows)


def test_status_ratified_by_spec_1_1() -> None:
    answer = {"negotiation": "n", "phase": "tentative_agreement", "stoppage": None, "ratified_by": []}
    assert dict(table_for("status", answer).rows) == {
        "phase": "tentative_agreement",
        "stoppage": "none",
        "ratified by": "none",
    }
    answer["ratified_by"] = ["iam", "teamsters"]
    assert dict(table_for("status", answer).rows)["ratified by"] == "iam, teamsters"


def test_positions_accepted_spec_1_1() -> None:
    position = {"terms": "5%", "value": {"amount": 5, "unit": "percent"}, "since": "2023-09-24", "event": "p-1"}
    answer = {
        "negotiation": "n",
        "positions": {"u": {"wages": {**position, "accepted": "a-1"}}, "e": {"wages": position}},
    }
    table = table_for("positions", answer)
    rows = {
        row[1]: dict(zip(table.header, [row[i] for i, c in enumerate(table.columns) if c.shown != "text"], strict=True))
        for row in table.rows
    }
    assert (rows["u"]["event"], rows["u"]["accepted"]) == ("p-1", "a-1")
    assert rows["e"]["accepted"] == ""
    assert "a-1" in to_text(table, 80)
