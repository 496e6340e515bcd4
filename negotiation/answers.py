"""The JSON answers of the query commands, read from the indexed tables when the store can keep them.

``Answers`` brings a store's read-model tables up to date (only what was
stored since their tracked position) and answers ``list``, ``status``,
``positions``, ``timeline`` and ``stoppages`` from them
(``projections.persisted.indexed``), so that no query loads a whole history or
the whole store. What the tables do not hold (``--version``, ``diff``) and
any store whose tables cannot be brought up to date (a read-only file, say)
is answered by the pure folds through the facade, with a one-line warning in
``notice``; tables of an older layout are rebuilt, with a one-line notice.
Both paths give the same documents (tests/projections/test_indexed.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from negotiation.core.errors import ConfigurationError, StoreError
from negotiation.store.logs import get_logger
from projections.answers import catalog_json, diff_json, positions_json, status_json, stoppages_json, timeline_json
from projections.persisted import ReadModels
from projections.status import When

if TYPE_CHECKING:
    from negotiation.application import Negotiations
    from projections.persisted.indexed import IndexedReads

__all__ = ["Answers", "catch_up"]

logger = get_logger("negotiation.answers")

Progress = Callable[[str, int], None]

PROGRESS_STAGE: Final = "updating read models"
_PAGE: Final = 2000


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def catch_up(models: ReadModels, progress: Progress | None = None) -> int:
    """Take every stored event after the tracked position into the tables, a page at a time; how many."""
    done = 0
    while True:
        taken = models.catch_up(limit=_PAGE)
        done += taken
        if progress is not None and taken:
            progress(PROGRESS_STAGE, taken)
        if taken < _PAGE:
            return done


class Answers:
    """The query answers of one store: indexed when the tables are current, else pure (see the module)."""

    def __init__(self, app: Negotiations, *, progress: Progress | None = None) -> None:
        self.app = app
        self.notice: str | None = None
        """A one-line notice for the user (tables rebuilt, or answered without them), if any."""
        self._reads: IndexedReads | None = None
        self._models: ReadModels | None = None
        try:
            self._models = ReadModels(app)
        except (StoreError, ConfigurationError) as e:
            self._fallback(f"the read-model tables cannot be set up ({e})")
            return
        if self._models.outdated:
            self.notice = "notice: the read-model tables were of an older layout and have been rebuilt"
        try:
            catch_up(self._models, progress)
        except StoreError as e:
            self._fallback(f"the read-model tables cannot be brought up to date ({e})")
            return
        self._reads = self._models.indexed()

    def _fallback(self, why: str) -> None:
        self.notice = f"warning: {why}; answering from the event log"
        logger.info("answers.pure_path", reason=why)
        self.close()

    @property
    def indexed(self) -> bool:
        """Whether answers come from the tables."""
        return self._reads is not None

    def close(self) -> None:
        """Release the read models (not the facade)."""
        if self._models is not None:
            self._models.close()
            self._models = None

    def status(
        self,
        negotiation: str,
        *,
        as_of: When | None = None,
        known_at: When | None = None,
        at_version: int | None = None,
    ) -> dict[str, Any]:
        """The spec's status answer."""
        if self._reads is None or at_version is not None:
            return status_json(self.app.status(negotiation, as_of=as_of, known_at=known_at, at_version=at_version))
        return self._reads.status(negotiation, as_of=as_of, known_at=known_at, now=_now())

    def positions(
        self,
        negotiation: str,
        *,
        as_of: When | None = None,
        known_at: When | None = None,
        at_version: int | None = None,
    ) -> dict[str, Any]:
        """The spec's positions answer."""
        if self._reads is None or at_version is not None:
            return positions_json(
                self.app.positions(negotiation, as_of=as_of, known_at=known_at, at_version=at_version)
            )
        return self._reads.positions(negotiation, as_of=as_of, known_at=known_at, now=_now())

    def timeline(
        self, negotiation: str, *, start: When | None = None, end: When | None = None, known_at: When | None = None
    ) -> dict[str, Any]:
        """The timeline answer: the events that count in ``[start, end]``."""
        if self._reads is None:
            entries = self.app.timeline(negotiation, start=start, end=end, known_at=known_at)
            return timeline_json(entries, negotiation=negotiation)
        return self._reads.timeline(negotiation, start=start, end=end, known_at=known_at)

    def catalog(self, *, as_of: When | None = None, known_at: When | None = None) -> dict[str, Any]:
        """The ``list`` answer."""
        if self._reads is None:
            return catalog_json(self.app.catalog(as_of=as_of, known_at=known_at))
        return self._reads.catalog(as_of=as_of, known_at=known_at, now=_now())

    def stoppages(self, *, on: When, known_at: When | None = None) -> dict[str, Any]:
        """The ``stoppages`` answer."""
        if self._reads is None:
            return stoppages_json(self.app.stoppages(on=on, known_at=known_at), on=on)
        return self._reads.stoppages(on=on, known_at=known_at, now=_now())

    def diff(self, negotiation: str, *, start: When, end: When, known_at: When | None = None) -> dict[str, Any]:
        """The diff answer (from the pure folds of the one negotiation)."""
        return diff_json(self.app.diff(negotiation, start=start, end=end, known_at=known_at))
