"""The ``negotiation`` command line (spec section 4).

The CLI holds no logic of its own: it parses arguments, calls the facade
``negotiation.Negotiations`` and renders its answers, as rich tables for people
or as the spec's JSON answers (``--json``) for programs.

Everything the store holds is untrusted text (statements, terms, titles,
names, ids) and so are the reasons of refused lines: it is always printed
literally, through ``escape_controls`` and rich ``Text`` objects, never as rich
markup and never as terminal control sequences.

This is the only module that configures logging (``structlog``): quiet by
default (warnings and above on stderr), JSON lines on stderr with
``--log-json``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import re
import sys
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any, Final, NoReturn, TextIO, TypeVar

import attrs
import click
import structlog

from events.converter import DEFAULT_LIMITS, Limits
from events.errors import InvalidMomentError
from events.time import parse_when
from negotiation.core.errors import NegotiationError
from negotiation.store.config import DEFAULT_DB, ENV_VAR, redact, resolve

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Task
    from rich.table import Table
    from rich.text import Text

    from negotiation.application import Negotiations
    from negotiation.importer import ImportReport

__all__ = [
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_REFUSED",
    "EXIT_USAGE",
    "cli",
    "configure_logging",
    "escape_controls",
    "main",
    "parse_moment",
]

EXIT_OK: Final = 0
EXIT_REFUSED: Final = 1
"""Input refused, negotiation not found, store failure: any ``NegotiationError``."""
EXIT_USAGE: Final = 2
EXIT_INTERRUPTED: Final = 130
EXIT_BROKEN_PIPE: Final = 141

PACKAGE: Final = "negotiation-log"

# --- printing untrusted text -------------------------------------------------

# C0 and C1 controls, DEL, lone surrogates, line/paragraph separators and the
# bidirectional-text controls (which can make text display as something else).
_UNSAFE_RE: Final = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]")
_SHORT_ESCAPES: Final = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape_char(match: re.Match[str]) -> str:
    char = match.group()
    short = _SHORT_ESCAPES.get(char)
    if short is not None:
        return short
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape_controls(text: str) -> str:
    r"""``text`` with every control character shown as a visible escape.

    ESC becomes the four characters ``\x1b``, a newline ``\n``; C1 controls,
    DEL, lone surrogates, line separators and bidi controls are escaped alike.
    Everything else, backslashes and brackets included, is kept as it is.

    >>> escape_controls("\x1b[31mRED\x07")
    '\\x1b[31mRED\\x07'
    """
    return _UNSAFE_RE.sub(_escape_char, text)


# What ``json.dumps(ensure_ascii=False)`` leaves raw: C1 controls, DEL, lone surrogates, separators, bidi.
_JSON_UNSAFE_RE: Final = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]")


def _json_escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def _json_text(document: object) -> str:
    r"""One JSON document; characters a terminal could act on are ``\u`` escapes (still the same JSON)."""
    text = json.dumps(document, ensure_ascii=False, sort_keys=False, indent=2)
    # json.dumps escapes C0 controls itself; outside strings none of these can occur.
    return _JSON_UNSAFE_RE.sub(_json_escape, text)


_UNSAFE_UTF8_RE: Final = re.compile(
    rb"\x7f|\xc2[\x80-\x9f]|\xd8\x9c|\xe2\x80[\x8e\x8f\xa8-\xae]|\xe2\x81[\xa6-\xa9]",
)


def _json_line_escape(match: re.Match[bytes]) -> bytes:
    return f"\\u{ord(match.group().decode()):04x}".encode()


def _safe_json_line(line: bytes) -> bytes:
    r"""A UTF-8 JSON line with the characters a terminal could act on as ``\u`` escapes (same JSON)."""
    return _UNSAFE_UTF8_RE.sub(_json_line_escape, line)


def _text(value: object, style: str = "") -> Text:
    """A rich ``Text`` for any value: literal, never markup, controls escaped."""
    from rich.text import Text

    if value is None:
        return Text("-", style="dim")
    if isinstance(value, bool):
        return Text("yes" if value else "no", style=style)
    if isinstance(value, Mapping):
        value = " ".join(str(v) for v in value.values() if v is not None)
    elif isinstance(value, list | tuple):
        value = ", ".join(str(v) for v in value)
    return Text(escape_controls(str(value)), style=style)


_UNLIMITED: Final = 100_000


def _console(*, one_line: bool = False) -> Console:
    """Standard output, with markup, emoji codes and highlighting off (text is printed as given).

    ``one_line``: rows are never wrapped; on a terminal they are cut to its
    width, elsewhere (a pipe, a file) they are written whole.
    """
    from rich.console import Console

    width = None
    if one_line and not _isatty(sys.stdout) and "COLUMNS" not in os.environ:
        width = _UNLIMITED
    return Console(stderr=False, markup=False, emoji=False, highlight=False, width=width)


def _echo_err(message: str) -> None:
    click.echo(escape_controls(message), err=True)


def _echo(message: str) -> None:
    click.echo(escape_controls(message))


# --- settings, logging, errors -------------------------------------------------


@attrs.frozen(kw_only=True)
class _Settings:
    """The global options, for the commands."""

    db: str | None
    verbose: bool
    limits: Limits


def _settings(ctx: click.Context) -> _Settings:
    settings = ctx.find_object(_Settings)
    if settings is None:  # pragma: no cover - the group always sets it
        raise click.UsageError("internal error: no settings")
    return settings


class _StderrHandler(logging.StreamHandler[TextIO]):
    """A logging handler that writes to whatever ``sys.stderr`` is at the time."""

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _: object) -> None:
        pass


def _stderr_logger(*_: object) -> structlog.PrintLogger:
    return structlog.PrintLogger(sys.stderr)


def configure_logging(*, log_json: bool) -> None:
    """Quiet (warnings and above, key=value on stderr), or JSON lines on stderr at info level."""
    level = logging.INFO if log_json else logging.WARNING
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if log_json
        else structlog.processors.KeyValueRenderer(key_order=["timestamp", "level", "event"], drop_missing=True)
    )
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=_stderr_logger,
        cache_logger_on_first_use=False,
    )
    # Libraries that log through the standard library (eventsourcing, psycopg) go the same way.
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, _StderrHandler)]:
        root.removeHandler(handler)
    handler = _StderrHandler()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
            foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
        )
    )
    root.addHandler(handler)
    root.setLevel(level)


def _mask(text: str, settings: _Settings | None) -> str:
    """``text`` with the store's password and any URL password masked."""
    if settings is not None:
        with contextlib.suppress(NegotiationError):
            text = resolve(settings.db).mask(text)
    return redact(text)


