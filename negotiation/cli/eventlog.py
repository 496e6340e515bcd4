"""Commands over the event log itself: ``import``, ``verify``, ``export``."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Final

import click

from negotiation.cli.options import FILES, open_store, settings
from negotiation.cli.output import echo, echo_err, plural, progress_callback, safe_json_line

if TYPE_CHECKING:
    from negotiation.importer import ImportReport

__all__ = ["COMMANDS", "export", "import_", "verify"]


def _report_refusals(report: ImportReport) -> None:
    for refusal in report.refused:
        echo_err(str(refusal))


def _exit_if_refused(report: ImportReport) -> None:
    """End with the status of refused input when a line was refused."""
    if report.refused:
        from negotiation.problems import EXIT_REFUSED  # only now: see negotiation.cli.group

        raise click.exceptions.Exit(EXIT_REFUSED)


_QUIET: Final = click.option("-q", "--quiet", is_flag=True, help="No progress bar.")


@click.command(
    "import",
    epilog="""\b
Examples:
  negotiation import examples/wga_amptp_2023.jsonl
  cat events.jsonl | negotiation import -
  negotiation import --skip-invalid scraped.jsonl""",
)
@FILES
@click.option(
    "--skip-invalid", is_flag=True, help="Store the valid lines and report the refused ones (default: all or nothing)."
)
@_QUIET
# Undocumented, for the crash tests: events per transaction of the storing pass.
@click.option("--chunk-size", type=click.IntRange(min=1), default=None, hidden=True)
# Undocumented, for the crash tests: the fewest event lines whose table rows are derived while checking.
@click.option("--derive-min", type=click.IntRange(min=0), default=None, hidden=True)
@click.pass_context
def import_(
    ctx: click.Context,
    *,
    files: tuple[str, ...],
    skip_invalid: bool,
    quiet: bool,
    chunk_size: int | None,
    derive_min: int | None,
) -> None:
    """Append the events of FILE... to the store.

    Atomic by default: if any line is refused, nothing is stored and every
    refused line is reported on stderr as PATH:LINE: EVENT-ID: REASON.
    Events already stored (same id, same content) are skipped, so importing
    the same file again does nothing. Exit status 1 if a line was refused.
    """
    # The tables too: the first query after a large import should be as fast as any other.
    from negotiation.answers import import_files  # only now: see negotiation.cli.group

    app = open_store(ctx)
    with progress_callback(quiet=quiet) as progress:
        report, notice = import_files(
            app,
            files,
            skip_invalid=skip_invalid,
            limits=settings(ctx).limits,
            progress=progress,
            chunk_size=chunk_size,
            min_events=derive_min,
        )
        if notice is not None:
            echo_err(notice)
    _report_refusals(report)
    summary = (
        f"{plural(report.stored, 'event')} stored, {report.duplicates:,} already present, "
        f"{len(report.refused):,} refused"
    )
    if report.refused and not skip_invalid:
        summary += "; nothing was stored (the import is all or nothing: fix the refused lines, or use --skip-invalid)"
    elif not report.stored and not report.refused:
        summary += "; nothing new to store"
    echo(summary)
    _exit_if_refused(report)


@click.command(
    epilog="""\b
Examples:
  negotiation verify examples/wga_amptp_2023.jsonl
  negotiation --max-string-bytes 4096 verify -  < events.jsonl""",
)
@FILES
@_QUIET
@click.pass_context
def verify(ctx: click.Context, *, files: tuple[str, ...], quiet: bool) -> None:
    """Check FILE... as import would, storing nothing.

    The checks run against the store's current contents. Every refused line
    is reported on stderr as PATH:LINE: EVENT-ID: REASON; exit status 1 if a
    line was refused.
    """
    app = open_store(ctx)
    with progress_callback(quiet=quiet) as progress:
        report = app.import_files(files, dry_run=True, limits=settings(ctx).limits, progress=progress)
    _report_refusals(report)
    echo(
        f"{plural(report.lines, 'event')} checked: {report.accepted:,} new, {report.duplicates:,} already present, "
        f"{len(report.refused):,} refused; nothing was stored"
    )
    _exit_if_refused(report)


@click.command(
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
    app = open_store(ctx)
    for negotiation in negotiations:
        app.existing(negotiation)  # not found: fail before writing anything
    sys.stdout.flush()
    out = sys.stdout.buffer
    for line in app.export(negotiations):
        out.write(safe_json_line(line) + b"\n")
    out.flush()


COMMANDS: Final = (import_, verify, export)
"""The commands of this module, registered by ``negotiation.cli``."""
