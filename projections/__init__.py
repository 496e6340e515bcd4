"""Read models of negotiations: pure, checkpointed folds answering temporal queries.

Every read model is a ``negotiation.core.history.Fold`` over the events that count
at a point in valid time (``as_of``), knowledge time (``known_at``) and
version (``at_version``), answered through ``History.fold`` so that checkpoints
keep the cost independent of history length:

- ``status``: the spec's status answer (the core state fold);
- ``positions``: each party's standing proposal per issue;
- ``gap``: the numeric distance between union and employer per issue, and who
  conceded how much (derived from the positions fold);
- ``timeline``: events in valid-time order with one-line summaries; statements;
- ``catalog``: questions across negotiations (catalog, stoppages on a date,
  negotiations involving a party);
- ``diff``: what changed between two valid times;
- ``answers``: the JSON shapes (``--json``).

Nothing here does I/O or imports the facade: ``negotiation.queries`` resolves
the histories and calls these functions.

``projections.persisted`` keeps status, positions and catalog tables in the
store's database for services (``ReadModels``). It does I/O, so it is loaded
only when one of its names is first used.
"""

from typing import Any

from projections.answers import (
    catalog_json,
    diff_json,
    gaps_json,
    positions_json,
    statements_json,
    status_json,
    stoppages_json,
    timeline_json,
)
from projections.catalog import CatalogEntry, StoppageEntry, catalog_of, involving_of, stoppages_on
from projections.diff import Diff, FieldChange, PositionChange, diff_of
from projections.errors import InvalidQueryError, NotIndexedError, NotOpenedError
from projections.gap import Gap, GapMove, GapSide, gaps_of
from projections.positions import POSITIONS_FOLD, Position, Positions, Proposal, positions_of
from projections.status import Moment, RunningStoppage, Status, Stoppage, as_instant, status_of
from projections.timeline import STATEMENTS_FOLD, TimelineEntry, statements_of, summarize, timeline_of

_PERSISTED = frozenset({"EventSubscription", "OnChange", "ReadModelError", "ReadModelTimeoutError", "ReadModels"})


def __getattr__(name: str) -> Any:
    """Load the persisted read models on first use (they import the store)."""
    if name in _PERSISTED:
        from projections import persisted

        return getattr(persisted, name)
    raise AttributeError(f"module 'projections' has no attribute {name!r}")


__all__ = [
    "POSITIONS_FOLD",
    "STATEMENTS_FOLD",
    "CatalogEntry",
    "Diff",
    "EventSubscription",
    "FieldChange",
    "Gap",
    "GapMove",
    "GapSide",
    "InvalidQueryError",
    "Moment",
    "NotIndexedError",
    "NotOpenedError",
    "OnChange",
    "Position",
    "PositionChange",
    "Positions",
    "Proposal",
    "ReadModelError",
    "ReadModelTimeoutError",
    "ReadModels",
    "RunningStoppage",
    "Status",
    "Stoppage",
    "StoppageEntry",
    "TimelineEntry",
    "as_instant",
    "catalog_json",
    "catalog_of",
    "diff_json",
    "diff_of",
    "gaps_json",
    "gaps_of",
    "involving_of",
    "positions_json",
    "positions_of",
    "statements_json",
    "statements_of",
    "status_json",
    "status_of",
    "stoppages_json",
    "stoppages_on",
    "summarize",
    "timeline_json",
    "timeline_of",
]
