"""Reproduce the PostgreSQL stall: one eventsourcing ``insert_events`` call with many rows.

``python -m benchmarks.pg_insert_repro ROWS [--url URL] [--timeout S]``

Inserts ROWS stored events of ~450 bytes (the size of a typical line) in one
call of eventsourcing 9.5's PostgreSQL recorder, into a throw-away schema, and
reports the time or that it did not finish. On the benchmark machine 10,000
rows take 0.3 s; 20,000 or more never return (the server waits in ClientRead,
the client in ``Pipeline.sync``). The importer sends a negotiation with a late
event as one such call, so a long negotiation hangs ``negotiation import``.
"""

from __future__ import annotations

import argparse
import multiprocessing
import time
import urllib.parse

__all__ = ["insert"]


def insert(url: str, rows: int, schema: str) -> float:
    """Seconds for one ``insert_events`` call of ``rows`` rows (in a fresh schema)."""
    import psycopg
    from eventsourcing.application import Application
    from eventsourcing.persistence import StoredEvent

    parts = urllib.parse.urlsplit(url)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        conn.execute(f"CREATE SCHEMA {schema}")
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": parts.path.lstrip("/"),
        "POSTGRES_HOST": parts.hostname or "127.0.0.1",
        "POSTGRES_PORT": str(parts.port or 5432),
        "POSTGRES_USER": parts.username or "postgres",
        "POSTGRES_PASSWORD": parts.password or "",
        "POSTGRES_SCHEMA": schema,
        "ORIGINATOR_ID_TYPE": "text",
    }
    app = Application[str](env=env)
    state = b'{"id":"x","type":"statement.issued","data":{"text":"' + b"a" * 400 + b'"}}'
    events = [StoredEvent(originator_id="neg", originator_version=i + 1, topic="t", state=state) for i in range(rows)]
    start = time.perf_counter()
    app.recorder.insert_events(events)
    return time.perf_counter() - start


def _drop(url: str, schema: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def main() -> int:
    """The command line: 0 when the insert finished in time, 1 when it stalled."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.pg_insert_repro")
    parser.add_argument("rows", type=int)
    parser.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args()
    schema = f"repro_insert_{args.rows}"
    child = multiprocessing.Process(target=insert, args=(args.url, args.rows, schema))
    start = time.perf_counter()
    child.start()
    child.join(args.timeout)
    stalled = child.is_alive()
    if stalled:
        child.kill()
        child.join()
    _drop(args.url, schema)
    if stalled:
        print(f"{args.rows} rows: no result after {args.timeout:.0f} s (stalled)")
        return 1
    print(f"{args.rows} rows: {time.perf_counter() - start:.2f} s (incl. set-up), exit {child.exitcode}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
