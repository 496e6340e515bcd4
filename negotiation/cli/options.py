"""Options and argument types shared by the commands, and the global settings they read.

Declare an option here once when more than one command takes it; a command
module then writes ``@options.KNOWN_AT`` (or lists it in ``query_command``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final, TypeVar

import attrs
import click

from events.errors import InvalidMomentError
from events.time import TIME_RANGE, in_time_range, parse_when
from negotiation.cli.output import escape_controls

if TYPE_CHECKING:
    from events.converter import Limits
    from negotiation.application import Negotiations

__all__ = [
    "AT",
    "CSV",
    "FILES",
    "JSON",
    "KNOWN_AT",
    "MOMENT",
    "VERSION",
    "Moment",
    "Settings",
    "open_store",
    "parse_moment",
    "settings",
]

# --- the global options ---------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Settings:
    """The global options (given before the command), for the commands."""

    db: str | None
    verbose: bool
    limits: Limits


def settings(ctx: click.Context) -> Settings:
    """The global options of this run."""
    found = ctx.find_object(Settings)
    if found is None:  # pragma: no cover - the group always sets it
        raise click.UsageError("internal error: no settings")
    return found


def open_store(ctx: click.Context) -> Negotiations:
    """The facade for the chosen store, closed when the command ends."""
    from negotiation.application import Negotiations
    from negotiation.store.config import resolve

    app = Negotiations(config=resolve(settings(ctx).db).for_one_command())
    ctx.call_on_close(app.close)
    return app


# --- argument types ----------------------------------------------------------------

Moment = dt.date | dt.datetime
"""A parsed ``DATE|TIME`` argument (a ``datetime`` is a ``date``)."""

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
            moment = parse_when(str(value))
        except InvalidMomentError:
            self.fail(
                f"{escape_controls(str(value))!r} is not a date YYYY-MM-DD "
                "or an RFC 3339 time with offset (e.g. 2023-08-11T09:30:00-07:00)",
                param,
                ctx,
            )
        if not in_time_range(moment):
            # Beyond it, a zone or the end of a day would leave Python's years 1 to 9999.
            self.fail(f"{escape_controls(str(value))!r} is out of range: expected {TIME_RANGE}", param, ctx)
        return moment


MOMENT: Final = _Moment()
"""The type of every ``DATE|TIME`` option."""

D = TypeVar("D", bound=Callable[..., Any])


def _documented(doc: str, decorator: D) -> D:
    """``decorator`` (an option or argument shared by commands) with a docstring of its own."""
    decorator.__doc__ = doc
    return decorator


FILES: Final = _documented(
    "``FILE...``: JSON Lines files; ``-`` reads standard input.",
    click.argument(
        "files",
        nargs=-1,
        required=True,
        type=click.Path(dir_okay=False, allow_dash=True, exists=True, path_type=str),
        metavar="FILE...",
    ),
)

# --- the options of the queries ----------------------------------------------------------

_AT_HELP: Final = "Valid time: where things stood at this date (the end of that day) or time. Default: now."
_KNOWN_AT_HELP: Final = (
    "Knowledge time: answer with only what was recorded by this time (a date means the end of that day). Default: now."
)
_JSON_HELP: Final = "Print the spec's JSON answer on stdout instead of a table."

AT: Final = _documented(
    "``--at``: valid time; the command receives ``as_of``.",
    click.option("--at", "as_of", type=MOMENT, metavar="DATE|TIME", help=_AT_HELP),
)
KNOWN_AT: Final = _documented(
    "``--known-at``: knowledge time; the command receives ``known_at``.",
    click.option("--known-at", type=MOMENT, metavar="DATE|TIME", help=_KNOWN_AT_HELP),
)
VERSION: Final = _documented(
    "``--version``: the first N events of the stream; the command receives ``at_version``.",
    click.option(
        "--version",
        "at_version",
        type=click.IntRange(min=0),
        metavar="N",
        help="Count only the first N events appended to the negotiation (its stream version N).",
    ),
)
JSON: Final = _documented(
    "``--json``: the spec's JSON answer instead of a table (``query_command`` adds it).",
    click.option("--json", "as_json", is_flag=True, help=_JSON_HELP),
)
CSV: Final = _documented(
    "``--csv``: the table as RFC 4180 CSV (``query_command`` adds it to the commands that have a table).",
    click.option(
        "--csv",
        "as_csv",
        is_flag=True,
        help="Print the table as CSV (RFC 4180, a header row, ISO dates) for spreadsheets and R.",
    ),
)
