"""The Negotiations facade, on every store: append, read back, atomicity, idempotency, export, follow, logs."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import attrs
import pytest
import structlog
from eventsourcing.persistence import IntegrityError, OperationalError

from events import Event, parse_line
from negotiation import (
    EventConflictError,
    InvalidEventError,
    NegotiationNotFoundError,
    Negotiations,
    RuleViolationError,
    StoreError,
)
from negotiation import application as application_module
from negotiation.core.errors import ConcurrencyError
from negotiation.store.eventstore import StreamEvent
from tests.negotiation.helpers import (
    NEGOTIATION,
    NOW,
    at,
    ids,
    opened,
    proposal,
    statement,
    strike_authorized,
    strike_called,
    strike_ended,
)

OTHER = "sag-aftra-amptp-2023"


def opening_batch(negotiation: str = NEGOTIATION) -> list[Event]:
    """A valid first batch for ``negotiation``."""
    return [
        opened("open", 0, negotiation=negotiation),
        proposal("p1", 1, negotiation=negotiation),
        strike_called("strike", 2, negotiation=negotiation, recorded_at=at(3)),
    ]


def snapshot(app: Negotiations) -> tuple[int, list[tuple[int, Event]]]:
    """The store's last position and everything in it, in commit order."""
    return app.position(), list(app.follow())


# --- append and read back ------------------------------------------------------------------


def test_append_and_read_back(app: Negotiations) -> None:
    """Appended events read back equal, with recorded_at filled in when it was absent."""
    batch = opening_batch()
    result = app.append(batch, now=NOW)
    stored = app.events(NEGOTIATION)
    assert ids(stored) == ["open", "p1", "strike"]
    assert stored == list(result.stored)
    assert stored[0] == attrs.evolve(batch[0], recorded_at=NOW)
    assert stored[1] == attrs.evolve(batch[1], recorded_at=NOW)
    assert stored[2] == batch[2]
    assert result.duplicates == ()
    assert len(result.positions) == 3
    assert list(result.positions) == sorted(result.positions)


def test_read_back_from_the_store_not_the_cache(app: Negotiations) -> None:
    """The events as stored (parsed back from the store) equal the appended ones."""
    app.append(opening_batch(), now=NOW)
    assert app.stored_events(NEGOTIATION) == app.events(NEGOTIATION)
    app.forget([NEGOTIATION])
    assert ids(app.events(NEGOTIATION)) == ["open", "p1", "strike"]


def test_recorded_at_defaults_to_the_wall_clock(app: Negotiations) -> None:
    """Without now=, recorded_at is the moment of appending."""
    before = dt.datetime.now(dt.UTC)
    app.append([opened("open", 0)])
    after = dt.datetime.now(dt.UTC)
    recorded = app.events(NEGOTIATION)[0].recorded_at
    assert recorded is not None
    assert before <= recorded <= after


def test_state_of_the_stored_timeline(app: Negotiations) -> None:
    """The history's state reflects the stored events, late ones in valid-time order."""
    app.append(opening_batch(), now=NOW)
    app.append([strike_ended("end", 5)], now=NOW)
    app.append([strike_authorized("vote", 1.5)], now=NOW)
    state = app.history(NEGOTIATION).state()
    assert dict(state.strikes) == {}
    assert state.events_applied == 5


# --- atomicity -----------------------------------------------------------------------------


def test_refused_batch_stores_nothing(app: Negotiations) -> None:
    """A batch with one refused event stores none of its events."""
    app.append(opening_batch(), now=NOW)
    before = snapshot(app)
    bad = [statement("s1", 3), statement("s2", 4), strike_called("again", 5)]
    with pytest.raises(RuleViolationError) as info:
        app.append(bad, now=NOW)
    assert info.value.event_id == "again"
    assert snapshot(app) == before
    assert ids(app.events(NEGOTIATION)) == ["open", "p1", "strike"]
    app.forget([NEGOTIATION])
    assert ids(app.events(NEGOTIATION)) == ["open", "p1", "strike"]


