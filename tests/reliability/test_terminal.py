"""Terminal safety: ANSI escapes and rich markup in any text field print inertly in every command.

One negotiation carries ``INJECTION`` (ESC, an OSC title change ended by BEL, a
C1 CSI, a bidi override and rich markup) in every text field the format has:
title, party names, issue titles, terms, value unit, statement text and
audience, notes, reasons, tentative terms, every source field; event ids carry
markup (they cannot hold controls). Every command, as a table and as JSON,
prints no raw control character, shows markup verbatim and escapes visibly.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from negotiation.cli import cli
from tests.reliability.helpers import TERMINAL_BYTES, error_lines, run
from tests.reliability.hostile import INJECTION

N = "ansi-2024"
MARKUP = "[bold red]X[/]"
MARKUP_ID = "[bold]p1[/bold]"
SOURCE = {"url": INJECTION, "title": INJECTION, "publisher": INJECTION, "published_at": INJECTION}
UNSAFE = re.compile(rb"[\x00-\x08\x0b-\x1f\x7f]|\xc2[\x80-\x9f]|\xe2\x80[\xa8-\xae]|\xe2\x81[\xa6-\xa9]")
"""Raw controls a terminal acts on: C0 (but tab and newline), DEL, C1, line separators, bidi controls."""
SGR = re.compile(rb"\x1b\[[0-9;]*m")
"""Rich's own styling on a color terminal: Select Graphic Rendition, nothing else."""


def event(event_id: str, kind: str, occurred_at: str, data: dict[str, Any]) -> dict[str, Any]:
    """A line of the ``ansi-2024`` negotiation, with an untrusted source."""
    return {
        "id": event_id,
        "type": kind,
        "negotiation": N,
        "occurred_at": occurred_at,
        "recorded_at": "2024-06-01T00:00:00Z",
        "source": SOURCE,
        "data": data,
    }


EVENTS = [
    event(
        "t1",
        "negotiation.opened",
        "2024-01-10",
        {
            "title": INJECTION,
            "parties": [
                {"id": "u", "name": INJECTION, "role": "union"},
                {"id": "e", "name": INJECTION, "role": "employer"},
            ],
            "issues": [{"id": "pay", "title": INJECTION}],
        },
    ),
    event("t2", "party.joined", "2024-01-11", {"party": {"id": "m", "name": INJECTION, "role": "mediator"}}),
    event("t3", "issue.tabled", "2024-01-11", {"by": "u", "issue": {"id": "ai", "title": INJECTION}}),
    event("t4", "talks.requested", "2024-01-12", {"by": "u", "to": "e"}),
    event("t5", "talks.held", "2024-01-15", {"note": INJECTION}),
    event(
        MARKUP_ID,
        "proposal.made",
        "2024-01-15",
        {"by": "u", "issue": "pay", "terms": INJECTION, "value": {"amount": 5, "unit": INJECTION, "currency": "USD"}},
    )
    | {"schema": 2},
    event(
        "t7",
        "proposal.made",
        "2024-01-16",
        {"by": "e", "issue": "pay", "terms": INJECTION, "in_response_to": MARKUP_ID},
    )
    | {"schema": 2},
    event("t8", "statement.issued", "2024-01-17", {"by": "u", "text": INJECTION, "audience": INJECTION}),
    event("[red]s[/red]", "statement.issued", "2024-01-18", {"by": "e", "text": INJECTION}),
    event("t9", "talks.suspended", "2024-02-01", {"by": "e", "reason": INJECTION}),
    event("t10", "strike.called", "2024-03-02", {"by": "u"}),
    event("t11", "talks.resumed", "2024-03-10", {"note": INJECTION}),
    event("t12", "event.retracted", "2024-03-11", {"target": "t8", "reason": INJECTION}),
    event("t13", "agreement.tentative", "2024-03-20", {"terms": {"pay": INJECTION}}),
]

TABLE_COMMANDS: dict[str, tuple[list[str], bool]] = {
    "list": (["list"], True),
    "status": (["status", N], False),
    "status-before": (["status", N, "--at", "2024-03-05"], False),
    "positions": (["positions", N, "--at", "2024-01-20"], True),
    "timeline": (["timeline", N], True),
    "diff": (["diff", N, "--from", "2024-01-01", "--to", "2024-01-20"], True),
    "stoppages": (["stoppages", "--on", "2024-03-05"], False),
}
"""Command -> (arguments, whether its table shows untrusted text)."""


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store with the ``ansi-2024`` negotiation."""
    directory = tmp_path_factory.mktemp("terminal")
    log = directory / "ansi.jsonl"
    log.write_text("".join(json.dumps(e) + "\n" for e in EVENTS), encoding="utf-8")
    db = directory / "ansi.db"
    result = run("--db", db, "import", log)
    assert result.returncode == 0, result.stderr
    return db


@pytest.fixture
def invoke() -> Callable[..., Result]:
    """``negotiation ARGS...`` in-process (not a terminal unless FORCE_COLOR is set)."""

    def run_cli(*args: str | Path, env: dict[str, str] | None = None) -> Result:
        base: dict[str, str | None] = {"COLUMNS": "400", "NEGOTIATION_DB": None, "FORCE_COLOR": None, "NO_COLOR": None}
        return CliRunner().invoke(cli, [str(a) for a in args], env={**base, **(env or {})})

    return run_cli


def strings(value: Any) -> list[str]:
    """Every string in a decoded JSON document."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in strings(item)]
    return []


