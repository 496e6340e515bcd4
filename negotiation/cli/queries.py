"""The query commands: ``list``, ``status``, ``positions``, ``timeline``, ``diff``, ``stoppages``, ``gap``.

Each is a ``query_command``: a function from the facade to the spec's JSON
answer. Its table (text for people, ``--csv`` for spreadsheets) is the one
``negotiation.tabular`` makes of that answer for the command's name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import click

from negotiation.cli.options import MOMENT, Moment
from negotiation.cli.output import Items
from negotiation.cli.query import Answer, answers, query_command

if TYPE_CHECKING:
    from negotiation.application import Negotiations

__all__ = ["COMMANDS", "diff", "gap", "list_", "positions", "status", "stoppages", "timeline"]

_NEGOTIATION: Final = click.argument("negotiation")


# --- list ---------------------------------------------------------------------------------


@query_command(
    "list",
    epilog="""\b
Examples:
  negotiation list
  negotiation list --at 2023-08-11 --json""",
    when=("at", "known_at"),
)
def list_(app: Negotiations, *, as_of: Moment | None, known_at: Moment | None) -> Items:
    """List the negotiations in the store with their phase."""
    # An entry holds strings, integers and None only (the spec's `list` answer): no float to spell.
    return Items("negotiations", answers(app).catalog_entries(as_of=as_of, known_at=known_at), floats=False)


# --- status -------------------------------------------------------------------------------


@query_command(
    epilog="""\b
Examples:
  negotiation status wga-amptp-2023
  negotiation status wga-amptp-2023 --at 2023-08-11 --json
  negotiation status wga-amptp-2023 --at 2023-08-11 --known-at 2023-08-01T12:00:00Z
  negotiation status wga-amptp-2023 --version 10""",
    params=[_NEGOTIATION],
)
def status(
    app: Negotiations, *, negotiation: str, as_of: Moment | None, known_at: Moment | None, at_version: int | None
) -> Answer:
    """Where NEGOTIATION stood: phase, talks, stoppage, agreement, contract.

    --json prints the spec's status answer (section 3).
    """
    return answers(app).status(negotiation, as_of=as_of, known_at=known_at, at_version=at_version)


# --- positions ----------------------------------------------------------------------------


@query_command(
    epilog="""\b
Examples:
  negotiation positions wga-amptp-2023 --at 2023-05-01
  negotiation positions wga-amptp-2023 --at 2023-09-24 --json""",
    params=[_NEGOTIATION],
)
def positions(
    app: Negotiations, *, negotiation: str, as_of: Moment | None, known_at: Moment | None, at_version: int | None
) -> Answer:
    """Each party's standing proposal on each issue of NEGOTIATION.

    --json prints the spec's positions answer (section 3).
    """
    return answers(app).positions(negotiation, as_of=as_of, known_at=known_at, at_version=at_version)


# --- timeline -----------------------------------------------------------------------------


@query_command(
    epilog="""\b
Examples:
  negotiation timeline wga-amptp-2023
  negotiation timeline wga-amptp-2023 --from 2023-05-01 --to 2023-05-31 --json""",
    params=[
        _NEGOTIATION,
        click.option(
            "--from",
            "start",
            type=MOMENT,
            metavar="DATE|TIME",
            help="Only events from this date (inclusive) or time on.",
        ),
        click.option(
            "--to", "end", type=MOMENT, metavar="DATE|TIME", help="Only events up to this date (inclusive) or time."
        ),
    ],
    when=("known_at",),
    one_line=True,
)
def timeline(
    app: Negotiations, *, negotiation: str, start: Moment | None, end: Moment | None, known_at: Moment | None
) -> Answer:
    """The events of NEGOTIATION in valid-time order, one line each."""
    return answers(app).timeline(negotiation, start=start, end=end, known_at=known_at)


# --- diff ---------------------------------------------------------------------------------


@query_command(
    epilog="""\b
Examples:
  negotiation diff wga-amptp-2023 --from 2023-05-01 --to 2023-09-27
  negotiation diff wga-amptp-2023 --from 2023-05-01 --to 2023-09-27 --json""",
    params=[
        _NEGOTIATION,
        click.option("--from", "start", type=MOMENT, required=True, metavar="DATE|TIME", help="The earlier time."),
        click.option("--to", "end", type=MOMENT, required=True, metavar="DATE|TIME", help="The later time."),
    ],
    when=("known_at",),
    empty="no change",
)
def diff(app: Negotiations, *, negotiation: str, start: Moment, end: Moment, known_at: Moment | None) -> Answer:
    """What changed in status and positions between two times."""
    return answers(app).diff(negotiation, start=start, end=end, known_at=known_at)


# --- stoppages ----------------------------------------------------------------------------


@query_command(
    epilog="""\b
Examples:
  negotiation stoppages --on 2023-08-11
  negotiation stoppages --on 2023-08-11 --json""",
    params=[
        click.option(
            "--on", "on", type=MOMENT, required=True, metavar="DATE|TIME", help="The date (or the instant) to look at."
        )
    ],
    when=("known_at",),
)
def stoppages(app: Negotiations, *, on: Moment, known_at: Moment | None) -> Answer:
    """The strikes and lockouts running on a date, in all negotiations."""
    return answers(app).stoppages(on=on, known_at=known_at)


# --- gap ----------------------------------------------------------------------------------


@query_command(
    epilog="""\b
Examples:
  negotiation gap wga-amptp-2023 --at 2023-08-22
  negotiation gap wga-amptp-2023 --at 2023-08-22 --csv
  negotiation gap wga-amptp-2023 --at 2023-08-22 --known-at 2023-08-12 --json""",
    params=[_NEGOTIATION],
    when=("at", "known_at"),
    empty="no issue with comparable numbers on both sides",
)
def gap(app: Negotiations, *, negotiation: str, as_of: Moment | None, known_at: Moment | None) -> Answer:
    """How far apart the sides of NEGOTIATION are on each issue with comparable numbers.

    Per issue where a union and an employer both stand on a number in the same
    unit: each side's amount, the distance, and how far each side conceded
    since its first number (moves away count against it). --json adds every
    move.
    """
    return answers(app).gaps(negotiation, as_of=as_of, known_at=known_at)


COMMANDS: Final = (list_, status, positions, timeline, diff, stoppages, gap)
"""The commands of this module, registered by ``negotiation.cli``."""
