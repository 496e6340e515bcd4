"""Replaying JSON Lines event logs into the store.

Two passes. The first parses every line and checks each negotiation's lines
against the events already stored, as one appended batch (what
``Negotiations.append`` does): a file whose timeline is valid as a whole is
accepted, whatever the order of its lines. When a line is refused, that
negotiation's lines are checked again one by one, in input order, so that
every refused line is reported. Only when nothing was refused (or
``skip_invalid`` is set) does the second pass store the accepted events, in
input order, in chunks of one transaction each.

An observer (``ImportObserver``: the read-model tables' ``ImportTables``) may
check some negotiations new to the store in another process meanwhile, with
this module's own ``check_new``; every outcome is taken in the same order,
so the report and what is stored are the same either way.

A chunk ends only where every negotiation's stored prefix is a valid timeline
by itself, so an import cut short (Ctrl-C, kill -9, a lost connection) leaves
the store consistent, and running it again completes it: events already
stored are recognised by id and skipped.
"""

from __future__ import annotations

import array
import collections
import datetime as dt
import functools
import os
import shutil
import stat
import struct
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import BinaryIO, Final, Protocol

import attrs
import orjson
from eventsourcing.persistence import StoredEvent

from events.converter import DEFAULT_LIMITS, SLUG_RE, Limits, long_line_error, parse_line, render_line
from events.errors import InvalidEventError
from events.model import Event, EventRetracted
from negotiation.core.errors import ConcurrencyError, InputTooLargeError, RefusedEventError, StoreError
from negotiation.core.history import History, Recorded
from negotiation.store.config import StoreConfig
from negotiation.store.errors import STORE_FAILURES, is_retryable, store_errors
from negotiation.store.eventstore import EventStore
from negotiation.store.logs import get_logger

__all__ = [
    "CHUNK_SIZE",
    "PIECE_BYTES",
    "SPOOL_RESERVE_BYTES",
    "ImportObserver",
    "ImportReport",
    "Outcome",
    "Progress",
    "Refusal",
    "Ticket",
    "check_new",
    "import_files",
]

Progress = Callable[[str, int], None]
"""Called as ``progress(stage, events)`` with stage ``"checking"`` or ``"storing"``."""

CHUNK_SIZE: Final = 10_000
MAX_ATTEMPTS: Final = 5
_PREAD: Final[Callable[[int, int, int], bytes] | None] = getattr(os, "pread", None)
"""Reads at an offset in one system call, where the platform has it (POSIX; not Windows)."""
PIECE_BYTES: Final = 64 * 1024
"""How much is read at a time from an input, past a line's limit or while copying it."""
SPOOL_RESERVE_BYTES: Final = 256 * 1024**2
"""Copying an input to disk stops when less than this is left free."""
_DISK_CHECK_BYTES: Final = 16 * 1024**2
_HEAD_BYTES: Final = 4096
"""How much of an over-long line is kept, to find its event id."""

logger = get_logger("negotiation")


class _Store(Protocol):
    """What the importer needs of the facade (``negotiation.Negotiations``)."""

    store: EventStore
    config: StoreConfig

    def stored_events(self, negotiation: str) -> list[Event]: ...

    def forget(self, negotiations: Iterable[str]) -> None: ...


class ImportObserver(Protocol):
    """Told what an import checks and stores (``projections.persisted.bulk`` derives read-model rows from it)."""

    def begin(self, lines: int) -> None:
        """A checking pass starts (again, after a conflict with another writer) over ``lines`` event lines."""

    def wants(self, base: int, events: int) -> bool:
        """Whether to be given the lines of a negotiation's ``events`` accepted new events after ``base`` stored."""

    def check_elsewhere(
        self,
        negotiation: str,
        entries: Sequence[tuple[str, int, bytes]],
        check: Callable[[str, Sequence[tuple[str, int, bytes]]], Outcome],
    ) -> Ticket | None:
        """Check a negotiation new to the store elsewhere (``check(negotiation, entries)``), or ``None``: here.

        ``check`` is picklable (``check_new`` with the import's settings).
        """

    def checked(
        self, negotiation: str, base: int, events: int, lines: bytes | None, ticket: Ticket | None = None
    ) -> None:
        """A negotiation's ``events`` accepted new events, checked.

        ``lines``: their lines as they will be stored, one per line; ``None``
        when ``wants`` did not ask for them (or the negotiation was checked by
        ``check_elsewhere``, whose ``ticket`` this is).
        """

    def stored(self, records: Sequence[StoredEvent], positions: Sequence[int]) -> None:
        """A chunk was committed (the checked events in the order told, a chunk at a time); its positions."""


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


