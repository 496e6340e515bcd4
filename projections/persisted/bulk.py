"""The read-model rows of an import's new negotiations, derived in a second process while it checks them.

An import checks every line before it stores any (all or nothing), then
stores them in a few large transactions; bringing the tables up to date
afterwards decoded and folded every event again, in the same process: the
import with its tables took twice as long as the import alone. ``ImportTables``
is the importer's observer (``negotiation.importer.ImportObserver``). While
the importer checks, a worker process checks some of the negotiations new to
the store itself (``check_elsewhere``: the importer's own ``check_new``) and
derives their rows in the same pass (``runner.derive_new``: the projector's
own steps), into a spool file; the importer checks the others meanwhile, and
takes every outcome in the input's order. The rows of the negotiations the
importer checked are derived by the worker once the checks are over, while
the importer stores (their lines wait in a file, not in memory). Once the
events are stored, ``finish`` writes the rows a page per transaction, with
the tracking record of the page's last event, and derives itself whatever
the worker has not started yet, so that both processors stay busy.

Exactness does not depend on any of this: a page is written only if its
events are exactly the ones after the tracked position
(``Projector.write_derived``). A negotiation that already had stored events
(its rows need its history), or one longer than ``MAX_DERIVED``, is taken in
by the projector itself at its place in the stored order; anything else
(another writer's events in between, another projector first, a failure of
the worker or of its spool file, an import retried after a conflict) ends the
derived pages there, and the ordinary catch-up that follows takes in the rest.
Nothing here can fail the import itself. Small imports use no worker
(``MIN_EVENTS``).

``catch_up_in_bulk`` does the same for a large backlog of events already
stored (a store imported without its tables, tables rebuilt for a new
layout): each stored run of a negotiation's events from its first one is
derived in the worker while the others are read, with the same checks on
the positions when the pages are written.
"""

from __future__ import annotations

import array
import concurrent.futures
import contextlib
import ctypes
import functools
import multiprocessing
import os
import pickle
import signal
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import attrs
from eventsourcing.persistence import PersistenceError, StoredEvent

from events.errors import NegotiationError
from negotiation.store.collector import fewer_full_collections
from negotiation.store.logs import get_logger
from projections.persisted.models import ANALYZE_AFTER, PROGRESS_STAGE, BulkTarget, Progress, ReadModels
from projections.persisted.runner import Derived, derive_new

if TYPE_CHECKING:
    from types import TracebackType
    from typing import Self

    from negotiation.application import Negotiations
    from negotiation.store.eventstore import EventStore

__all__ = ["MAX_DERIVED", "MIN_EVENTS", "PAGE_EVENTS", "ImportTables", "catch_up_in_bulk"]

logger = get_logger("projections.persisted")

MIN_EVENTS: Final = 20_000
"""Below this many event lines the catch-up after the import costs less than starting a worker process."""
PAGE_EVENTS: Final = 10_000
"""Events whose rows are written in one transaction: the import's own chunk size (fewer commits than the
catch-up's pages, whose size bounds how long a reader waits for a following projector)."""
MAX_DERIVED: Final = 10_000
"""A longer negotiation is taken in by the projector itself (see ``ImportTables.checked``)."""
_BATCH_EVENTS: Final = 2_000
"""Events handed to the worker at a time."""
_IN_FLIGHT: Final = 8
"""Batches handed over and not yet derived, at most: the lines waiting for the worker stay bounded."""
_CHECK_EVENTS: Final = 1_000
"""Event lines handed to the worker at a time to be checked (``ImportTables.check_elsewhere``)."""
_CHECKS_AHEAD: Final = 2
"""Such batches handed over and not yet done, at most: the importer waits for them in order."""

_START: Final = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"


_PR_SET_PDEATHSIG: Final = 1
"""``prctl``'s option: the signal the calling process gets when its parent dies (Linux)."""


def _die_with_parent(parent: int) -> None:
    """In the worker: be killed when the importing process dies, ``kill -9`` included (Linux), not wait on."""
    if sys.platform == "linux":
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # it died before that
        os._exit(0)


_Lines = bytes | tuple[int, int]
"""A negotiation's lines, one per event: in memory, or (offset, size) in the lines file (see ``_flush``)."""


