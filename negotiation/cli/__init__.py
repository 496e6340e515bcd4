"""The ``negotiation`` command line (spec section 4).

The CLI holds no logic of its own: it parses arguments, calls the facade
``negotiation.Negotiations`` and renders its answers, as rich tables for people
or as the spec's JSON answers (``--json``) for programs. The console script is
``negotiation.cli:main``.

Where things are:

- ``group``: the command group ``cli``, its global options (``--db``,
  ``--verbose``, ``--log-json``, the input limits), logging set-up (the only
  place of the project that configures logging), and errors turned into one
  ``error:`` line and the exit status ``negotiation.problems`` gives their class;
- ``output``: everything printed: escaping of untrusted text, tables, JSON
  answers, the progress bar;
- ``options``: options and argument types shared by commands (``DATE|TIME``,
  ``--at``/``--known-at``/``--version``, ``FILE...``), the global settings and
  ``open_store``;
- ``query``: ``query_command``, the one way to declare a query (the store,
  the point-in-time options, ``--json`` or a table);
- one module per group of commands: ``eventlog`` (``import``, ``verify``,
  ``export``) and ``queries`` (``list``, ``status``, ``positions``,
  ``timeline``, ``diff``, ``stoppages``, ``gap``) and ``charts`` (``chart``).

Adding a command: write it in a module of its own (or beside its kin) as a
``click.command`` (a query: ``query_command``) and list it in that module's
``COMMANDS``; a new module is then registered with one line in
``_COMMAND_MODULES`` below. Keep heavy imports (rich, the facade, the
read models) inside the command functions, so that ``negotiation --version``
stays cheap. Exit statuses come from ``negotiation.problems``: a new error
class gets its row there, not a special case here.
"""

from __future__ import annotations

from negotiation.cli import charts, eventlog, queries
from negotiation.cli.group import cli, configure_logging, main
from negotiation.cli.options import parse_moment
from negotiation.cli.output import escape_controls

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

_COMMAND_MODULES = (
    eventlog,
    queries,
    charts,
)
"""Every module of commands: each lists its commands in ``COMMANDS``."""

for _module in _COMMAND_MODULES:
    for _command in _module.COMMANDS:
        cli.add_command(_command)


_EXIT_STATUSES = frozenset({"EXIT_INTERRUPTED", "EXIT_OK", "EXIT_REFUSED", "EXIT_USAGE"})


def __getattr__(name: str) -> int:
    """The ``EXIT_*`` statuses of ``negotiation.problems``, imported on first use (``--version`` stays cheap)."""
    if name in _EXIT_STATUSES:
        from negotiation import problems

        status: int = getattr(problems, name)
        return status
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
