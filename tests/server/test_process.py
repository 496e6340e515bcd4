"""The service as a process: start-up checks, SIGTERM, kill -9, several workers, concurrent writers, the stream."""

from __future__ import annotations

import random
import signal
import subprocess
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import httpx
import orjson
import pytest

from negotiation import Negotiations
from tests.server.events import jsonl, negotiation_lines, opened, talks
from tests.server.live import NEGOTIATION, READ_TOKEN, WRITE_TOKEN, LiveServer
from tests.server.sse import messages


def _ids(db: str) -> list[str]:
    with Negotiations(db) as app:
        return [orjson.loads(line)["id"] for line in app.export()]


def test_the_parent_brings_the_tables_up_to_date_before_the_workers_start(tmp_path: Path) -> None:
    """A store imported without its tables, of an older layout: the parent rebuilds them (in bulk, as the
    command line does) and says so on one line before it listens; the workers find them current."""
    import sqlite3

    from benchmarks import generate
    from projections.persisted import ReadModels
    from projections.persisted.bulk import MIN_EVENTS

    db = tmp_path / "store.db"
    feed = tmp_path / "feed.jsonl"
    generate.generate(feed, negotiations=MIN_EVENTS // 100 + 5, events_per=100, seed=7)
    with Negotiations(str(db)) as app, ReadModels(app) as models:
        app.import_files([str(feed)])  # the facade stores the events; the tables take in the first few only
        models.catch_up(limit=100)
        total = app.position()
    with sqlite3.connect(db) as conn:  # an older layout: a table missing
        conn.execute("DROP VIEW negotiation_events")
        conn.execute("DROP TABLE negotiation_events_v1")
    live = LiveServer.start(str(db), timeout=180)
    try:
        listening = next(i for i, line in enumerate(live.log) if "listening on" in line)
        assert live.log[:listening] == [
            "negotiation serve: notice: the read-model tables were of an older layout and have been rebuilt\n"
        ]
        with Negotiations(str(db)) as app, ReadModels(app) as models:
            assert models.position() == total
            assert models.version() == 2
    finally:
        assert live.stop() == 0


def test_without_a_token_file_reads_are_open_and_writes_403(db: str) -> None:
    live = LiveServer.start(db)
    try:
        with live.client() as client:
            assert client.get("/v1/negotiations").status_code == 200
            refused = client.post("/v1/events", content=jsonl([opened("n-open")]))
            assert refused.status_code == 403
            assert refused.headers["content-type"].startswith("application/problem+json")
    finally:
        assert live.stop() == 0


def test_refuses_a_public_address_without_tokens(tmp_path: Path) -> None:
    done = subprocess.run(  # our console script
        [NEGOTIATION, "--db", str(tmp_path / "x.db"), "serve", "--host", "0.0.0.0", "--port", "0"],  # noqa: S104
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert "--token-file" in done.stderr


def test_a_bad_token_file_is_refused_naming_the_line_not_the_token(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens.txt"
    tokens.write_text("ok-token read fine\nsecret-token admin\n", encoding="utf-8")
    done = subprocess.run(
        [NEGOTIATION, "--db", str(tmp_path / "x.db"), "serve", "--port", "0", "--token-file", str(tokens)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert ":2:" in done.stderr
    assert "secret-token" not in done.stderr


def test_sigterm_ends_streams_and_exits_0(db: str, tokens: Path) -> None:
    live = LiveServer.start(db, tokens=tokens)
    with live.client(READ_TOKEN) as client, client.stream("GET", "/v1/events/stream") as stream:
        assert stream.status_code == 200
        started = time.monotonic()
        live.process.send_signal(signal.SIGTERM)
        for _ in stream.iter_lines():
            pass  # the stream ends
        assert live.process.wait(20) == 0
        assert time.monotonic() - started < 15


def test_kill_9_during_appends_then_retries_store_each_event_once(db: str, tokens: Path) -> None:
    """A client appends batches; the server is killed mid-way; it retries every batch on a new server."""
    batches = [negotiation_lines(f"k-{n}", 200) for n in range(12)]
    sent = [e["id"] for batch in batches for e in batch]
    live = LiveServer.start(db, tokens=tokens)
    answered: list[int] = []

    def append_all(server: LiveServer, retry: bool) -> None:
        with server.client(WRITE_TOKEN) as client:
            for batch in batches:
                while True:
                    try:
                        answered.append(client.post("/v1/events", content=jsonl(batch)).status_code)
                        break
                    except httpx.HTTPError:
                        if not retry:
                            return
                        time.sleep(0.1)

    writer = threading.Thread(target=append_all, args=(live, False))
    writer.start()
    time.sleep(random.uniform(0.3, 1.5))
    live.kill9()
    writer.join(60)
    stored_before = _ids(db)
    assert len(stored_before) == len(set(stored_before))
    # nothing half-stored: each negotiation has all of its batch or none of it
    per_negotiation = Counter(i.rsplit("-", 1)[0] for i in stored_before)
    assert set(per_negotiation.values()) <= {200}
    again = LiveServer.start(db, tokens=tokens)
    try:
        append_all(again, True)
    finally:
        again.stop()
    assert set(answered) <= {200, 201}
    stored = _ids(db)
    assert sorted(stored) == sorted(sent)


def test_eight_concurrent_writers_two_workers(db: str, tokens: Path, tmp_path: Path) -> None:
    """Overlapping and conflicting batches: each event stored once, refusals 409/422, export = clean import."""
    negotiations = [f"c-{n}" for n in range(4)]
    live = LiveServer.start(db, tokens=tokens, workers=2)
    statuses: list[int] = []
    lock = threading.Lock()

    def writer(seed: int) -> None:
        rng = random.Random(seed)
        with live.client(WRITE_TOKEN) as client:
            for _ in range(15):
                negotiation = rng.choice(negotiations)
                start = rng.randrange(0, 20)
                batch = [opened(negotiation)] + [talks(negotiation, n) for n in range(1, start + rng.randrange(1, 8))]
                if rng.random() < 0.2:  # a conflict: a stored id with other content
                    batch.append(talks(negotiation, rng.randrange(1, 5), note=f"other {seed}"))
                if rng.random() < 0.1:  # a rule broken: a second opening
                    batch.append(opened(negotiation, event_id=f"{negotiation}-x{seed}"))
                response = client.post("/v1/events", content=jsonl(batch))
                with lock:
                    statuses.append(response.status_code)
                if response.status_code >= 400:
                    assert response.headers["content-type"].startswith("application/problem+json")

    threads = [threading.Thread(target=writer, args=(seed,)) for seed in range(8)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(300)
        pids = {orjson.loads(line)["pid"] for line in live.access_lines()}
    finally:
        live.stop()
    assert set(statuses) <= {200, 201, 409, 422}, Counter(statuses)
    assert 201 in statuses
    assert len(pids) == 2  # both workers wrote
    ids = _ids(db)
    assert len(ids) == len(set(ids))
    for negotiation in negotiations:  # each stream: a prefix of opened, talks 1, 2, ... in order? at least valid
        mine = [i for i in ids if i.startswith(negotiation + "-")]
        assert mine[0] == f"{negotiation}-0"
        assert all("-x" not in i for i in mine)
    with Negotiations(db) as app:
        exported = list(app.export())
    clean = tmp_path / "clean.db"
    export_file = tmp_path / "export.jsonl"
    export_file.write_bytes(b"".join(line + b"\n" for line in exported))
    subprocess.run([NEGOTIATION, "--db", str(clean), "import", "-q", str(export_file)], check=True, timeout=120)
    with Negotiations(str(clean)) as app:
        assert list(app.export()) == exported


def test_the_stream_across_workers_and_resume(db: str, tokens: Path) -> None:
    """Appends through either worker reach every stream; a resumed stream misses nothing, repeats nothing."""
    live = LiveServer.start(db, tokens=tokens, workers=2)
    negotiation = f"s-{uuid.uuid4().hex[:6]}"
    events = negotiation_lines(negotiation, 40)
    received: dict[int, list[dict[str, object]]] = {n: [] for n in range(4)}
    ready = threading.Barrier(5, timeout=60)

    def follow(n: int) -> None:
        with live.client(READ_TOKEN) as client, client.stream("GET", "/v1/events/stream") as stream:
            assert stream.status_code == 200
            ready.wait()
            for message in messages(stream):
                received[n].append(message)
                if len(received[n]) == len(events):
                    return

    followers = [threading.Thread(target=follow, args=(n,), daemon=True) for n in range(4)]
    for thread in followers:
        thread.start()
    ready.wait()
    post_pids = set()
    try:
        for event in events:
            with live.client(WRITE_TOKEN) as client:  # a new connection each: either worker
                assert client.post("/v1/events", content=jsonl([event])).status_code == 201
        for thread in followers:
            thread.join(60)
        post_pids = {orjson.loads(line)["pid"] for line in live.access_lines() if '"POST"' in line}
        for n in range(4):
            assert [m["data"]["id"] for m in received[n]] == [e["id"] for e in events]  # type: ignore[index]
            assert [int(str(m["id"])) for m in received[n]] == [m["data"]["position"] for m in received[n]]  # type: ignore[index]
            assert [m["event"] for m in received[n]] == [e["type"] for e in events]
        # resume: read 10, disconnect, resume from the last id seen
        got: list[dict[str, object]] = []
        with live.client(READ_TOKEN) as client:
            with client.stream("GET", "/v1/events/stream") as stream:
                for message in messages(stream):
                    got.append(message)
                    if len(got) == 10:
                        break
            last = str(got[-1]["id"])
            with client.stream("GET", "/v1/events/stream?after=0", headers={"Last-Event-ID": last}) as stream:
                for message in messages(stream):
                    got.append(message)
                    if len(got) == len(events):
                        break
        assert [m["data"]["id"] for m in got] == [e["id"] for e in events]  # type: ignore[index]
    finally:
        live.stop()
    assert len(post_pids) == 2  # the appends went through both workers


@pytest.mark.parametrize("workers", [2])
def test_sse_heartbeat(db: str, tokens: Path, workers: int) -> None:
    live = LiveServer.start(db, "--heartbeat", "0.2", tokens=tokens, workers=workers)
    try:
        with live.client(READ_TOKEN) as client, client.stream("GET", "/v1/events/stream") as stream:
            comments = 0
            for line in stream.iter_lines():
                if line.startswith(": heartbeat"):
                    comments += 1
                    if comments == 3:
                        break
        assert comments == 3
    finally:
        live.stop()


def test_cors_only_for_the_origins_given(db: str, tokens: Path) -> None:
    origin = "https://newsroom.example"
    live = LiveServer.start(db, "--cors-origin", origin, tokens=tokens)
    try:
        with live.client() as client:
            preflight = client.options(
                "/v1/events/stream",
                headers={
                    "Origin": origin,
                    "Access-Control-Request-Method": "GET",
                    "Access-Control-Request-Headers": "authorization, last-event-id",
                },
            )
            assert preflight.status_code in (200, 204)
            assert preflight.headers["access-control-allow-origin"] == origin
            assert "authorization" in preflight.headers["access-control-allow-headers"].lower()
            other = client.get("/healthz", headers={"Origin": "https://elsewhere.example"})
            assert "access-control-allow-origin" not in other.headers
            mine = client.get("/healthz", headers={"Origin": origin})
            assert mine.headers["access-control-allow-origin"] == origin
    finally:
        live.stop()
    plain = LiveServer.start(db, tokens=tokens)
    try:
        with plain.client() as client:
            response = client.get("/healthz", headers={"Origin": origin})
        assert "access-control-allow-origin" not in response.headers
    finally:
        plain.stop()
