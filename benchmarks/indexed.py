"""The indexed read side: command-line queries against ``negotiation --version``, at several store sizes.

``python -m benchmarks.indexed --negotiations 1000 10000 [--events-per 50] [--postgres URL [--postgres-at N]]
[--single 100000] [--no-baselines]``

For each size, on the same generated feed (``benchmarks.generate``: stoppages,
about 2% late events, retractions) one run measures, with baselines of the
same run:

- ``import``: ``negotiation import`` into a fresh SQLite file, tables brought up
  to date included (wall, events/s, the child's peak RSS), against the
  facade's import alone (``Negotiations.import_files`` in a child: no tables)
  and against the floor (``benchmarks.floor``: parse and one ``executemany``, no checks);
- catch-up from zero on a copy of the import-only store: as the command line
  does it (``negotiation.answers.catch_up(bulk=True)``: a worker derives the
  new negotiations' rows), and by the projector alone (``ReadModels.catch_up``);
- command-line queries (median wall of ``runs`` runs, the commands taking
  turns, ``--version`` among them; peak RSS): ``list``,
  ``stoppages --on D``, ``status N --at D --known-at K``, ``positions N --at D``,
  a 30-day ``timeline`` window, each against ``negotiation --version``;
- Python-level: ``IndexedReads.status`` p50/p99 with and without a knowledge time.

``--single N`` adds one negotiation of N events: ``status --at`` at 10%, 50%, 90%.

The commands run from the project's compiled modules, as an installed copy
does (pip compiles every module of a wheel it installs): the run first writes
their bytecode (``compile_project``). A checkout run with
``PYTHONDONTWRITEBYTECODE=1`` would otherwise compile every module of ours at
every command, ``--version`` included (about 25 ms there, 150 ms for a query on
PostgreSQL). ``--source`` times them that way instead.
Nothing is tuned to the targets (issue 11); every figure is reported, met or not.
"""

from __future__ import annotations

import argparse
import compileall
import datetime as dt
import importlib.util
import json
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import orjson

from benchmarks.run import DEFAULT_OUT, _with_schema, bench_floor, dataset, postgres_reachable, remove_db, run_child

__all__ = ["bench_size", "main"]

SCRIPT = str(Path(sys.executable).with_name("negotiation"))
_IMPORT_ONLY = """\
import sys
from negotiation import Negotiations
with Negotiations(sys.argv[1]) as app:
    report = app.import_files([sys.argv[2]])
print(report.stored)
"""
_CATCH_UP = """\
import sys, time
from negotiation import Negotiations
from negotiation.answers import catch_up
from projections.persisted import ReadModels
with Negotiations(sys.argv[1]) as app:
    began = time.perf_counter()
    with ReadModels(app) as models:
        n = catch_up(models, bulk=True) if sys.argv[2] == "bulk" else models.catch_up()
    print(n, time.perf_counter() - began)
"""
_PYTHON_QUERIES = """\
import datetime as dt, json, random, sys, time
from negotiation import Negotiations
from projections.persisted import ReadModels
rng = random.Random(1)
with Negotiations(sys.argv[1]) as app, ReadModels(app) as models:
    reads = models.indexed()
    points = json.loads(open(sys.argv[2]).read())
    ids = sorted(points)
    now = dt.datetime.now(dt.UTC)
    out = {}
    for label, known in (("without known_at", False), ("with known_at", True)):
        samples = []
        for _ in range(int(sys.argv[3])):
            n = rng.choice(ids)
            day = dt.date.fromisoformat(rng.choice(points[n][1:]))
            k = day + dt.timedelta(days=rng.randint(0, 30)) if known else None
            t = time.perf_counter()
            try:
                reads.status(n, as_of=day, known_at=k, now=now)
            except LookupError:
                pass
            samples.append((time.perf_counter() - t) * 1000)
        samples.sort()
        out[label] = {"p50_ms": samples[len(samples) // 2], "p99_ms": samples[int(len(samples) * 0.99)]}
print(json.dumps(out))
"""


def _log(message: str) -> None:
    sys.stderr.write(f"[indexed {time.strftime('%H:%M:%S')}] {message}\n")
    sys.stderr.flush()


def _points(feed: Path) -> dict[str, list[str]]:
    """Negotiation id -> the dates its events occurred on, ascending (query points where it is open)."""
    days: dict[str, set[str]] = {}
    with feed.open("rb") as f:
        for line in f:
            if not line.startswith(b"{"):
                continue
            event = orjson.loads(line)
            days.setdefault(event["negotiation"], set()).add(event["occurred_at"][:10])
    return {n: sorted(d) for n, d in sorted(days.items())}


