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

``check_login`` makes one connection before the pool opens: psycopg's pool
retries a failed connection in the background until its timeout, so a wrong
password was reported as "couldn't get a connection after 5.00 sec" after
about 18 login attempts (enough to trip an account lockout). A failure that a
retry cannot cure (authentication, an unknown role or database, TLS required
but refused, a bad parameter value) is reported at once with the server's
reason; only what can succeed on retry (refused or lost connections, a server
starting up or full) is left to the pool's retries.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping, Sequence
from typing import Any, Final

import psycopg
from eventsourcing.persistence import OperationalError, StoredEvent
from eventsourcing.postgres import PostgresAggregateRecorder, PostgresApplicationRecorder, PostgresDatastore
from psycopg import Cursor
from psycopg.rows import DictRow

__all__ = ["LoginError", "SlicedPostgresApplicationRecorder", "check_login", "configure_pool"]

_RETRYABLE: Final = re.compile(
    r"connection refused|timeout expired|timed out|could not connect|server closed the connection unexpectedly"
    r"|the database system is (starting up|shutting down|in recovery mode|not yet accepting)|too many clients"
    r"|remaining connection slots|could not translate host name|temporary failure|network is unreachable"
    r"|no route to host|connection reset|could not receive data|could not send data",
    re.IGNORECASE,
)
"""Connection failures that a later attempt may not meet; every other one is final."""


class LoginError(OperationalError):
    """The server refused the login for a reason a retry cannot cure; the message is the server's."""


def configure_pool(datastore: PostgresDatastore, parameters: Mapping[str, str]) -> None:
    """Give the (not yet opened) pool libpq's parameters of the store URL, as given."""
    kwargs = datastore.pool.kwargs
    assert isinstance(kwargs, dict)  # noqa: S101 - eventsourcing builds it as a dict
    kwargs.update(parameters)


def check_login(datastore: PostgresDatastore) -> None:
    """One connection with the pool's settings; raise ``LoginError`` at once for a final refusal."""
    pool_kwargs = datastore.pool.kwargs
    assert isinstance(pool_kwargs, dict)  # noqa: S101 - eventsourcing builds it as a dict
    kwargs = {k: v for k, v in pool_kwargs.items() if k != "row_factory"}
    try:
        psycopg.connect(**kwargs).close()
    except psycopg.OperationalError as e:
        text = " ".join(str(e).split())
        if _RETRYABLE.search(text):
            return  # the pool tries again, as for a connection lost later
        raise LoginError(text.removeprefix("connection failed: ")) from None


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
