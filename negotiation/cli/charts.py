"""``negotiation chart``: a picture of a negotiation, or of the strikes and lockouts across the store.

The chart is drawn by ``negotiation.charts`` from the store's query answers,
read from the indexed read-model tables as the query commands read them
(``negotiation.cli.query.answers``; the pure folds when the tables cannot be
brought up to date), and written in
the format the output file's suffix names (``.html``, ``.svg``, ``.png``). The
``charts`` extra (altair, vl-convert) is imported only here, when a chart is
drawn; without it the command says which extra to install.
"""

from __future__ import annotations

from typing import Final

import click

from negotiation.cli import options
from negotiation.cli.options import MOMENT, Moment
from negotiation.cli.output import echo
from negotiation.cli.query import answers

__all__ = ["COMMANDS", "chart"]

_EPILOG: Final = """\b
Examples:
  negotiation chart wga-amptp-2023 --output wga.html
  negotiation chart wga-amptp-2023 --from 2023-05-01 --to 2023-09-30 --output wga.svg
  negotiation chart wga-amptp-2023 --known-at 2023-08-12 --output known-aug-12.png
  negotiation chart --stoppages --from 2023-01-01 --to 2023-12-31 --output stoppages.html"""


@click.command(epilog=_EPILOG)
@click.argument("negotiation", required=False)
@click.option(
    "--stoppages",
    is_flag=True,
    help="Chart every strike and lockout of the store between --from and --to, one row per negotiation.",
)
@click.option("--from", "start", type=MOMENT, metavar="DATE", help="The first day shown (default: the first event).")
@click.option("--to", "end", type=MOMENT, metavar="DATE", help="The last day shown (default: the last event).")
@options.KNOWN_AT
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, writable=True, path_type=str),
    metavar="FILE",
    help="Where to write the chart: FILE.html (self-contained, interactive, works offline), FILE.svg or FILE.png.",
)
@click.pass_context
def chart(
    ctx: click.Context,
    *,
    negotiation: str | None,
    stoppages: bool,
    start: Moment | None,
    end: Moment | None,
    known_at: Moment | None,
    output: str,
) -> None:
    """Draw NEGOTIATION: its phases, stoppage, talks, proposals, votes, and each issue's numbers.

    The timeline on top shows the phases as bands, the strike or lockout with
    its day count, the talks, proposals, statements, agreements and votes and
    the old contract's expiry; below, one panel per issue on which the union
    and the employer both stand on a number: each side's amount as steps, the
    gap between them shaded, acceptances marked. Retracted events are left out;
    --known-at draws only what was recorded by then. The format is chosen by
    the output file's suffix. A 100,000-event negotiation is drawn with events
    counted per period (the chart says so).

    With --stoppages (and no NEGOTIATION): every strike and lockout of the
    store between --from and --to, labelled with the parties and its length.
    """
    from negotiation.charts import format_of, negotiation_chart, require, stoppages_chart, write

    format_of(output)  # a wrong suffix is refused before anything is read
    if stoppages:
        if negotiation is not None:
            raise click.UsageError("--stoppages charts every negotiation: give no NEGOTIATION")
        if start is None or end is None:
            raise click.UsageError("--stoppages needs --from and --to")
        require()
        spec = stoppages_chart(answers(options.open_store(ctx)).queries(), start=start, end=end, known_at=known_at)
        title = "Strikes and lockouts"
    else:
        if negotiation is None:
            raise click.UsageError("name a NEGOTIATION, or give --stoppages")
        require()
        queries = answers(options.open_store(ctx)).queries(negotiation)
        spec = negotiation_chart(queries, negotiation, start=start, end=end, known_at=known_at)
        title = negotiation
    echo(str(write(spec, output, title=title)))


COMMANDS: Final = (chart,)
"""The commands of this module, registered by ``negotiation.cli``."""
