"""The floor: what storing a JSON Lines file costs with no validation at all.

``python -m benchmarks.floor FILE DB`` parses every event line with the stdlib
``json`` module and inserts ``(negotiation, version, type, line bytes)`` rows
with one ``sqlite3`` ``executemany`` in one transaction, into a table shaped
like eventsourcing's SQLite table (same primary key, WAL journal). It prints
its own timings as one JSON object on stdout.

``parse_only`` times the parse alone (stdlib ``json`` and ``orjson``), in-process.
"""

from __future__ import annotations

import json
import sqlite3
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

__all__ = ["parse_only", "store"]


def _lines(path: str | Path) -> Iterator[bytes]:
    with Path(path).open("rb") as source:
        for raw in source:
            line = raw.strip()
            if line and not line.startswith(b"#"):
                yield line


def parse_only(path: str | Path) -> dict[str, Any]:
    """Seconds to read and decode every line with ``json`` and with ``orjson``."""
    out: dict[str, Any] = {}
    for name, loads in (("json", json.loads), ("orjson", orjson.loads)):
        start = time.perf_counter()
        count = 0
        for line in _lines(path):
            loads(line)
            count += 1
        out[f"{name}_s"] = time.perf_counter() - start
        out["events"] = count
    return out


def store(path: str | Path, db: str | Path) -> dict[str, Any]:
    """Parse with ``json`` and insert every line into a fresh SQLite file in one transaction."""
    start = time.perf_counter()
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(
        "CREATE TABLE IF NOT EXISTS events (negotiation TEXT, version INTEGER, type TEXT, line BLOB, "
        "PRIMARY KEY (negotiation, version))"
    )
    versions: dict[str, int] = {}

    def rows() -> Iterator[tuple[str, int, str, bytes]]:
        for line in _lines(path):
            obj = json.loads(line)
            negotiation = obj["negotiation"]
            version = versions[negotiation] = versions.get(negotiation, 0) + 1
            yield negotiation, version, obj["type"], line

    conn.execute("BEGIN")
    conn.executemany("INSERT INTO events VALUES (?, ?, ?, ?)", rows())
    conn.execute("COMMIT")
    count = conn.execute("SELECT count(*) FROM events").fetchone()[0]
    conn.close()
    return {"events": count, "seconds": time.perf_counter() - start}


if __name__ == "__main__":
    sys.stdout.write(json.dumps(store(sys.argv[1], sys.argv[2])) + "\n")