class _Source:
    """An input file, read in bounded pieces.

    A regular file is read in place. Anything else (standard input, a pipe, a
    device such as ``/dev/zero``) cannot be read twice, so it is first copied
    to a temporary file, at most ``limits.max_input_bytes`` of it, and never
    closer than ``SPOOL_RESERVE_BYTES`` to a full disk: past either,
    ``InputTooLargeError`` and nothing is stored.
    """

    def __init__(self, path: str | Path, limits: Limits) -> None:
        self.name = str(path)
        self.cap = limits.max_line_bytes + 2  # a longest line, its "\r\n" included
        if self.name == "-":
            self.file: BinaryIO = _spool(sys.stdin.buffer, self.name, limits)
            return
        file = Path(path).open("rb")  # noqa: SIM115 - closed by close()
        try:
            regular = stat.S_ISREG(os.fstat(file.fileno()).st_mode)
        except OSError:
            file.close()
            raise
        if regular:
            self.file = file
            return
        with file:
            self.file = _spool(file, self.name, limits)

    def line_at(self, offset: int, size: int) -> bytes:
        """The line of ``size`` bytes (its ending included) at ``offset``, stripped, as ``lines`` found it."""
        if _PREAD is not None:
            # One system call at the line's place: a seek then a buffered readline read a whole buffer each
            # time, and a negotiation's lines are spread through the file (about 2 µs a line more).
            return _PREAD(self.file.fileno(), size, offset).strip()
        self.file.seek(offset)
        return self.file.read(size).strip()

    def lines(self) -> Iterator[tuple[int, bytes, int | None]]:
        """``(offset, line, None)`` for each line, or ``(offset, its start, its size)`` for a line over the limit.

        Never holds more than the limit of one line: a longer line is
        measured in pieces of ``PIECE_BYTES`` to find where the next begins.
        """
        file, cap = self.file, self.cap
        offset = file.tell()
        while raw := file.readline(cap):
            start = offset
            offset += len(raw)
            if len(raw) < cap or raw.endswith(b"\n"):
                yield start, raw, None
                continue
            head, size, tail = raw[:_HEAD_BYTES], len(raw), raw[-2:]
            while not tail.endswith(b"\n") and (piece := file.readline(PIECE_BYTES)):
                size += len(piece)
                offset += len(piece)
                tail = (tail + piece)[-2:]
            ending = 2 if tail == b"\r\n" else 1 if tail.endswith(b"\n") else 0
            yield start, head, size - ending

    def close(self) -> None:
        self.file.close()


def _spool(stream: BinaryIO, name: str, limits: Limits) -> BinaryIO:
    """A temporary copy of ``stream``, bounded by ``limits.max_input_bytes`` and the disk's free space."""
    spool: BinaryIO = tempfile.TemporaryFile()  # noqa: SIM115 - returned open; closed by _Source.close()
    try:
        _copy(stream, spool, name, limits)
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    return spool


def _copy(stream: BinaryIO, spool: BinaryIO, name: str, limits: Limits) -> None:
    copied = checked = 0
    while piece := stream.read(PIECE_BYTES):
        copied += len(piece)
        if copied > limits.max_input_bytes:
            raise InputTooLargeError(name, limits.max_input_bytes)
        if copied - checked >= _DISK_CHECK_BYTES:
            checked = copied
            directory = tempfile.gettempdir()
            if shutil.disk_usage(directory).free < SPOOL_RESERVE_BYTES:
                raise InputTooLargeError(
                    name,
                    None,
                    reason=f"copying it stopped at {copied:,} bytes: less than "
                    f"{SPOOL_RESERVE_BYTES // 2**20} MiB left on the disk of {directory}",
                )
        spool.write(piece)


