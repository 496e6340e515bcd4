"""Helpers of the reliability tests: run the console script, snapshot a store, check error output."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from negotiation import Negotiations

SCRIPT = str(Path(sys.executable).parent / "negotiation")
"""The installed console script next to this interpreter."""

TERMINAL_BYTES = re.compile(rb"[\x00-\x08\x0b-\x1f\x7f]|\xc2[\x80-\x9f]")
"""Bytes a terminal acts on: C0 controls but tab and newline (ESC, BEL, NUL ...), DEL, C1 controls (CSI as U+009B)."""


def run(
    *args: str | Path, env: Mapping[str, str] | None = None, input: bytes | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[bytes]:
    """``negotiation ARGS...`` as a subprocess, not on a terminal; stdout and stderr as bytes."""
    environ = {k: v for k, v in os.environ.items() if k != "NEGOTIATION_DB"}
    environ.update({"COLUMNS": "400", **(env or {})})
    return subprocess.run(
        [SCRIPT, *map(str, args)], capture_output=True, input=input, env=environ, timeout=timeout, check=False
    )


def export(db: str | Path) -> bytes:
    """The store's export (``Negotiations.export``), every line with its newline."""
    with Negotiations(str(db)) as app:
        return b"".join(line + b"\n" for line in app.export())


def error_lines(stderr: bytes, *, verbose: bool = False) -> list[str]:
    """The stderr lines, after checking that none is a terminal control or (unless ``verbose``) a traceback."""
    if not verbose:
        assert b"Traceback" not in stderr, stderr.decode(errors="replace")
    assert not TERMINAL_BYTES.search(stderr), stderr
    return stderr.decode().splitlines()


def single_error(result: subprocess.CompletedProcess[bytes]) -> str:
    """The one ``error: ...`` line of a failed command (exit status 1)."""
    lines = error_lines(result.stderr)
    assert result.returncode == 1, (result.returncode, lines)
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: "), lines
    return lines[0]
