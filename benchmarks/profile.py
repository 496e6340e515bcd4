"""Where the time goes: cProfile of an import or of as-of queries, and py-spy stack summaries.

``python -m benchmarks.profile import FILE [--events N] [--db URL]``
    cProfile of ``Negotiations.import_files`` on the first N events of FILE into a
    fresh store; prints the top functions by cumulative time with µs per event.
``python -m benchmarks.profile asof DB [--reps N]``
    cProfile of status and positions queries at 10/50/90% of the first stored negotiation.
``python -m benchmarks.profile stacks RAW [--events N] [--seconds S]``
    Summarizes ``py-spy record --format raw`` output: inclusive and self share per function.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import io
import pstats
import random
import re
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from benchmarks.run import _query_api, slice_file

__all__ = ["profile_asof", "profile_import", "summarize_stacks"]

_LINE_RE = re.compile(r":\d+\)$")


def _short(func: tuple[str, int, str]) -> str:
    path, line, name = func
    parts = Path(path).parts
    where = "/".join(parts[-2:]) if len(parts) > 1 else path
    return f"{name} ({where}:{line})"


def _top(profile: cProfile.Profile, total_s: float, events: int, top: int) -> str:
    stats = pstats.Stats(profile)
    rows = []
    for func, (_cc, calls, tottime, cumtime, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        rows.append((cumtime, tottime, calls, func))
    out = io.StringIO()
    out.write(f"total {total_s:.2f} s for {events:,} events = {total_s / events * 1e6:.1f} µs/event\n")
    out.write(f"{'cum %':>6} {'self %':>6} {'cum µs/ev':>9} {'self µs/ev':>10} {'calls/ev':>8}  function\n")
    for cumtime, tottime, calls, func in sorted(rows, key=lambda r: -r[0])[:top]:
        out.write(
            f"{cumtime / total_s * 100:6.1f} {tottime / total_s * 100:6.1f} {cumtime / events * 1e6:9.1f} "
            f"{tottime / events * 1e6:10.1f} {calls / events:8.2f}  {_short(func)}\n"
        )
    out.write("\nby self time:\n")
    for cumtime, tottime, calls, func in sorted(rows, key=lambda r: -r[1])[:top]:
        out.write(
            f"{cumtime / total_s * 100:6.1f} {tottime / total_s * 100:6.1f} {cumtime / events * 1e6:9.1f} "
            f"{tottime / events * 1e6:10.1f} {calls / events:8.2f}  {_short(func)}\n"
        )
    return out.getvalue()


def profile_import(path: Path, *, events: int | None, db: str | None, top: int = 30) -> str:
    """cProfile of one import of (the first ``events`` of) ``path`` into a fresh store."""
    from negotiation import Negotiations

    with tempfile.TemporaryDirectory() as tmp:
        source = slice_file(path, Path(tmp) / "slice.jsonl", events) if events else path
        store = db or str(Path(tmp) / "profile.db")
        with Negotiations(store) as app:
            profile = cProfile.Profile()
            start = time.perf_counter()
            profile.enable()
            report = app.import_files([source])
            profile.disable()
            total = time.perf_counter() - start
        return _top(profile, total, report.lines, top)


def profile_asof(db: str, *, reps: int, top: int = 30) -> str:
    """cProfile of warm status and positions queries around 10/50/90% of the first negotiation."""
    from negotiation import Negotiations

    rng = random.Random(1)
    with Negotiations(db) as app:
        negotiation = app.negotiation_ids()[0]
        history = app.history(negotiation)
        _, status, positions = _query_api(app, negotiation)
        order = history.order
        points = [rng.randrange(int(len(order) * f) - 500, int(len(order) * f) + 500) for f in (0.1, 0.5, 0.9)]
        for index in points:  # warm the checkpoints, as the benchmark does
            status(history, order[index].at, None)
            positions(history, order[index].at, None)
        profile = cProfile.Profile()
        count = 0
        start = time.perf_counter()
        profile.enable()
        for _ in range(reps):
            for index in points:
                at = order[index + rng.randrange(-100, 100)].at
                for known in (None, at + dt.timedelta(days=1)):
                    status(history, at, known)
                    positions(history, at, known)
                    count += 2
        profile.disable()
        total = time.perf_counter() - start
    text = _top(profile, total, count, top)
    head, _, rest = text.partition("\n")
    return head.replace("events", "queries").replace("/event", "/query") + "\n" + rest.replace("µs/ev", "µs/q ")


def summarize_stacks(
    raw: Path, *, events: int | None = None, seconds: float | None = None, top: int = 30, by_function: bool = True
) -> str:
    """Inclusive and self share of each function (or line) in py-spy's collapsed stacks."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        frames = [_LINE_RE.sub(")", f) for f in stack.split(";")] if by_function else stack.split(";")
        total += count
        for frame in set(frames):
            inclusive[frame] += count
        own[frames[-1]] += count
    per_event = seconds / events * 1e6 if events and seconds else None
    out = io.StringIO()
    out.write(f"{total:,} samples" + (f", {per_event:.1f} µs/event" if per_event else "") + "\n")
    for title, counter in (("inclusive", inclusive), ("self", own)):
        out.write(f"\nby {title} share:\n")
        for frame, count in counter.most_common(top):
            share = count / total
            extra = f" {share * per_event:8.1f} µs/ev" if per_event else ""
            out.write(f"{share * 100:6.1f}%{extra}  {frame}\n")
    return out.getvalue()


def main(argv: list[str] | None = None) -> int:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    imp = sub.add_parser("import")
    imp.add_argument("file", type=Path)
    imp.add_argument("--events", type=int)
    imp.add_argument("--db", help="store URL (default: a fresh SQLite file)")
    asof = sub.add_parser("asof")
    asof.add_argument("db")
    asof.add_argument("--reps", type=int, default=50)
    stacks = sub.add_parser("stacks")
    stacks.add_argument("raw", type=Path)
    stacks.add_argument("--events", type=int)
    stacks.add_argument("--seconds", type=float)
    stacks.add_argument("--by-line", action="store_true", help="one row per line, not per function")
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args(argv)
    text: Any
    if args.command == "import":
        text = profile_import(args.file, events=args.events, db=args.db, top=args.top)
    elif args.command == "asof":
        text = profile_asof(args.db, reps=args.reps, top=args.top)
    else:
        text = summarize_stacks(
            args.raw, events=args.events, seconds=args.seconds, top=args.top, by_function=not args.by_line
        )
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