@attrs.define
class _Group:
    """Where one negotiation's lines are: source index, byte offset and line number of each."""

    sources: array.array[int] = attrs.field(factory=lambda: array.array("H"))
    offsets: array.array[int] = attrs.field(factory=lambda: array.array("Q"))
    sizes: array.array[int] = attrs.field(factory=lambda: array.array("Q"))
    """Each line's length in bytes, its ending included (at most a longest line's, ``_Source.cap``)."""
    numbers: array.array[int] = attrs.field(factory=lambda: array.array("Q"))


@attrs.define
class _Checked:
    """What the checking pass found; the accepted events wait in a spool file."""

    spool: BinaryIO
    lines: int = 0
    accepted: int = 0
    duplicates: int = 0
    refused: list[Refusal] = attrs.field(factory=list)
    negotiations: list[str] = attrs.field(factory=list)


_HEADER: Final = struct.Struct("<HHIQB")
"""Spool record: negotiation length, topic length, state length, version, may-cut flag."""


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
    observer: ImportObserver | None = None,
) -> ImportReport:
    """Check, then (unless ``dry_run`` or a line was refused) store the events of ``paths``.

    ``-`` reads standard input. Raises ``OSError`` for an unreadable file,
    ``InputTooLargeError`` for standard input (or a pipe, a device) longer than
    ``limits.max_input_bytes``, and ``StoreError``/``ConcurrencyError`` when
    the store fails; never for bad lines, which are reported in the returned
    ``ImportReport``.

    Memory stays bounded by the largest negotiation in the input, not by the
    input's size, nor by its longest line (read in bounded pieces, refused as
    soon as it passes ``limits.max_line_bytes``): lines are grouped by negotiation through their byte offsets,
    each negotiation is checked on its own, and the accepted events wait for
    the storing pass in a temporary spool file.

    ``observer`` is told each checking pass, each negotiation's accepted new
    events, and each stored chunk with its commit positions.
    """
    moment = now or dt.datetime.now(dt.UTC)
    rank: dict[str, int] = {}
    for name in paths_text(paths):
        rank.setdefault(name, len(rank))
    sources: list[_Source] = []
    try:
        sources.extend(_Source(path, limits) for path in paths)
        for attempt in range(1, MAX_ATTEMPTS + 1):
            with tempfile.TemporaryFile() as spool:
                try:
                    checked = _check(
                        app, sources, spool, limits=limits, now=moment, progress=progress, observer=observer
                    )
                except StoreError as e:
                    raise StoreError(f"{e}; nothing was stored by this run: run the import again") from None
                report = ImportReport(
                    lines=checked.lines,
                    accepted=checked.accepted,
                    duplicates=checked.duplicates,
                    refused=tuple(sorted(checked.refused, key=lambda r: (rank[r.path], r.line))),
                    negotiations=tuple(checked.negotiations),
                )
                if dry_run or (checked.refused and not skip_invalid) or not checked.accepted:
                    return report
                try:
                    stored = _store(
                        app, spool, total=checked.accepted, chunk_size=chunk_size, progress=progress, observer=observer
                    )
                except STORE_FAILURES:  # only what is_retryable lets through _store's store_errors
                    # Another writer appended meanwhile (or held SQLite's write lock past
                    # the timeout); what we stored so far is kept and is recognised as
                    # already present when checking again.
                    logger.info("import.conflict", attempt=attempt)
                    continue
                finally:
                    app.forget(checked.negotiations)
            logger.info("import.stored", stored=stored, duplicates=checked.duplicates, refused=len(checked.refused))
            return attrs.evolve(report, stored=stored)
    finally:
        for source in sources:
            source.close()
    raise ConcurrencyError(", ".join(paths_text(paths)), MAX_ATTEMPTS)


def paths_text(paths: Sequence[str | Path]) -> list[str]:
    """The paths as the user gave them, ``-`` for standard input."""
    return [str(p) for p in paths]


def _negotiation_of(line: bytes) -> str | None:
    """The negotiation id of a line, cheaply; ``None`` when the line is not usable as is."""
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    negotiation = obj.get("negotiation") if isinstance(obj, dict) else None
    return negotiation if isinstance(negotiation, str) and SLUG_RE.fullmatch(negotiation) else None


