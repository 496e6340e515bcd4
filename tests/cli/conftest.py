"""Fixtures of the command-line tests: small event logs written inline, and ways to run the CLI.

``cli_run`` runs the click group in-process (``CliRunner``, stdout and stderr
kept apart); the console-script tests run the installed ``negotiation``
script as a subprocess.
"""

from __future__ import annotations

import json
import logging
import shutil
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import structlog
from click.testing import CliRunner, Result

from negotiation.cli import cli

INJECTION = "[bold red]X[/] \x1b[31mRED\x1b]0;title\x07"
"""Untrusted text that rich would style and a terminal would act on."""

NEGOTIATION = "acme-2024"


def event(
    event_id: str, kind: str, occurred_at: str, data: dict[str, Any], negotiation: str = NEGOTIATION
) -> dict[str, Any]:
    """One event of the spec's JSON Lines format."""
    return {"id": event_id, "type": kind, "negotiation": negotiation, "occurred_at": occurred_at, "data": data}


def opened(negotiation: str = NEGOTIATION, event_id: str = "e1", occurred_at: str = "2024-01-10") -> dict[str, Any]:
    """A ``negotiation.opened`` with a union, an employer and two issues."""
    return event(
        event_id,
        "negotiation.opened",
        occurred_at,
        {
            "title": f"Acme {negotiation}",
            "timezone": "America/New_York",
            "contract_expires_on": "2024-03-01",
            "parties": [
                {"id": "ufw", "name": "United Factory Workers", "role": "union"},
                {"id": "acme", "name": "Acme Corp.", "role": "employer"},
            ],
            "issues": [{"id": "pay", "title": "Pay"}, {"id": "ai", "title": "Artificial intelligence"}],
        },
        negotiation,
    )


def acme_events() -> list[dict[str, Any]]:
    """A negotiation that goes on strike on 2024-03-02, with untrusted text in terms and a statement."""
    return [
        opened(),
        event("e2", "talks.held", "2024-01-15", {}),
        event("e3", "proposal.made", "2024-01-15", {"by": "ufw", "issue": "pay", "terms": INJECTION}),
        event(
            "e4",
            "proposal.made",
            "2024-01-20",
            {"by": "acme", "issue": "pay", "terms": "2% a year", "value": {"amount": 2, "unit": "%"}},
        ),
        event("e5", "statement.issued", "2024-02-01", {"by": "acme", "text": INJECTION}),
        event("e6", "contract.expired", "2024-03-01", {}),
        event("e7", "strike.called", "2024-03-02T06:00:00-05:00", {"by": "ufw"}),
    ]


def jsonl(events: Sequence[dict[str, Any] | str]) -> str:
    """JSON Lines text: dicts are serialised, strings are taken as raw lines."""
    return "".join((e if isinstance(e, str) else json.dumps(e)) + "\n" for e in events)


@pytest.fixture
def db(tmp_path: Path) -> str:
    """A fresh SQLite store file for the test."""
    return str(tmp_path / "x.db")


@pytest.fixture
def write(tmp_path: Path) -> Callable[..., str]:
    """Write events as a JSON Lines file in ``tmp_path`` and return its path."""

    def write_file(name: str, events: Sequence[dict[str, Any] | str]) -> str:
        path = tmp_path / name
        path.write_text(jsonl(events), encoding="utf-8")
        return str(path)

    return write_file


@pytest.fixture
def acme_file(write: Callable[..., str]) -> str:
    """The acme negotiation as a file."""
    return write("acme.jsonl", acme_events())


@pytest.fixture
def cli_run(monkeypatch: pytest.MonkeyPatch) -> Callable[..., Result]:
    """Run ``negotiation ARGS...`` in-process; wide terminal so tables do not wrap."""
    monkeypatch.delenv("NEGOTIATION_DB", raising=False)
    runner = CliRunner()

    def run(*args: str, input: str | bytes | None = None, env: dict[str, str | None] | None = None) -> Result:
        return runner.invoke(cli, list(args), input=input, env={"COLUMNS": "250", **(env or {})})

    return run


@pytest.fixture
def imported(cli_run: Callable[..., Result], db: str, acme_file: str) -> str:
    """The store ``db`` with the acme negotiation imported."""
    result = cli_run("--db", db, "import", acme_file)
    assert result.exit_code == 0, result.stderr
    return db


@pytest.fixture(scope="session")
def script() -> str:
    """The installed console script ``negotiation``."""
    found = Path(sys.executable).parent / "negotiation"
    if found.exists():
        return str(found)
    which = shutil.which("negotiation")
    if which is None:
        pytest.fail("the console script 'negotiation' is not installed (pip install -e .)")
    return which


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """The CLI configures structlog and the root logger; put both back for the tests that follow."""
    saved = structlog.get_config()
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    yield
    structlog.configure(**saved)
    root.setLevel(level)
    root.handlers[:] = handlers
