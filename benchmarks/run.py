"""Replay and as-of query benchmarks, against baselines measured in the same run.

``python -m benchmarks.run [--scale small|full] [--json out.json] [--postgres URL]``

On the same generated data (``benchmarks.generate``), one run measures:

- import: end-to-end ``negotiation --db URL import FILE`` in a child process
  (events/s, the child's peak RSS from ``wait4``) into SQLite and PostgreSQL,
  for the multi-negotiation feed and for the single long negotiation;
- the floor: the same file parsed with stdlib ``json`` and inserted with one
  ``sqlite3.executemany`` in one transaction, no validation (``benchmarks.floor``);
- the peer: the textbook eventsourcing aggregate, one ``app.save`` per event
  (``benchmarks.peer``), on a prefix of the feed;
- as-of queries: ``status`` and ``positions`` p50/p99 at 10%, 50% and 90% of
  the long negotiation, with and without a knowledge time, against a full
  refold from scratch (``negotiation.core.machine.fold`` over ``History.visible``);
- catch-up: a persisted projection built from scratch, when the library has one;
- with ``--indexed N [N ...]``: the indexed read side at N negotiations each
  (``benchmarks.indexed``: command-line queries against ``--version``, import
  with the tables, catch-up from zero, Python-level p50/p99).

Targets are reported as measured, PASS or FAIL; nothing is tuned to them.
``small`` runs in seconds (the test suite runs it); ``full`` is the real one.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import importlib.util
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from benchmarks import floor, generate, peer

__all__ = ["SCALES", "Scale", "main", "run"]

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "benchmarks" / "out"
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
SEED = 1
IMPORT_TIMEOUT_BASE = 120.0
IMPORT_TIMEOUT_RATE = 1000.0
"""An import is killed after BASE + events/RATE seconds (a hung child must not hang the run)."""


@dataclass(frozen=True)
class Scale:
    """How much data and how many repetitions."""

    negotiations: int
    events_per: int
    single: int
    peer: int
    peer_get: int
    reps: int
    refold_reps: int
    window: int
    """Query points are drawn within +-window events of 10%, 50% and 90%."""
    cli_runs: int = 3
    """End-to-end ``negotiation status`` runs (each loads the whole history)."""


SCALES = {
    "small": Scale(
        negotiations=30,
        events_per=60,
        single=2500,
        peer=600,
        peer_get=300,
        reps=20,
        refold_reps=3,
        window=50,
        cli_runs=1,
    ),
    "full": Scale(
        negotiations=10_000,
        events_per=100,
        single=100_000,
        peer=20_000,
        peer_get=5_000,
        reps=200,
        refold_reps=5,
        window=500,
    ),
}

TARGETS = {
    "import_rate": 50_000,
    "floor_ratio": 3.0,
    "peer_ratio": 10.0,
    "rss_mb": 300,
    "asof_p50_ms": 2.0,
    "asof_speedup": 100.0,
    "catchup_rate": 30_000,
}


# --- plumbing ---------------------------------------------------------------------


def _log(message: str) -> None:
    sys.stderr.write(f"[bench {time.strftime('%H:%M:%S')}] {message}\n")
    sys.stderr.flush()


def _tail(path: Path, lines: int = 5) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.strip().splitlines()[-lines:])


def run_child(
    cmd: Sequence[str],
    *,
    cwd: Path,
    name: str,
    logs: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float | None = None,
) -> dict[str, Any]:
    """Run ``cmd``; wall seconds, exit code and the child's own peak RSS (``wait4``).

    Its output goes to ``NAME.stdout``/``NAME.stderr`` in ``logs`` (default ``cwd``).
    A child still running after ``timeout`` seconds is killed (``timed_out``).
    """
    logs = logs or cwd
    out, err = logs / f"{name}.stdout", logs / f"{name}.stderr"
    child_env = dict(os.environ if env is None else env)
    child_env.pop("NEGOTIATION_DB", None)
    killed = threading.Event()
    with out.open("wb") as o, err.open("wb") as e:
        start = time.perf_counter()
        proc = subprocess.Popen(list(cmd), stdout=o, stderr=e, cwd=cwd, env=child_env)

        def kill() -> None:
            killed.set()
            proc.kill()

        timer = None if timeout is None else threading.Timer(timeout, kill)
        if timer is not None:
            timer.start()
        try:
            # Waited on, not polled: polling every 20 ms made every wall time a multiple of about 20 ms.
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            if timer is not None:
                timer.cancel()
        seconds = time.perf_counter() - start
    timed_out = killed.is_set()
    proc.returncode = os.waitstatus_to_exitcode(status)
    return {
        "seconds": seconds,
        "exit": proc.returncode,
        "timed_out": timed_out,
        "peak_rss_mb": usage.ru_maxrss / 1024,  # kilobytes on Linux
        "stdout": _tail(out),
        "stderr": _tail(err),
    }


_DRIVER = """\
import sys
from negotiation import Negotiations
with Negotiations(sys.argv[1]) as app:
    report = app.import_files([sys.argv[2]])
