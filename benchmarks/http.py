"""Benchmarks of the HTTP service against a real ``negotiation serve`` (2 workers), with baselines of the same run.

``python -m benchmarks.http [--negotiations 10000] [--events-per 10] [--postgres URL] [--json out.json]``

For each store (SQLite, and PostgreSQL when it answers):

- status: ``GET /v1/negotiations/{id}/status?at=&known_at=`` on a store of
  ``--negotiations`` negotiations (imported with the CLI first), random ids,
  a bounded asyncio client (``--concurrency`` connections, ``--requests`` in
  all): requests/s, p50, p99 (target: 1,000 req/s, p99 25 ms);
- append: the same feed of 1,000-event batches posted over HTTP into a fresh
  store, against ``negotiation import`` of the same file into another fresh
  store, in the same run (target: HTTP at least 50% of the CLI's events/s);
- follow: the time from sending a one-event append to its arrival on an open
  stream, ``--follows`` times (target p50: 20 ms PostgreSQL, 150 ms SQLite).

Every target is reported as measured, met or not. The load generator runs
on the same machine as the server, so both share its cores.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from benchmarks import generate

__all__ = ["main"]

NEGOTIATION = str(Path(sys.executable).with_name("negotiation"))
TOKEN = "bench-" + uuid.uuid4().hex
LISTENING = re.compile(r"listening on (http://127\.0\.0\.1:\d+)")
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
BATCH = 1000


def _log(message: str) -> None:
    print(f"[http-bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@contextlib.contextmanager
def serve(db: str, work: Path, *, workers: int = 2) -> Iterator[str]:
    """A ``negotiation serve`` process group on a free port; killed afterwards."""
    tokens = work / "tokens.txt"
    tokens.write_text(f"{TOKEN} write bench\n", encoding="utf-8")
    log = work / f"serve-{uuid.uuid4().hex[:6]}.log"
    with log.open("w") as err:
        process = subprocess.Popen(
            [NEGOTIATION, "--db", db, "serve", "--port", "0", "--workers", str(workers), "--token-file", str(tokens)],
            stdout=subprocess.DEVNULL,
            stderr=err,
            start_new_session=True,
        )
    try:
        url = None
        deadline = time.monotonic() + 120
        while url is None and time.monotonic() < deadline:
            match = LISTENING.search(log.read_text(errors="replace"))
            url = match.group(1) if match else None
            time.sleep(0.1)
        if url is None:
            raise RuntimeError(log.read_text()[-2000:])
        for _ in range(600):
            with contextlib.suppress(httpx.HTTPError):
                if all(httpx.get(url + "/healthz", timeout=2).status_code == 200 for _ in range(4)):
                    break
            time.sleep(0.1)
        time.sleep(1.0)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


def _negotiation_ids(path: Path) -> list[str]:
    with path.open("rb") as lines:
        return [json.loads(line)["negotiation"] for line in lines if b'"negotiation.opened"' in line]


def _cli_import(db: str, path: Path, *, skip_invalid: bool = False) -> float:
    """Seconds taken by ``negotiation import``; ``skip_invalid``: the status store only needs data."""
    started = time.perf_counter()
    command = [NEGOTIATION, "--db", db, "import", "-q", *(["--skip-invalid"] if skip_invalid else []), str(path)]
    done = subprocess.run(command, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if done.returncode and not skip_invalid:  # with --skip-invalid, 1 only says some lines were refused
        raise RuntimeError(done.stderr.decode(errors="replace")[-2000:])
    return time.perf_counter() - started


async def _status_load(url: str, ids: list[str], *, requests: int, concurrency: int) -> dict[str, Any]:
    rng = random.Random(1)
    targets = [rng.choice(ids) for _ in range(requests)]
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(base_url=url, limits=limits, headers=headers, timeout=30) as client:
        queue: asyncio.Queue[str] = asyncio.Queue()
        for target in targets:
            queue.put_nowait(target)

        async def worker() -> None:
            nonlocal errors
            while not queue.empty():
                negotiation = queue.get_nowait()
                started = time.perf_counter()
                response = await client.get(
                    f"/v1/negotiations/{negotiation}/status", params={"at": "2031-06-30", "known_at": "2031-06-30"}
                )
                latencies.append(time.perf_counter() - started)
                errors += response.status_code != 200

        for _ in range(20):  # warm up each worker's caches a little
            await client.get(f"/v1/negotiations/{targets[0]}/status")
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return {
        "requests": len(latencies),
        "errors": errors,
        "seconds": round(elapsed, 3),
        "requests_per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": round(percentile(latencies, 0.5) * 1000, 2),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 2),
        "concurrency": concurrency,
    }


def _batches(path: Path) -> list[bytes]:
    lines = [line for line in path.read_bytes().splitlines() if line.strip() and not line.startswith(b"#")]
    return [b"\n".join(lines[i : i + BATCH]) + b"\n" for i in range(0, len(lines), BATCH)]


def _http_append(url: str, batches: list[bytes]) -> tuple[float, int]:
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/x-ndjson"}
    stored = 0
    started = time.perf_counter()
    with httpx.Client(base_url=url, headers=headers, timeout=300) as client:
        for body in batches:
            response = client.post("/v1/events", content=body)
            response.raise_for_status()
            stored += response.json()["stored"]
    return time.perf_counter() - started, stored


def _follow_latency(url: str, *, follows: int) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    negotiation = f"follow-{uuid.uuid4().hex[:8]}"
    arrived: dict[str, float] = {}
    ready = threading.Event()
    done = threading.Event()
    with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
        after = int(client.get("/readyz").json()["position"])

        def follow() -> None:
            with (
                httpx.Client(base_url=url, headers=headers, timeout=60) as reader,
                reader.stream("GET", "/v1/events/stream", params={"after": after}) as stream,
            ):
                ready.set()
                for line in stream.iter_lines():
                    if line.startswith("data: "):
                        arrived[json.loads(line[6:])["id"]] = time.perf_counter()
                        if len(arrived) >= follows + 1:
                            done.set()
                            return

        thread = threading.Thread(target=follow, daemon=True)
        thread.start()
        ready.wait(30)
        opened = {
            "id": f"{negotiation}-0",
            "type": "negotiation.opened",
            "negotiation": negotiation,
            "occurred_at": "2024-01-02",
            "data": {
                "title": "Follow",
                "parties": [{"id": "u", "name": "U", "role": "union"}, {"id": "e", "name": "E", "role": "employer"}],
                "issues": [{"id": "wages", "title": "Wages"}],
                "timezone": "UTC",
            },
        }
        client.post("/v1/events", json=[opened]).raise_for_status()
        time.sleep(0.5)
        sent: dict[str, float] = {}
        for n in range(1, follows + 1):
            event = {
                "id": f"{negotiation}-{n}",
                "type": "talks.held",
                "negotiation": negotiation,
                "occurred_at": "2024-01-03",
                "data": {"note": f"session {n}"},
            }
            sent[event["id"]] = time.perf_counter()
            client.post("/v1/events", json=[event]).raise_for_status()
            time.sleep(0.05)
        done.wait(60)
    latencies = [arrived[i] - sent[i] for i in sent if i in arrived]
    return {
        "follows": follows,
        "arrived": len(latencies),
        "p50_ms": round(percentile(latencies, 0.5) * 1000, 2) if latencies else None,
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 2) if latencies else None,
    }


def _fresh_pg(base: str) -> str:
    import psycopg

    schema = f"bench_http_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    return f"{base}?schema={schema}"


def _drop_pg(base: str, url: str) -> None:
    import psycopg

    schema = url.rsplit("schema=", 1)[1]
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def bench_store(
    kind: str, feed: Path, append_feed: Path, ids: list[str], args: argparse.Namespace, work: Path
) -> dict[str, Any]:
    """All three measurements on one kind of store."""
    made: list[str] = []

    def fresh() -> str:
        if kind == "sqlite":
            return f"sqlite:///{work / f'{kind}-{uuid.uuid4().hex[:6]}.db'}"
        url = _fresh_pg(args.postgres)
        made.append(url)
        return url

    try:
        result: dict[str, Any] = {"store": kind}
        big = fresh()
        _log(f"{kind}: importing {feed.name} with the CLI")
        result["store_import_s"] = round(_cli_import(big, feed, skip_invalid=True), 2)
        with serve(big, work) as url:
            _log(f"{kind}: status load")
            result["status"] = asyncio.run(_status_load(url, ids, requests=args.requests, concurrency=args.concurrency))
            _log(f"{kind}: follow latency")
            result["follow"] = _follow_latency(url, follows=args.follows)
        batches = _batches(append_feed)
        events = sum(body.count(b"\n") for body in batches)
        cli_s = _cli_import(fresh(), append_feed)
        with serve(fresh(), work) as url:
            _log(f"{kind}: appending {len(batches)} batches of {BATCH} over HTTP")
            http_s, stored = _http_append(url, batches)
        result["append"] = {
            "events": events,
            "stored": stored,
            "http_events_per_s": round(events / http_s, 1),
            "cli_import_events_per_s": round(events / cli_s, 1),
            "ratio": round(cli_s / http_s, 3),
        }
        return result
    finally:
        for url in made:
            _drop_pg(args.postgres, url)


def verdicts(result: dict[str, Any]) -> dict[str, bool]:
    """Each target of the issue: met or not."""
    follow_target = 20.0 if result["store"] == "postgres" else 150.0
    status = result["status"]
    return {
        "status >= 1000 req/s": status["requests_per_s"] >= 1000,
        "status p99 <= 25 ms": status["p99_ms"] <= 25,
        "append >= 50% of CLI import": result["append"]["ratio"] >= 0.5,
        f"follow p50 <= {follow_target:g} ms": (result["follow"]["p50_ms"] or 1e9) <= follow_target,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--negotiations", type=int, default=10_000)
    parser.add_argument("--events-per", type=int, default=10)
    parser.add_argument("--append-negotiations", type=int, default=20)
    parser.add_argument("--append-events-per", type=int, default=500)
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--follows", type=int, default=100)
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES, help="'' to skip PostgreSQL")
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args(argv)
    results = []
    with tempfile.TemporaryDirectory(prefix="http-bench-") as tmp:
        work = Path(tmp)
        feed = work / "feed.jsonl"
        _log(f"generating {args.negotiations} negotiations x {args.events_per} events")
        generate.generate(feed, negotiations=args.negotiations, events_per=args.events_per)
        append_feed = work / "append.jsonl"
        generate.generate(append_feed, negotiations=args.append_negotiations, events_per=args.append_events_per, seed=2)
        ids = _negotiation_ids(feed)
        kinds = ["sqlite"] + (["postgres"] if args.postgres else [])
        for kind in kinds:
            result = bench_store(kind, feed, append_feed, ids, args, work)
            result["targets"] = verdicts(result)
            results.append(result)
            print(json.dumps(result, indent=2), flush=True)
    report = {
        "negotiations": args.negotiations,
        "events_per": args.events_per,
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
        "results": results,
    }
    if args.json:
        args.json.write_text(json.dumps(report, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