def _fail(message: str, settings: _Settings | None, code: int = EXIT_REFUSED) -> NoReturn:
    """Print ``error: message`` on stderr (one line, masked, escaped) and exit with ``code``."""
    _echo_err(f"error: {_mask(message, settings)}")
    raise click.exceptions.Exit(code)


def _traceback(error: BaseException, settings: _Settings | None) -> None:
    for line in "".join(traceback.format_exception(error)).rstrip("\n").split("\n"):
        _echo_err(_mask(line, settings))


def _describe_os_error(error: OSError) -> str:
    if error.filename is not None and error.strerror:
        return f"{error.filename}: {error.strerror}"
    return str(error) or type(error).__name__


class _EscapingStderr:
    """A text stream over ``sys.stderr`` that escapes control characters (for click's own messages)."""

    def write(self, text: str) -> int:
        return sys.stderr.write("\n".join(escape_controls(line) for line in text.split("\n")))

    def flush(self) -> None:
        sys.stderr.flush()

    def isatty(self) -> bool:
        return False


class _Cli(click.Group):
    """The command group; turns the project's errors into one ``error:`` line and an exit status."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        """Click's ``main``, except that usage errors echo user input with control characters escaped."""
        if not kwargs.get("standalone_mode", True):
            return super().main(*args, **kwargs)
        kwargs["standalone_mode"] = False
        try:
            code = super().main(*args, **kwargs)
        except click.ClickException as e:
            e.show(file=_EscapingStderr())  # type: ignore[arg-type]
            sys.exit(e.exit_code)
        except click.Abort:
            _echo_err("Aborted!")
            sys.exit(EXIT_REFUSED)
        sys.exit(code if isinstance(code, int) else EXIT_OK)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except KeyboardInterrupt:
            if ctx.invoked_subcommand == "import":
                _echo_err("interrupted; run the import again to complete it")
            else:
                _echo_err("interrupted")
            raise click.exceptions.Exit(EXIT_INTERRUPTED) from None
        except BrokenPipeError:
            # The reader went away (``| head``): stop quietly, and keep Python from complaining at exit.
            devnull = os.open(os.devnull, os.O_WRONLY)
            with suppress(OSError, ValueError):
                os.dup2(devnull, sys.stdout.fileno())
            raise click.exceptions.Exit(EXIT_BROKEN_PIPE) from None
        except NegotiationError as e:
            settings = ctx.find_object(_Settings)
            if settings is not None and settings.verbose:
                _traceback(e, settings)
            _fail(str(e), settings)
        except OSError as e:
            settings = ctx.find_object(_Settings)
            if settings is not None and settings.verbose:
                _traceback(e, settings)
            _fail(_describe_os_error(e), settings)
        except Exception as e:  # noqa: BLE001 - the last resort: one line, not a traceback, unless --verbose
            settings = ctx.find_object(_Settings)
            if settings is not None and settings.verbose:
                _traceback(e, settings)
                _fail(f"internal error: {type(e).__name__}: {e}", settings)
            _fail(f"internal error: {type(e).__name__}: {e} (run with --verbose for the traceback)", settings)