def test_refused_first_batch_creates_no_negotiation(app: Negotiations) -> None:
    """A refused batch for a new negotiation leaves it unknown and the store empty."""
    with pytest.raises(RuleViolationError):
        app.append([opened("open", 0), strike_ended("end", 1)], now=NOW)
    assert app.position() == 0
    assert app.negotiation_ids() == []
    with pytest.raises(NegotiationNotFoundError):
        app.events(NEGOTIATION)


def test_batch_across_negotiations_is_atomic(app: Negotiations) -> None:
    """A batch spanning two negotiations stores nothing when an event of either is refused."""
    app.append([opened("open", 0, negotiation=OTHER)], now=NOW)
    before = snapshot(app)
    batch = [*opening_batch(), statement("fine", 1, negotiation=OTHER), strike_ended("bad", 2, negotiation=OTHER)]
    with pytest.raises(RuleViolationError) as info:
        app.append(batch, now=NOW)
    assert info.value.event_id == "bad"
    assert snapshot(app) == before
    with pytest.raises(NegotiationNotFoundError):
        app.events(NEGOTIATION)
    assert ids(app.events(OTHER)) == ["open"]
    result = app.append(batch[:-1], now=NOW)
    assert ids(result.stored) == ["open", "p1", "strike", "fine"]
    assert set(app.negotiation_ids()) == {NEGOTIATION, OTHER}


