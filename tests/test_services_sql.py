"""Every SQL query docs/services.md shows for the bitemporal tables runs, on SQLite and PostgreSQL, and agrees.

The store holds the WGA example, its read models caught up; each query of the
section "Any point in time" is run as written (SQLite blocks with ``sqlite3``
on the store file, PostgreSQL blocks with psycopg in the store's schema) and
must return rows; the status query's columns, count and answer equal the indexed answer's.
"""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
from pathlib import Path

import orjson
import pytest

from negotiation import Negotiations
from projections.persisted import ReadModels
from tests.conftest import POSTGRES_SERVER

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "services.md"
WGA = ROOT / "examples" / "wga_amptp_2023.jsonl"
BLOCK = re.compile(r"```sql\n-- (SQLite|PostgreSQL)[^\n]*\n(.*?)```", re.S)


def queries(dialect: str) -> list[str]:
    """The queries of the section, in order, for one database."""
    text = DOC.read_text(encoding="utf-8")
    section = text.split("## Any point in time", 1)[1].split("\n## ", 1)[0]
    found = [body.strip() for name, body in BLOCK.findall(section) if name == dialect]
    assert len(found) == 5, found
    return found


def expected_status(url: str) -> dict[str, object]:
    """The indexed status answer the first query must agree with."""
    with Negotiations(url) as app, ReadModels(app) as models:
        models.catch_up()
        when = dt.date(2023, 8, 11)
        return models.indexed().status("wga-amptp-2023", as_of=when, known_at=when, now=dt.datetime.now(dt.UTC))


def check(rows: list[list[tuple[object, ...]]], expected: dict[str, object]) -> None:
    assert all(rows), [len(r) for r in rows]
    phase, talks, agreement, events_applied, answer = rows[0][0]
    assert (phase, talks, agreement) == (expected["phase"], expected["talks"], expected["agreement"])
    assert events_applied == expected["events_applied"]
    # The stored answer is the indexed one without what depends on the question.
    wanted = {k: v for k, v in expected.items() if k not in ("negotiation", "as_of", "known_at", "events_applied")}
    if isinstance(wanted["stoppage"], dict):
        wanted["stoppage"] = {k: v for k, v in wanted["stoppage"].items() if k != "day"}
    assert orjson.loads(str(answer)) == wanted


def test_sqlite_queries_run_as_shown(tmp_path: Path) -> None:
    """The SQLite queries, on the store file."""
    db = tmp_path / "store.db"
    with Negotiations(f"sqlite:///{db}") as app:
        app.import_files([str(WGA)])
    expected = expected_status(f"sqlite:///{db}")
    with sqlite3.connect(db) as conn:
        rows = [conn.execute(q).fetchall() for q in queries("SQLite")]
    check(rows, expected)


@pytest.mark.postgres
def test_postgres_queries_run_as_shown(postgres_url: str) -> None:
    """The PostgreSQL queries, with the store's schema first on the search path."""
    import psycopg

    with Negotiations(postgres_url) as app:
        app.import_files([str(WGA)])
    expected = expected_status(postgres_url)
    schema = postgres_url.rsplit("schema=", 1)[1]
    with psycopg.connect(POSTGRES_SERVER, autocommit=True) as conn:
        conn.execute(f'SET search_path TO "{schema}"')
        rows = [conn.execute(q).fetchall() for q in queries("PostgreSQL")]  # type: ignore[call-overload]
    check(rows, expected)