def _group(sources: Sequence[_Source], checked: _Checked, limits: Limits) -> dict[str, _Group]:
    """First pass: find each negotiation's lines; refuse lines that name none."""
    groups: dict[str, _Group] = {}
    for index, source in enumerate(sources):
        for number, (start, raw, too_long) in enumerate(source.lines(), start=1):
            if too_long is not None:
                checked.lines += 1
                checked.refused.append(_format_refusal(source.name, number, long_line_error(too_long, raw, limits)))
                continue
            line = raw.strip()
            if not line or line.startswith(b"#"):
                continue
            checked.lines += 1
            negotiation = _negotiation_of(line) if len(line) <= limits.max_line_bytes else None
            if negotiation is None:
                checked.refused.append(_refusal_of_line(source.name, number, line, limits))
                continue
            group = groups.get(negotiation)
            if group is None:
                group = groups[negotiation] = _Group()
            group.sources.append(index)
            group.offsets.append(start)
            group.sizes.append(len(raw))
            group.numbers.append(number)
    return groups


def _refusal_of_line(path: str, number: int, line: bytes, limits: Limits) -> Refusal:
    try:
        parse_line(line, limits=limits)
    except InvalidEventError as e:
        return _format_refusal(path, number, e)
    # The line parses after all (it cannot, as its negotiation was unusable): refuse it plainly.
    return Refusal(path=path, line=number, event_id=None, rule="format", reason="no usable negotiation id")


def _format_refusal(path: str, number: int, error: InvalidEventError) -> Refusal:
    """A malformed line's refusal: where, what was found and what was expected."""
    reason = error.message if error.expected is None else f"{error.message} (expected {error.expected})"
    return Refusal(path=path, line=number, event_id=error.event_id, rule=error.rule, reason=reason)


def _check(
    app: _Store,
    sources: Sequence[_Source],
    spool: BinaryIO,
    *,
    limits: Limits,
    now: dt.datetime,
    progress: Progress | None,
    observer: ImportObserver | None = None,
) -> _Checked:
    checked = _Checked(spool=spool)
    for source in sources:
        source.file.seek(0)
    groups = _group(sources, checked, limits)
    if observer is not None:
        observer.begin(checked.lines)
    check = functools.partial(check_new, limits=limits, now=now)
    # Outcomes are taken in the negotiations' order (that is the order they are stored in), each once every
    # earlier one is: a negotiation checked by the observer's worker may be followed by several checked here.
    waiting: collections.deque[tuple[str, int, int, Outcome | Ticket]] = collections.deque()
    # A store that held no event when the checks began has none of any negotiation: one question rather than
    # one per negotiation (about 4% of an import into a new store). Events another writer stores meanwhile
    # make the storing pass conflict, and the next pass asks again, as it does when they come after the
    # negotiation's own question.
    with store_errors(app.config, "cannot read the store"):
        empty = app.store.max_position() == 0
    for negotiation, group in groups.items():
        checked.negotiations.append(negotiation)
        history = History(negotiation, () if empty else app.stored_events(negotiation))
        base, lines = history.version, len(group.offsets)
        entries = _entries(sources, group)
        # A negotiation new to the store may be checked by the observer's worker, while this process goes on.
        # (An observer written before ``check_elsewhere`` existed checks nothing elsewhere.)
        elsewhere = getattr(observer, "check_elsewhere", None) if base == 0 else None
        ticket = None if elsewhere is None else elsewhere(negotiation, entries, check)
        if ticket is None:
            wants = _never if observer is None else observer.wants
            outcome = _check_lines(history, entries, limits=limits, now=now, wants=wants)
            waiting.append((negotiation, base, lines, outcome))
        else:
            waiting.append((negotiation, base, lines, ticket))
        while waiting and (isinstance(waiting[0][3], Outcome) or waiting[0][3].ready()):
            _take(checked, observer, progress, waiting.popleft(), check)
    while waiting:
        _take(checked, observer, progress, waiting.popleft(), check)
    return checked


@attrs.frozen(kw_only=True)
class Outcome:
    """What checking one negotiation's lines found: what ``_check`` adds to the import's report and spool."""

    refused: tuple[Refusal, ...] = ()
    logged: int = 0
    """How many of ``refused`` (the last ones) broke a rule of the timeline (logged as ``event.refused``)."""
    duplicates: int = 0
    accepted: int = 0
    records: bytes = b""
    """The accepted events' spool records, in order."""
    lines: bytes | None = None
    """Their lines as stored, one per line, when asked for (see ``check_new``)."""
    events: tuple[Event, ...] | None = None
    """The accepted events, with ``lines`` (from ``check_new``: its caller derives from them without parsing)."""


