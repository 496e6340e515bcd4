"""Eight processes append conflicting and independent events to the same negotiations while two projections follow.

Every worker appends, in its own shuffled order and one event per call:

- the openings and ``shared-*`` statements: the same id and content in every worker;
- ``clash-*`` statements: the same id in every worker, each with its own text;
- a ``strike.called`` by the union (and, in one negotiation, a ``lockout.declared``
  by the employer) with an id of its own: a party cannot start a stoppage it
  already runs, so exactly one per negotiation can be stored;
- ``own-*`` statements of its own, at valid times interleaved with the other
  workers' (many are late).

Each worker reports, per event, what its append said: stored, already stored
(duplicate) or refused (with the error type and rule). Meanwhile two persisted
read models follow the store in threads of the test process.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import random
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from events import Event, render_line
from negotiation import Negotiations
from negotiation.core.errors import ConcurrencyError, EventConflictError, RuleViolationError
from projections.answers import positions_json, status_json
from projections.persisted import ReadModels
from tests.negotiation.helpers import at, lockout_declared, opened, statement, strike_called

POSTGRES = pytest.param("postgres", marks=pytest.mark.postgres)
WORKERS = 8
NEGOTIATIONS = ("conc-a", "conc-b")
SHARED = 3
CLASHES = 3
OWN = 8
RECORDED = at(400)
"""Every event's recorded_at: after all of their valid times, before the test runs."""
NOW = dt.datetime.now(dt.UTC)

Outcome = tuple[str, str, str, str, str, str]
"""(negotiation, event id, "stored" | "duplicate" | "refused", error type, rule, the event's line)."""


def plan(worker: int) -> Iterator[Event]:
    """The events one worker appends, openings first, the rest shuffled (seeded by the worker)."""
    events: list[Event] = []
    for n in NEGOTIATIONS:
        events += [statement(f"shared-{k}", 2 + k, negotiation=n, recorded_at=RECORDED) for k in range(SHARED)]
        events += [
            statement(f"clash-{k}", 6 + k, negotiation=n, text=f"worker {worker}'s version", recorded_at=RECORDED)
            for k in range(CLASHES)
        ]
        events += [
            statement(f"own-{worker}-{i}", 10 + i + worker / 10, negotiation=n, recorded_at=RECORDED)
            for i in range(OWN)
        ]
        events.append(strike_called(f"strike-{worker}", 20 + worker / 100, negotiation=n, recorded_at=RECORDED))
    events.append(lockout_declared(f"lockout-{worker}", 25 + worker / 100, negotiation="conc-b", recorded_at=RECORDED))
    random.Random(worker).shuffle(events)
    yield from (opened("open", 0, negotiation=n, recorded_at=RECORDED) for n in NEGOTIATIONS)
    yield from events


def worker_main(url: str, worker: int, start: Any, results: Any) -> None:
    """Append the plan one event at a time; report each outcome (and any unexpected failure)."""
    outcomes: list[Outcome] = []
    try:
        start.wait(timeout=60)
        with Negotiations(url) as app:
            for event in plan(worker):
                line = render_line(event).decode()
                try:
                    result = app.append([event])
                except (EventConflictError, RuleViolationError, ConcurrencyError) as e:
                    rule = getattr(e, "rule", "")
                    outcomes.append((event.negotiation, event.id, "refused", type(e).__name__, rule, line))
                    continue
                kind = "stored" if result.stored else "duplicate"
                outcomes.append((event.negotiation, event.id, kind, "", "", line))
        results.put((worker, outcomes, None))
    except BaseException as e:  # noqa: BLE001 - reported to the parent, which fails the test
        results.put((worker, outcomes, f"{type(e).__name__}: {e}"))


def stored_lines(app: Negotiations, negotiation: str) -> dict[str, str]:
    """Event id -> stored line, checking that versions run 1..n and that no id is stored twice."""
    records = app.store.recorder.select_events(negotiation)
    assert [r.originator_version for r in records] == list(range(1, len(records) + 1))
    events = app.stored_events(negotiation)
    lines = {e.id: render_line(e).decode() for e in events}
    assert len(lines) == len(events), "an event id is stored twice"
    return lines


