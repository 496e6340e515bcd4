"""Crash soak: ``kill -9`` a 100,000-event import at many random moments; every resume must complete it.

    .venv/bin/python scripts/soak.py                 # 20 trials, random seed
    .venv/bin/python scripts/soak.py --trials 50 --seed 7 --jobs 2

Each trial (``tests/reliability/crash.py``, in a process of its own) starts
``negotiation import`` of a generated log into a fresh SQLite store, SIGKILLs
it at a random moment (most trials: once the store holds a random number of
events, i.e. mid-way through the storing pass; the others: after a random
number of seconds, the checking pass included), checks the partial store (no
gap, no duplicate, byte-identical prefixes of a clean import, every partial
negotiation a valid timeline), lets the persisted read models catch up with
it, runs the import again (it must complete), and compares rows, ``negotiation
export`` and the read models (against this store's own pure fold) with the
clean import. Chunk sizes vary from trial to trial.

Exit status 0 when every trial passed, 1 otherwise; a JSON summary goes to
``--report`` (default ``soak-report.json`` in the work directory).
"""

# ruff: noqa: T201, S311, S603 - a script: it prints its report, draws reproducible trials, runs our own commands

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.generate import generate  # noqa: E402 - after the path is set

CHUNK_SIZES = (250, 1000, 4000, 10_000)
"""Events per transaction of the storing pass (10,000 is the default)."""


def worker(*args: object) -> subprocess.Popen[bytes]:
    """A trial or the reference in a process of its own."""
    return subprocess.Popen(
        [sys.executable, "-m", "tests.reliability.crash", *map(str, args)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def outcome_of(process: subprocess.Popen[bytes]) -> dict[str, Any]:
    """The worker's JSON outcome; an ``error`` key when it failed."""
    out, err = process.communicate()
    lines = out.splitlines()
    if process.returncode != 0 and not lines:
        return {"error": f"exit {process.returncode}: {err.decode(errors='replace')[-2000:]}"}
    result: dict[str, Any] = orjson.loads(lines[-1])
    if b"Traceback" in err:
        result["error"] = f"traceback on stderr: {err.decode(errors='replace')[-2000:]}"
    return result


Plan = tuple[int, int, str]
"""(trial number, chunk size, ``at:EVENTS`` or ``after:SECONDS``)."""


def plan_trials(rng: random.Random, trials: int, *, events: int, clean_seconds: float) -> list[Plan]:
    """Each trial's chunk size and kill moment."""
    plans = []
    for index in range(trials):
        chunk = rng.choice(CHUNK_SIZES)
        if rng.random() < 0.75:  # mid-way through the storing pass
            kill = f"at:{rng.randrange(1, events)}"
        else:  # any moment, the checking pass included (trials run side by side: imports take longer)
            kill = f"after:{rng.uniform(0.05, 1.0) * clean_seconds:.3f}"
        plans.append((index, chunk, kill))
    return plans


def run_trials(plans: list[Plan], *, log: Path, work: Path, jobs: int) -> list[dict[str, Any]]:
    """Run the trials, ``jobs`` at a time; print a line per trial as it ends."""
    results: list[dict[str, Any]] = []
    running: list[tuple[Plan, subprocess.Popen[bytes]]] = []
    pending = list(plans)
    while pending or running:
        while pending and len(running) < jobs:
            plan = pending.pop(0)
            index, chunk, kill = plan
            db = work / f"trial-{index}.db"
            running.append((plan, worker("trial", log, work / "clean.db", db, chunk, kill, "own-fold")))
        (index, chunk, kill), process = running.pop(0)
        result = {"trial": index, "chunk_size": chunk, "kill": kill, **outcome_of(process)}
        results.append(result)
        verdict = "FAIL " + result["error"] if "error" in result else "ok"
        print(
            f"trial {index:3}: chunk {chunk:6,} kill {kill:14} -> "
            f"{'killed' if result.get('killed') else 'finished'} with {result.get('stored', 0):7,} stored, "
            f"resume stored {result.get('resumed', 0):7,} ({result.get('seconds', 0):.1f} s): {verdict}",
            flush=True,
        )
    return results


def main(argv: list[str] | None = None) -> int:
    """Run the soak; print one line per trial and a summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--seed", type=int, default=None, help="default: random (printed)")
    parser.add_argument("--jobs", type=int, default=2, help="trials running at once")
    parser.add_argument("--negotiations", type=int, default=1000)
    parser.add_argument("--events-per", type=int, default=100)
    parser.add_argument("--work", type=Path, default=None, help="directory for the stores (default: a temporary one)")
    parser.add_argument("--report", type=Path, default=None)
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else random.randrange(2**32)
    rng = random.Random(seed)
    work = args.work or Path(tempfile.mkdtemp(prefix="negotiation-soak-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"soak: seed={seed} trials={args.trials} jobs={args.jobs} work={work}", flush=True)

    log = work / "big.jsonl"
    stats = generate(log, negotiations=args.negotiations, events_per=args.events_per, seed=seed % 10_000)
    events = stats["events"]
    began = time.monotonic()
    reference = worker("reference", log, work / "clean.db", 1000)
    ref = outcome_of(reference)
    if ref.get("events") != events:
        print(f"soak: the clean import failed: {ref}", flush=True)
        return 1
    clean_seconds = float(ref["seconds"])
    print(f"soak: {events:,} events; clean import, export and fold in {clean_seconds:.1f} s", flush=True)

    plans = plan_trials(rng, args.trials, events=events, clean_seconds=clean_seconds)
    results = run_trials(plans, log=log, work=work, jobs=args.jobs)

    failed = [r for r in results if "error" in r]
    partial = [r for r in results if 0 < r.get("stored", 0) < events]
    summary = {
        "seed": seed,
        "events": events,
        "trials": len(results),
        "failed": len(failed),
        "killed_mid_storing": len(partial),
        "killed_before_storing": sum(1 for r in results if r.get("killed") and r.get("stored") == 0),
        "seconds": round(time.monotonic() - began, 1),
        "results": results,
    }
    report = args.report or work / "soak-report.json"
    report.write_bytes(orjson.dumps(summary, option=orjson.OPT_INDENT_2))
    print(
        f"soak: {len(results) - len(failed)}/{len(results)} trials passed "
        f"({len(partial)} killed mid-way through storing, {summary['killed_before_storing']} before storing); "
        f"report {report}",
        flush=True,
    )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