TIME = Path("/usr/bin/time")
"""GNU time: the peak RSS of the command alone. ``wait4`` in this process would report at least
this driver's own RSS, which Linux carries over from ``fork`` into the child's high-water mark."""


def _measured(cmd: list[str], work: Path, name: str, timeout: float) -> dict[str, Any]:
    if not TIME.exists():
        return run_child(cmd, cwd=work, name=name, timeout=timeout)
    result = run_child([str(TIME), "-f", "peak-rss-kb %M", *cmd], cwd=work, name=name, timeout=timeout)
    lines = (work / f"{name}.stderr").read_text(errors="replace").splitlines()
    found = [line for line in lines if line.startswith("peak-rss-kb ")]
    if found:
        result["peak_rss_mb"] = int(found[-1].split()[1]) / 1024
    return result


def _query(db: str, args: list[str], work: Path, name: str, runs: int) -> dict[str, Any]:
    return _summary([_measured([SCRIPT, "--db", db, *args], work, f"{name}-{i}", 600) for i in range(runs)])


def _summary(results: list[dict[str, Any]]) -> dict[str, Any]:
    failed = [r for r in results if r["exit"] != 0]
    return {
        "seconds": statistics.median(r["seconds"] for r in results),
        "all_seconds": [r["seconds"] for r in results],
        "peak_rss_mb": max(r["peak_rss_mb"] for r in results),
        "exit": failed[0]["exit"] if failed else 0,
        "stderr": failed[0]["stderr"] if failed else "",
    }


def _query_all(db: str, commands: dict[str, list[str]], work: Path, prefix: str, runs: int) -> dict[str, Any]:
    """Each command ``runs`` times, taking turns (``--version`` too): a slower stretch of the machine, or of
    the database writing out what an import left, falls on every command alike, not on the first ones."""
    results: dict[str, list[dict[str, Any]]] = {label: [] for label in commands}
    for i in range(runs):
        for label, args in commands.items():
            name = prefix + label.split()[0].strip("-")
            results[label].append(_measured([SCRIPT, "--db", db, *args], work, f"{name}-{i}", 600))
    return {label: _summary(found) for label, found in results.items()}


def bench_size(
    negotiations: int,
    events_per: int,
    out: Path,
    *,
    runs: int = 5,
    postgres: str | None = None,
    queries_only: bool = False,
    baselines: bool = True,
    turns: int = 1,
) -> dict[str, Any]:
    """Every figure of one store size (see the module docstring).

    ``queries_only``: reuse the last run's store; ``baselines``: also the import
    alone and the catch-up from zero (without: ``negotiation import`` and the queries only);
    ``turns``: how many times the imports and the floor are measured, taking turns (``_import_turns``).
    """
    data = dataset(out / "data", negotiations, events_per)
    feed = Path(data["path"])
    work = out / f"indexed-{negotiations}"
    events = data["events"]
    report: dict[str, Any] = {"negotiations": negotiations, "events": events, "late": data.get("late")}
    if queries_only:
        return _queries(report, feed, work, runs)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    db = f"sqlite:///{work}/store.db"
    if baselines:
        _import_turns(report, feed, work, turns)
        for mode, key in (("bulk", "catch_up"), ("projector", "catch_up_projector")):
            shutil.copy(work / "import-only.db", work / "catch-up.db")
            _log(f"{negotiations}: catch-up from zero ({mode})")
            catch_db = f"sqlite:///{work}/catch-up.db"
            catch = _measured([sys.executable, "-c", _CATCH_UP, catch_db, mode], work, f"catch-up-{mode}", 7200)
            taken, seconds = (float(x) for x in catch["stdout"].split()) if catch["exit"] == 0 else (0.0, 0.0)
            report[key] = {**catch, "events_per_s": taken / seconds if seconds else None}
            (work / "catch-up.db").unlink(missing_ok=True)  # disk: the stores of 100,000 negotiations are large
        (work / "import-only.db").unlink(missing_ok=True)
    else:
        _log(f"{negotiations}: negotiation import (tables included)")
        imported = _measured([SCRIPT, "--db", db, "import", "-q", str(feed)], work, "import", 7200)
        report["import"] = {**imported, "events_per_s": events / imported["seconds"]}
    report["store_mb"] = (work / "store.db").stat().st_size / 2**20
    report = _queries(report, feed, work, runs)
    if postgres is not None:
        report["postgres"] = _postgres(postgres, feed, events, work, _commands(report["points"]), runs)
    return report


