"""Replaying JSON Lines event logs into the store.

Two passes. The first parses and checks every line against a simulation of
the store (the stored events plus the lines accepted so far), the way separate
appends would be checked, and reports every refused line. Only when nothing
was refused (or ``skip_invalid`` is set) does the second pass store the
accepted events, in chunks of one transaction each.

A chunk ends only where every negotiation's stored prefix is a valid timeline
by itself, so an import cut short (Ctrl-C, kill -9, a lost connection) leaves
the store consistent, and running it again completes it: events already
stored are recognised by id and skipped.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import BinaryIO, Final, Protocol

import attrs
import structlog
from eventsourcing.persistence import IntegrityError, PersistenceError

from events.converter import DEFAULT_LIMITS, Limits, parse_line
from events.errors import InvalidEventError
from events.model import Event
from negotiation.errors import ConcurrencyError, RefusedEventError, StoreError
from negotiation.store import EventStore, StreamEvent
from negotiation.timeline import History

__all__ = ["ImportReport", "Progress", "Refusal", "import_files", "read_lines"]

Progress = Callable[[str, int], None]
"""Called as ``progress(stage, events)`` with stage ``"checking"`` or ``"storing"``."""

CHUNK_SIZE: Final = 10_000
MAX_ATTEMPTS: Final = 5

logger = structlog.get_logger("negotiation")


class _Store(Protocol):
    """What the importer needs of the facade (``negotiation.Negotiations``)."""

    store: EventStore

    def stored_events(self, negotiation: str) -> list[Event]: ...

    def forget(self, negotiations: Iterable[str]) -> None: ...

    def clean_error(self, error: BaseException) -> str: ...


@attrs.frozen(kw_only=True)
class Refusal:
    """One refused line: where, which event, which rule, why."""

    path: str
    line: int
    event_id: str | None
    rule: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.event_id or '-'}: {self.reason} [rule: {self.rule}]"


@attrs.frozen(kw_only=True)
class ImportReport:
    """What an import (or a verification) found and did."""

    lines: int = 0
    """Event lines read (blank and comment lines not counted)."""
    accepted: int = 0
    """Events that passed every check and were not stored yet."""
    stored: int = 0
    """Events written by this run."""
    duplicates: int = 0
    """Events already stored with identical content (or repeated in the input)."""
    refused: tuple[Refusal, ...] = ()
    negotiations: tuple[str, ...] = ()
    """The negotiations the input touched."""

    @property
    def ok(self) -> bool:
        """No line was refused."""
        return not self.refused


def read_lines(source: BinaryIO) -> Iterator[tuple[int, bytes]]:
    """Yield ``(line number, line)`` for each line that holds an event."""
    for number, raw in enumerate(source, start=1):
        line = raw.strip()
        if line and not line.startswith(b"#"):
            yield number, line


@attrs.define
class _Checked:
    """Pass one's result: the simulation and the order to store its events in."""

    histories: dict[str, History] = attrs.field(factory=dict)
    base: dict[str, int] = attrs.field(factory=dict)
    order: list[str] = attrs.field(factory=list)
    """For each accepted event, in input order, its negotiation."""
    unsafe: list[list[int]] = attrs.field(factory=list)
    """Spans of ``order`` that must be stored in one transaction."""
    spans: dict[str, list[int]] = attrs.field(factory=dict)
    lines: int = 0
    duplicates: int = 0
    refused: list[Refusal] = attrs.field(factory=list)


