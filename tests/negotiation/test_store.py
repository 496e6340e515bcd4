"""The event store: the mapper and what ends up in the database tables."""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import orjson
import pytest
from eventsourcing.persistence import JSONTranscoder, MapperDeserialisationError, StoredEvent

from events import EVENT_TYPES, Event, Source, Value, render_line
from negotiation import Negotiations
from negotiation.store.eventstore import APPLICATION_NAME, EventMapper, StreamEvent
from tests.negotiation.helpers import (
    AI,
    EMPLOYER,
    NEGOTIATION,
    NOW,
    accepted,
    at,
    contract_expired,
    contract_extended,
    issue_tabled,
    lockout_declared,
    lockout_ended,
    opened,
    party_joined,
    proposal,
    ratification,
    rejected,
    retraction,
    statement,
    strike_authorized,
    strike_called,
    strike_ended,
    talks_held,
    talks_requested,
    talks_resumed,
    talks_scheduled,
    talks_suspended,
    tentative,
    withdrawn,
)

PYTHON_TOPIC = re.compile(rb"[A-Za-z_][\w.]*:[A-Z]\w*")
"""An eventsourcing topic (``package.module:Class``), as the default mapper would store."""
POSTGRES = pytest.param("postgres", marks=pytest.mark.postgres)

ONE_OF_EACH: list[Event] = [
    opened("open", 0, timezone="America/Los_Angeles", contract_expires_on=dt.date(2023, 5, 1)),
    party_joined("join", 1),
    issue_tabled("tab", 1.5),
    talks_requested("req", 2, for_date=dt.date(2023, 3, 20)),
    talks_scheduled("sched", 2.5, for_date=dt.datetime(2023, 3, 20, 10, tzinfo=dt.UTC)),
    talks_held("held", 3, note="first session"),
    proposal(
        "offer",
        4,
        terms="Regulate AI",
        value=Value(amount=5.5, unit="percent"),
        source=Source(url="https://example.org/a", publisher="WGA"),
    ),
    proposal("counter", 4.5, by=EMPLOYER, in_response_to="offer"),
    rejected("no", 5, proposal="offer"),
    accepted("yes", 5.5, proposal="counter", by="wga"),
    withdrawn("wd", 6),
    statement("st", 6.5, audience="members", text="Pencils down \u2014 \u00e7a suffit \U0001f4a5"),
    strike_authorized("auth", 7, turnout=0.79),
    contract_expired("exp", 8),
    contract_extended("ext", 8.5, until=dt.date(2023, 6, 30)),
    strike_called("strike", 9),
    lockout_declared("lock", 9.5),
    talks_suspended("susp", 10, by=EMPLOYER, reason="no movement"),
    talks_resumed("resume", 11),
    lockout_ended("unlock", 12),
    strike_ended("end", 13),
    tentative("ta", 14, terms={AI: "consent and compensation"}),
    ratification("vote", 15, turnout=0.4),
    retraction("retract", 16, "st", recorded_at=at(17)),
]


def test_one_of_each_covers_the_catalog() -> None:
    """The sample list has an event of every catalog type."""
    assert {e.TYPE for e in ONE_OF_EACH} == set(EVENT_TYPES)


@pytest.mark.parametrize("event", ONE_OF_EACH, ids=lambda e: e.TYPE)
def test_mapper_round_trip(event: Event) -> None:
    """The stored record's topic is the catalog type, its state the normalized line; it maps back equal."""
    mapper = EventMapper(transcoder=JSONTranscoder())
    stored = mapper.to_stored_event(StreamEvent(NEGOTIATION, 7, event))
    assert stored.originator_id == NEGOTIATION
    assert stored.originator_version == 7
    assert stored.topic == event.TYPE
    assert stored.state == render_line(event)
    assert orjson.loads(stored.state)["type"] == event.TYPE
    back = mapper.to_domain_event(stored)
    assert back == StreamEvent(NEGOTIATION, 7, event)


def test_mapper_refuses_unknown_topic() -> None:
    """A stored record with a topic outside the catalog cannot be read back."""
    mapper = EventMapper(transcoder=JSONTranscoder())
    record = StoredEvent(
        originator_id=NEGOTIATION,
        originator_version=1,
        topic="events.model:StatementIssued",
        state=render_line(statement("s", 1)),
    )
    with pytest.raises(MapperDeserialisationError, match=f"{NEGOTIATION}/1"):
        mapper.to_domain_event(record)


