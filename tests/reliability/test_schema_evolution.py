"""Schema evolution: ``proposal.made`` schema 2 (``value.currency``) reads schema-1 lines, files and stores.

A schema-1 store is written as an older release wrote it: raw rows whose
state is the schema-1 line (no ``"schema"`` key), inserted through the
recorder or with sqlite3 straight into the table.
"""

from __future__ import annotations

import copy
import json
import sqlite3
from pathlib import Path
from typing import Any

import orjson
import pytest
from eventsourcing.persistence import StoredEvent
from hypothesis import given, settings

from events import EVENT_TYPES, InvalidEventError, ProposalMade, Value, parse_line, render_event, render_line
from events.converter import UPCASTERS, parse_trusted
from negotiation import Negotiations
from projections.answers import positions_json, timeline_json
from projections.persisted import ReadModels
from tests.reliability.crash import fold, persisted
from tests.reliability.helpers import error_lines, export, run
from tests.strategies import events_of, values

NEGOTIATION = "acme-2022"
RECORDED = "2023-01-01T00:00:00+00:00"


def line(event_id: str, kind: str, occurred_at: str, data: dict[str, Any]) -> dict[str, Any]:
    """A line as release 1 wrote it: no ``schema`` key, ``recorded_at`` set."""
    return {
        "id": event_id,
        "type": kind,
        "negotiation": NEGOTIATION,
        "occurred_at": occurred_at,
        "recorded_at": RECORDED,
        "data": data,
    }


SCHEMA_1: list[dict[str, Any]] = [
    line(
        "e1",
        "negotiation.opened",
        "2022-03-01",
        {
            "title": "Acme 2022",
            "parties": [{"id": "u", "name": "Union", "role": "union"}, {"id": "a", "name": "Acme", "role": "employer"}],
            "issues": [{"id": "pay", "title": "Pay"}],
        },
    ),
    line("e2", "talks.held", "2022-03-02", {}),
    line(
        "e3",
        "proposal.made",
        "2022-03-02",
        {"by": "u", "issue": "pay", "terms": "7%", "value": {"amount": 7, "unit": "percent"}},
    ),
    line(
        "e4",
        "proposal.made",
        "2022-03-03",
        {"by": "a", "issue": "pay", "terms": "$1 an hour", "value": {"amount": 1, "unit": "USD/h"}},
    ),
    line("e5", "proposal.made", "2022-03-04", {"by": "u", "issue": "pay", "terms": "6%"}),
    line("e6", "proposal.rejected", "2022-03-05", {"by": "a", "issue": "pay", "proposal": "e5"}),
]
"""A negotiation in release 1's form: three schema-1 proposals (two with a value, one without)."""


def jsonl(lines: list[dict[str, Any]]) -> bytes:
    """JSON Lines bytes."""
    return b"".join(json.dumps(obj).encode() + b"\n" for obj in lines)


@pytest.fixture
def schema_1_file(tmp_path: Path) -> Path:
    """The release-1 negotiation as a file."""
    path = tmp_path / "release-1.jsonl"
    path.write_bytes(jsonl(SCHEMA_1))
    return path


def raw_rows() -> list[StoredEvent]:
    """The release-1 negotiation as stored rows: state = the schema-1 line, topic = its type."""
    return [
        StoredEvent(originator_id=NEGOTIATION, originator_version=v, topic=obj["type"], state=orjson.dumps(obj))
        for v, obj in enumerate(SCHEMA_1, start=1)
    ]


# --- the converter -------------------------------------------------------------------------


def test_every_older_schema_has_an_upcaster() -> None:
    """UPCASTERS holds one step for each schema below a type's current one, and none at or above it."""
    for kind, cls in EVENT_TYPES.items():
        for schema in range(1, cls.SCHEMA):
            assert (kind, schema) in UPCASTERS, (kind, schema)
    for kind, schema in UPCASTERS:
        assert schema < EVENT_TYPES[kind].SCHEMA
    assert ProposalMade.SCHEMA == 2