class Ticket(Protocol):
    """A negotiation being checked elsewhere (``ImportObserver.check_elsewhere``)."""

    entries: Sequence[tuple[str, int, bytes]]
    """What it was given (checked here instead when it could not be there)."""

    def ready(self) -> bool:
        """Whether ``outcome`` returns without waiting."""

    def outcome(self) -> Outcome:
        """The negotiation's ``Outcome`` (without its lines); raises when it could not be checked there."""


def check_new(
    negotiation: str, entries: Sequence[tuple[str, int, bytes]], *, limits: Limits, now: dt.datetime
) -> Outcome:
    """Check a negotiation new to the store: ``entries`` are (path, line number, line) of each of its lines.

    The same check as the import's own, for an observer's worker process
    (``ImportObserver.check_elsewhere``); the outcome holds the accepted events' lines.
    """
    return _check_lines(History(negotiation, []), entries, limits=limits, now=now, wants=None)


def _never(base: int, events: int) -> bool:
    """No observer: no lines wanted."""
    return False


def _entries(sources: Sequence[_Source], group: _Group) -> list[tuple[str, int, bytes]]:
    """(path, line number, line) of each of a negotiation's lines, read from its sources."""
    return [
        (sources[i].name, number, sources[i].line_at(offset, size))
        for i, offset, size, number in zip(group.sources, group.offsets, group.sizes, group.numbers, strict=True)
    ]


def _check_lines(
    history: History,
    entries: Sequence[tuple[str, int, bytes]],
    *,
    limits: Limits,
    now: dt.datetime,
    wants: Callable[[int, int], bool] | None,
) -> Outcome:
    """Check one negotiation's lines against ``history`` (its stored events): what is refused, what is new.

    ``wants(base, new events)`` says whether the outcome holds the new events' lines; ``None``: it does, and
    their events too (``check_new``).
    """
    refused: list[Refusal] = []
    parsed: list[tuple[str, int, Event]] = []
    for path, number, line in entries:
        try:
            parsed.append((path, number, parse_line(line, limits=limits)))
        except InvalidEventError as e:
            refused.append(_format_refusal(path, number, e))
    before = len(refused)
    base = history.version
    duplicates = [0]
    safe = _check_batch(history, parsed, duplicates, now=now)
    if safe is None:
        safe = _check_one_by_one(history, parsed, refused, duplicates, now=now)
    new = history.appended_after(base)
    # The observer's copy, compact (orjson's bytes keep spare capacity): only what it asks for.
    lines = bytearray() if new and (wants is None or wants(base, len(new))) else None
    name = history.negotiation.encode()
    last = len(new) - 1
    records = bytearray()
    for i, record in enumerate(new):
        state = render_line(record.event)
        topic = record.event.TYPE.encode()
        may_cut = safe or i == last
        records += _HEADER.pack(len(name), len(topic), len(state), record.seq, may_cut)
        records += name
        records += topic
        records += state
        if lines is not None:
            lines += state
            if i < last:
                lines += b"\n"
    return Outcome(
        refused=tuple(refused),
        logged=len(refused) - before,
        duplicates=duplicates[0],
        accepted=len(new),
        records=bytes(records),
        lines=None if lines is None else bytes(lines),
        events=None if lines is None or wants is not None else tuple(record.event for record in new),
    )