def test_mapper_refuses_a_corrupt_state() -> None:
    """A stored record whose state is not a valid line raises MapperDeserialisationError naming it."""
    mapper = EventMapper(transcoder=JSONTranscoder())
    record = StoredEvent(originator_id=NEGOTIATION, originator_version=3, topic="statement.issued", state=b"{not json")
    with pytest.raises(MapperDeserialisationError, match=f"{NEGOTIATION}/3"):
        mapper.to_domain_event(record)


def _rows(store_url: str) -> list[tuple[str, int, str, bytes]]:
    """(originator_id, originator_version, topic, state) of every stored record, read with the driver."""
    if store_url.startswith("sqlite:///"):
        path = store_url.removeprefix("sqlite:///")
        with sqlite3.connect(path) as conn:
            rows = conn.execute(
                "SELECT originator_id, originator_version, topic, state FROM stored_events ORDER BY rowid"
            ).fetchall()
        return [(r[0], r[1], r[2], bytes(r[3])) for r in rows]
    import psycopg
    from psycopg import sql

    parts = urlsplit(store_url)
    schema = parse_qs(parts.query)["schema"][0]
    with psycopg.connect(store_url.split("?", maxsplit=1)[0]) as conn:
        rows = conn.execute(
            sql.SQL(
                "SELECT originator_id, originator_version, topic, state FROM {}.{} ORDER BY notification_id"
            ).format(sql.Identifier(schema), sql.Identifier(f"{APPLICATION_NAME}_events"))
        ).fetchall()
    return [(r[0], r[1], r[2], bytes(r[3])) for r in rows]


@pytest.mark.parametrize("store_url", ["sqlite", POSTGRES], indirect=True)
def test_stored_data_names_no_python_module(store_url: str) -> None:
    """The database holds catalog types as topics and JSON lines as state; no Python paths anywhere."""
    with Negotiations(store_url) as app:
        app.append(ONE_OF_EACH, now=NOW)
        app.append([opened("open", 0, negotiation="other")], now=NOW)
        stored = app.events(NEGOTIATION)
    rows = _rows(store_url)
    assert [(r[0], r[1]) for r in rows] == [(NEGOTIATION, v) for v in range(1, len(ONE_OF_EACH) + 1)] + [("other", 1)]
    assert [r[2] for r in rows[: len(ONE_OF_EACH)]] == [e.TYPE for e in ONE_OF_EACH]
    assert {r[2] for r in rows} <= set(EVENT_TYPES)
    for (_, _, topic, state), event in zip(rows, stored, strict=False):
        assert state == render_line(event)
        line = orjson.loads(state)
        assert line["type"] == topic
        assert line["negotiation"] == NEGOTIATION
        assert not PYTHON_TOPIC.search(state), state
        for name in (b"events.model", b"negotiation.store.eventstore", b"StreamEvent", b"__"):
            assert name not in state


def test_sqlite_table_topics_are_catalog_types(tmp_path: Path) -> None:
    """Querying the SQLite table directly shows topics like proposal.made."""
    url = f"sqlite:///{tmp_path / 'topics.db'}"
    with Negotiations(url) as app:
        app.append([opened(), proposal("p1", 1), statement("s1", 2)], now=NOW)
    with sqlite3.connect(tmp_path / "topics.db") as conn:
        topics = [row[0] for row in conn.execute("SELECT topic FROM stored_events ORDER BY rowid")]
    assert topics == ["negotiation.opened", "proposal.made", "statement.issued"]
    assert not any(PYTHON_TOPIC.search(topic.encode()) for topic in topics)


