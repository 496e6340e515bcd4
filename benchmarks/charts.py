"""Chart benchmarks: the WGA example and a 100,000-event negotiation, against a baseline in the same run.

``python -m benchmarks.charts [--events 100000] [--repeat 3] [--json out.json]``

Each measurement is one ``negotiation`` child process, wall time from start
to exit, as a user runs it: ``negotiation --db DB chart NEGOTIATION --output
FILE`` (the format by the suffix). The baseline is ``negotiation --db DB
status NEGOTIATION`` on the same store in the same run: the cost of starting
the command and opening the store, which every chart pays too. Reported: the
median of ``--repeat`` runs, the output's size, and each target PASS or FAIL
(targets of issue 13: WGA to SVG <= 2 s, to HTML <= 3 s; the 100,000-event
negotiation <= 10 s and < 5 MB). Nothing is tuned to them. The child's CPU
time (user + system) is reported beside each wall time: on a shared, busy
machine (the load average at the start is reported) wall time waits for the
CPU, CPU time does not.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "wga_amptp_2023.jsonl"
FIVE_MB = 5 * 1024 * 1024


def _negotiation() -> list[str]:
    found = shutil.which("negotiation", path=str(Path(sys.executable).parent)) or shutil.which("negotiation")
    return [found] if found else [sys.executable, "-m", "negotiation.cli"]


def _run(args: list[str]) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system) of one child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([*_negotiation(), *args], check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


CPU: dict[str, float] = {}
"""The median CPU seconds of the last measurement of each command line, for the report."""


def _median(args: list[str], repeat: int) -> float:
    runs = [_run(args) for _ in range(repeat)]
    CPU[" ".join(args)] = statistics.median(cpu for _, cpu in runs)
    return statistics.median(wall for wall, _ in runs)


def _store(directory: Path, name: str, log: Path) -> str:
    db = str(directory / f"{name}.db")
    subprocess.run([*_negotiation(), "--db", db, "import", "--quiet", str(log)], check=True, stdout=subprocess.DEVNULL)
    return db


def measure(events: int, repeat: int) -> dict[str, Any]:
    """Run every measurement; a dict of the results and the targets."""
    from benchmarks.generate import generate

    results: dict[str, Any] = {"python": sys.version.split()[0], "cpus": os.cpu_count(), "repeat": repeat}
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        wga = _store(directory, "wga", EXAMPLE)
        results["load_average_at_start"] = round(os.getloadavg()[0], 2)
        results["wga_status_baseline_s"] = _median(["--db", wga, "status", "wga-amptp-2023"], repeat)
        results["wga_status_baseline_cpu_s"] = CPU[f"--db {wga} status wga-amptp-2023"]
        for fmt, target in (("svg", 2.0), ("html", 3.0), ("png", None)):
            out = directory / f"wga.{fmt}"
            args = ["--db", wga, "chart", "wga-amptp-2023", "--output", str(out)]
            seconds = _median(args, repeat)
            results[f"wga_{fmt}_s"] = seconds
            results[f"wga_{fmt}_cpu_s"] = CPU[" ".join(args)]
            results[f"wga_{fmt}_bytes"] = out.stat().st_size
            if target is not None:
                results[f"wga_{fmt}_target"] = f"<= {target} s: {'PASS' if seconds <= target else 'FAIL'}"
        log = directory / "big.jsonl"
        generate(log, negotiations=1, events_per=events, seed=1)
        big = _store(directory, "big", log)
        negotiation = json.loads(
            subprocess.run([*_negotiation(), "--db", big, "list", "--json"], check=True, capture_output=True).stdout
        )["negotiations"][0]["negotiation"]
        results["big_events"] = events
        results["big_status_baseline_s"] = _median(["--db", big, "status", negotiation], repeat)
        results["big_status_baseline_cpu_s"] = CPU[f"--db {big} status {negotiation}"]
        for fmt in ("svg", "html", "png"):
            out = directory / f"big.{fmt}"
            args = ["--db", big, "chart", negotiation, "--output", str(out)]
            seconds = _median(args, repeat)
            size = out.stat().st_size
            results[f"big_{fmt}_s"] = seconds
            results[f"big_{fmt}_cpu_s"] = CPU[" ".join(args)]
            results[f"big_{fmt}_bytes"] = size
            ok = seconds <= 10.0 and size < FIVE_MB
            results[f"big_{fmt}_target"] = f"<= 10 s and < 5 MB: {'PASS' if ok else 'FAIL'}"
    return results


def main() -> None:
    """Parse the arguments, measure, print the report (and write it as JSON if asked)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000, help="events of the long negotiation")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()
    results = measure(args.events, args.repeat)
    width = max(len(k) for k in results)
    for key, value in results.items():
        shown = f"{value:.2f}" if isinstance(value, float) else f"{value:,}" if isinstance(value, int) else value
        print(f"{key:<{width}}  {shown}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
