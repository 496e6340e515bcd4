"""PostgreSQL recorder: eventsourcing's, with large inserts sent in slices.

eventsourcing 9.5 sends all of one ``insert_events`` call as a single
``INSERT ... SELECT FROM unnest(%s) RETURNING notification_id`` inside a psycopg
pipeline. From about 15,000 rows on, client and server both wait on each other
(the client still writing, the server writing results) and the call never
returns (``benchmarks/pg_insert_repro.py`` shows it without this project). The
importer stores a negotiation with late events in one transaction, so a long
negotiation would hang an import.

This recorder keeps the one transaction and the table lock, and sends the rows
in slices, syncing the pipeline after each. Only loaded for PostgreSQL stores
(``negotiation.store.config`` names it by topic), so psycopg stays optional.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any, Final

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresAggregateRecorder, PostgresApplicationRecorder
from psycopg import Cursor
from psycopg.rows import DictRow

__all__ = ["SlicedPostgresApplicationRecorder"]

ROWS_PER_SLICE: Final = 5000


class SlicedPostgresApplicationRecorder(PostgresApplicationRecorder):
    """Inserts at most ``ROWS_PER_SLICE`` rows per statement, all in one transaction."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The notification ids of a sliced insert, handed from one hook to the next.
        self._sliced_ids = threading.local()

    def _insert_stored_events(self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], **kwargs: Any) -> None:
        if len(stored_events) <= ROWS_PER_SLICE:
            self._sliced_ids.value = None
            super()._insert_stored_events(curs, stored_events, **kwargs)
            return
        self._lock_table(curs)
        self._notify_channel(curs)
        ids: list[int] = []
        for start in range(0, len(stored_events), ROWS_PER_SLICE):
            PostgresAggregateRecorder._insert_stored_events(self, curs, stored_events[start : start + ROWS_PER_SLICE])
            # A nested pipeline block syncs on exit: results are read before more is sent.
            with curs.connection.pipeline():
                pass
            ids.extend(row["notification_id"] for row in curs.fetchall())
        self._sliced_ids.value = ids

    def _fetch_ids_after_insert_events(
        self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        ids: list[int] | None = getattr(self._sliced_ids, "value", None)
        if ids is not None:
            self._sliced_ids.value = None
            return ids
        return super()._fetch_ids_after_insert_events(curs, stored_events, **kwargs)