def test_conflicting_writer_is_retried_and_the_batch_stays_atomic(
    app: Negotiations, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When another writer takes a stream version first, nothing of the batch is stored and it is retried."""
    app.append([opened("open", 0, negotiation=OTHER), *opening_batch()], now=NOW)
    put = app.store.put
    calls: list[int] = []

    def put_after_intruder(records: list[StreamEvent]) -> list[int]:
        calls.append(len(records))
        if len(calls) == 1:
            intruder = statement("intruder", 9, recorded_at=at(9))
            put([StreamEvent(NEGOTIATION, 4, intruder)])
        return put(records)

    monkeypatch.setattr(app.store, "put", put_after_intruder)
    batch = [statement("mine-other", 5, negotiation=OTHER), statement("mine", 5)]
    result = app.append(batch, now=NOW)
    assert calls == [2, 2]
    assert ids(result.stored) == ["mine-other", "mine"]
    assert ids(app.events(NEGOTIATION)) == ["open", "p1", "strike", "intruder", "mine"]
    assert ids(app.events(OTHER)) == ["open", "mine-other"]
    assert [e.id for _, e in app.follow()].count("mine-other") == 1


def test_a_busy_sqlite_lock_is_retried(app: Negotiations, monkeypatch: pytest.MonkeyPatch) -> None:
    """SQLite's "database is locked" (another process held the write lock) is retried like a conflict."""
    app.append(opening_batch(), now=NOW)
    put = app.store.put
    calls: list[int] = []

    def busy_once(records: list[StreamEvent]) -> list[int]:
        calls.append(len(records))
        if len(calls) == 1:
            raise OperationalError("database is locked")
        return put(records)

    monkeypatch.setattr(app.store, "put", busy_once)
    result = app.append([statement("s", 4)], now=NOW)
    assert calls == [1, 1]
    assert ids(result.stored) == ["s"]
    assert ids(app.events(NEGOTIATION))[-1] == "s"


def test_other_operational_errors_are_store_errors(app: Negotiations, monkeypatch: pytest.MonkeyPatch) -> None:
    """An operational error that is not a busy lock is not retried: StoreError, nothing stored."""
    app.append(opening_batch(), now=NOW)
    before = snapshot(app)

    def disk_full(records: list[StreamEvent]) -> list[int]:
        raise OperationalError("database or disk is full")

    monkeypatch.setattr(app.store, "put", disk_full)
    with pytest.raises(StoreError, match="disk is full"):
        app.append([statement("s", 4)], now=NOW)
    monkeypatch.undo()
    assert snapshot(app) == before


def test_conflicts_that_never_end_raise_concurrency_error(app: Negotiations, monkeypatch: pytest.MonkeyPatch) -> None:
    """When every attempt conflicts, ConcurrencyError is raised and nothing is stored."""
    app.append(opening_batch(), now=NOW)
    before = snapshot(app)

    def always_conflicts(records: list[StreamEvent]) -> list[int]:
        raise IntegrityError("duplicate key value violates unique constraint")

    monkeypatch.setattr(app.store, "put", always_conflicts)
    monkeypatch.setattr(application_module, "MAX_ATTEMPTS", 3)
    monkeypatch.setattr(application_module.time, "sleep", lambda _: None)
    with pytest.raises(ConcurrencyError) as info:
        app.append([statement("s", 4)], now=NOW)
    assert info.value.attempts == 3
    assert info.value.negotiation == NEGOTIATION
    monkeypatch.undo()
    assert snapshot(app) == before


# --- idempotency ---------------------------------------------------------------------------


def test_appending_the_same_batch_twice_stores_once(app: Negotiations) -> None:
    """The second append of a batch is a no-op that reports duplicates."""
    batch = [*opening_batch(), statement("s", 4)]
    app.append(batch, now=NOW)
    before = snapshot(app)
    again = app.append(batch, now=NOW + dt.timedelta(hours=1))
    assert again.stored == ()
    assert ids(again.duplicates) == ids(batch)
    assert again.positions == ()
    assert snapshot(app) == before


def test_idempotent_against_the_stored_form(app: Negotiations) -> None:
    """Re-appending after the cache is dropped compares with the events as the store returns them."""
    batch = [*opening_batch(), statement("s", 4, text='Ünïcode \u2028 "quoted" \\ [bold]')]
    app.append(batch, now=NOW)
    before = snapshot(app)
    app.forget([NEGOTIATION])
    again = app.append(batch, now=NOW + dt.timedelta(hours=1))
    assert again.stored == ()
    assert snapshot(app) == before


def test_same_id_other_content_is_a_conflict(app: Negotiations) -> None:
    """An id stored with other content is refused with EventConflictError; nothing is stored."""
    app.append(opening_batch(), now=NOW)
    before = snapshot(app)
    with pytest.raises(EventConflictError) as info:
        app.append([statement("new", 4), proposal("p1", 1, terms="different")], now=NOW)
    assert info.value.event_id == "p1"
    assert snapshot(app) == before


def test_verify_checks_but_stores_nothing(app: Negotiations) -> None:
    """verify answers what append would do without storing anything."""
    app.append(opening_batch(), now=NOW)
    before = snapshot(app)
    result = app.verify([statement("new", 4), proposal("p1", 1)], now=NOW)
    assert ids(result.stored) == ["new"]
    assert ids(result.duplicates) == ["p1"]
    with pytest.raises(RuleViolationError):
        app.verify([strike_called("again", 5)], now=NOW)
    assert snapshot(app) == before


# --- malformed events ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        opened("open", 0, negotiation="Not A Slug"),
        opened("line\nbreak", 0),
        opened("open", dt.datetime(2023, 3, 1, 12)),
        strike_authorized("vote", 1, yes_share=1.5),
        statement("s", 1, by="Not A Slug"),
    ],
    ids=["negotiation-slug", "id-not-printable", "naive-occurred-at", "share-out-of-range", "by-slug"],
)
def test_malformed_event_is_refused_and_stores_nothing(app: Negotiations, bad: Event) -> None:
    """An event the event-log format does not allow is refused (InvalidEventError); the store stays readable."""
    if bad.TYPE != "negotiation.opened":
        app.append([opened("open", 0)], now=NOW)
    before = snapshot(app)
    with pytest.raises(InvalidEventError) as info:
        app.append([bad], now=NOW)
    assert info.value.event_id in (bad.id, None)
    assert snapshot(app) == before


# --- reading -----------------------------------------------------------------------------------


