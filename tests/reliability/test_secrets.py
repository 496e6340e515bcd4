"""A database password never shows: not in logs (--log-json, --verbose), errors, tracebacks or the library's log."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from negotiation import Negotiations
from negotiation.core.errors import NegotiationError
from tests.negotiation.helpers import opened, statement
from tests.reliability.helpers import error_lines, run

ROOT = Path(__file__).resolve().parents[2]
WGA = ROOT / "examples" / "wga_amptp_2023.jsonl"
PASSWORD = "Hunter2-S3cret@x:y/z"  # noqa: S105 - a fake, to look for in the output
"""Decoded; the URL carries it percent-encoded. The test server trusts every password."""
ENCODED = "Hunter2-S3cret%40x%3Ay%2Fz"
FRAGMENTS = (PASSWORD, ENCODED, "Hunter2", "S3cret")


def with_password(url: str) -> str:
    """``url`` with the password set (user ``postgres``)."""
    return url.replace("postgresql://postgres@", f"postgresql://postgres:{ENCODED}@", 1)


def faulty(*args: str) -> subprocess.CompletedProcess[bytes]:
    """``negotiation ARGS...`` waiting 1 s, not 5, for a PostgreSQL connection (``tests.reliability.faults``)."""
    return subprocess.run(
        [sys.executable, "-m", "tests.reliability.faults", "--connect-timeout", "1", *args],
        capture_output=True,
        cwd=ROOT,
        env={**os.environ, "COLUMNS": "400"},
        timeout=120,
        check=False,
    )


def assert_no_secret(*outputs: bytes | str) -> None:
    """No part of the password appears in any of ``outputs``."""
    for output in outputs:
        text = output.decode(errors="replace") if isinstance(output, bytes) else output
        for fragment in FRAGMENTS:
            assert fragment not in text, f"{fragment!r} leaked: {text[:2000]}"


@pytest.mark.postgres
def test_password_absent_from_json_logs_and_verbose_output(postgres_url: str) -> None:
    """Every command, with --log-json --verbose, succeeding or failing, prints no part of the password."""
    url = with_password(postgres_url)
    runs = [
        run("--db", url, "--log-json", "--verbose", "import", WGA),
        run("--db", url, "--log-json", "--verbose", "import", WGA),  # already present
        run("--db", url, "--log-json", "--verbose", "list"),
        run("--db", url, "--log-json", "--verbose", "status", "wga-amptp-2023", "--json"),
        run("--db", url, "--log-json", "--verbose", "export"),
        run("--db", url, "--log-json", "--verbose", "status", "no-such-negotiation"),
        run("--log-json", "--verbose", "list", env={"NEGOTIATION_DB": url}),
    ]
    assert [r.returncode for r in runs] == [0, 0, 0, 0, 0, 1, 0]
    assert b'"event"' in runs[0].stderr  # the JSON log is on
    for result in runs:
        error_lines(result.stderr, verbose=True)  # --verbose: a failure shows its traceback
        assert_no_secret(result.stdout, result.stderr)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (f"postgresql://postgres:{ENCODED}@127.0.0.1:1/test", "cannot open store"),  # nobody listens
        (f"postgresql://postgres:{ENCODED}@127.0.0.1:port/test", "port"),  # not a number
        (f"postgresql://postgres:{ENCODED}@/test", "expected postgresql://"),  # no host
        (f"postgres://postgres:{ENCODED}@127.0.0.1:5432/test?schema=Bad-Schema", "schema"),
        (f"mysql://root:{ENCODED}@127.0.0.1/test", "unknown store"),
    ],
)
def test_password_absent_from_store_errors(url: str, message: str) -> None:
    """A store that cannot be used is named in one error line (and a --verbose traceback) with the password masked."""
    for args in (("--db", url, "list"), ("--db", url, "--verbose", "--log-json", "import", str(WGA))):
        result = faulty(*args) if ":1/" in url else run(*args)
        assert result.returncode == 1
        lines = error_lines(result.stderr, verbose="--verbose" in args)
        assert lines[-1].startswith("error: ")
        assert message in lines[-1]
        assert_no_secret(result.stdout, result.stderr)


@pytest.mark.postgres
def test_password_absent_from_the_library_log(postgres_url: str) -> None:
    """The facade's structured log names the store with the password masked."""
    url = with_password(postgres_url)
    with capture_logs() as logs, Negotiations(url) as app:
        app.append([opened("open", 0, negotiation="secrets"), statement("s", 1, negotiation="secrets")])
        app.import_files([WGA])
        with pytest.raises(NegotiationError) as info:
            app.append([statement("s", 2, negotiation="secrets")])  # same id, other content
        assert repr(app.config)
        assert_no_secret(repr(app.config), str(info.value), app.config.display)
    assert logs
    assert_no_secret(repr(logs))
    assert any("postgresql://postgres:***@" in repr(entry) for entry in logs)