@pytest.mark.parametrize("spelled", ["absent", "null", "one"])
def test_schema_1_proposal_reads_as_schema_2(spelled: str) -> None:
    """A schema-1 proposal.made (schema absent, null or 1) reads as schema 2 without a currency; it renders schema 2."""
    obj = copy.deepcopy(SCHEMA_1[2])
    if spelled != "absent":
        obj["schema"] = None if spelled == "null" else 1
    event = parse_line(json.dumps(obj))
    assert isinstance(event, ProposalMade)
    assert event.schema == 2
    assert event.value == Value(amount=7, unit="percent")
    assert event.value.currency is None
    rendered = render_event(event)
    assert rendered["schema"] == 2
    assert list(rendered)[:6] == ["id", "type", "negotiation", "occurred_at", "recorded_at", "schema"]
    assert render_line(parse_line(render_line(event))) == render_line(event)


def test_schema_2_value_carries_a_currency() -> None:
    """A schema-2 value may name its ISO 4217 currency; it is kept and written back."""
    obj = {**copy.deepcopy(SCHEMA_1[3]), "schema": 2}
    obj["data"]["value"]["currency"] = "USD"
    event = parse_line(json.dumps(obj))
    assert isinstance(event, ProposalMade)
    assert event.value == Value(amount=1, unit="USD/h", currency="USD")
    assert orjson.loads(render_line(event))["data"]["value"] == {"amount": 1, "unit": "USD/h", "currency": "USD"}


@pytest.mark.parametrize(
    ("schema", "currency", "path", "words"),
    [
        (None, "USD", "data.value", "no currency in schema 1"),  # schema 1 had no currency
        (1, "USD", "data.value", "no currency in schema 1"),
        (2, "usd", "data.value.currency", "ISO 4217"),
        (2, "US", "data.value.currency", "ISO 4217"),
        (2, "DOLLARS", "data.value.currency", "ISO 4217"),
        (2, 840, "data.value.currency", "a string"),
    ],
)
def test_bad_currency_is_refused(schema: int | None, currency: object, path: str, words: str) -> None:
    """A currency in schema 1, or one that is not an ISO 4217 code, is refused at its path."""
    obj = copy.deepcopy(SCHEMA_1[3])
    if schema is not None:
        obj["schema"] = schema
    obj["data"]["value"]["currency"] = currency
    with pytest.raises(InvalidEventError) as info:
        parse_line(json.dumps(obj))
    assert info.value.path == path
    assert info.value.event_id == "e4"
    assert words in str(info.value) + (info.value.expected or "")


@pytest.mark.parametrize(("index", "schema"), [(2, 3), (2, 99), (1, 2), (0, 2)])
def test_schema_newer_than_known_is_refused(index: int, schema: int) -> None:
    """A schema this release does not know yet (proposal.made 3, talks.held 2) is refused, not misread."""
    obj = {**SCHEMA_1[index], "schema": schema}
    with pytest.raises(InvalidEventError) as info:
        parse_line(json.dumps(obj))
    assert info.value.path == "schema"
    assert "newer" in info.value.reason
    assert str(EVENT_TYPES[obj["type"]].SCHEMA) in (info.value.expected or "")


@settings(max_examples=50)
@given(events_of(ProposalMade, value=values().map(lambda v: Value(amount=v.amount, unit=v.unit)) | values()))
def test_schema_1_spelling_of_any_proposal_reads_back_equal(event: ProposalMade) -> None:
    """Any proposal without a currency, written as schema 1 (no schema key), reads back equal to the schema-2 event."""
    obj = render_event(event)
    assert obj.pop("schema") == 2
    if event.value is not None and event.value.currency is not None:
        with pytest.raises(InvalidEventError):
            parse_line(orjson.dumps(obj))
    else:
        assert parse_line(orjson.dumps(obj)) == event


# --- stores written by release 1 --------------------------------------------------------


def test_schema_1_store_loads_everywhere(store_url: str, schema_1_file: Path) -> None:
    """A store of raw schema-1 rows answers queries, exports schema 2, and takes the schema-1 file again as a no-op."""
    with Negotiations(store_url) as app:
        app.store.put_stored(raw_rows())  # through the recorder: no check, no upcasting on the way in
        events = app.events(NEGOTIATION)
        assert [e.schema for e in events if isinstance(e, ProposalMade)] == [2, 2, 2]
        positions = positions_json(app.positions(NEGOTIATION))["positions"]
        assert positions["u"]["pay"]["terms"] == "6%"
        assert positions["u"]["pay"]["value"] is None
        assert positions["a"]["pay"]["value"] == {"amount": 1, "unit": "USD/h"}
        exported = [orjson.loads(line) for line in app.export()]
        assert [obj.get("schema") for obj in exported] == [None, None, 2, 2, 2, None]
        upcast = [render_line(parse_line(orjson.dumps(obj))) for obj in SCHEMA_1]
        assert list(app.export()) == upcast
        report = app.import_files([schema_1_file])
        assert (report.stored, report.duplicates, report.refused) == (0, len(SCHEMA_1), ())
        result = app.append([parse_line(orjson.dumps(obj)) for obj in SCHEMA_1])  # the facade: no-op too
        assert result.stored == ()
        assert len(result.duplicates) == len(SCHEMA_1)
        assert app.store.max_position() == len(SCHEMA_1)


