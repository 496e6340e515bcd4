"""The PostgreSQL recorder sends large inserts in slices, in one transaction."""

from __future__ import annotations

import datetime as dt
from unittest import mock

import pytest
from eventsourcing.persistence import IntegrityError, StoredEvent

from events import AgendaIssue, NegotiationOpened, Party, StatementIssued
from negotiation import Negotiations
from negotiation.store import postgres as sliced

pytestmark = pytest.mark.postgres

WHEN = dt.datetime(2023, 5, 2, 12, 0, tzinfo=dt.UTC)


def _events(negotiation: str, count: int) -> list[object]:
    opened = NegotiationOpened(
        id="o",
        negotiation=negotiation,
        occurred_at=WHEN,
        recorded_at=WHEN,
        title="T",
        parties=(Party(id="u", name="U", role="union"), Party(id="e", name="E", role="employer")),
        issues=(AgendaIssue(id="w", title="W"),),
    )
    statements = [
        StatementIssued(
            id=f"s{i}",
            negotiation=negotiation,
            occurred_at=WHEN + dt.timedelta(minutes=i + 1),
            recorded_at=WHEN + dt.timedelta(minutes=i + 1),
            by="u",
            text="x",
        )
        for i in range(count)
    ]
    return [opened, *statements]


def test_large_append_is_sliced_and_returns_every_position(postgres_url: str) -> None:
    """An append larger than a slice is stored whole, with one position per event, in commit order."""
    with mock.patch.object(sliced, "ROWS_PER_SLICE", 7), Negotiations(postgres_url) as app:
        result = app.append(_events("big", 30))  # type: ignore[arg-type]
        assert len(result.positions) == 31
        assert list(result.positions) == sorted(result.positions)
        assert [e.id for e in app.events("big")] == ["o", *(f"s{i}" for i in range(30))]


def test_sliced_insert_is_atomic(postgres_url: str) -> None:
    """When a later slice conflicts, the earlier slices of the same insert are not stored either."""
    with mock.patch.object(sliced, "ROWS_PER_SLICE", 5), Negotiations(postgres_url) as app:
        app.append(_events("taken", 0))  # type: ignore[arg-type]
        before = app.position()
        rows = [StoredEvent(originator_id="other", originator_version=i + 1, topic="t", state=b"{}") for i in range(12)]
        rows.append(StoredEvent(originator_id="taken", originator_version=1, topic="t", state=b"{}"))
        with pytest.raises(IntegrityError):
            app.store.put_stored(rows)
        assert app.position() == before
        assert app.store.stream("other") == []
        assert len(app.store.stream("taken")) == 1
