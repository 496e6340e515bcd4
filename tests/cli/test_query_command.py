"""``query_command``, the one way to declare a query, and the cheap start-up of the package.

The recipe of ``negotiation.cli``'s docstring, followed: a query declared with
``query_command`` and registered on the group gets the store, the options it
names (in order, after its own), ``--json`` and its table.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import click
import pytest
from click.testing import Result
from rich.table import Table

from negotiation.application import Negotiations
from negotiation.cli import cli
from negotiation.cli.options import Moment
from negotiation.cli.output import table, text
from negotiation.cli.query import query_command
from tests.cli.conftest import INJECTION, NEGOTIATION

Run = Callable[..., Result]


def _phase_table(document: dict[str, Any], arguments: Mapping[str, Any]) -> Table | str:
    if arguments["short"]:
        return f"{document['negotiation']}: {document['phase']}"
    shown = table(f"Phase of {arguments['negotiation']}", "phase")
    shown.add_row(text(document["phase"]))
    return shown


@query_command(
    "phase-of",
    epilog="Example: negotiation phase-of acme-2024",
    params=[click.argument("negotiation"), click.option("--short", is_flag=True, help="One line.")],
    when=("known_at", "version"),
    table=_phase_table,
)
def phase_of(
    app: Negotiations, *, negotiation: str, short: bool, known_at: Moment | None, at_version: int | None
) -> dict[str, Any]:
    """The phase of NEGOTIATION."""
    assert isinstance(short, bool)
    status = app.status(negotiation, known_at=known_at, at_version=at_version)
    return {"negotiation": negotiation, "phase": str(status.phase), "title": INJECTION}


@pytest.fixture
def registered() -> Iterator[None]:
    """``phase-of`` registered on the group for one test (one line, as the recipe says)."""
    cli.add_command(phase_of)
    yield
    cli.commands.pop("phase-of")


@pytest.mark.usefixtures("registered")
def test_help_lists_own_params_then_the_times_then_json(cli_run: Run) -> None:
    """The command's own options come first, then the point-in-time options it names, then --json."""
    result = cli_run("phase-of", "--help")
    assert result.exit_code == 0
    options = [line.split()[0] for line in result.stdout.splitlines() if line.startswith("  -")]
    assert options == ["--short", "--known-at", "--version", "--json", "-h,"]
    assert "--at " not in result.stdout
    assert "The phase of NEGOTIATION." in result.stdout
    assert "Example: negotiation phase-of acme-2024" in result.stdout


@pytest.mark.usefixtures("registered")
def test_json_table_and_line(cli_run: Run, imported: str) -> None:
    """--json prints the answer as JSON (escaped); else the table, or the renderer's one line."""
    as_json = cli_run("--db", imported, "phase-of", NEGOTIATION, "--json")
    assert as_json.exit_code == 0, as_json.stderr
    assert json.loads(as_json.stdout) == {"negotiation": NEGOTIATION, "phase": "strike", "title": INJECTION}
    assert "\x1b" in INJECTION
    assert "\x1b" not in as_json.stdout  # JSON's own escape, never the raw character
    shown = cli_run("--db", imported, "phase-of", NEGOTIATION)
    assert shown.exit_code == 0
    assert shown.stdout.startswith("Phase of")  # the title (wrapped to the table's width)
    assert "┃ phase  ┃" in shown.stdout
    assert "strike" in shown.stdout
    line = cli_run("--db", imported, "phase-of", NEGOTIATION, "--short", "--version", "1")
    assert line.exit_code == 0, line.stderr
    assert line.stdout == f"{NEGOTIATION}: opened\n"


@pytest.mark.usefixtures("registered")
def test_errors_of_a_declared_query_are_reported_like_the_others(cli_run: Run, imported: str) -> None:
    """A declared query gets the group's error handling: one line and the table's status."""
    result = cli_run("--db", imported, "phase-of", "nope")
    assert result.exit_code == 1
    assert result.stderr == "error: negotiation 'nope' not found\n"


def test_version_loads_no_library_module_beyond_the_cli() -> None:
    """``negotiation --version`` imports no module of ours (or rich) beyond the facade's, but the CLI.

    The baseline imports ``negotiation.application`` itself: ``import negotiation`` loads the facade
    only on first use of its names.
    """
    code = (
        "import sys, click, structlog, negotiation, negotiation.application\n"
        "before = set(sys.modules)\n"
        "from negotiation.cli import main\n"
        "try:\n"
        "    main(['--version'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(' '.join(sorted(set(sys.modules) - before)))\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    new = run.stdout.split("\n")[-2].split()
    ours = {m for m in new if m.partition(".")[0] in {"events", "negotiation", "projections", "rich", "eventsourcing"}}
    assert ours
    assert {m for m in ours if m != "negotiation.cli" and not m.startswith("negotiation.cli.")} == set()
