"""Several processes appending to one negotiation at once, on SQLite and PostgreSQL.

Each of ``WORKERS`` spawned processes appends the shared opening, its own
statements (distinct ids, valid times interleaved with the others', so many
are late) and a few shared statements (the same id and content from every
process). Afterwards every event is stored exactly once, the versions have no
gaps and two fresh readers agree on the order.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterator
from typing import Any

import pytest

from events import Event
from negotiation import Negotiations
from tests.negotiation.helpers import NEGOTIATION, at, opened, statement

POSTGRES = pytest.param("postgres", marks=pytest.mark.postgres)
WORKERS = 4
OWN_BATCHES = 8
"""Batches of two own events per worker."""
SHARED = 4
"""Shared events, each appended by every worker."""
RECORDED = at(400)


def shared_events() -> list[Event]:
    """The events every worker appends (identical id and content)."""
    opening = opened("open", 0, recorded_at=RECORDED)
    return [opening] + [statement(f"shared-{k}", 10 * k + 5, recorded_at=RECORDED) for k in range(SHARED)]


def own_events(worker: int) -> Iterator[list[Event]]:
    """The worker's own batches, at valid times interleaved with the other workers'."""
    for b in range(OWN_BATCHES):
        yield [
            statement(f"w{worker}-{b}-{i}", 1 + (OWN_BATCHES - b) * 3 + worker * 0.1 + i * 0.01, recorded_at=RECORDED)
            for i in range(2)
        ]


def worker_main(url: str, worker: int, start: Any, results: Any) -> None:
    """Append the shared opening, then own and shared batches; report what this process stored."""
    stored: list[str] = []
    duplicates: list[str] = []
    try:
        start.wait(timeout=60)
        with Negotiations(url) as app:  # opened at once by every worker: creating the tables races too
            shared = shared_events()
            batches = [[shared[0]], *own_events(worker)]
            for k, event in enumerate(shared[1:]):
                batches.insert(2 * k + 2, [event])
            for batch in batches:
                result = app.append(batch)
                stored += [e.id for e in result.stored]
                duplicates += [e.id for e in result.duplicates]
        results.put((worker, stored, duplicates, None))
    except BaseException as e:  # noqa: BLE001 - reported to the parent, which fails the test
        results.put((worker, stored, duplicates, f"{type(e).__name__}: {e}"))


@pytest.mark.slow
@pytest.mark.parametrize("store_url", ["sqlite", POSTGRES], indirect=True)
def test_processes_append_concurrently(store_url: str) -> None:
    """Processes opening a fresh store and appending at once store every event once, versions 1..n, read alike."""
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(WORKERS)
    results = ctx.Queue()
    processes = [ctx.Process(target=worker_main, args=(store_url, w, start, results)) for w in range(WORKERS)]
    for p in processes:
        p.start()
    reports = [results.get(timeout=60) for _ in processes]
    for p in processes:
        p.join(timeout=30)
        assert p.exitcode == 0
    errors = [(w, err) for w, _, _, err in reports if err is not None]
    assert errors == []

    shared_ids = [e.id for e in shared_events()]
    own_ids = [e.id for w in range(WORKERS) for batch in own_events(w) for e in batch]
    stored_by = [eid for _, stored, _, _ in reports for eid in stored]
    assert sorted(stored_by) == sorted(shared_ids + own_ids), "each event stored by exactly one process"
    for worker, stored, duplicates, _ in reports:
        assert set(stored) | set(duplicates) == set(shared_ids) | {e.id for b in own_events(worker) for e in b}

    with Negotiations(store_url) as first, Negotiations(store_url) as second:
        events = first.events(NEGOTIATION)
        assert len(events) == len(shared_ids) + len(own_ids)
        assert sorted(e.id for e in events) == sorted(shared_ids + own_ids)
        assert events[0].id == "open"
        versions = [r.originator_version for r in first.store.recorder.select_events(NEGOTIATION)]
        assert versions == list(range(1, len(events) + 1))
        assert list(first.export()) == list(second.export())
        assert [e for _, e in first.follow()] == events
        state = first.history(NEGOTIATION).state()
        assert state.events_applied == len(events)


def test_two_facades_in_one_process_share_a_store(tmp_path: os.PathLike[str]) -> None:
    """A facade with a stale cache sees another facade's appends and appends after them."""
    url = f"sqlite:///{os.path.join(tmp_path, 'shared.db')}"
    with Negotiations(url) as first, Negotiations(url) as second:
        first.append([opened("open", 0, recorded_at=RECORDED)])
        assert [e.id for e in second.events(NEGOTIATION)] == ["open"]
        first.append([statement("a", 1, recorded_at=RECORDED)])
        second.append([statement("b", 2, recorded_at=RECORDED), statement("a", 1, recorded_at=RECORDED)])
        assert [e.id for e in first.events(NEGOTIATION)] == ["open", "a", "b"]
        assert list(first.export()) == list(second.export())