def test_store_reads_back_streams_and_notifications(app: Negotiations) -> None:
    """EventStore.stream reads one negotiation after a version; follow reads all in commit order."""
    app.append(ONE_OF_EACH[:4], now=NOW)
    app.append([opened("open", 0, negotiation="other")], now=NOW)
    store = app.store
    assert [e.id for e in store.stream(NEGOTIATION)] == ["open", "join", "tab", "req"]
    assert [e.id for e in store.stream(NEGOTIATION, after=2)] == ["tab", "req"]
    assert store.stream("nothing-here") == []
    followed = list(store.follow(batch=2))
    assert [(s.originator_id, s.originator_version) for _, s in followed] == [
        (NEGOTIATION, 1),
        (NEGOTIATION, 2),
        (NEGOTIATION, 3),
        (NEGOTIATION, 4),
        ("other", 1),
    ]
    assert store.max_position() == followed[-1][0]
    assert [n.originator_id for n in store.notifications(topics=["negotiation.opened"])] == [NEGOTIATION, "other"]


def test_stored_rows_are_the_notifications_as_rows(app: Negotiations) -> None:
    """``stored_rows``: the notifications' records as (position, negotiation, version, line), from a position on."""
    app.append(ONE_OF_EACH[:4], now=NOW)
    app.append([opened("open", 0, negotiation="other")], now=NOW)
    store = app.store
    expected = [(n.id, str(n.originator_id), n.originator_version, n.state) for n in store.notifications(limit=100)]
    assert len(expected) == 5
    assert [tuple(row) for row in store.stored_rows(limit=100)] == expected
    assert [tuple(row) for row in store.stored_rows(after=expected[1][0], limit=2)] == expected[2:4]
    assert list(store.stored_rows(after=expected[-1][0])) == []
    assert all(isinstance(row[3], bytes) for row in store.stored_rows())


def _records(negotiation: str, versions: range) -> list[StoredEvent]:
    return [
        StoredEvent(originator_id=negotiation, originator_version=v, topic="statement.issued", state=b"{}")
        for v in versions
    ]


def _rowids(path: Path) -> list[tuple[int, str, int]]:
    with sqlite3.connect(path) as db:
        found = db.execute("SELECT rowid, originator_id, originator_version FROM stored_events ORDER BY rowid")
        return found.fetchall()


def test_sqlite_records_stored_at_once_get_the_positions_they_are_read_at(tmp_path: Path) -> None:
    """``put_stored`` on SQLite inserts in one ``executemany``: the positions it returns are the rows' rowids."""
    path = tmp_path / "store.db"
    with Negotiations(f"sqlite:///{path}") as app:
        first = app.store.put_stored(_records("a", range(1, 4)))
        second = app.store.put_stored(_records("b", range(1, 3)))
        single = app.store.put_stored(_records("c", range(1, 2)))  # eventsourcing's own insert
    assert first == [1, 2, 3]
    assert second == [4, 5]
    assert single == [6]
    assert _rowids(path) == [(1, "a", 1), (2, "a", 2), (3, "a", 3), (4, "b", 1), (5, "b", 2), (6, "c", 1)]


def test_sqlite_records_already_stored_are_refused_all_together(tmp_path: Path) -> None:
    """A record already stored (another writer's): the whole insert is rolled back, as eventsourcing's is."""
    from eventsourcing.persistence import IntegrityError

    path = tmp_path / "store.db"
    with Negotiations(f"sqlite:///{path}") as app:
        app.store.put_stored(_records("a", range(1, 3)))
        with pytest.raises(IntegrityError):
            app.store.put_stored(_records("b", range(1, 3)) + _records("a", range(2, 3)))
    assert _rowids(path) == [(1, "a", 1), (2, "a", 2)]


def test_sqlite_rowids_not_in_order_fall_back_to_eventsourcings_insert(tmp_path: Path) -> None:
    """Past the last possible rowid SQLite numbers new rows at random: eventsourcing's insert reads each one."""
    path = tmp_path / "store.db"
    with Negotiations(f"sqlite:///{path}") as app:
        app.store.put_stored(_records("a", range(1, 3)))
        with sqlite3.connect(path) as db:
            db.execute("UPDATE stored_events SET rowid = ? WHERE originator_version = 2", (2**63 - 1,))
        positions = app.store.put_stored(_records("b", range(1, 4)))
    found = {(n, v): rowid for rowid, n, v in _rowids(path)}
    assert positions == [found["b", v] for v in range(1, 4)]
    assert len(set(positions)) == 3
    assert positions != list(range(positions[0], positions[0] + 3))  # not one after the other: the fallback's