def test_unknown_negotiation_is_not_found(app: Negotiations) -> None:
    """Reading a negotiation that has no events raises NegotiationNotFoundError."""
    with pytest.raises(NegotiationNotFoundError) as info:
        app.events("no-such-negotiation")
    assert info.value.negotiation == "no-such-negotiation"
    assert "no-such-negotiation" in str(info.value)
    with pytest.raises(NegotiationNotFoundError):
        list(app.export(["no-such-negotiation"]))
    app.append(opening_batch(), now=NOW)
    with pytest.raises(NegotiationNotFoundError):
        app.existing(OTHER)


def test_negotiation_ids_in_order_of_opening(app: Negotiations) -> None:
    """negotiation_ids lists every stored negotiation once, in the order they were opened."""
    assert app.negotiation_ids() == []
    app.append([opened("open", 0, negotiation=OTHER)], now=NOW)
    app.append(opening_batch(), now=NOW)
    app.append([statement("s", 5, negotiation=OTHER)], now=NOW)
    assert app.negotiation_ids() == [OTHER, NEGOTIATION]


def test_export_lines_parse_back_equal(app: Negotiations) -> None:
    """export writes one normalized line per stored event that parses back to the same event."""
    app.append([opened("open", 0, negotiation=OTHER)], now=NOW)
    app.append([*opening_batch(), statement("s", 4, source=None, audience="members")], now=NOW)
    lines = list(app.export())
    assert all(isinstance(line, bytes) and b"\n" not in line for line in lines)
    parsed = [parse_line(line) for line in lines]
    assert parsed == app.events(OTHER) + app.events(NEGOTIATION)
    only = [parse_line(line) for line in app.export([NEGOTIATION])]
    assert only == app.events(NEGOTIATION)


def test_follow_yields_commit_order_from_a_position(app: Negotiations) -> None:
    """follow() yields every event in commit order with increasing positions, from any position."""
    app.append([opened("open", 0, negotiation=OTHER)], now=NOW)
    app.append(opening_batch(), now=NOW)
    app.append([statement("late", 0.5), statement("s", 2, negotiation=OTHER)], now=NOW)
    followed = list(app.follow())
    positions = [p for p, _ in followed]
    assert positions == sorted(set(positions))
    assert [(e.negotiation, e.id) for _, e in followed] == [
        (OTHER, "open"),
        (NEGOTIATION, "open"),
        (NEGOTIATION, "p1"),
        (NEGOTIATION, "strike"),
        (NEGOTIATION, "late"),
        (OTHER, "s"),
    ]
    assert app.position() == positions[-1]
    middle = positions[2]
    assert list(app.follow(after=middle)) == followed[3:]
    assert list(app.follow(after=app.position())) == []


def test_empty_store(app: Negotiations) -> None:
    """An empty store has position 0, no negotiations, nothing to follow or export."""
    assert app.position() == 0
    assert app.negotiation_ids() == []
    assert list(app.follow()) == []
    assert list(app.export()) == []


def test_sqlite_file_is_durable(tmp_path: Path) -> None:
    """A SQLite store reopened from its file sees everything appended before."""
    url = f"sqlite:///{tmp_path / 'durable.db'}"
    with Negotiations(url) as first:
        first.append(opening_batch(), now=NOW)
        first.append([statement("s", 4)], now=NOW)
        events, position, followed = first.events(NEGOTIATION), first.position(), list(first.follow())
    with Negotiations(url) as second:
        assert second.events(NEGOTIATION) == events
        assert second.position() == position
        assert list(second.follow()) == followed
        assert second.negotiation_ids() == [NEGOTIATION]
        assert second.append(opening_batch(), now=NOW).stored == ()


def test_unopenable_store_raises_store_error(tmp_path: Path) -> None:
    """A store that cannot be opened raises StoreError naming it."""
    missing = tmp_path / "no-such-dir" / "x.db"
    with pytest.raises(StoreError, match="no-such-dir"):
        Negotiations(str(missing))


