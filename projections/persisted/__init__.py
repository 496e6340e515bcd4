"""All I/O of ``projections``: the persisted read models, kept in the store's own database.

Everything else in ``projections`` is pure (no I/O); this subpackage reads the
store and writes tables, one module per concern and per backend, as
eventsourcing does:

- ``models``: ``ReadModels``, the front services use (catch-up, follow, wait, rebuild, read);
- ``runner``: the projector (exactly once, a page per transaction), the follower thread,
  event subscriptions;
- ``tables``: the layout (rows, versions, pointer) and the interfaces the runner uses;
- ``sql``: the tables and their rebuild/switch protocol, written once for every SQL dialect;
- ``sqlite``, ``postgres``: the two dialects; ``memory``: the memory store's rows.
"""

from projections.persisted.models import ReadModelError, ReadModels, ReadModelTimeoutError
from projections.persisted.runner import EventSubscription, OnChange

__all__ = ["EventSubscription", "OnChange", "ReadModelError", "ReadModelTimeoutError", "ReadModels"]