def _open(ctx: click.Context) -> Negotiations:
    """The facade for the chosen store, closed when the command ends."""
    from negotiation.application import Negotiations

    app = Negotiations(_settings(ctx).db)
    ctx.call_on_close(app.close)
    return app


# --- argument types ----------------------------------------------------------------

parse_moment: Final = parse_when
"""``YYYY-MM-DD`` as a ``date``, an RFC 3339 time with offset as an aware ``datetime``; else ``InvalidMomentError``.

The grammar is ``events.time``'s, the same as the converter's for ``occurred_at``."""


class _Moment(click.ParamType):  # type: ignore[type-arg]
    """A date ``YYYY-MM-DD`` (the end of that day) or an RFC 3339 time with offset."""

    name = "DATE|TIME"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> dt.date | dt.datetime:
        if isinstance(value, dt.date):
            return value
        try:
            return parse_when(str(value))
        except InvalidMomentError:
            self.fail(
                f"{escape_controls(str(value))!r} is not a date YYYY-MM-DD "
                "or an RFC 3339 time with offset (e.g. 2023-08-11T09:30:00-07:00)",
                param,
                ctx,
            )


MOMENT: Final = _Moment()

_AT_HELP: Final = "Valid time: where things stood at this date (the end of that day) or time. Default: now."
_KNOWN_AT_HELP: Final = (
    "Knowledge time: answer with only what was recorded by this time (a date means the end of that day). Default: now."
)
_JSON_HELP: Final = "Print the spec's JSON answer on stdout instead of a table."

F = TypeVar("F", bound=Callable[..., Any])

_as_of_option = click.option("--at", "as_of", type=MOMENT, metavar="DATE|TIME", help=_AT_HELP)
_known_at_option = click.option("--known-at", type=MOMENT, metavar="DATE|TIME", help=_KNOWN_AT_HELP)
_json_option = click.option("--json", "as_json", is_flag=True, help=_JSON_HELP)
_version_option = click.option(
    "--version",
    "at_version",
    type=click.IntRange(min=0),
    metavar="N",
    help="Count only the first N events appended to the negotiation (its stream version N).",
)


def _point_in_time_options(command: F) -> F:
    """``--at``, ``--known-at`` and ``--version``: the three ways to say when (see docs/bitemporal.md)."""
    return _as_of_option(_known_at_option(_version_option(command)))


def _print_json(document: object) -> None:
    click.echo(_json_text(document))


# --- the group --------------------------------------------------------------------


def _version() -> str:
    try:
        return version(PACKAGE)
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "unknown"


