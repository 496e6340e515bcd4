"""The persisted read models of a memory store: the SQL tables in an in-memory SQLite database.

One database per store object, shared by all its ``ReadModels`` and gone with
it: the same tables, protocol and queries as a SQLite store file, without a file.
"""

from __future__ import annotations

import itertools
import threading
import weakref

from eventsourcing.sqlite import SQLiteDatastore

from negotiation.store.eventstore import EventStore
from projections.persisted.sqlite import SQLiteViews

__all__ = ["memory_views"]

_VIEWS: weakref.WeakKeyDictionary[EventStore, SQLiteViews] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()
_NUMBERS = itertools.count(1)


def memory_views(store: EventStore) -> SQLiteViews:
    """The memory store's read models: one in-memory database per store object."""
    with _LOCK:
        views = _VIEWS.get(store)
        if views is None:
            name = f"file:negotiation-read-models-{next(_NUMBERS)}-{id(store)}?mode=memory&cache=shared"
            views = _VIEWS[store] = SQLiteViews(SQLiteDatastore(name, single_row_tracking=True))
        return views