def _take(
    checked: _Checked,
    observer: ImportObserver | None,
    progress: Progress | None,
    item: tuple[str, int, int, Outcome | Ticket],
    check: Callable[[str, Sequence[tuple[str, int, bytes]]], Outcome],
) -> None:
    """Add a negotiation's outcome to the import's report and spool, and tell the observer.

    ``item``: the negotiation, its stored events, its lines, and what checking them found (or will find).
    """
    negotiation, base, lines, found = item
    ticket = None
    if isinstance(found, Outcome):
        outcome = found
    else:
        ticket = found
        try:
            outcome = ticket.outcome()
        except Exception:  # noqa: BLE001 - the worker failed (it is logged there): check here instead
            ticket = None
            outcome = check(negotiation, found.entries)
    checked.refused.extend(outcome.refused)
    for refusal in outcome.refused[len(outcome.refused) - outcome.logged :]:
        logger.info(
            "event.refused", negotiation=negotiation, event_id=refusal.event_id, rule=refusal.rule, line=refusal.line
        )
    checked.duplicates += outcome.duplicates
    checked.spool.write(outcome.records)
    checked.accepted += outcome.accepted
    if progress is not None:
        progress("checking", lines)
    if observer is not None and outcome.accepted:
        if ticket is None:  # as before ``check_elsewhere``: an older observer takes four arguments
            observer.checked(negotiation, base, outcome.accepted, outcome.lines)
        else:
            observer.checked(negotiation, base, outcome.accepted, outcome.lines, ticket)


def _check_batch(
    history: History, parsed: Sequence[tuple[str, int, Event]], duplicates: list[int], *, now: dt.datetime
) -> bool | None:
    """Check a negotiation's lines as one appended batch, as ``Negotiations.append`` would.

    Returns whether any prefix of the batch may be stored on its own (no late
    event, no retraction), or ``None`` when an event is refused: then the
    lines are checked one by one, to report every refused line.
    """
    if not parsed:
        return True
    try:
        plan = history.plan([event for _, _, event in parsed], now=now)
    except RefusedEventError:
        return None
    duplicates[0] += len(plan.duplicates)
    safe = _stays_in_order(history, plan.new)
    history.apply(plan)
    return safe


def _stays_in_order(history: History, new: Sequence[Recorded]) -> bool:
    """Whether ``new`` only adds to the end of the timeline and retracts nothing.

    Then every prefix of it is a valid timeline by itself and may be stored on
    its own; late events and retractions change what came before, so their
    negotiation's events must be stored in one transaction.
    """
    return history.follows_end(new) and not any(isinstance(r.event, EventRetracted) for r in new)


def _check_one_by_one(
    history: History,
    parsed: Sequence[tuple[str, int, Event]],
    refused: list[Refusal],
    duplicates: list[int],
    *,
    now: dt.datetime,
) -> bool:
    """Check each line as its own append, in input order; refused lines are reported and left out."""
    safe = True
    for path, number, event in parsed:
        try:
            plan = history.plan([event], now=now)
        except RefusedEventError as e:
            refused.append(Refusal(path=path, line=number, event_id=e.event_id, rule=e.rule, reason=e.reason))
            continue
        if not plan.new:
            duplicates[0] += 1
            continue
        safe = _stays_in_order(history, plan.new) and safe
        history.apply(plan)
    return safe


def _spooled(spool: BinaryIO) -> Iterator[tuple[StoredEvent, bool]]:
    spool.seek(0)
    size = _HEADER.size
    while header := spool.read(size):
        name_len, topic_len, state_len, seq, may_cut = _HEADER.unpack(header)
        negotiation = spool.read(name_len).decode()
        topic = spool.read(topic_len).decode()
        state = spool.read(state_len)
        yield StoredEvent(originator_id=negotiation, originator_version=seq, topic=topic, state=state), bool(may_cut)


def _store(
    app: _Store,
    spool: BinaryIO,
    *,
    total: int,
    chunk_size: int,
    progress: Progress | None,
    observer: ImportObserver | None = None,
) -> int:
    chunk: list[StoredEvent] = []
    stored = 0

    def flush() -> None:
        nonlocal chunk, stored
        # Each chunk is one transaction that ends where every stored prefix is valid.
        done = f"{stored:,} of {total:,} new events were stored" if stored else "no new event was stored"
        with store_errors(
            app.config,
            "the store failed",
            then=f"; {done} (the store is consistent); run the import again to complete it",
            passing=is_retryable,  # another writer: import_files checks again and retries
        ):
            positions = app.store.put_stored(chunk)
        if observer is not None:
            observer.stored(chunk, positions)
        stored += len(chunk)
        if progress is not None:
            progress("storing", len(chunk))
        chunk = []

    for record, may_cut in _spooled(spool):
        chunk.append(record)
        if may_cut and len(chunk) >= chunk_size:
            flush()
    if chunk:
        flush()
    return stored