@click.group(
    cls=_Cli,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog="""\b
Examples:
  negotiation --db negotiations.db import examples/wga_amptp_2023.jsonl
  negotiation status wga-amptp-2023 --at 2023-08-11
  negotiation --db postgresql://me@localhost:5432/labor export > backup.jsonl
  NEGOTIATION_DB=sqlite:///tmp/x.db negotiation list --json

\b
Exit status: 0 success, 1 input refused, negotiation not found or store
failure, 2 usage error, 130 interrupted.""",
)
@click.option(
    "--db",
    metavar="URL",
    help=(
        f"The store: a file path or sqlite:///PATH (SQLite), or postgresql://USER@HOST:PORT/DBNAME. "
        f"Default: ${ENV_VAR}, else {DEFAULT_DB} in the current directory."
    ),
)
@click.option("-v", "--verbose", is_flag=True, help="Show the traceback of a failure.")
@click.option("--log-json", is_flag=True, help="Write the library's log (info and above) as JSON lines on stderr.")
@click.option(
    "--max-line-bytes",
    type=click.IntRange(min=1),
    default=DEFAULT_LIMITS.max_line_bytes,
    metavar="BYTES",
    show_default=True,
    help="import/verify: refuse longer lines.",
)
@click.option(
    "--max-string-bytes",
    type=click.IntRange(min=1),
    default=DEFAULT_LIMITS.max_string_bytes,
    metavar="BYTES",
    show_default=True,
    help="import/verify: refuse events with a longer string.",
)
@click.version_option(_version(), "--version", prog_name="negotiation", message="%(prog)s %(version)s")
@click.pass_context
def cli(
    ctx: click.Context,
    *,
    db: str | None,
    verbose: bool,
    log_json: bool,
    max_line_bytes: int,
    max_string_bytes: int,
) -> None:
    """Record labor negotiations as an event log and ask where they stood at any time.

    Events are JSON Lines (see the event-log spec). Dates are YYYY-MM-DD
    (meaning the end of that day in the negotiation's time zone) or RFC 3339
    times with an offset. Global options go before the command.
    """
    configure_logging(log_json=log_json)
    ctx.obj = _Settings(
        db=db,
        verbose=verbose,
        limits=Limits(max_line_bytes=max_line_bytes, max_string_bytes=max_string_bytes),
    )


# --- import and verify ---------------------------------------------------------


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


@contextmanager
def _progress_callback(*, quiet: bool) -> Iterator[Callable[[str, int], None] | None]:
    """A progress bar on stderr (events and events/s) when both stdout and stderr are terminals."""
    if quiet or not (_isatty(sys.stdout) and _isatty(sys.stderr)):
        yield None
        return
    from rich.console import Console
    from rich.progress import Progress, ProgressColumn, SpinnerColumn, TextColumn, TimeElapsedColumn

    class RateColumn(ProgressColumn):
        """Events per second."""

        def render(self, task: Task) -> Text:
            speed = task.finished_speed or task.speed
            return _text(f"{speed:,.0f} events/s" if speed else "", style="progress.data.speed")

    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TextColumn("{task.completed:,.0f} events"),
        RateColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True, markup=False, emoji=False, highlight=False),
        transient=True,
    )
    tasks: dict[str, Any] = {}

    def advance(stage: str, n: int) -> None:
        task = tasks.get(stage)
        if task is None:
            task = tasks[stage] = progress.add_task(escape_controls(stage), total=None)
        progress.advance(task, n)

    with progress:
        yield advance


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (OSError, ValueError):  # closed or detached
        return False


def _report_refusals(report: ImportReport) -> None:
    for refusal in report.refused:
        _echo_err(str(refusal))


_FILES_HELP: Final = "JSON Lines files; - reads standard input."
_FILE_ARG: Final = click.Path(dir_okay=False, allow_dash=True, exists=True, path_type=str)


