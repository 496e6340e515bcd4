"""One way to declare a query command: the store, the point-in-time options and the output format, once.

A query command is a function from the facade and its own arguments to the
spec's JSON answer (a dict), plus a function that turns that answer into a
table::

    @query_command(epilog=..., params=[click.argument("negotiation")], table=_status_table)
    def status(app, *, negotiation, as_of, known_at, at_version):
        '''Where NEGOTIATION stood.'''
        from projections.answers import status_json

        return status_json(app.status(negotiation, as_of=as_of, known_at=known_at, at_version=at_version))

``query_command`` adds the options named in ``when`` (``--at``, ``--known-at``,
``--version``) after the command's own ``params``, then ``--json`` and
``--csv``; opens the store; and prints the answer as JSON (``--json``), as CSV
(``--csv``) or as the table (a string instead of a table is printed as one
line). Without a ``table`` renderer, the table is ``negotiation.tabular``'s
for the command's name (the same table the HTTP service serves as
``text/csv``), laid out for the terminal's width; ``--csv`` always prints
that table, so a command whose name has none in ``negotiation.tabular``
gets no ``--csv``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, Literal

import click

from negotiation.cli import options
from negotiation.cli.output import (
    Items,
    echo,
    echo_err,
    print_csv,
    print_json,
    print_table,
    print_text_table,
    progress_callback,
)

if TYPE_CHECKING:
    from rich.table import Table

    from negotiation.answers import Answers
    from negotiation.application import Negotiations

__all__ = ["ALL_TIMES", "TABULAR_COMMANDS", "Answer", "Renderer", "When", "answers", "query_command"]

TABULAR_COMMANDS: Final = frozenset(
    {"list", "status", "positions", "timeline", "statements", "diff", "stoppages", "gap"}
)
"""The commands with a table in ``negotiation.tabular`` (its ``COMMANDS``; not imported here: start-up stays cheap)."""

Answer = dict[str, Any]
"""The spec's JSON answer of a query, as a dict (what ``--json`` prints)."""

When = Literal["at", "known_at", "version"]
"""The point-in-time options a query can take: ``--at``, ``--known-at``, ``--version``."""

ALL_TIMES: Final[tuple[When, ...]] = ("at", "known_at", "version")
"""All three ways to say when (see docs/bitemporal.md)."""

_WHEN_OPTIONS: Final[Mapping[When, Callable[[Any], Any]]] = {
    "at": options.AT,
    "known_at": options.KNOWN_AT,
    "version": options.VERSION,
}

Renderer = Callable[[Answer, Mapping[str, Any]], "Table | str"]
"""The answer and the command's arguments -> the table to print (or one line of text instead)."""

Query = Callable[..., "Answer | Items"]
"""``(app, **arguments) -> the spec's JSON answer`` (``Items``: one whose entries are written as they come)."""


def answers(app: Negotiations) -> Answers:
    """The store's query answers, its read-model tables brought up to date first (once per command).

    Prints the one-line notice, if any (tables rebuilt, or answered without them), on stderr.
    """
    from negotiation.answers import Answers

    ctx = click.get_current_context()
    found = ctx.meta.get("negotiation.answers")
    if found is None:
        # A large backlog (a store imported without its tables, tables of an older layout) takes a while:
        # the import's progress bar, on a terminal, from its first page on.
        with progress_callback(quiet=False) as progress:
            found = ctx.meta["negotiation.answers"] = Answers(app, progress=progress)
        ctx.call_on_close(found.close)
        if found.notice is not None:
            echo_err(found.notice)
    return found


def query_command(
    name: str | None = None,
    *,
    epilog: str,
    table: Renderer | None = None,
    params: Sequence[Callable[[Any], Any]] = (),
    when: Sequence[When] = ALL_TIMES,
    one_line: bool = False,
    empty: str | None = None,
) -> Callable[[Query], click.Command]:
    """A click command from a query function (see the module docstring).

    ``name``: the command's name (default: the function's). ``params``: the
    command's own arguments and options (click decorators, in the order of
    the help). ``when``: which point-in-time options it takes. ``one_line``:
    rows are never wrapped into a pipe (one line each, for ``grep``).
    ``empty``: the line printed instead of a table without rows.
    """

    def declare(query: Query) -> click.Command:
        command = name or query.__name__
        tabular = command in TABULAR_COMMANDS

        def callback(*, as_json: bool, as_csv: bool = False, **arguments: Any) -> None:
            if as_json and as_csv:
                raise click.UsageError("--json and --csv cannot be used together")
            app = options.open_store(click.get_current_context())
            answer = query(app, **arguments)
            if as_json:
                print_json(answer)
                return
            document = answer.document() if isinstance(answer, Items) else answer
            if table is None or as_csv:
                from negotiation.tabular import table_for

                rows = table_for(command, document)
                if as_csv:
                    print_csv(rows)
                elif empty is not None and not rows.rows:
                    echo(empty)
                else:
                    print_text_table(rows, one_line=one_line)
                return
            shown = table(document, arguments)
            if isinstance(shown, str):
                echo(shown)
                return
            print_table(shown, one_line=one_line)

        formats = [options.JSON, options.CSV] if tabular else [options.JSON]
        decorated: Any = callback
        for decorator in reversed([*params, *(_WHEN_OPTIONS[w] for w in when), *formats]):
            decorated = decorator(decorated)
        return click.command(command, help=query.__doc__, epilog=epilog)(decorated)

    return declare