@pytest.mark.slow
@pytest.mark.parametrize("store_url", ["sqlite", POSTGRES], indirect=True)
def test_eight_writers_and_two_projections(store_url: str) -> None:
    """Each accepted event is stored once, each refusal is reported and not stored, projections equal the fold."""
    with Negotiations(store_url) as app:  # creates the tables before the followers poll them
        app.position()
    followers = [ReadModels(store_url, interval=0.02) for _ in range(2)]
    for models in followers:
        models.start()  # a thread each: polls SQLite, LISTENs on PostgreSQL
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(WORKERS)
    results = ctx.Queue()
    processes = [ctx.Process(target=worker_main, args=(store_url, w, start, results)) for w in range(WORKERS)]
    for p in processes:
        p.start()
    reports = [results.get(timeout=120) for _ in processes]
    for p in processes:
        p.join(timeout=30)
    assert [error for _, _, error in reports if error] == []
    outcomes = [o for _, worker_outcomes, _ in reports for o in worker_outcomes]
    assert len(outcomes) == WORKERS * sum(1 for _ in plan(0))  # one outcome per attempted event

    with Negotiations(store_url) as app:
        stored = {n: stored_lines(app, n) for n in NEGOTIATIONS}
        # Stored once: every accepted event is in the store, with the accepting worker's content,
        # and every stored event was accepted by exactly one worker.
        accepted = Counter((n, i) for n, i, kind, *_ in outcomes if kind == "stored")
        assert set(accepted) == {(n, i) for n, lines in stored.items() for i in lines}
        assert set(accepted.values()) == {1}
        for n, i, kind, error, _, line in outcomes:
            if kind in ("stored", "duplicate"):
                assert stored[n][i] == line, (n, i, kind)
            elif error != "ConcurrencyError":  # retries ran out: its content may have come from another worker
                assert stored[n].get(i) != line, f"refused {n}/{i} is stored with the refused content"

        refusals = Counter(
            (n, i.split("-")[0], error, rule) for n, i, kind, error, rule, _ in outcomes if kind == "refused"
        )
        retried_out = sum(count for (_, _, error, _), count in refusals.items() if error == "ConcurrencyError")
        assert retried_out == 0, f"{retried_out} appends ran out of retries"
        for n in NEGOTIATIONS:
            ids = stored[n]
            assert {f"shared-{k}" for k in range(SHARED)} | {f"clash-{k}" for k in range(CLASHES)} <= ids.keys()
            assert {f"own-{w}-{i}" for w in range(WORKERS) for i in range(OWN)} <= ids.keys()
            assert sum(i.startswith("strike-") for i in ids) == 1
            assert refusals[n, "clash", "EventConflictError", "unique-id"] == CLASHES * (WORKERS - 1)
            assert refusals[n, "strike", "RuleViolationError", "stoppage-not-running"] == WORKERS - 1
        assert sum(i.startswith("lockout-") for i in stored["conc-b"]) == 1
        assert refusals["conc-b", "lockout", "RuleViolationError", "stoppage-not-running"] == WORKERS - 1
        duplicates = Counter((n, i) for n, i, kind, *_ in outcomes if kind == "duplicate")
        for n in NEGOTIATIONS:
            for i in ["open", *(f"shared-{k}" for k in range(SHARED))]:
                assert duplicates[n, i] == WORKERS - 1

        # The projections converge to the fold of what is stored.
        position = app.position()
        for models in followers:
            assert models.following
            models.wait(position, timeout=30)
            models.stop()
        for models in followers:
            for n in NEGOTIATIONS:
                status = status_json(app.status(n, as_of=NOW, known_at=NOW))
                del status["as_of"], status["known_at"]
                row = models.status(n, now=NOW)
                assert row is not None
                assert row.pop("position") <= position
                assert row == status
                positions = models.positions(n)
                assert positions is not None
                assert positions["positions"] == positions_json(app.positions(n, as_of=NOW, known_at=NOW))["positions"]
            models.close()