@cli.command(
    "import",
    epilog="""\b
Examples:
  negotiation import examples/wga_amptp_2023.jsonl
  cat events.jsonl | negotiation import -
  negotiation import --skip-invalid scraped.jsonl""",
)
@click.argument("files", nargs=-1, required=True, type=_FILE_ARG, metavar="FILE...")
@click.option(
    "--skip-invalid", is_flag=True, help="Store the valid lines and report the refused ones (default: all or nothing)."
)
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
# Undocumented, for the crash tests: events per transaction of the storing pass.
@click.option("--chunk-size", type=click.IntRange(min=1), default=None, hidden=True)
@click.pass_context
def import_(
    ctx: click.Context, *, files: tuple[str, ...], skip_invalid: bool, quiet: bool, chunk_size: int | None
) -> None:
    """Append the events of FILE... to the store.

    Atomic by default: if any line is refused, nothing is stored and every
    refused line is reported on stderr as PATH:LINE: EVENT-ID: REASON.
    Events already stored (same id, same content) are skipped, so importing
    the same file again does nothing. Exit status 1 if a line was refused.
    """
    app = _open(ctx)
    with _progress_callback(quiet=quiet) as progress:
        report = app.import_files(
            files,
            skip_invalid=skip_invalid,
            limits=_settings(ctx).limits,
            progress=progress,
            chunk_size=chunk_size,
        )
    _report_refusals(report)
    summary = (
        f"{_plural(report.stored, 'event')} stored, {report.duplicates:,} already present, "
        f"{len(report.refused):,} refused"
    )
    if report.refused and not skip_invalid:
        summary += "; nothing was stored (the import is all or nothing: fix the refused lines, or use --skip-invalid)"
    elif not report.stored and not report.refused:
        summary += "; nothing new to store"
    _echo(summary)
    if report.refused:
        raise click.exceptions.Exit(EXIT_REFUSED)


@cli.command(
    epilog="""\b
Examples:
  negotiation verify examples/wga_amptp_2023.jsonl
  negotiation --max-string-bytes 4096 verify -  < events.jsonl""",
)
@click.argument("files", nargs=-1, required=True, type=_FILE_ARG, metavar="FILE...")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@click.pass_context
def verify(ctx: click.Context, *, files: tuple[str, ...], quiet: bool) -> None:
    """Check FILE... as import would, storing nothing.

    The checks run against the store's current contents. Every refused line
    is reported on stderr as PATH:LINE: EVENT-ID: REASON; exit status 1 if a
    line was refused.
    """
    app = _open(ctx)
    with _progress_callback(quiet=quiet) as progress:
        report = app.import_files(files, dry_run=True, limits=_settings(ctx).limits, progress=progress)
    _report_refusals(report)
    _echo(
        f"{_plural(report.lines, 'event')} checked: {report.accepted:,} new, {report.duplicates:,} already present, "
        f"{len(report.refused):,} refused; nothing was stored"
    )
    if report.refused:
        raise click.exceptions.Exit(EXIT_REFUSED)


# --- export ----------------------------------------------------------------------------


@cli.command(
    epilog="""\b
Examples:
  negotiation export > all.jsonl
  negotiation export wga-amptp-2023 sag-aftra-amptp-2023 > hollywood.jsonl""",
)
@click.argument("negotiations", nargs=-1, metavar="[NEGOTIATION...]")
@click.pass_context
def export(ctx: click.Context, *, negotiations: tuple[str, ...]) -> None:
    """Write the stored events as JSON Lines on stdout.

    All negotiations by default, else the ones named. Retractions are
    included; importing the output into an empty store gives the same export.
    """
    app = _open(ctx)
    for negotiation in negotiations:
        app.existing(negotiation)  # not found: fail before writing anything
    sys.stdout.flush()
    out = sys.stdout.buffer
    for line in app.export(negotiations):
        out.write(_safe_json_line(line) + b"\n")
    out.flush()


# --- queries ----------------------------------------------------------------------------

Moment = dt.date | dt.datetime
"""A parsed ``DATE|TIME`` argument (a ``datetime`` is a ``date``)."""


def _table(title: str, *columns: str, one_line: bool = False) -> Table:
    """A table with literal headers; ``one_line`` rows are cut (with an ellipsis) instead of wrapped."""
    from rich.table import Table

    table = Table(title=_text(title), title_justify="left")
    for column in columns:
        table.add_column(_text(column), overflow="ellipsis" if one_line else "fold", no_wrap=one_line)
    return table


def _print(table: Table, *, one_line: bool = False) -> None:
    console = _console(one_line=one_line)
    if one_line and console.width < _UNLIMITED:
        # Fit the terminal: the other columns keep their width, the last one is cut.
        table.expand = True
        table.columns[-1].ratio = 1
    console.print(table)


def _position_text(position: Mapping[str, Any] | None) -> Text:
    """``terms (value) since DATE [event]`` for the diff table."""
    from rich.text import Text

    if position is None:
        return Text("-", style="dim")
    value = position.get("value")
    parts = [str(position.get("terms"))]
    if value:
        parts.append(f"({_value_text(value)})")
    parts.append(f"since {position.get('since')} [{position.get('event')}]")
    return _text(" ".join(parts))