def test_schema_1_sqlite_rows_written_with_sqlite3(tmp_path: Path, schema_1_file: Path) -> None:
    """Rows put into the SQLite table by sqlite3 alone load; CLI export writes schema 2; re-import is a no-op."""
    db = tmp_path / "release-1.db"
    with Negotiations(str(db)) as app:  # only creates the tables
        assert app.position() == 0
    with sqlite3.connect(db) as conn:
        conn.executemany(
            "INSERT INTO stored_events (originator_id, originator_version, topic, state) VALUES (?, ?, ?, ?)",
            [(r.originator_id, r.originator_version, r.topic, r.state) for r in raw_rows()],
        )
    status = run("--db", db, "status", NEGOTIATION, "--json")
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["events_applied"] == len(SCHEMA_1)
    exported = run("--db", db, "export")
    assert exported.returncode == 0
    assert [orjson.loads(x).get("schema") for x in exported.stdout.splitlines()] == [None, None, 2, 2, 2, None]

    again = run("--db", db, "import", schema_1_file)
    assert again.returncode == 0, again.stderr
    assert again.stdout.decode().startswith(f"0 events stored, {len(SCHEMA_1)} already present")
    back = tmp_path / "exported.jsonl"
    back.write_bytes(exported.stdout)
    assert run("--db", db, "import", back).stdout.decode().startswith("0 events stored")  # schema 2 = upcast schema 1
    assert export(db) == exported.stdout

    with Negotiations(str(db)) as app, ReadModels(app) as models:
        models.catch_up()  # the commands above already brought the tables up to date
        assert models.position() == app.position()
        expected = fold(app)
        assert persisted(models, list(expected)) == expected


def test_schema_1_file_imports_and_exports_schema_2(tmp_path: Path, schema_1_file: Path) -> None:
    """A release-1 file imports; its export is schema 2 and imports into a new store to the same export."""
    first, second = tmp_path / "a.db", tmp_path / "b.db"
    result = run("--db", first, "import", schema_1_file)
    assert result.returncode == 0
    error_lines(result.stderr)
    out = run("--db", first, "export").stdout
    assert out.count(b'"schema":2') == 3
    assert b'"currency"' not in out
    assert run("--db", first, "import", schema_1_file).stdout.decode().startswith("0 events stored")
    copy_path = tmp_path / "export.jsonl"
    copy_path.write_bytes(out)
    assert run("--db", second, "import", copy_path).returncode == 0
    assert run("--db", second, "export").stdout == out


def test_schema_1_rows_answer_from_the_indexed_tables(tmp_path: Path) -> None:
    """Rows of schema 1 are upcast into the events table: the indexed timeline equals the pure one."""
    db = tmp_path / "store.db"
    with Negotiations(str(db)) as app:  # only creates the tables
        assert app.position() == 0
    with sqlite3.connect(db) as conn:
        conn.executemany(
            "INSERT INTO stored_events (originator_id, originator_version, topic, state) VALUES (?, ?, ?, ?)",
            [(r.originator_id, r.originator_version, r.topic, r.state) for r in raw_rows()],
        )
    with Negotiations(str(db)) as app, ReadModels(app) as models:
        models.catch_up()
        indexed = models.indexed().timeline(NEGOTIATION)
        assert indexed == timeline_json(app.timeline(NEGOTIATION), negotiation=NEGOTIATION)
        assert len(indexed["events"]) == len(SCHEMA_1)
    with sqlite3.connect(db) as conn:
        # SQL readers see each line through the events view; each reads back as the upcast event.
        shown = [row[0] for row in conn.execute("SELECT line FROM negotiation_events ORDER BY position")]
    assert [parse_trusted(line.encode()) for line in shown] == [parse_line(orjson.dumps(obj)) for obj in SCHEMA_1]