def _derive_batch(
    path: str, batch: Sequence[tuple[str, _Lines]], keep_lines: bool = True, lines_path: str | None = None
) -> list[tuple[int, int] | None]:
    """In the worker: each negotiation's ``Derived``, pickled and appended to ``path``; (offset, size) each.

    ``None`` for a negotiation that could not be derived (the pages end before it).
    """
    found: list[tuple[int, int] | None] = []
    with Path(path).open("ab") as spool, _opened(lines_path) as saved:
        for negotiation, lines in batch:
            if isinstance(lines, tuple):
                assert saved is not None  # noqa: S101 - a location comes with its file
                saved.seek(lines[0])
                found.append(_derive_one(spool, negotiation, saved.read(lines[1]), keep_lines))
            else:
                found.append(_derive_one(spool, negotiation, lines, keep_lines))
    return found


def _opened(path: str | None) -> Any:
    return contextlib.nullcontext() if path is None else Path(path).open("rb")


def _derive_one(
    spool: Any, negotiation: str, lines: bytes, keep_lines: bool, events: Sequence[Any] | None = None
) -> tuple[int, int] | None:
    try:
        # One line per event: JSON has no raw newline.
        derived = derive_new(negotiation, lines.split(b"\n"), keep_lines=keep_lines, events=events)
        data = pickle.dumps(derived, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # noqa: BLE001 - whatever it is, the catch-up meets it again and reports it
        return None
    offset = spool.tell()
    spool.write(data)
    return offset, len(data)


_Entries = Sequence[tuple[str, int, bytes]]
_Check = Callable[[str, _Entries], Any]


def _check_and_derive(
    path: str, batch: Sequence[tuple[str, _Entries]], check: _Check, keep_lines: bool = True
) -> list[tuple[Any, tuple[int, int] | None]]:
    """In the worker (or here): check each new negotiation's lines, then derive the rows of what it accepts.

    Each line is parsed once for both, in one process, while the importer
    checks other negotiations. (outcome without its lines, where its
    ``Derived`` is) each; (``None``, ``None``) for one that could not be
    checked: the importer checks it again itself.
    """
    found: list[tuple[Any, tuple[int, int] | None]] = []
    with Path(path).open("ab") as spool:
        for negotiation, entries in batch:
            try:
                outcome = check(negotiation, entries)
            except Exception:  # noqa: BLE001 - the importer checks it again, and meets whatever it was
                found.append((None, None))
                continue
            lines, events = outcome.lines, outcome.events
            derived = _derive_one(spool, negotiation, lines, keep_lines, events) if outcome.accepted and lines else None
            found.append((attrs.evolve(outcome, lines=None, events=None), derived))
    return found


@attrs.define(eq=False)
class _Checks:
    """New negotiations handed to the worker to be checked and derived together (``ImportTables.check_elsewhere``)."""

    items: list[tuple[str, _Entries]] | None
    check: _Check
    events: int = 0
    future: concurrent.futures.Future[list[tuple[Any, tuple[int, int] | None]]] | None = None
    found: list[tuple[Any, tuple[int, int] | None]] | None = None
    """Once done: (outcome, where its ``Derived`` is) each."""
    here: bool = False
    """Done in this process (into the second spool file), not by the worker."""

    def started(self) -> bool:
        return self.future is not None or self.found is not None

    def done(self) -> bool:
        return self.found is not None or (self.future is not None and self.future.done())

    def __repr__(self) -> str:  # not the entries
        return f"_Checks(events={self.events}, started={self.started()}, done={self.done()})"


@attrs.define(eq=False)
class _Ticket:
    """One negotiation of a ``_Checks`` (the importer's ``Ticket``)."""

    tables: ImportTables
    checks: _Checks
    index: int
    entries: _Entries

    def ready(self) -> bool:
        return self.checks.done()

    def outcome(self) -> Any:
        """Its outcome; raises ``_NotWrittenError`` when it could not be checked (the importer checks it)."""
        found = self.tables._checked_by(self.checks)[self.index][0]
        if found is None:
            raise _NotWrittenError("not checked by the worker")
        return found

    def derived(self) -> tuple[int, tuple[int, int] | None]:
        """Which spool file holds its ``Derived`` (0: the worker's), and where (``None``: not derived)."""
        return (1 if self.checks.here else 0), self.tables._checked_by(self.checks)[self.index][1]


@attrs.define
class _Batch:
    """Negotiations handed over together, and where their derivations are once made."""

    items: list[tuple[str, _Lines]] | None
    """(negotiation, its lines) of each one to derive, until derived."""
    names: list[tuple[str, int]]
    """(negotiation, events) each."""
    future: concurrent.futures.Future[list[tuple[int, int] | None]] | None = None
    local: list[tuple[int, int] | None] | None = None
    """Set when derived in this process instead (into the second spool file)."""
    preset: dict[int, tuple[int, tuple[int, int] | None]] = attrs.field(factory=dict)
    """Of ``names``' indexes, those derived already, with the checks (``_Ticket.derived``): not in ``items``."""

    caught_up: bool = False
    """A negotiation whose rows the projector takes in itself (see ``ImportTables.checked``)."""

    def release(self, _: object) -> None:
        """The worker is done with the lines (derived, or failed: the pages end there either way)."""
        self.items = None

    def waiting(self) -> bool:
        """Not handed to the worker yet, nor derived here (see ``ImportTables._pump``)."""
        return self.items is not None and self.future is None and self.local is None

    def ready(self) -> bool:
        """Whether its derivations can be read without waiting (a caught-up batch has none to wait for)."""
        if self.caught_up or self.local is not None:
            return True
        if self.future is None:
            return self.items is None  # nothing left to derive: all preset
        return self.future.done()


class ImportTables:
    """An import's observer that derives the rows of the negotiations it adds (see the module).

    Use ``ImportTables.open(app)`` (``None`` when the store has no tables
    that can be kept up to date), pass it as ``observer`` to
    ``Negotiations.import_files``, call ``finish`` once the import returned,
    then ``close`` (or use it as a context manager).
    """

    def __init__(self, models: BulkTarget, *, min_events: int | None = None, page_size: int = PAGE_EVENTS) -> None:
        self.models = models
        self.min_events = MIN_EVENTS if min_events is None else min_events
        self.page_size = page_size
        self._keep_lines = models.keeps_lines
        self._dir = tempfile.TemporaryDirectory(prefix="negotiation-rows-")
        self._paths = (str(Path(self._dir.name, "worker")), str(Path(self._dir.name, "here")))
        self._lines_path = str(Path(self._dir.name, "lines"))
        self._lines: Any = None
        """The lines file (``_flush``), opened at the first batch that waits."""
        self._checks: list[_Checks] = []
        """Handed to the worker, or done here, and not taken by the importer yet: the last one may be open."""
        self._deferring = False
        """Whether the importer is checking, with the worker's help (``check_elsewhere``): the batches to derive
        wait, in the lines file, for the checks to end (``_pump``)."""
        self._preset: dict[int, tuple[int, tuple[int, int] | None]] = {}
        self._executor: concurrent.futures.ProcessPoolExecutor | None = None
        self._batches: list[_Batch] = []
        self._pending: list[tuple[str, _Lines]] = []
        self._names: list[tuple[str, int]] = []
        self._pending_events = 0
        self._positions: array.array[int] = array.array("q")
        self._runs: list[list[Any]] = []
        """[negotiation, events] of the stored records, in commit order, consecutive ones of a negotiation joined."""
        self._passes = 0
        self._order: Iterator[Derived | int | None] | None = None
        """The derivations being written (``_in_order``), from the first ``write_ready`` or ``finish`` on."""
        self._finishing = False
        self._ended = False
        self._page: list[Derived] = []
        self._page_events = 0
        self._start = 0
        """The first event of the page being gathered, among the stored ones."""
        self.active = False
        """Whether rows are being derived for this import (else the catch-up takes it all in)."""
        self.taken = 0
        """Events ``finish`` took into the tables (``derived`` of them from derived rows)."""
        self.derived = 0
        """Events whose derived rows ``finish`` wrote."""

    @classmethod
    def open(cls, app: Negotiations, progress: Progress | None = None, **kwargs: Any) -> ImportTables | None:
        """For ``app``'s store, its tables brought up to date first; ``None`` when that cannot be done.

        The caller's catch-up after the import then says why (or answers from the event log).
        """
        try:
            models = ReadModels(app, bulk=functools.partial(catch_up_in_bulk, progress=progress))
        except NegotiationError as e:  # a StoreError, a ConfigurationError
            logger.info("read_models.bulk_unavailable", reason=str(e))
            return None
        try:
            catch_up_in_bulk(models, progress)
            models.catch_up(progress=progress)
        except NegotiationError as e:  # a StoreError, a ReadModelError
            logger.info("read_models.bulk_unavailable", reason=str(e))
            models.close()
            return None
        tables = cls(models, **kwargs)
        tables.outdated = models.outdated
        return tables

    outdated = False
    """Whether the tables were of an older layout when opened (they were rebuilt)."""

    # --- the importer's observer ------------------------------------------------------

    def begin(self, lines: int) -> None:
        """A checking pass: derive only in the first (a second means the import met another writer)."""
        self._passes += 1
        self.active = self._passes == 1 and lines >= self.min_events
        if not self.active:
            self._stop()

    def wants(self, base: int, events: int) -> bool:
        """The lines of a negotiation new to the store and at most ``MAX_DERIVED`` events long (see ``checked``)."""
        return self.active and base == 0 and events <= MAX_DERIVED

    def check_elsewhere(self, negotiation: str, entries: _Entries, check: _Check) -> _Ticket | None:
        """Have the worker check a new negotiation and derive its rows in one go; ``None``: not now.

        Checking costs the import more than deriving does, so while the
        importer checks, the worker checks some of the new negotiations
        itself, at most ``_CHECKS_AHEAD`` batches ahead of it (the importer
        checks the others meanwhile); the negotiations the importer checked
        wait to be derived until it stores (``_deferring``).
        """
        if not self.active or len(entries) > MAX_DERIVED:
            return None
        if self._worker() is None:  # the import goes on; its events are taken in by the catch-up after it
            self.active = False
            self._stop()
            return None
        checks = self._checks[-1] if self._checks and not self._checks[-1].started() else None
        if checks is None:
            if sum(not c.done() for c in self._checks) >= _CHECKS_AHEAD:
                return None
            checks = _Checks(items=[], check=check)
            self._checks.append(checks)
        self._deferring = True
        assert checks.items is not None  # noqa: S101 - not started
        ticket = _Ticket(tables=self, checks=checks, index=len(checks.items), entries=entries)
        checks.items.append((negotiation, entries))
        checks.events += len(entries)
        if checks.events >= _CHECK_EVENTS or not any(c.started() and not c.done() for c in self._checks):
            self._start_checks(checks)
        return ticket

    def _start_checks(self, checks: _Checks) -> None:
        """Hand ``checks`` to the worker; done here when it cannot be."""
        executor = self._worker()
        try:
            if executor is not None and checks.items is not None:
                args = (self._paths[0], checks.items, checks.check, self._keep_lines)
                checks.future = executor.submit(_check_and_derive, *args)
        except RuntimeError:  # a broken pool
            checks.future = None
        if checks.future is None:
            self._check_here(checks)

    def _check_here(self, checks: _Checks) -> None:
        assert checks.items is not None  # noqa: S101 - not started, or cancelled
        checks.found = _check_and_derive(self._paths[1], checks.items, checks.check, self._keep_lines)
        checks.items, checks.here = None, True

    def _checked_by(self, checks: _Checks) -> list[tuple[Any, tuple[int, int] | None]]:
        """The outcomes of ``checks``, done here if the worker has not started them; meanwhile, later ones."""
        if checks.found is not None:
            return checks.found
        if checks.future is None or checks.future.cancel():
            self._check_here(checks)
            assert checks.found is not None  # noqa: S101 - just set
            return checks.found
        while not checks.future.done():  # running: do the last ones not started here meanwhile
            spare = next((c for c in reversed(self._checks) if c is not checks and not c.done()), None)
            if spare is None or (spare.future is not None and not spare.future.cancel()):
                break
            self._check_here(spare)
        try:
            checks.found = checks.future.result()
        except Exception:  # noqa: BLE001 - the worker died (BrokenProcessPool): the importer checks them itself
            checks.found = [(None, None)] * len(checks.items or ())
        checks.items = None
        return checks.found

    def checked(self, negotiation: str, base: int, events: int, lines: bytes | None, ticket: Any = None) -> None:
        """Hand a negotiation new to the store to the worker (its ``lines``, one per event).

        One that already had stored events (its rows need its history) or that is
        longer than ``MAX_DERIVED`` (its rows would be one large transaction, and
        its derivation hold its whole history twice) is taken in by the projector
        itself, page by page, when ``finish`` comes to it: its lines are not asked for.
        One checked by ``check_elsewhere`` (its ``ticket``) is derived already.
        """
        if not self.active:
            return
        if ticket is not None:
            assert isinstance(ticket, _Ticket)  # noqa: S101 - the importer hands back what check_elsewhere gave
            self._checks = [c for c in self._checks if not c.done()]
            self._preset[len(self._names)] = ticket.derived()
            self._names.append((negotiation, events))
            self._pending_events += events
        elif lines is None:
            self._flush()
            self._batches.append(_Batch(items=None, names=[(negotiation, events)], caught_up=True))
            return
        else:
            if self._deferring:
                # It waits for the checks to end: in the lines file, not in memory.
                if self._lines is None:
                    self._lines = Path(self._lines_path).open("a+b")  # noqa: SIM115 - closed by release()
                offset = self._lines.tell()
                self._lines.write(lines)
                self._pending.append((negotiation, (offset, len(lines))))
            else:
                self._pending.append((negotiation, lines))
            self._names.append((negotiation, events))
            self._pending_events += events
        if self._pending_events >= _BATCH_EVENTS:
            self._flush()

    def stored(self, records: Sequence[StoredEvent], positions: Sequence[int]) -> None:
        """Note the commit positions of a stored chunk, and whose events they are."""
        self._stored([str(record.originator_id) for record in records], positions)

    def _stored(self, negotiations: Sequence[str], positions: Sequence[int]) -> None:
        """``stored``, told each event's negotiation."""
        if not self.active:
            return
        if self._deferring:  # the checks are over: the worker derives what waited
            self._deferring = False
            self._flush()
        self._pump()
        if len(positions) != len(negotiations):
            self.active = False
            return
        self._positions.extend(positions)
        runs = self._runs
        for negotiation in negotiations:
            if runs and runs[-1][0] == negotiation:
                runs[-1][1] += 1
            else:
                runs.append([negotiation, 1])

    # --- the worker ----------------------------------------------------------------------

    def _flush(self) -> None:
        if not self._names:
            return
        items = self._pending
        batch = _Batch(items=items or None, names=self._names, preset=self._preset)
        self._pending, self._names, self._pending_events, self._preset = [], [], 0, {}
        self._batches.append(batch)
        if batch.items is None or self._deferring:
            return  # nothing to derive; or it waits (``_pump``)
        if self._ahead() >= _IN_FLIGHT:
            # The worker is behind: this batch is derived here, so that the lines waiting stay bounded
            # and both processors stay busy.
            self._derive_here(batch)
            return
        self._submit(batch)

    def _worker(self) -> concurrent.futures.ProcessPoolExecutor | None:
        """The worker process, started at the first batch; ``None`` when it cannot be (the caller does it here)."""
        if self._executor is None:
            try:
                # fork: the worker starts at once with the library loaded, and runs no module ``__main__`` again
                # (spawn would, and an embedding script without ``if __name__ == "__main__"`` would start over).
                # It only checks, folds, pickles and appends to its file: no lock a thread of this process may hold.
                context = multiprocessing.get_context(_START)
                self._executor = concurrent.futures.ProcessPoolExecutor(
                    max_workers=1, mp_context=context, initializer=_die_with_parent, initargs=(os.getpid(),)
                )
            except (OSError, RuntimeError) as e:
                logger.info("read_models.bulk_unavailable", reason=str(e) or type(e).__name__)
                return None
        return self._executor

    def _submit(self, batch: _Batch) -> None:
        executor = self._worker()
        try:
            if executor is not None and batch.items is not None:
                args = (self._paths[0], batch.items, self._keep_lines, self._saved())
                batch.future = executor.submit(_derive_batch, *args)
        except (OSError, RuntimeError) as e:  # a full disk, a broken pool (BrokenProcessPool is a RuntimeError)
            logger.info("read_models.bulk_unavailable", reason=str(e) or type(e).__name__)
        if batch.future is None:
            # The import goes on; its events are taken in by the catch-up after it.
            self.active = False
            self._stop()
            return
        batch.future.add_done_callback(batch.release)

    def _derive_here(self, batch: _Batch) -> None:
        assert batch.items is not None  # noqa: S101 - waiting
        batch.local, batch.items = _derive_batch(self._paths[1], batch.items, self._keep_lines, self._saved()), None

    def _saved(self) -> str | None:
        """The lines file, written out for the worker to read; ``None`` when nothing waited in it."""
        if self._lines is None:
            return None
        self._lines.flush()
        return self._lines_path

    def _ahead(self) -> int:
        """Batches handed to the worker and not derived yet."""
        return sum(1 for b in self._batches if b.future is not None and not b.future.done())

    def _pump(self) -> None:
        """Hand the batches that waited to the worker, keeping at most ``_IN_FLIGHT`` of them ahead."""
        if self._deferring or not self.active:
            return
        ahead = self._ahead()
        for batch in self._batches:
            if ahead >= _IN_FLIGHT:
                return
            if batch.waiting():
                self._submit(batch)
                ahead += 1

    def _stop(self) -> None:
        for batch in self._batches:
            if batch.future is not None:
                batch.future.cancel()
        for checks in self._checks:
            if checks.future is not None:
                checks.future.cancel()
        self._checks.clear()
        self._batches.clear()
        self._pending.clear()
        self._names.clear()
        self._preset = {}
        self._pending_events = 0
        self._deferring = False
        self._positions = array.array("q")
        self._runs.clear()

    # --- writing --------------------------------------------------------------------------

    def finish(self, progress: Progress | None = None) -> int:
        """Write the derived rows of the stored events, a page per transaction; how many events they cover.

        They end at the first event that cannot be written this way (see the
        module); the catch-up takes in the rest. While the worker derives the
        first batches, this process derives the last ones not started yet.
        """
        if not self.active and self._order is None:
            return 0
        try:
            if self.active:
                self._deferring = False
                self._flush()
                self._pump()
                self._finishing = True
                with fewer_full_collections():
                    self._write_pages(progress)
        finally:
            self._end()
        if self.taken >= ANALYZE_AFTER:
            self.models.analyze()
        return self.taken

    def write_ready(self, progress: Progress | None = None) -> None:
        """Write the pages whose rows are derived by now, without waiting (the rest: ``finish``).

        For a caller that stores nothing more meanwhile (a catch-up of stored
        events, ``catch_up_in_bulk``): the pages are written while the worker
        derives the next ones, so that both processors stay busy.
        """
        if self.active:
            self._write_pages(progress)

    def _write_pages(self, progress: Progress | None) -> None:
        """Write the pages in order, as far as derived (all of them once finishing)."""
        if self._order is None:
            self._order = self._in_order()
        try:
            for derived in self._order:
                if derived is None:  # the next one is not derived yet
                    return
                if isinstance(derived, int):  # that many events for the projector itself
                    self._write_page(progress)
                    self._catch_up(self._start, derived, progress)
                    self._start += derived
                    continue
                self._page.append(derived)
                self._page_events += derived.events
                if self._page_events >= self.page_size:
                    self._write_page(progress)
            self._write_page(progress)
        except (_NotWrittenError, OSError, pickle.UnpicklingError, EOFError) as e:
            # Whatever stops the derived pages (a spool file unreadable, say), the catch-up takes in the rest.
            logger.info("read_models.bulk_ended", reason=str(e) or type(e).__name__, taken=self.taken)
            self._end_pages(progress)
        except BaseException:
            self._end_pages(progress)
            raise

    def _write_page(self, progress: Progress | None) -> None:
        """Write the page gathered so far, if any."""
        if self._page:
            page, events = self._page, self._page_events
            self._page, self._page_events = [], 0  # not written again if this fails
            self._write(page, self._start, events, progress)
            self._start += events

    def _end_pages(self, progress: Progress | None) -> None:
        """The pages end here: what was derived before the end is written too, and nothing more is derived."""
        self.active = False
        self._order = iter(())
        try:
            self._write_page(progress)
        except _NotWrittenError as e:
            logger.info("read_models.bulk_ended", reason=str(e), taken=self.taken)

    def _end(self) -> None:
        """Undo what the writes set on the store's connection, once.

        By ``finish``; or by ``release``, when ``write_ready`` wrote pages and
        something stopped the caller before it came to ``finish``.
        """
        if self._order is not None and not self._ended:
            self._ended = True
            self.models.end_bulk()

    def _in_order(self) -> Iterator[Derived | int | None]:
        """The derivations of the stored negotiations, in the order they were stored; until one is missing.

        For a negotiation the projector takes in itself: how many events it
        stored. ``None`` while the next batch is not derived yet (before ``finish``:
        then the batches are waited for, and the generator ends after the last one).
        """
        runs = iter(self._runs)
        run: list[Any] | None = None
        index = 0
        with Path(self._paths[0]).open("a+b") as theirs, Path(self._paths[1]).open("a+b") as ours:
            while True:
                batches = self._batches
                if index >= len(batches) or not (self._finishing or batches[index].ready()):
                    if self._finishing and index >= len(batches):
                        return
                    yield None
                    continue
                batch = batches[index]
                if batch.caught_up:
                    ((negotiation, events),) = batch.names
                    run = self._follow(run, runs, negotiation, events)
                    index += 1
                    yield events
                    continue
                made = iter(self._wait(index) if len(batch.preset) < len(batch.names) else ())
                for i, (negotiation, events) in enumerate(batch.names):
                    if i in batch.preset:
                        where, found = batch.preset[i]
                    else:
                        where, found = (1 if batch.local is not None else 0), next(made)
                    if found is None:
                        raise _NotWrittenError(f"{negotiation}: its rows could not be derived")
                    run = self._follow(run, runs, negotiation, events)
                    spool = ours if where else theirs
                    spool.seek(found[0])
                    yield pickle.loads(spool.read(found[1]))  # noqa: S301 - our own file, just written
                index += 1

    @staticmethod
    def _follow(run: list[Any] | None, runs: Iterator[list[Any]], negotiation: str, events: int) -> list[Any]:
        """The stored records' run after ``negotiation``'s ``events`` (they must be the next ones stored)."""
        if run is None or run[1] == 0:
            run = next(runs, None)
        if run is None or run[0] != negotiation or run[1] < events:
            raise _NotWrittenError(f"{negotiation}: not stored as checked")
        run[1] -= events
        return run

    def _catch_up(self, start: int, events: int, progress: Progress | None) -> None:
        """Let the projector take in the next ``events`` stored events (one negotiation's), page by page."""
        expected = self._positions[start + events - 1]
        try:
            self.models.catch_up(limit=events, progress=progress)
            position = self.models.position()
        except NegotiationError as e:
            raise _NotWrittenError(str(e)) from None
        if position != expected:
            raise _NotWrittenError(f"the projector reached position {position}, not {expected}")
        self.taken += events

    def _wait(self, index: int) -> list[tuple[int, int] | None]:
        """Where batch ``index``'s derivations are; meanwhile derive the last batches the worker has not started."""
        self._pump()
        batches = self._batches
        batch = batches[index]
        while not batch.ready():
            spare = next((b for b in reversed(batches[index + 1 :]) if b.local is None and b.items is not None), None)
            if spare is None or not self._take_back(spare):
                break
        if batch.local is not None or self._take_back(batch):
            assert batch.local is not None  # noqa: S101 - for the type checker
            return batch.local
        assert batch.future is not None  # noqa: S101 - else it was taken back
        try:
            return batch.future.result()
        except Exception as e:  # noqa: BLE001 - the worker died (BrokenProcessPool), say
            raise _NotWrittenError(f"the worker failed: {e}") from None

    def _take_back(self, batch: _Batch) -> bool:
        """Derive ``batch`` here if the worker has not started it; whether it was."""
        items = batch.items  # before cancelling: that calls ``release``
        if items is None or (batch.future is not None and not batch.future.cancel()):
            return False
        batch.items = items
        self._derive_here(batch)
        return True

    def _write(self, page: list[Derived], start: int, events: int, progress: Progress | None) -> None:
        try:
            self.models.write_derived(page, self._positions[start : start + events])
        except (ValueError, NegotiationError) as e:
            raise _NotWrittenError(str(e)) from None
        self.taken += events
        self.derived += events
        if progress is not None:
            progress(PROGRESS_STAGE, events)

    def close(self) -> None:
        """Stop the worker, remove the spool files, close the read models."""
        self.release()
        self.models.close()

    def release(self) -> None:
        """Stop the worker and remove the spool files; the read models stay open (``close`` closes them too)."""
        self._end()
        self._stop()
        if self._lines is not None:
            self._lines.close()
            self._lines = None
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
        self._dir.cleanup()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def catch_up_in_bulk(
    models: BulkTarget, progress: Progress | None = None, *, min_events: int | None = None, page_size: int = PAGE_EVENTS
) -> int:
    """Take a backlog of at least ``min_events`` stored events in, new negotiations' rows derived by a worker.

    The projector takes the first page in (tables that cannot be written say
    so there, before anything is derived); the stored events after it are
    read in commit order; each run of one negotiation's consecutive events
    that starts at its first event (and is at most ``MAX_DERIVED`` long) is
    derived as an import's new negotiations are, by the worker or, when it is
    behind, here; every other run is taken in by the projector at its place. The pages are then written
    as an import's are (``ImportTables.finish``), and they end at the first
    one that cannot be: another writer, a line of an older schema, anything.
    Returns how many events were taken in; the caller's ``models.catch_up``
    takes in the rest. ``page_size``: events read, and written, per
    transaction. Not for a process with threads of its own that may hold
    locks (the worker is forked): the command line, not the service.
    """
    with fewer_full_collections():  # the worker forked inside keeps the setting too
        return _catch_up_in_bulk(models, progress, MIN_EVENTS if min_events is None else min_events, page_size)


def _catch_up_in_bulk(models: BulkTarget, progress: Progress | None, wanted: int, page_size: int) -> int:
    store = models.store
    after = models.position()
    try:
        backlog = store.max_position() - after
    except PersistenceError as e:  # the catch-up that follows meets it again, and says what it is
        logger.info("read_models.bulk_unavailable", reason=str(e) or type(e).__name__)
        return 0
    if backlog < wanted:
        return 0
    # The first page by the projector: tables that cannot be written (a read-only store) say so now, as the
    # ordinary catch-up would, not once the whole backlog has been derived.
    first = models.catch_up(limit=models.page_size, progress=progress)
    after = models.position()
    try:
        tables = ImportTables(models, min_events=0, page_size=page_size)  # the backlog is large: decided above
    except OSError as e:  # no spool directory (a full or read-only temporary folder): the catch-up does it all
        logger.info("read_models.bulk_unavailable", reason=str(e) or type(e).__name__)
        return first
    try:
        tables.begin(backlog)
        _hand_over_stored(tables, store, after, page_size, progress)
        return first + tables.finish(progress)
    except (PersistenceError, OSError) as e:  # reading the store, the spool: the catch-up takes in the rest
        logger.info("read_models.bulk_unavailable", reason=str(e) or type(e).__name__)
        return first + tables.taken
    finally:
        tables.release()  # the caller's read models stay open


def _hand_over_stored(
    tables: ImportTables, store: EventStore, after: int, page_size: int, progress: Progress | None
) -> None:
    """Tell ``tables`` of the stored events after ``after``, as an import's checking and storing would.

    After each page read, the pages derived by then are written (``ImportTables.write_ready``).
    """
    run: list[Any] = []  # [negotiation, first version, next version, lines]

    def hand_over() -> None:
        negotiation, first, following, lines = run
        base, events = first - 1, following - first
        tables.checked(negotiation, base, events, b"\n".join(lines) if tables.wants(base, events) else None)

    while tables.active and (page := store.stored_rows(after=after, limit=page_size)):
        tables._stored([row[1] for row in page], [row[0] for row in page])
        for _, negotiation, version, state in page:
            if run and run[0] == negotiation and run[2] == version:
                run[2] += 1
                run[3].append(state)
                continue
            if run:
                hand_over()
            run[:] = [negotiation, version, version + 1, [state]]
        after = page[-1][0]
        tables.write_ready(progress)
    if run and tables.active:
        hand_over()


class _NotWrittenError(Exception):
    """The derived pages end here (the reason is logged); the catch-up takes in the rest."""