# --- logging ----------------------------------------------------------------------------------


def test_append_logs_events_appended(app: Negotiations) -> None:
    """Each stored batch logs events.appended with the negotiation and first/last event ids."""
    with structlog.testing.capture_logs() as logs:
        app.append(opening_batch(), now=NOW)
        app.append(opening_batch(), now=NOW)  # duplicates only: nothing logged
    appended = [entry for entry in logs if entry["event"] == "events.appended"]
    assert len(appended) == 1
    entry = appended[0]
    assert entry["negotiation"] == NEGOTIATION
    assert entry["first"] == "open"
    assert entry["last"] == "strike"
    assert entry["count"] == 3
    assert entry["log_level"] == "info"


def test_refusal_logs_event_refused(app: Negotiations) -> None:
    """A refused event logs event.refused with its rule and event id."""
    app.append(opening_batch(), now=NOW)
    with structlog.testing.capture_logs() as logs, pytest.raises(RuleViolationError):
        app.append([strike_called("again", 5)], now=NOW)
    refused = [entry for entry in logs if entry["event"] == "event.refused"]
    assert len(refused) == 1
    assert refused[0]["rule"] == "stoppage-not-running"
    assert refused[0]["event_id"] == "again"
    assert refused[0]["negotiation"] == NEGOTIATION
    assert not [entry for entry in logs if entry["event"] == "events.appended"]


def test_importing_the_library_configures_no_logging() -> None:
    """Importing negotiation leaves structlog and the stdlib logging unconfigured."""
    code = (
        "import logging, structlog\n"
        "import negotiation, negotiation.application, negotiation.store.eventstore, negotiation.store.config\n"
        "assert not structlog.is_configured(), 'structlog was configured'\n"
        "root = logging.getLogger()\n"
        "assert root.handlers == [], root.handlers\n"
        "assert root.level == logging.WARNING, root.level\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


# --- the bounded history cache -----------------------------------------------------------------


def test_the_history_cache_is_bounded_and_answers_stay_right_after_eviction(store_url: str) -> None:
    """At most ``max_histories`` histories stay cached; a dropped one is read again, with later events."""
    names = [f"n-{i}" for i in range(5)]
    known = NOW + dt.timedelta(days=1)
    with Negotiations(store_url, max_histories=2) as app, Negotiations(store_url, max_histories=2) as other:
        # One batch wider than the cache: each negotiation is applied to the history it was planned against.
        result = app.append([e for name in names for e in opening_batch(name)], now=NOW)
        assert result.versions == dict.fromkeys(names, 3)
        assert len(app._histories) <= 2
        statuses = {}
        for name in names:
            statuses[name] = app.status(name, as_of=at(2), known_at=known)
            assert len(app._histories) <= 2
        assert list(app._histories) == names[-2:]  # least recently used dropped first
        # What the facade answers after eviction is what a facade without eviction answers.
        with Negotiations(store_url) as unbounded:
            if store_url != "memory:":
                assert {n: unbounded.status(n, as_of=at(2), known_at=known) for n in names} == statuses
        # A dropped history comes back with what was stored since (here through another facade, or app).
        writer = app if store_url == "memory:" else other
        writer.append([strike_ended("end", 4, negotiation=names[0])], now=NOW)
        assert ids(app.events(names[0])) == ["open", "p1", "strike", "end"]
        assert app.history(names[0]).version == 4
        after = app.status(names[0], as_of=at(5), known_at=known)
        assert after != app.status(names[0], as_of=at(3), known_at=known)  # the strike ended on day 4
        if store_url != "memory:":
            assert after == other.status(names[0], as_of=at(5), known_at=known)
        assert len(app._histories) <= 2
        assert app.append(opening_batch(names[1]), now=NOW).duplicates  # re-read from the store: duplicates


def test_max_histories_must_be_positive() -> None:
    """A cache of no history cannot work: refused at once."""
    with pytest.raises(ValueError, match="max_histories"):
        Negotiations("memory:", max_histories=0)
