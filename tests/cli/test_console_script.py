"""The installed console script ``negotiation``, run as a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.cli.conftest import INJECTION, NEGOTIATION, acme_events, event, jsonl, opened

Write = Callable[..., str]


def run(
    script: str, *args: str, stdin: bytes | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[bytes]:
    """Run the script with ``args``; output kept as bytes so that raw control bytes can be looked for."""
    env = {k: v for k, v in os.environ.items() if k != "NEGOTIATION_DB"}
    env["COLUMNS"] = "250"
    return subprocess.run([script, *args], input=stdin, capture_output=True, timeout=120, check=False, env=env, cwd=cwd)


def test_version_and_help(script: str) -> None:
    """--version and --help work from the installed script."""
    version = run(script, "--version")
    assert version.returncode == 0
    assert version.stdout.startswith(b"negotiation ")
    help_ = run(script, "--help")
    assert help_.returncode == 0
    assert b"Examples:" in help_.stdout


def test_round_trip(script: str, tmp_path: Path, acme_file: str) -> None:
    """import, export, import into an empty store, export: the two exports are identical."""
    first_db, second_db = str(tmp_path / "a.db"), str(tmp_path / "b.db")
    imported = run(script, "--db", first_db, "import", acme_file)
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout == b"7 events stored, 0 already present, 0 refused\n"
    assert imported.stderr == b""  # no progress bar: stdout is not a terminal
    exported = run(script, "--db", first_db, "export")
    assert exported.returncode == 0
    assert len(exported.stdout.splitlines()) == 7
    again = run(script, "--db", second_db, "import", "-", stdin=exported.stdout)
    assert again.returncode == 0, again.stderr
    assert run(script, "--db", second_db, "export").stdout == exported.stdout


def test_atomic_refusal_and_exit_codes(script: str, db: str, write: Write) -> None:
    """A refused line: exit 1, path:line: id: reason on stderr, nothing stored; usage error: exit 2."""
    path = write("bad.jsonl", [opened(), event("e2", "strike.called", "2024-02-01", {"by": "acme"})])
    result = run(script, "--db", db, "import", path)
    assert result.returncode == 1
    assert result.stderr.decode().startswith(f"{path}:2: e2: ")
    assert run(script, "--db", db, "export").stdout == b""
    assert run(script, "--db", db, "status", NEGOTIATION, "--at", "2024-01-01T10:00:00").returncode == 2
    assert run(script, "--db", db, "no-such-command").returncode == 2


def test_untrusted_text_never_reaches_the_terminal_raw(script: str, db: str, write: Write) -> None:
    """Markup and escape sequences in stored text and in error lines come out literally, without raw ESC."""
    assert run(script, "--db", db, "import", write("acme.jsonl", acme_events())).returncode == 0
    outputs = [
        run(script, "--db", db, "timeline", NEGOTIATION),
        run(script, "--db", db, "positions", NEGOTIATION),
        run(script, "--db", db, "timeline", NEGOTIATION, "--json"),
        run(script, "--db", db, "export", INJECTION),
        run(
            script,
            "--db",
            db,
            "import",
            write("bad.jsonl", [event("x1", "talks.held", "2024-01-01", {"note": INJECTION}, "zz")]),
        ),
    ]
    for result in outputs:
        for stream in (result.stdout, result.stderr):
            assert b"\x1b" not in stream
            assert b"\x07" not in stream
    assert b"[bold red]X[/]" in outputs[0].stdout
    assert b"[bold red]X[/]" in outputs[1].stdout
    assert b"[bold red]X[/]" in outputs[3].stderr
    assert outputs[3].returncode == 1


def test_password_never_shown(script: str) -> None:
    """A PostgreSQL URL with a password on a closed port: exit 1, one error line, no password."""
    result = run(script, "--db", "postgresql://u:s3cret@127.0.0.1:1/db", "export")
    assert result.returncode == 1
    assert b"s3cret" not in result.stderr
    assert b"s3cret" not in result.stdout
    assert result.stderr.startswith(b"error: ")
    assert b"Traceback" not in result.stderr
    verbose = run(script, "--verbose", "--db", "postgresql://u:s3cret@127.0.0.1:1/db", "list")
    assert verbose.returncode == 1
    assert b"s3cret" not in verbose.stderr


def test_log_json(script: str, db: str, acme_file: str) -> None:
    """--log-json: every stderr line is a JSON object; stdout keeps the summary only."""
    result = run(script, "--log-json", "--db", db, "import", acme_file)
    assert result.returncode == 0
    lines = result.stderr.decode().splitlines()
    assert lines
    assert all(isinstance(json.loads(line), dict) for line in lines)
    assert result.stdout == b"7 events stored, 0 already present, 0 refused\n"


@pytest.mark.postgres
def test_round_trip_on_postgres(script: str, postgres_url: str, tmp_path: Path) -> None:
    """The same import/export round trip against PostgreSQL."""
    path = tmp_path / "acme.jsonl"
    path.write_text(jsonl(acme_events()), encoding="utf-8")
    assert run(script, "--db", postgres_url, "import", str(path)).returncode == 0
    again = run(script, "--db", postgres_url, "import", str(path))
    assert again.returncode == 0
    assert b"7 already present" in again.stdout
    assert len(run(script, "--db", postgres_url, "export").stdout.splitlines()) == 7