print(report.lines, report.stored, len(report.refused))
sys.exit(0 if report.ok else 1)
"""


def cli_available() -> bool:
    """The console script works (``negotiation/cli/`` is being written concurrently)."""
    if importlib.util.find_spec("negotiation.cli") is None:
        return False
    script = Path(sys.executable).with_name("negotiation")
    if not script.exists():
        return False
    done = subprocess.run([str(script), "--help"], capture_output=True, check=False, timeout=60)
    return done.returncode == 0


def import_command(db: str, path: Path, *, cli: bool) -> list[str]:
    """``negotiation --db DB import FILE``, or the facade in a child process while there is no CLI."""
    if cli:
        return [str(Path(sys.executable).with_name("negotiation")), "--db", db, "import", str(path)]
    return [sys.executable, "-c", _DRIVER, db, str(path)]


def stored_count(db: str) -> int:
    """How many events the store holds (the commit position of the last one)."""
    from negotiation import Negotiations

    with Negotiations(db) as app:
        return app.position()


def percentile(samples: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..100)."""
    ordered = sorted(samples)
    index = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


# --- data sets ---------------------------------------------------------------------


def dataset(data_dir: Path, negotiations: int, events_per: int) -> dict[str, Any]:
    """Generate (or reuse) a feed; its counts with the path and size."""
    stem = f"feed-{negotiations}x{events_per}-seed{SEED}-v{generate.GENERATOR_VERSION}"
    path = data_dir / f"{stem}.jsonl"
    meta = data_dir / f"{stem}.meta.json"
    if path.exists() and meta.exists():
        try:
            stats = json.loads(meta.read_text())
        except ValueError:
            stats = {}
        if stats.get("events") == negotiations * events_per and stats.get("bytes") == path.stat().st_size:
            stats["reused"] = True
            return stats
    data_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    stats = generate.generate(path, negotiations=negotiations, events_per=events_per, seed=SEED)
    stats["generate_s"] = time.perf_counter() - start
    stats["bytes"] = path.stat().st_size
    stats["path"] = str(path)
    meta.write_text(json.dumps(stats, indent=2))
    stats["reused"] = False
    return stats


def slice_file(source: Path, target: Path, events: int) -> Path:
    """The first ``events`` event lines of ``source``."""
    count = 0
    with source.open("rb") as src, target.open("wb") as out:
        for raw in src:
            line = raw.strip()
            if not line or line.startswith(b"#"):
                continue
            if count >= events:
                break
            out.write(line + b"\n")
            count += 1
    return target


# --- PostgreSQL ----------------------------------------------------------------------


def postgres_reachable(url: str) -> str | None:
    """``None`` when a connection works, else why not."""
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed"
    try:
        with psycopg.connect(_conninfo(url), connect_timeout=3):
            return None
    except psycopg.Error as e:
        return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__