def _value_text(value: Mapping[str, Any] | None) -> str:
    if not value:
        return "-"
    return f"{value.get('amount')} {value.get('unit') or ''}".strip()


def _stoppage_text(stoppage: Mapping[str, Any] | None) -> str:
    if not stoppage:
        return "none"
    parties = ", ".join(str(p) for p in stoppage.get("parties") or ())
    return f"{stoppage.get('kind')} by {parties} since {stoppage.get('since')} (day {stoppage.get('day')})"


@cli.command(
    "list",
    epilog="""\b
Examples:
  negotiation list
  negotiation list --at 2023-08-11 --json""",
)
@_as_of_option
@_known_at_option
@_json_option
@click.pass_context
def list_(ctx: click.Context, *, as_of: Moment | None, known_at: Moment | None, as_json: bool) -> None:
    """List the negotiations in the store with their phase."""
    app = _open(ctx)
    from projections.answers import catalog_json

    document = catalog_json(app.catalog(as_of=as_of, known_at=known_at))
    if as_json:
        _print_json(document)
        return
    table = _table("Negotiations", "negotiation", "title", "phase", "stoppage", "events")
    for row in document["negotiations"]:
        table.add_row(
            _text(row["negotiation"]),
            _text(row["title"]),
            _text(row["phase"], style="bold"),
            _text(_stoppage_text(row["stoppage"])),
            _text(row["events_applied"]),
        )
    _print(table)


@cli.command(
    epilog="""\b
Examples:
  negotiation status wga-amptp-2023
  negotiation status wga-amptp-2023 --at 2023-08-11 --json
  negotiation status wga-amptp-2023 --at 2023-08-11 --known-at 2023-08-01T12:00:00Z
  negotiation status wga-amptp-2023 --version 10""",
)
@click.argument("negotiation")
@_point_in_time_options
@_json_option
@click.pass_context
def status(
    ctx: click.Context,
    *,
    negotiation: str,
    as_of: Moment | None,
    known_at: Moment | None,
    at_version: int | None,
    as_json: bool,
) -> None:
    """Where NEGOTIATION stood: phase, talks, stoppage, agreement, contract.

    --json prints the spec's status answer (section 3).
    """
    app = _open(ctx)
    from projections.answers import status_json

    document = status_json(app.status(negotiation, as_of=as_of, known_at=known_at, at_version=at_version))
    if as_json:
        _print_json(document)
        return
    table = _table(f"Status of {document['negotiation']}", "", "")
    table.show_header = False
    for key, value in document.items():
        if key == "negotiation":
            continue
        shown = _stoppage_text(value) if key == "stoppage" else value
        table.add_row(_text(key.replace("_", " ")), _text(shown, style="bold" if key == "phase" else ""))
    _print(table)


@cli.command(
    epilog="""\b
Examples:
  negotiation positions wga-amptp-2023 --at 2023-05-01
  negotiation positions wga-amptp-2023 --at 2023-09-24 --json""",
)
@click.argument("negotiation")
@_point_in_time_options
@_json_option
@click.pass_context
def positions(
    ctx: click.Context,
    *,
    negotiation: str,
    as_of: Moment | None,
    known_at: Moment | None,
    at_version: int | None,
    as_json: bool,
) -> None:
    """Each party's standing proposal on each issue of NEGOTIATION.

    --json prints the spec's positions answer (section 3).
    """
    app = _open(ctx)
    from projections.answers import positions_json

    document = positions_json(app.positions(negotiation, as_of=as_of, known_at=known_at, at_version=at_version))
    if as_json:
        _print_json(document)
        return
    table = _table(f"Positions in {document['negotiation']}", "party", "issue", "terms", "value", "since", "event")
    for party, issues in document["positions"].items():
        for issue, position in issues.items():
            table.add_row(
                _text(party),
                _text(issue),
                _text(position["terms"]),
                _text(_value_text(position["value"])),
                _text(position["since"]),
                _text(position["event"]),
            )
    _print(table)