def import_files(
    app: _Store,
    paths: Sequence[str | Path],
    *,
    skip_invalid: bool = False,
    dry_run: bool = False,
    limits: Limits = DEFAULT_LIMITS,
    progress: Progress | None = None,
    now: dt.datetime | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> ImportReport:
    """Check, then (unless ``dry_run`` or a line was refused) store the events of ``paths``.

    ``-`` reads standard input. Raises ``OSError`` for an unreadable file and
    ``StoreError``/``ConcurrencyError`` when the store fails; never for bad lines,
    which are reported in the returned ``ImportReport``.
    """
    moment = now or dt.datetime.now(dt.UTC)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        checked = _check(app, paths, limits=limits, now=moment, progress=progress)
        accepted = len(checked.order)
        report = ImportReport(
            lines=checked.lines,
            accepted=accepted,
            duplicates=checked.duplicates,
            refused=tuple(checked.refused),
            negotiations=tuple(checked.histories),
        )
        if dry_run or (checked.refused and not skip_invalid) or not accepted:
            return report
        try:
            stored = _store(app, checked, chunk_size=chunk_size, progress=progress)
        except IntegrityError:
            # Another writer appended meanwhile; what we stored so far is kept and
            # is recognised as already present when checking again.
            logger.info("import.conflict", attempt=attempt)
            app.forget(checked.histories)
            continue
        app.forget(checked.histories)
        logger.info("import.stored", stored=stored, duplicates=checked.duplicates, refused=len(checked.refused))
        return attrs.evolve(report, stored=stored)
    raise ConcurrencyError(", ".join(paths_text(paths)), MAX_ATTEMPTS)


def paths_text(paths: Sequence[str | Path]) -> list[str]:
    """The paths as the user gave them, ``-`` for standard input."""
    return [str(p) for p in paths]


def _open(path: str | Path) -> BinaryIO:
    if str(path) == "-":
        return sys.stdin.buffer
    return Path(path).open("rb")


def _check(
    app: _Store, paths: Sequence[str | Path], *, limits: Limits, now: dt.datetime, progress: Progress | None
) -> _Checked:
    checked = _Checked()
    histories = checked.histories
    tick = 0
    for path in paths:
        name = str(path)
        source = _open(path)
        try:
            for number, line in read_lines(source):
                checked.lines += 1
                tick += 1
                if progress is not None and tick == 1000:
                    progress("checking", tick)
                    tick = 0
                try:
                    event = parse_line(line, limits=limits)
                except InvalidEventError as e:
                    checked.refused.append(
                        Refusal(path=name, line=number, event_id=e.event_id, rule=e.rule, reason=e.message)
                    )
                    continue
                history = histories.get(event.negotiation)
                if history is None:
                    history = histories[event.negotiation] = History(
                        event.negotiation, app.stored_events(event.negotiation)
                    )
                    checked.base[event.negotiation] = history.version
                try:
                    plan = history.plan([event], now=now)
                except RefusedEventError as e:
                    checked.refused.append(
                        Refusal(path=name, line=number, event_id=event.id, rule=e.rule, reason=e.reason)
                    )
                    logger.info(
                        "event.refused",
                        negotiation=event.negotiation,
                        event_id=event.id,
                        rule=e.rule,
                        line=number,
                    )
                    continue
                if not plan.new:
                    checked.duplicates += 1
                    continue
                late = bool(history.keys) and plan.new[0].key < history.keys[-1]
                history.apply(plan)
                _track(checked, event.negotiation, unsafe=late or plan.new[0].event.TYPE == "event.retracted")
        finally:
            if source is not sys.stdin.buffer:
                source.close()
    if progress is not None and tick:
        progress("checking", tick)
    return checked


def _track(checked: _Checked, negotiation: str, *, unsafe: bool) -> None:
    """Note the event's place; late events and retractions pin their negotiation's span together."""
    index = len(checked.order)
    checked.order.append(negotiation)
    span = checked.spans.get(negotiation)
    if span is None:
        span = checked.spans[negotiation] = [index, index, 0]
    span[1] = index
    if unsafe:
        span[2] = 1


def _cut_points(checked: _Checked, total: int) -> list[bool]:
    """``cut[i]``: a transaction may end after accepted event ``i``."""
    cut = [True] * total
    for first, last, unsafe in checked.spans.values():
        if unsafe:
            for i in range(first, last):
                cut[i] = False
    return cut


def _store(app: _Store, checked: _Checked, *, chunk_size: int, progress: Progress | None) -> int:
    total = len(checked.order)
    cut = _cut_points(checked, total)
    cursor = dict(checked.base)
    chunk: list[StreamEvent] = []
    stored = 0
    for i, negotiation in enumerate(checked.order):
        record = checked.histories[negotiation].records[cursor[negotiation]]
        cursor[negotiation] += 1
        chunk.append(StreamEvent(negotiation, record.seq, record.event))
        if (len(chunk) >= chunk_size and cut[i]) or i == total - 1:
            try:
                app.store.put(chunk)
            except IntegrityError:
                raise
            except PersistenceError as e:
                raise StoreError(
                    f"the store failed after {stored} events were stored: {app.clean_error(e)}; "
                    "run the import again to complete it"
                ) from None
            stored += len(chunk)
            if progress is not None:
                progress("storing", len(chunk))
            chunk = []
    return stored