def _conninfo(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def _postgres_schema(url: str, schema: str, *, drop: bool) -> None:
    import psycopg

    with psycopg.connect(_conninfo(url), autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        if not drop:
            conn.execute(f"CREATE SCHEMA {schema}")


def remove_db(path: str | Path) -> None:
    """Delete a SQLite file and its WAL and shared-memory files, where they exist."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _with_schema(url: str, schema: str) -> str:
    parts = urllib.parse.urlsplit(url)
    query = urllib.parse.urlencode({"schema": schema})
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


# --- sections ------------------------------------------------------------------------


def bench_import(
    name: str, path: Path, events: int, work: Path, *, cli: bool, postgres: str | None
) -> list[dict[str, Any]]:
    """Import ``path`` into a fresh SQLite file and a fresh PostgreSQL schema."""
    rows = []
    db = str(work / f"{name}.db")
    remove_db(db)
    _log(f"import {name} ({events} events) into SQLite")
    timeout = IMPORT_TIMEOUT_BASE + events / IMPORT_TIMEOUT_RATE
    result = run_child(import_command(db, path, cli=cli), cwd=work, name=f"import-{name}-sqlite", timeout=timeout)
    rows.append(_import_row(name, "sqlite", events, result, lambda: stored_count(db)))
    if postgres is not None:
        schema = f"bench_{os.getpid()}_{name.replace('-', '_')}"
        url = _with_schema(postgres, schema)
        _postgres_schema(postgres, schema, drop=False)
        try:
            _log(f"import {name} ({events} events) into PostgreSQL")
            result = run_child(
                import_command(url, path, cli=cli), cwd=work, name=f"import-{name}-postgres", timeout=timeout
            )
            rows.append(_import_row(name, "postgres", events, result, lambda: stored_count(url)))
        finally:
            _postgres_schema(postgres, schema, drop=True)
    return rows


def _import_row(
    name: str, backend: str, events: int, result: dict[str, Any], count: Callable[[], int]
) -> dict[str, Any]:
    stored = count() if result["exit"] == 0 else 0
    row = {
        "dataset": name,
        "backend": backend,
        "events": events,
        "stored": stored,
        "seconds": result["seconds"],
        "events_per_s": events / result["seconds"],
        "peak_rss_mb": result["peak_rss_mb"],
        "exit": result["exit"],
        "timed_out": result["timed_out"],
        "ok": result["exit"] == 0 and stored == events,
    }
    if not row["ok"]:
        row["stderr"] = result["stderr"]
        row["stdout"] = result["stdout"]
    return row


def bench_floor(name: str, path: Path, events: int, work: Path) -> dict[str, Any]:
    """The floor for ``path``: parse alone, in-process; parse + insert in a child process."""
    _log(f"floor {name}")
    parse = floor.parse_only(path)
    db = work / f"floor-{name}.db"
    remove_db(db)
    result = run_child(
        [sys.executable, "-m", "benchmarks.floor", str(path), str(db)], cwd=ROOT, name=f"floor-{name}", logs=work
    )
    inner = json.loads(result["stdout"].splitlines()[-1]) if result["exit"] == 0 else {}
    remove_db(db)
    return {
        "dataset": name,
        "events": events,
        "stored": inner.get("events", 0),
        "json_parse_events_per_s": events / parse["json_s"],
        "orjson_parse_events_per_s": events / parse["orjson_s"],
        "seconds": result["seconds"],
        "events_per_s": events / result["seconds"],
        "in_process_events_per_s": events / inner["seconds"] if inner else 0.0,
        "peak_rss_mb": result["peak_rss_mb"],
        "exit": result["exit"],
    }


def bench_peer(path: Path, scale: Scale, work: Path) -> list[dict[str, Any]]:
    """The textbook eventsourcing aggregate on a prefix of the feed."""
    rows = []
    for style, limit, target in (
        ("cached", scale.peer, "file"),
        ("get", scale.peer_get, "file"),
        ("cached", scale.peer, "memory"),
    ):
        db = ":memory:" if target == "memory" else str(work / f"peer-{style}.db")
        if target == "file":
            remove_db(db)
        _log(f"peer {style} on {target} SQLite ({limit} events)")
        row = peer.run(path, db, limit=limit, style=style)
        row["sqlite"] = target
        rows.append(row)
    return rows


# --- as-of queries -------------------------------------------------------------------


def _query_api(app: Any, negotiation: str) -> tuple[str, Callable[..., Any], Callable[..., Any]]:
    """The most public status/positions entry points the library has right now."""
    now = dt.datetime.now(dt.UTC)
    if callable(getattr(app, "status", None)) and callable(getattr(app, "positions", None)):
        return (
            "Negotiations.status/positions",
            lambda _h, as_of, known_at: app.status(negotiation, as_of=as_of, known_at=known_at),
            lambda _h, as_of, known_at: app.positions(negotiation, as_of=as_of, known_at=known_at),
        )
    try:
        status_of = importlib.import_module("projections.status").status_of
        positions_of = importlib.import_module("projections.positions").positions_of
    except (ImportError, AttributeError):
        from negotiation.core.history import STATUS_FOLD

        return (
            "History.fold(STATUS_FOLD)",
            lambda h, as_of, known_at: h.fold(STATUS_FOLD, as_of=as_of, known_at=known_at),
            lambda h, as_of, known_at: h.fold(_POSITIONS_FOLD, as_of=as_of, known_at=known_at),
        )
    return (
        "projections.status.status_of/positions.positions_of",
        lambda h, as_of, known_at: status_of(h, as_of=as_of, known_at=known_at, now=now),
        lambda h, as_of, known_at: positions_of(h, as_of=as_of, known_at=known_at, now=now),
    )


def _positions_step(state: Any, record: Any) -> Any:
    event = record.event
    kind = event.TYPE
    if kind == "proposal.made":
        return state.set((event.by, event.issue), event.id)
    if kind == "proposal.withdrawn" and (event.by, event.issue) in state:
        return state.delete((event.by, event.issue))
    return state


def _positions_initial() -> Any:
    import immutables

    return immutables.Map()


def _make_positions_fold() -> Any:
    from negotiation.core.history import Fold

    return Fold("benchmarks.positions", _positions_initial, _positions_step)


_POSITIONS_FOLD = _make_positions_fold()


def refold_status(history: Any, as_of: dt.datetime, known_at: dt.datetime | None) -> Any:
    """The baseline: the state machine folded from scratch over the visible events."""
    from negotiation.core.machine import fold

    return fold((r.event for r in history.visible(as_of=as_of, known_at=known_at)), checked=False)


def refold_positions(history: Any, as_of: dt.datetime, known_at: dt.datetime | None) -> dict[tuple[str, str], Any]:
    """The baseline: standing proposals from scratch, a plain loop over the visible events."""
    standing: dict[tuple[str, str], Any] = {}
    for record in history.visible(as_of=as_of, known_at=known_at):
        event = record.event
        if event.TYPE == "proposal.made":
            standing[event.by, event.issue] = record
        elif event.TYPE == "proposal.withdrawn":
            standing.pop((event.by, event.issue), None)
    return standing


def _events_applied(answer: Any) -> int | None:
    value = getattr(answer, "events_applied", None)
    if value is None and isinstance(answer, dict):
        value = answer.get("events_applied")
    return value if isinstance(value, int) else None


def _positions_count(answer: Any) -> int | None:
    if isinstance(answer, dict):
        inner = answer.get("positions", answer)
        if isinstance(inner, dict):
            return sum(len(v) if isinstance(v, dict) else 1 for v in inner.values())
        return None
    inner = getattr(answer, "positions", None)
    if inner is None:
        try:
            return len(answer)
        except TypeError:
            return None
    return len(inner) if not isinstance(inner, dict) else sum(len(v) for v in inner.values())


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter_ns()
    result = fn()
    return (time.perf_counter_ns() - start) / 1e6, result


def bench_asof(db: str, scale: Scale, *, cli: bool, work: Path) -> dict[str, Any]:
    """Status and positions at 10/50/90% of the long negotiation, vs a full refold."""
    from negotiation import Negotiations

    rng = random.Random(SEED)
    with Negotiations(db) as app:
        ids = app.negotiation_ids()
        if not ids:
            return {"note": "the long negotiation was not imported", "rows": []}
        negotiation = ids[0]
        load_ms, history = _timed(lambda: app.history(negotiation))
        api, status, positions = _query_api(app, negotiation)
        order = history.order
        total = len(order)
        rows = []
        for fraction in (0.1, 0.5, 0.9):
            center = int(total * fraction)
            for knowledge in (False, True):
                points = [
                    rng.randrange(max(1, center - scale.window), min(total, center + scale.window))
                    for _ in range(scale.reps)
                ]

                def moment(index: int, knowledge: bool = knowledge) -> tuple[dt.datetime, dt.datetime | None]:
                    at = order[index].at
                    return at, (at + dt.timedelta(days=1)) if knowledge else None

                for query, fn, refold in (
                    ("status", status, refold_status),
                    ("positions", positions, refold_positions),
                ):
                    as_of, known_at = moment(points[0])
                    cold_ms, _ = _timed(lambda fn=fn, a=as_of, k=known_at: fn(history, a, k))
                    samples = []
                    consistent = True
                    for i, index in enumerate(points):
                        as_of, known_at = moment(index)
                        ms, answer = _timed(lambda fn=fn, a=as_of, k=known_at: fn(history, a, k))
                        samples.append(ms)
                        if i < 3:  # the answer agrees with the refold
                            expected = refold(history, as_of, known_at)
                            got = _events_applied(answer) if query == "status" else _positions_count(answer)
                            want = expected.events_applied if query == "status" else len(expected)
                            consistent = consistent and (got is None or got == want)
                    refold_samples = []
                    for index in points[: scale.refold_reps]:
                        as_of, known_at = moment(index)
                        ms, _ = _timed(lambda refold=refold, a=as_of, k=known_at: refold(history, a, k))
                        refold_samples.append(ms)
                    p50 = statistics.median(samples)
                    refold_p50 = statistics.median(refold_samples)
                    rows.append(
                        {
                            "query": query,
                            "point": f"{round(fraction * 100)}%",
                            "events_before": center,
                            "known_at": "as_of+1d" if knowledge else "now",
                            "cold_ms": cold_ms,
                            "p50_ms": p50,
                            "p99_ms": percentile(samples, 99),
                            "refold_p50_ms": refold_p50,
                            "speedup": refold_p50 / p50 if p50 else 0.0,
                            "consistent": consistent,
                            "samples": len(samples),
                        }
                    )
    section: dict[str, Any] = {
        "api": api,
        "negotiation": negotiation,
        "events": total,
        "load_history_ms": load_ms,
        "rows": rows,
    }
    if cli:
        section["cli"] = _cli_query(db, negotiation, order[int(total * 0.5)].at, work, runs=scale.cli_runs)
    return section


def _cli_query(db: str, negotiation: str, at: dt.datetime, work: Path, *, runs: int) -> dict[str, Any]:
    """One end-to-end ``negotiation status --json`` (a new process loads the history)."""
    script = str(Path(sys.executable).with_name("negotiation"))
    cmd = [script, "--db", db, "status", negotiation, "--at", at.date().isoformat(), "--json"]
    results = [run_child(cmd, cwd=work, name="cli-status") for _ in range(runs)]
    return {
        "command": "negotiation --db DB status NEG --at DATE --json",
        "runs": runs,
        "median_s": statistics.median(r["seconds"] for r in results),
        "peak_rss_mb": max(r["peak_rss_mb"] for r in results),
        "exit": max(r["exit"] for r in results),
    }


# --- catch-up ------------------------------------------------------------------------


_CATCHUP_DRIVER = """\
import json, sys, time
from projections.persisted import ReadModels
start = time.perf_counter()
with ReadModels(sys.argv[1]) as models:
    total = models.catch_up()
    if total == 0 and models.position() > 0:
        # The import brought the tables up to date itself: build them again from position 0.
        start = time.perf_counter()
        models.rebuild()
        total = models.position()
    again = models.catch_up()
print(json.dumps({"events": total, "again": again, "seconds": time.perf_counter() - start}))
"""


def bench_catchup(db: str, events: int, work: Path) -> dict[str, Any]:
    """The persisted read models built from scratch over an imported store, in a child process."""
    if importlib.util.find_spec("projections.persisted") is None:
        return {"available": False, "note": "projections/persisted does not exist"}
    if not hasattr(importlib.import_module("projections.persisted"), "ReadModels"):
        return {"available": False, "note": "projections.persisted has no ReadModels"}
    _log(f"catch-up of the persisted read models over {events} events")
    result = run_child([sys.executable, "-c", _CATCHUP_DRIVER, db], cwd=work, name="catchup")
    if result["exit"] != 0:
        return {"available": False, "note": f"catch_up failed: {result['stderr'].splitlines()[-1:]}"}
    inner = json.loads(result["stdout"].splitlines()[-1])
    return {
        "available": True,
        "what": "ReadModels(db) built from position 0 (catch_up, or rebuild when the import already did)",
        "events": inner["events"],
        "expected": events,
        "seconds": inner["seconds"],
        "events_per_s": inner["events"] / inner["seconds"],
        "wall_seconds": result["seconds"],
        "peak_rss_mb": result["peak_rss_mb"],
        "ok": inner["events"] == events and inner["again"] == 0,
    }


# --- targets and the table -----------------------------------------------------------


def _target(name: str, goal: str, measured: float | None, ok: bool | None, note: str = "") -> dict[str, Any]:
    status = "n/a" if ok is None else ("PASS" if ok else "FAIL")
    return {"target": name, "goal": goal, "measured": measured, "result": status, "note": note}


def targets(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Every target of the issue, as measured."""
    out = []
    imports = {(r["dataset"], r["backend"]): r for r in report["import"]}
    multi_sqlite = imports.get(("multi", "sqlite"))
    floor_multi = next((f for f in report["floor"] if f["dataset"] == "multi"), None)
    peer_file = next((p for p in report["peer"] if p["style"] == "cached" and p["sqlite"] == "file"), None)
    for key in (("multi", "sqlite"), ("single", "sqlite")):
        row = imports.get(key)
        if row:
            rate = row["events_per_s"]
            out.append(
                _target(
                    f"import {key[0]} into SQLite",
                    f">= {TARGETS['import_rate']:,} events/s",
                    rate,
                    row["ok"] and rate >= TARGETS["import_rate"],
                )
            )
    if multi_sqlite and floor_multi:
        ratio = floor_multi["events_per_s"] / multi_sqlite["events_per_s"]
        out.append(
            _target(
                "import within 3x of the floor",
                f"floor/import <= {TARGETS['floor_ratio']}",
                ratio,
                ratio <= TARGETS["floor_ratio"],
            )
        )
    if multi_sqlite and peer_file:
        ratio = multi_sqlite["events_per_s"] / peer_file["events_per_s"]
        out.append(
            _target(
                "import >= 10x the textbook peer",
                f"import/peer >= {TARGETS['peer_ratio']}",
                ratio,
                ratio >= TARGETS["peer_ratio"],
                "peer = cached aggregates, file SQLite",
            )
        )
    for backend in ("sqlite", "postgres"):
        row = imports.get(("multi", backend))
        if row:
            out.append(
                _target(
                    f"peak RSS, multi import into {backend}",
                    f"< {TARGETS['rss_mb']} MB",
                    row["peak_rss_mb"],
                    row["peak_rss_mb"] < TARGETS["rss_mb"],
                    f"{row['events']:,} events",
                )
            )
    rows = report["asof"].get("rows", [])
    if rows:
        worst = max(r["p50_ms"] for r in rows)
        out.append(
            _target(
                "as-of p50 at any point",
                f"<= {TARGETS['asof_p50_ms']} ms",
                worst,
                worst <= TARGETS["asof_p50_ms"],
                "worst p50 over points, queries, knowledge times",
            )
        )
        least = min(r["speedup"] for r in rows)
        out.append(
            _target(
                "as-of vs full refold",
                f">= {TARGETS['asof_speedup']:.0f}x",
                least,
                least >= TARGETS["asof_speedup"],
                "least speedup over points, queries, knowledge times",
            )
        )
    catchup = report["catchup"]
    if catchup.get("available"):
        rate = catchup["events_per_s"]
        out.append(
            _target("catch-up", f">= {TARGETS['catchup_rate']:,} events/s", rate, rate >= TARGETS["catchup_rate"])
        )
    else:
        out.append(_target("catch-up", f">= {TARGETS['catchup_rate']:,} events/s", None, None, catchup["note"]))
    return out


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, float):
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        return f"{value:.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _table(title: str, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[_fmt(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(header)]
    lines = [title, "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(lines)


def render(report: dict[str, Any]) -> str:
    """The report as plain-text tables."""
    parts = [
        f"negotiation-log benchmarks, scale={report['meta']['scale']}, {report['meta']['started']}, "
        f"Python {report['meta']['python']}, {report['meta']['cpus']} CPUs, import via {report['meta']['import_via']}, "
        f"library {report['meta']['library']['git']} at {report['meta']['library']['path']}"
    ]
    parts.append(
        _table(
            "Data sets",
            ["name", "events", "negotiations", "late", "MB"],
            [
                [name, d["events"], d["negotiations"], d["late"], d["bytes"] / 1e6]
                for name, d in report["datasets"].items()
            ],
        )
    )
    parts.append(
        _table(
            "Import (end to end, child process)",
            ["dataset", "backend", "events", "stored", "seconds", "events/s", "peak RSS MB", "ok"],
            [
                [
                    r["dataset"],
                    r["backend"],
                    r["events"],
                    r["stored"],
                    r["seconds"],
                    r["events_per_s"],
                    r["peak_rss_mb"],
                    "TIMEOUT" if r.get("timed_out") else r["ok"],
                ]
                for r in report["import"]
            ],
        )
    )
    if report.get("postgres_note"):
        parts.append(f"PostgreSQL: {report['postgres_note']}")
    parts.append(
        _table(
            "Floor (no validation): stdlib json + sqlite3 executemany, one transaction",
            ["dataset", "events", "json parse ev/s", "orjson parse ev/s", "parse+insert ev/s", "peak RSS MB"],
            [
                [
                    f["dataset"],
                    f["events"],
                    f["json_parse_events_per_s"],
                    f["orjson_parse_events_per_s"],
                    f["events_per_s"],
                    f["peak_rss_mb"],
                ]
                for f in report["floor"]
            ],
        )
    )
    parts.append(
        _table(
            "Peer: textbook eventsourcing Aggregate, app.save() per event",
            ["style", "SQLite", "events", "seconds", "events/s"],
            [[p["style"], p["sqlite"], p["events"], p["seconds"], p["events_per_s"]] for p in report["peer"]],
        )
    )
    asof = report["asof"]
    if asof.get("note"):
        parts.append(f"As-of queries: not measured ({asof['note']})")
    if asof.get("rows"):
        parts.append(
            _table(
                f"As-of queries on {asof['negotiation']} ({asof['events']:,} events; via {asof['api']}; "
                f"history load {asof['load_history_ms']:,.0f} ms)",
                ["query", "point", "known_at", "cold ms", "p50 ms", "p99 ms", "refold p50 ms", "speedup", "ok"],
                [
                    [
                        r["query"],
                        r["point"],
                        r["known_at"],
                        r["cold_ms"],
                        r["p50_ms"],
                        r["p99_ms"],
                        r["refold_p50_ms"],
                        r["speedup"],
                        r["consistent"],
                    ]
                    for r in asof["rows"]
                ],
            )
        )
        if "cli" in asof:
            cli = asof["cli"]
            parts.append(
                f"End to end: `{cli['command']}` median {cli['median_s']:.2f} s, "
                f"peak RSS {cli['peak_rss_mb']:.0f} MB, exit {cli['exit']}"
            )
    catchup = report["catchup"]
    if catchup.get("available"):
        parts.append(
            f"Catch-up ({catchup['what']}): {catchup['events']:,} of {catchup['expected']:,} events in "
            f"{catchup['seconds']:.2f} s = {catchup['events_per_s']:,.0f} events/s, "
            f"peak RSS {catchup['peak_rss_mb']:.0f} MB"
        )
    else:
        parts.append(f"Catch-up: not measured ({catchup['note']})")
    parts.append(
        _table(
            "Targets",
            ["target", "goal", "measured", "result", "note"],
            [[t["target"], t["goal"], t["measured"], t["result"], t["note"]] for t in report["targets"]],
        )
    )
    return "\n\n".join(parts)


# --- the run -----------------------------------------------------------------------------


def _library_version() -> dict[str, Any]:
    """Where the measured library was imported from, and its git revision."""
    import negotiation

    root = Path(negotiation.__file__).resolve().parent.parent
    info: dict[str, Any] = {"path": str(root)}
    if os.environ.get("BENCH_LIBRARY_REV"):  # a snapshot without .git (git archive)
        info["git"] = os.environ["BENCH_LIBRARY_REV"]
        return info
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "events", "negotiation", "projections"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        info["git"] = rev + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        info["git"] = "unknown"
    return info


def run(
    scale_name: str = "small",
    *,
    out_dir: Path = DEFAULT_OUT,
    postgres: str | None = DEFAULT_POSTGRES,
    json_path: Path | None = None,
) -> dict[str, Any]:
    """Run every section; returns the report (also written as JSON)."""
    scale = SCALES[scale_name]
    data_dir = out_dir / "data"
    work = out_dir / f"work-{scale_name}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    cli = cli_available()
    report: dict[str, Any] = {
        "meta": {
            "scale": scale_name,
            "params": asdict(scale),
            "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "import_via": "negotiation CLI" if cli else "Negotiations.import_files in a child process (no CLI yet)",
            "seed": SEED,
            "library": _library_version(),
            "load_average_start": os.getloadavg(),
        }
    }
    multi = dataset(data_dir, scale.negotiations, scale.events_per)
    single = dataset(data_dir, 1, scale.single)
    report["datasets"] = {"multi": multi, "single": single}
    multi_path, single_path = Path(multi["path"]), Path(single["path"])

    pg_url = postgres
    if postgres is not None:
        why = postgres_reachable(postgres)
        if why is not None:
            report["postgres_note"] = f"skipped: {postgres} unreachable ({why})"
            pg_url = None
    else:
        report["postgres_note"] = "skipped: --no-postgres"

    report["import"] = [
        *bench_import("multi", multi_path, multi["events"], work, cli=cli, postgres=pg_url),
        *bench_import("single", single_path, single["events"], work, cli=cli, postgres=pg_url),
    ]
    report["floor"] = [
        bench_floor("multi", multi_path, multi["events"], work),
        bench_floor("single", single_path, single["events"], work),
    ]
    report["peer"] = bench_peer(multi_path, scale, work)
    single_db = str(work / "single.db")
    _log("as-of queries")
    report["asof"] = bench_asof(single_db, scale, cli=cli, work=work)
    _log("catch-up")
    report["catchup"] = bench_catchup(str(work / "multi.db"), multi["events"], work)
    report["targets"] = targets(report)
    report["meta"]["finished"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    report["meta"]["load_average_end"] = os.getloadavg()
    path = json_path or out_dir / f"report-{scale_name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, default=str))
    report["meta"]["json"] = str(path)
    return report


def main(argv: Sequence[str] | None = None) -> int:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=sorted(SCALES), default="small")
    parser.add_argument("--json", type=Path, help="where to write the JSON report")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="data and work directory (gitignored)")
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES, help="PostgreSQL URL (a fresh schema per run)")
    parser.add_argument("--no-postgres", action="store_true", help="skip PostgreSQL")
    parser.add_argument("--indexed", type=int, nargs="+", help="only the indexed read side, at these store sizes")
    args = parser.parse_args(argv)
    if args.indexed:
        from benchmarks import indexed

        pg = [] if args.no_postgres else ["--postgres", args.postgres]
        return indexed.main(["--negotiations", *map(str, args.indexed), "--out", str(args.out), *pg])
    report = run(
        args.scale,
        out_dir=args.out,
        postgres=None if args.no_postgres else args.postgres,
        json_path=args.json,
    )
    print(render(report))
    print(f"\nJSON report: {report['meta']['json']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