@cli.command(
    epilog="""\b
Examples:
  negotiation timeline wga-amptp-2023
  negotiation timeline wga-amptp-2023 --from 2023-05-01 --to 2023-05-31 --json""",
)
@click.argument("negotiation")
@click.option(
    "--from", "start", type=MOMENT, metavar="DATE|TIME", help="Only events from this date (inclusive) or time on."
)
@click.option("--to", "end", type=MOMENT, metavar="DATE|TIME", help="Only events up to this date (inclusive) or time.")
@_known_at_option
@_json_option
@click.pass_context
def timeline(
    ctx: click.Context,
    *,
    negotiation: str,
    start: Moment | None,
    end: Moment | None,
    known_at: Moment | None,
    as_json: bool,
) -> None:
    """The events of NEGOTIATION in valid-time order, one line each."""
    app = _open(ctx)
    from projections.answers import timeline_json

    entries = app.timeline(negotiation, start=start, end=end, known_at=known_at)
    document = timeline_json(entries, negotiation=negotiation)
    if as_json:
        _print_json(document)
        return
    table = _table(f"Timeline of {negotiation}", "date", "type", "by", "id", "what", one_line=True)
    for row in document["events"]:
        table.add_row(*(_text(row[key]) for key in ("date", "type", "by", "id", "summary")))
    _print(table, one_line=True)


@cli.command(
    epilog="""\b
Examples:
  negotiation diff wga-amptp-2023 --from 2023-05-01 --to 2023-09-27
  negotiation diff wga-amptp-2023 --from 2023-05-01 --to 2023-09-27 --json""",
)
@click.argument("negotiation")
@click.option("--from", "start", type=MOMENT, required=True, metavar="DATE|TIME", help="The earlier time.")
@click.option("--to", "end", type=MOMENT, required=True, metavar="DATE|TIME", help="The later time.")
@_known_at_option
@_json_option
@click.pass_context
def diff(
    ctx: click.Context,
    *,
    negotiation: str,
    start: Moment,
    end: Moment,
    known_at: Moment | None,
    as_json: bool,
) -> None:
    """What changed in status and positions between two times."""
    app = _open(ctx)
    from projections.answers import diff_json

    document = diff_json(app.diff(negotiation, start=start, end=end, known_at=known_at))
    if as_json:
        _print_json(document)
        return
    table = _table(f"Changes in {negotiation} from {document['from']} to {document['to']}", "what", "before", "after")
    for field, change in document["status"].items():
        before, after = change["before"], change["after"]
        if field == "stoppage":
            before, after = _stoppage_text(before), _stoppage_text(after)
        table.add_row(_text(field.replace("_", " ")), _text(before), _text(after))
    changes = document["positions"]
    for row in changes["added"]:
        table.add_row(_text(f"{row['party']} on {row['issue']}"), _position_text(None), _position_text(row["position"]))
    for row in changes["changed"]:
        table.add_row(
            _text(f"{row['party']} on {row['issue']}"), _position_text(row["before"]), _position_text(row["after"])
        )
    for row in changes["removed"]:
        table.add_row(_text(f"{row['party']} on {row['issue']}"), _position_text(row["position"]), _position_text(None))
    if not table.row_count:
        _echo("no change")
        return
    _print(table)


@cli.command(
    epilog="""\b
Examples:
  negotiation stoppages --on 2023-08-11
  negotiation stoppages --on 2023-08-11 --json""",
)
@click.option(
    "--on", "on", type=MOMENT, required=True, metavar="DATE|TIME", help="The date (or the instant) to look at."
)
@_known_at_option
@_json_option
@click.pass_context
def stoppages(ctx: click.Context, *, on: Moment, known_at: Moment | None, as_json: bool) -> None:
    """The strikes and lockouts running on a date, in all negotiations."""
    app = _open(ctx)
    from projections.answers import stoppages_json

    document = stoppages_json(app.stoppages(on=on, known_at=known_at), on=on)
    if as_json:
        _print_json(document)
        return
    table = _table(f"Stoppages on {document['on']}", "negotiation", "kind", "by", "against", "since", "day", "ended")
    for row in document["stoppages"]:
        table.add_row(
            _text(row["negotiation"]),
            _text(row["kind"]),
            _text(row["party"]),
            _text(row["against"]),
            _text(row["since"]),
            _text(row["day"]),
            _text(row["ended"]),
        )
    _print(table)


def main(argv: Sequence[str] | None = None) -> None:
    """The console script ``negotiation``."""
    cli.main(args=list(argv) if argv is not None else None, prog_name="negotiation")