def assert_inert(output: bytes) -> None:
    """No raw control in ``output``."""
    found = UNSAFE.search(output)
    assert found is None, output[max(found.start() - 80, 0) : found.end() + 80] if found else b""


@pytest.mark.parametrize("name", list(TABLE_COMMANDS))
def test_tables_print_untrusted_text_inertly(name: str, db: Path, invoke: Callable[..., Result]) -> None:
    """Each query command's table holds no control character; markup shows verbatim and ESC as \\x1b."""
    args, shows_text = TABLE_COMMANDS[name]
    result = invoke("--db", db, *args)
    assert result.exit_code == 0, result.stderr
    assert_inert(result.stdout_bytes + result.stderr_bytes)
    if shows_text:
        assert MARKUP in result.stdout
        assert "\\x1b[31mRED\\x1b]0;title\\x07" in result.stdout
        assert "\\x9b2J" in result.stdout
        assert "\\u202eevil" in result.stdout


@pytest.mark.parametrize("name", list(TABLE_COMMANDS))
def test_json_answers_are_inert_and_faithful(name: str, db: Path, invoke: Callable[..., Result]) -> None:
    """Each --json answer holds no control character and decodes to the untrusted text exactly."""
    args, shows_text = TABLE_COMMANDS[name]
    result = invoke("--db", db, *args, "--json")
    assert result.exit_code == 0, result.stderr
    assert_inert(result.stdout_bytes + result.stderr_bytes)
    document = json.loads(result.stdout)
    if shows_text:
        assert any(INJECTION in text for text in strings(document))


@pytest.mark.parametrize("name", [n for n, (_, shows) in TABLE_COMMANDS.items() if shows])
def test_color_terminal_gets_only_rich_styling(name: str, db: Path, invoke: Callable[..., Result]) -> None:
    """On a color terminal the only escape sequences are rich's own SGR styles; the untrusted ones stay text."""
    args, _ = TABLE_COMMANDS[name]
    result = invoke("--db", db, *args, env={"FORCE_COLOR": "1", "TERM": "xterm-256color"})
    assert result.exit_code == 0, result.stderr
    assert SGR.search(result.stdout_bytes), "no styling: not a color terminal after all"
    without_styles = SGR.sub(b"", result.stdout_bytes)
    assert_inert(without_styles)
    assert MARKUP.encode() in without_styles
    assert b"\\x1b]0;title\\x07" in without_styles


def test_export_is_inert_json_of_the_same_text(db: Path, invoke: Callable[..., Result]) -> None:
    """export writes every untrusted string as JSON escapes; the lines decode to the original text."""
    result = invoke("--db", db, "export")
    assert result.exit_code == 0
    assert_inert(result.stdout_bytes)
    lines = [json.loads(x) for x in result.stdout.splitlines()]
    assert [x["id"] for x in lines] == [e["id"] for e in EVENTS]
    assert lines[0]["data"]["title"] == INJECTION
    assert lines[0]["source"] == SOURCE


def test_refusals_errors_and_usage_errors_are_inert(db: Path, tmp_path: Path, invoke: Callable[..., Result]) -> None:
    """Refused lines (import, verify), 'not found' errors and usage errors quote untrusted input inertly."""
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        "\n".join(
            json.dumps(e)
            for e in (
                event(MARKUP, "statement.issued", "2024-01-19", {"by": INJECTION, "text": "x"}),
                event("t20", INJECTION, "2024-01-19", {}),
                {**event("t21", "talks.held", "2024-01-19", {}), "negotiation": INJECTION},
                event("t22", "talks.held", INJECTION, {}),
                event("t23", "statement.issued", "2024-01-19", {"by": "u", "text": "x", INJECTION: 1}),
            )
        )
        + "\n",
        encoding="utf-8",
    )
    for command in ("import", "verify"):
        result = invoke("--db", db, command, bad)
        assert result.exit_code == 1
        assert_inert(result.stdout_bytes + result.stderr_bytes)
        lines = error_lines(result.stderr_bytes)
        assert len(lines) == 5, lines
        assert lines[0].startswith(f"{bad}:1: {MARKUP}: ")
        assert all("\\x1b" in text for text in lines[1:]), lines
    subprocess_result = run("--db", db, "import", bad)
    assert subprocess_result.returncode == 1
    assert_inert(subprocess_result.stdout + subprocess_result.stderr)

    for args in (["status", INJECTION], ["positions", MARKUP], ["export", INJECTION], ["timeline", INJECTION]):
        result = invoke("--db", db, *args)
        assert result.exit_code == 1, (args, result.stderr)
        assert_inert(result.stdout_bytes + result.stderr_bytes)
        assert len(error_lines(result.stderr_bytes)) == 1
    assert MARKUP in invoke("--db", db, "positions", MARKUP).stderr

    usage = invoke("--db", db, "status", N, "--at", INJECTION)
    assert usage.exit_code == 2
    assert_inert(usage.stdout_bytes + usage.stderr_bytes)
    assert "\\x1b" in usage.stderr
    assert TERMINAL_BYTES.search(usage.stderr_bytes) is None