def _import_turns(report: dict[str, Any], feed: Path, work: Path, turns: int) -> None:
    """The import alone, the floor and the import with its tables, ``turns`` times, taking turns.

    On a machine whose speed drifts by a quarter from one minute to the next,
    one import of each compares two moments as much as two programs: each turn
    measures all three back to back (the first of the turn alternating), and
    the ratios are taken within a turn. ``import_only``, ``floor`` and
    ``import`` are those of the turn with the median import ratio; every turn
    is kept in ``import_turns``. The stores of the last turn stay for what follows.
    """
    negotiations, events = report["negotiations"], report["events"]
    runs: list[dict[str, Any]] = []
    for turn in range(turns):
        measured: dict[str, Any] = {}
        order = ("only", "floor", "tables") if turn % 2 == 0 else ("tables", "floor", "only")
        for step in order:
            if step == "only":
                remove_db(work / "import-only.db")
                _log(f"{negotiations}: import only (facade, no tables), turn {turn + 1} of {turns}")
                only_cmd = [sys.executable, "-c", _IMPORT_ONLY, f"sqlite:///{work}/import-only.db", str(feed)]
                only = _measured(only_cmd, work, "import-only", 7200)
                measured["import_only"] = {**only, "events_per_s": events / only["seconds"]}
            elif step == "floor":
                measured["floor"] = bench_floor(f"indexed-{negotiations}", feed, events, work)
            else:
                remove_db(work / "store.db")
                _log(f"{negotiations}: negotiation import (tables included), turn {turn + 1} of {turns}")
                db = f"sqlite:///{work}/store.db"
                imported = _measured([SCRIPT, "--db", db, "import", "-q", str(feed)], work, "import", 7200)
                measured["import"] = {**imported, "events_per_s": events / imported["seconds"]}
        tables, only = measured["import"]["events_per_s"], measured["import_only"]["events_per_s"]
        measured["ratio"] = only / tables
        measured["floor_ratio"] = measured["floor"]["events_per_s"] / tables
        runs.append(measured)
    median = sorted(runs, key=lambda r: r["ratio"])[(len(runs) - 1) // 2]
    for key in ("import_only", "floor", "import"):
        report[key] = median[key]
    report["import_turns"] = [
        {
            "import_only_events_per_s": r["import_only"]["events_per_s"],
            "import_events_per_s": r["import"]["events_per_s"],
            "floor_events_per_s": r["floor"]["events_per_s"],
            "ratio": r["ratio"],
            "floor_ratio": r["floor_ratio"],
        }
        for r in runs
    ]


def _commands(points: dict[str, str]) -> dict[str, list[str]]:
    n, day, known, until = points["negotiation"], points["day"], points["known_at"], points["until"]
    return {
        "--version": ["--version"],
        "list": ["list", "--json"],
        "stoppages --on D": ["stoppages", "--on", day, "--json"],
        "status N --at D --known-at K": ["status", n, "--at", day, "--known-at", known, "--json"],
        "positions N --at D": ["positions", n, "--at", day, "--json"],
        "timeline N (30 days)": ["timeline", n, "--from", day, "--to", until, "--json"],
    }


def _queries(report: dict[str, Any], feed: Path, work: Path, runs: int) -> dict[str, Any]:
    negotiations = report["negotiations"]
    db = f"sqlite:///{work}/store.db"
    points = _points(feed)
    n = sorted(points)[len(points) // 2]
    day = points[n][len(points[n]) // 2]
    known = (dt.date.fromisoformat(day) + dt.timedelta(days=10)).isoformat()
    until = (dt.date.fromisoformat(day) + dt.timedelta(days=30)).isoformat()
    report["points"] = {"negotiation": n, "day": day, "known_at": known, "until": until}
    commands = _commands(report["points"])
    _log(f"{negotiations}: command-line queries")
    report["queries"] = _query_all(db, commands, work, "", runs)
    _log(f"{negotiations}: Python-level queries")
    points_path = work / "points.json"
    points_path.write_text(json.dumps(points))
    py = run_child(
        [sys.executable, "-c", _PYTHON_QUERIES, db, str(points_path), "2000"],
        cwd=work,
        name="python-queries",
    )
    report["python"] = json.loads(py["stdout"].splitlines()[-1]) if py["exit"] == 0 else {"error": py["stderr"]}
    return report


def _postgres(
    url: str, feed: Path, events: int, work: Path, commands: dict[str, list[str]], runs: int
) -> dict[str, Any]:
    from benchmarks.run import _postgres_schema

    schema = f"bench_indexed_{int(time.time())}"
    _postgres_schema(url, schema, drop=False)
    db = _with_schema(url, schema)
    try:
        _log("postgres: negotiation import (tables included)")
        imported = _measured([SCRIPT, "--db", db, "import", "-q", str(feed)], work, "pg-import", 7200)
        out: dict[str, Any] = {"import": {**imported, "events_per_s": events / imported["seconds"]}}
        out["queries"] = _query_all(db, commands, work, "pg-", runs)
        return out
    finally:
        _postgres_schema(url, schema, drop=True)


def bench_single(events: int, out: Path, *, runs: int = 3) -> dict[str, Any]:
    """One negotiation of ``events`` events: ``status --at`` at 10%, 50% and 90% of its days."""
    data = dataset(out / "data", 1, events)
    feed = Path(data["path"])
    work = out / f"indexed-single-{events}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    db = f"sqlite:///{work}/store.db"
    _log(f"single negotiation of {events}: import")
    imported = _measured([SCRIPT, "--db", db, "import", "-q", str(feed)], work, "import", 7200)
    ((negotiation, days),) = _points(feed).items()
    result: dict[str, Any] = {
        "events": data["events"],
        "import": {**imported, "events_per_s": data["events"] / imported["seconds"]},
        "--version": _query(db, ["--version"], work, "version", runs),
    }
    for share in (10, 50, 90):
        day = days[min(len(days) - 1, len(days) * share // 100)]
        result[f"status --at {share}%"] = _query(
            db, ["status", negotiation, "--at", day, "--json"], work, f"s{share}", runs
        )
    return result


def render(reports: list[dict[str, Any]], single: dict[str, Any] | None) -> str:
    """A plain-text table of every figure and target."""
    lines = []
    for r in reports:
        version = r["queries"]["--version"]["seconds"]
        lines.append(f"\n{r['negotiations']:,} negotiations, {r['events']:,} events (SQLite)")
        if "import" in r:
            imp = r["import"]
            lines.append(
                f"  negotiation import (tables included): {imp['events_per_s']:,.0f} ev/s, "
                f"{imp['peak_rss_mb']:.0f} MB, store {r.get('store_mb', 0):,.0f} MB"
            )
        if "import_only" in r:
            only, imp, cu = r["import_only"], r["import"], r["catch_up"]
            lines.append(f"  import only (no tables): {only['events_per_s']:,.0f} ev/s, {only['peak_rss_mb']:.0f} MB")
            lines.append(f"  -> import with tables {only['events_per_s'] / imp['events_per_s']:.2f}x slower than alone")
            if "floor" in r:
                ratio = r["floor"]["events_per_s"] / imp["events_per_s"]
                lines.append(
                    f"  floor (parse + one executemany, no checks): {r['floor']['events_per_s']:,.0f} ev/s; "
                    f"floor/import with tables {ratio:.2f}{' PASS' if ratio <= 4.5 else ' FAIL'} (target 4.5)"
                )
            if len(r.get("import_turns", ())) > 1:
                each = ", ".join(f"{t['ratio']:.2f}x / {t['floor_ratio']:.2f}" for t in r["import_turns"])
                lines.append(f"  turns (import ratio / floor ratio; the median turn's figures above): {each}")
            rate = cu.get("events_per_s") or 0
            lines.append(f"  catch-up from zero: {rate:,.0f} ev/s, {cu['peak_rss_mb']:.0f} MB (target 40,000)")
            if "catch_up_projector" in r:
                alone = r["catch_up_projector"]
                lines.append(
                    f"  catch-up from zero, the projector alone: {alone.get('events_per_s') or 0:,.0f} ev/s, "
                    f"{alone['peak_rss_mb']:.0f} MB"
                )
        for label, q in r["queries"].items():
            ratio = q["seconds"] / version if version else float("nan")
            ok = "" if label == "--version" else (" PASS" if ratio <= 2 and q["peak_rss_mb"] < 100 else " FAIL")
            lines.append(
                f"  {label:32} {q['seconds'] * 1000:8.0f} ms {q['peak_rss_mb']:6.0f} MB  {ratio:5.2f}x --version{ok}"
                + (f"  exit {q['exit']}: {q['stderr']}" if q["exit"] else "")
            )
        for label, p in r["python"].items():
            if isinstance(p, dict):
                lines.append(f"  Python status {label}: p50 {p['p50_ms']:.2f} ms, p99 {p['p99_ms']:.2f} ms")
        if "postgres" in r:
            pg = r["postgres"]
            pv = pg["queries"]["--version"]["seconds"]
            lines.append(f"  PostgreSQL import (tables included): {pg['import']['events_per_s']:,.0f} ev/s")
            for label, q in pg["queries"].items():
                lines.append(
                    f"  PG {label:29} {q['seconds'] * 1000:8.0f} ms {q['peak_rss_mb']:6.0f} MB  "
                    f"{q['seconds'] / pv:5.2f}x --version"
                )
    if len(reports) > 1:
        first, last = reports[0], reports[-1]
        sizes = f"{last['negotiations']:,} negotiations against {first['negotiations']:,}"
        lines.append(f"\nFlatness: {sizes} (target 1.5x)")
        for label, q in last["queries"].items():
            base = first["queries"].get(label)
            if label != "--version" and base and base["seconds"]:
                ratio = q["seconds"] / base["seconds"]
                lines.append(f"  {label:32} {ratio:5.2f}x{' PASS' if ratio <= 1.5 else ' FAIL'}")
    if single is not None:
        version = single["--version"]["seconds"]
        lines.append(
            f"\nOne negotiation of {single['events']:,} events: import {single['import']['events_per_s']:,.0f} ev/s"
        )
        for label, q in single.items():
            if label.startswith("status"):
                ms, mb, ratio = q["seconds"] * 1000, q["peak_rss_mb"], q["seconds"] / version
                lines.append(f"  {label:20} {ms:8.0f} ms {mb:6.0f} MB {ratio:5.2f}x --version")
    return "\n".join(lines)


PACKAGES = ("events", "negotiation", "projections")
"""The project's packages: their modules are what a command compiles when no bytecode is there."""


def compile_project() -> bool:
    """Write the bytecode of the project's modules where Python looks for it (``__pycache__``); whether all compiled.

    Needed after every change to a module: Python checks each file's time and
    size against its bytecode and, without a fresh one, compiles the module at every start.
    """
    ok = True
    for package in PACKAGES:
        spec = importlib.util.find_spec(package)
        assert spec is not None
        assert spec.submodule_search_locations  # a package of ours, installed
        for folder in spec.submodule_search_locations:
            ok = bool(compileall.compile_dir(folder, quiet=1)) and ok
    return ok


def main(argv: list[str] | None = None) -> int:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.indexed", description=__doc__.splitlines()[0])
    parser.add_argument("--negotiations", type=int, nargs="+", default=[1000])
    parser.add_argument("--events-per", type=int, default=50)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--single", type=int, default=0, help="also one negotiation of this many events")
    parser.add_argument("--postgres", default=None, help="PostgreSQL URL: also the largest size on PostgreSQL")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--queries-only", action="store_true", help="reuse the stores of the last run: queries only")
    parser.add_argument(
        "--no-baselines", action="store_true", help="skip the import alone and the catch-up from zero (large sizes)"
    )
    parser.add_argument(
        "--import-turns", type=int, default=1, help="measure the imports and the floor this many times, taking turns"
    )
    parser.add_argument("--postgres-at", type=int, default=None, help="the size on PostgreSQL (default: the largest)")
    parser.add_argument(
        "--source", action="store_true", help="do not compile the project's modules first (see the module docstring)"
    )
    args = parser.parse_args(argv)
    if not args.source:
        compile_project()
    if args.postgres is not None and postgres_reachable(args.postgres) is not None:
        args.postgres = None
    sizes = sorted(args.negotiations)
    reports = [
        bench_size(
            n,
            args.events_per,
            args.out,
            runs=args.runs,
            postgres=args.postgres if n == (args.postgres_at or sizes[-1]) and not args.queries_only else None,
            queries_only=args.queries_only,
            baselines=not args.no_baselines,
            turns=args.import_turns,
        )
        for n in sizes
    ]
    single = bench_single(args.single, args.out) if args.single else None
    path = args.json or args.out / "report-indexed.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps({"sizes": reports, "single": single, "bytecode": not args.source}, indent=2, default=str)
    )
    print(render(reports, single))
    print(f"\nJSON report: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
