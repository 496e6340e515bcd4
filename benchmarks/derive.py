"""How long deriving the indexed tables' rows takes per event, in one process, and a digest of the rows.

``python -m benchmarks.derive [--negotiations N] [--events-per E] [--runs R]``

Imports a generated feed (``benchmarks.generate``) into a SQLite store without
tables (the facade), reads each negotiation's stored lines back, and times
``projections.persisted.runner.derive_new`` over all of them, ``R`` times,
which is what the worker of an import or a bulk catch-up spends on each
negotiation. Prints µs per event (best and every run) and a SHA-256 of the
derived rows: two versions of the library that derive the same rows print the
same digest. To compare two versions on one machine, run them in turns, each
from its own checkout's folder (``python -m`` puts the current folder first
on the path, ahead of ``PYTHONPATH``).
"""

from __future__ import annotations

import argparse
import hashlib
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.run import DEFAULT_OUT, dataset
from negotiation import Negotiations
from projections.persisted.runner import derive_new

__all__ = ["bench_derive", "main"]


def _stored_lines(db: Path) -> list[tuple[str, list[bytes]]]:
    """Each negotiation's stored lines, in version order."""
    with sqlite3.connect(db) as con:
        rows = con.execute(
            "SELECT originator_id, state FROM stored_events ORDER BY originator_id, originator_version"
        ).fetchall()
    found: dict[str, list[bytes]] = {}
    for negotiation, state in rows:
        found.setdefault(negotiation, []).append(bytes(state))
    return list(found.items())


def bench_derive(negotiations: int, events_per: int, out: Path, *, runs: int = 4) -> dict[str, Any]:
    """µs per event of ``derive_new`` over a generated feed (every run), and the rows' digest."""
    data = dataset(out / "data", negotiations, events_per)
    db = out / f"derive-{negotiations}x{events_per}.db"
    if not db.exists():
        with Negotiations(f"sqlite:///{db}") as app:
            app.import_files([data["path"]])
    stored = _stored_lines(db)
    events = sum(len(lines) for _, lines in stored)
    seconds = []
    digest = hashlib.sha256()
    for run in range(runs):
        began = time.perf_counter()
        derived = [derive_new(negotiation, lines) for negotiation, lines in stored]
        seconds.append(time.perf_counter() - began)
        if run == 0:
            for d in derived:
                digest.update(repr(d).encode())
    per_event = [s / events * 1e6 for s in seconds]
    return {
        "events": events,
        "us_per_event": per_event,
        "best_us_per_event": min(per_event),
        "rows": digest.hexdigest(),
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--negotiations", type=int, default=1000)
    parser.add_argument("--events-per", type=int, default=100)
    parser.add_argument("--runs", type=int, default=4)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    report = bench_derive(args.negotiations, args.events_per, args.out, runs=args.runs)
    every = " ".join(f"{x:.1f}" for x in report["us_per_event"])
    print(
        f"derive_new over {report['events']:,} events: best {report['best_us_per_event']:.1f} µs/event (runs: {every})"
    )
    print(f"rows digest: {report['rows']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
