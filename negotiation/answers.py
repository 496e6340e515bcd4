"""The JSON answers of the query commands, read from the indexed tables when the store can keep them.

``Answers`` brings a store's read-model tables up to date (only what was
stored since their tracked position) and answers ``list``, ``status``,
``positions``, ``timeline``, ``stoppages``, ``diff`` and ``gap`` from them, so
that no query loads a whole history or the whole store: the documents the
tables hold are read as they are (``projections.persisted.indexed.IndexedReads``),
``diff`` is compared from the status and positions at both ends and the gaps
are folded from the negotiation's position events alone
(``negotiation.indexed.IndexedQueries``, the ``Queries`` seam over the tables,
which ``queries`` hands to the charts).
What the tables do not hold (``--version``) and any store whose tables cannot
be brought up to date (a read-only file, say) is answered by the pure folds
through the facade, with a one-line warning in ``notice`` for the latter;
tables of an older layout are rebuilt, with a one-line notice. Both paths give
the same documents (tests/projections/test_indexed.py,
tests/negotiation/test_indexed_queries.py).

A long-running reader (the HTTP service) makes one ``Answers(app, live=True)``
and shares it between threads: before each indexed answer it brings the tables
up to date again (``refresh``: only what was stored since their tracked
position; one read of the store's last position when nothing is new), and a
call whose tables cannot be brought up to date then is answered by the pure
folds, as the command line does. A live ``Answers`` takes a backlog in with
the projector alone; any other one (the command line's) takes a large one in
with a forked worker deriving rows beside it (``catch_up(bulk=True)``), which
a process with threads of its own must not do: such a process asks for a live one.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Final

from events.converter import SLUG_RE
from negotiation.core.errors import ConfigurationError, NegotiationNotFoundError, StoreError
from negotiation.indexed import IndexedQueries
from negotiation.store.logs import get_logger
from projections.answers import (
    catalog_json,
    diff_json,
    gaps_json,
    positions_json,
    status_json,
    stoppages_json,
    timeline_json,
)
from projections.persisted import ReadModelError, ReadModels
from projections.persisted.bulk import ImportTables, catch_up_in_bulk
from projections.status import When

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from negotiation.application import Negotiations
    from negotiation.importer import ImportReport
    from negotiation.queries import Queries

__all__ = ["OUTDATED", "Answers", "catch_up", "import_files"]

logger = get_logger("negotiation.answers")

Progress = Callable[[str, int], None]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


OUTDATED: Final = "notice: the read-model tables were of an older layout and have been rebuilt"


def import_files(
    app: Negotiations,
    paths: Sequence[str | Path],
    *,
    progress: Progress | None = None,
    min_events: int | None = None,
    **options: Any,
) -> tuple[ImportReport, str | None]:
    """``app.import_files`` with the tables brought up to date too; the report, and a notice for the user if any.

    The rows of the negotiations the import adds are derived in a second
    process while it checks them (``projections.persisted.bulk``); whatever
    that does not cover is caught up after the import. The first query after
    a large import is as fast as any other. ``min_events``: fewer event lines
    than this are caught up only (default ``bulk.MIN_EVENTS``); ``options`` go to ``app.import_files``.
    """
    notice: str | None = None
    tables = ImportTables.open(app, progress, min_events=min_events)
    try:
        if tables is not None and tables.outdated:
            notice = OUTDATED
        report = app.import_files(paths, progress=progress, observer=tables, **options)
        if report.stored and tables is not None:
            tables.finish(progress)
    finally:
        if tables is not None:
            tables.close()
    if report.stored:
        answers = Answers(app, progress=progress)
        notice = answers.notice or notice
        answers.close()
    return report, notice


def catch_up(models: ReadModels, progress: Progress | None = None, *, bulk: bool = False) -> int:
    """Take every stored event after the tracked position into the tables, a page at a time; how many.

    Each page on its own, so that a live service's other threads take their
    turn between pages. ``bulk``: a large backlog (a store imported without
    its tables, tables rebuilt) is first taken in with a worker process
    deriving rows beside this one (``bulk.catch_up_in_bulk``); only for a
    process without threads of its own, as it forks.
    """
    taken = catch_up_in_bulk(models, progress) if bulk else 0
    return taken + models.catch_up(progress=progress or _quiet)


def _quiet(stage: str, events: int) -> None:
    """No progress to show (pages are still taken in one at a time)."""


class Answers:
    """The query answers of one store: indexed when the tables are current, else pure (see the module)."""

    def __init__(self, app: Negotiations, *, progress: Progress | None = None, live: bool = False) -> None:
        self.app = app
        self.live = live
        """Whether each answer first brings the tables up to date again (``refresh``)."""
        self.notice: str | None = None
        """A one-line notice for the user (tables rebuilt, or answered without them), if any."""
        self._indexed: IndexedQueries | None = None
        """The tables as ``Queries`` (versions asked of the facade); their documents are ``_indexed.reads``."""
        self._models: ReadModels | None = None
        try:
            # A rebuild of tables of an older layout takes the events in as a catch-up from zero would.
            self._models = ReadModels(
                app, bulk=None if live else functools.partial(catch_up_in_bulk, progress=progress)
            )
        except (StoreError, ConfigurationError) as e:
            self._fallback(f"the read-model tables cannot be set up ({e})")
            return
        if self._models.outdated:
            self.notice = OUTDATED
        try:
            catch_up(self._models, progress, bulk=not live)
        except (StoreError, ReadModelError) as e:
            if not live:
                self._fallback(f"the read-model tables cannot be brought up to date ({e})")
                return
            # Live: another process may hold the write lock now; each answer tries again (``refresh``).
            logger.info("answers.catch_up_failed", reason=str(e))
        self._indexed = IndexedQueries(self._models.indexed(), fallback=app.queries, clock=_now)

    def _fallback(self, why: str) -> None:
        self.notice = f"warning: {why}; answering from the event log"
        logger.info("answers.pure_path", reason=why)
        self.close()

    def refresh(self) -> bool:
        """Bring the tables up to date again (only what is new since their tracked position); whether they can answer.

        Cheap when nothing is new: one read of the store's last position. Safe
        from several threads (the read models take one page at a time) and
        processes (each page counts once). ``False`` when there are no tables
        or they cannot be brought up to date now: answer from the event log.
        """
        models = self._models
        if models is None or self._indexed is None:
            return False
        try:
            if self.app.position() > models.local_position():
                catch_up(models)
        except (StoreError, ReadModelError) as e:
            logger.info("answers.refresh_failed", reason=str(e))
            return False
        return True

    def _current(self, negotiation: str | None = None) -> IndexedQueries | None:
        """The tables to answer from, brought up to date first when ``live``; ``None``: the pure path.

        An id that is not a slug cannot be stored: it is not found, without asking
        the tables (PostgreSQL refuses NUL characters in text), as the facade does.
        """
        if negotiation is not None and not SLUG_RE.fullmatch(negotiation):
            raise NegotiationNotFoundError(negotiation)
        indexed = self._indexed
        if indexed is None or not self.live or self.refresh():
            return indexed
        return None

    def queries(self, negotiation: str | None = None) -> Queries:
        """The ``Queries`` to ask: the tables' ``IndexedQueries``, else the facade's pure folds.

        The tables are brought up to date once, here, when ``live`` (see
        ``_current``): an answer of many questions (a chart) asks the object
        returned for all of them. Versions are asked of the facade's folds
        (``IndexedQueries.fallback``). ``negotiation``, if given, is checked
        first: an id that is not a slug is not found.
        """
        indexed = self._current(negotiation)
        return self.app.queries if indexed is None else indexed

    @property
    def indexed(self) -> bool:
        """Whether answers come from the tables."""
        return self._indexed is not None

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
        indexed = None if at_version is not None else self._current(negotiation)
        if indexed is None:
            return status_json(self.app.status(negotiation, as_of=as_of, known_at=known_at, at_version=at_version))
        return indexed.reads.status(negotiation, as_of=as_of, known_at=known_at, now=_now())

    def positions(
        self,
        negotiation: str,
        *,
        as_of: When | None = None,
        known_at: When | None = None,
        at_version: int | None = None,
    ) -> dict[str, Any]:
        """The spec's positions answer."""
        indexed = None if at_version is not None else self._current(negotiation)
        if indexed is None:
            return positions_json(
                self.app.positions(negotiation, as_of=as_of, known_at=known_at, at_version=at_version)
            )
        return indexed.reads.positions(negotiation, as_of=as_of, known_at=known_at, now=_now())

    def timeline(
        self, negotiation: str, *, start: When | None = None, end: When | None = None, known_at: When | None = None
    ) -> dict[str, Any]:
        """The timeline answer: the events that count in ``[start, end]``."""
        indexed = self._current(negotiation)
        if indexed is None:
            entries = self.app.timeline(negotiation, start=start, end=end, known_at=known_at)
            return timeline_json(entries, negotiation=negotiation)
        return indexed.reads.timeline(negotiation, start=start, end=end, known_at=known_at)

    def catalog(self, *, as_of: When | None = None, known_at: When | None = None) -> dict[str, Any]:
        """The ``list`` answer."""
        indexed = self._current()
        if indexed is None:
            return catalog_json(self.app.catalog(as_of=as_of, known_at=known_at))
        return indexed.reads.catalog(as_of=as_of, known_at=known_at, now=_now())

    def catalog_entries(self, *, as_of: When | None = None, known_at: When | None = None) -> Iterator[dict[str, Any]]:
        """The entries of the ``list`` answer, one at a time.

        From the tables as known now they are streamed (``IndexedReads.catalog_entries``):
        a large store's list is not held in memory.
        """
        indexed = self._current()
        if indexed is None:
            return iter(catalog_json(self.app.catalog(as_of=as_of, known_at=known_at))["negotiations"])
        return indexed.reads.catalog_entries(as_of=as_of, known_at=known_at, now=_now())

    def stoppages(self, *, on: When, known_at: When | None = None) -> dict[str, Any]:
        """The ``stoppages`` answer."""
        indexed = self._current()
        if indexed is None:
            return stoppages_json(self.app.stoppages(on=on, known_at=known_at), on=on)
        return indexed.reads.stoppages(on=on, known_at=known_at, now=_now())

    def diff(self, negotiation: str, *, start: When, end: When, known_at: When | None = None) -> dict[str, Any]:
        """The diff answer: the status and positions at both ends, compared (``projections.diff.diff_from``)."""
        return diff_json(self.queries(negotiation).diff(negotiation, start=start, end=end, known_at=known_at))

    def gaps(self, negotiation: str, *, as_of: When | None = None, known_at: When | None = None) -> dict[str, Any]:
        """The gap answer: each issue's union and employer numbers, folded from the position events that count there."""
        gaps = self.queries(negotiation).gaps(negotiation, as_of=as_of, known_at=known_at)
        return gaps_json(gaps, negotiation=negotiation)
