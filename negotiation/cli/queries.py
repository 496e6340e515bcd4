"""The query commands: ``list``, ``status``, ``positions``, ``timeline``, ``diff``, ``stoppages``.

Each is a ``query_command``: a function from the facade to the spec's JSON
answer, and a function from that answer to a table.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

import click

from negotiation.cli.options import MOMENT, Moment
from negotiation.cli.output import table, text
from negotiation.cli.query import Answer, answers, query_command

if TYPE_CHECKING:
    from rich.table import Table
    from rich.text import Text

    from negotiation.application import Negotiations

__all__ = ["COMMANDS", "diff", "list_", "positions", "status", "stoppages", "timeline"]

_NEGOTIATION: Final = click.argument("negotiation")


def _position_text(position: Mapping[str, Any] | None) -> Text:
    """``terms (value) since DATE [event]`` for the diff table."""
    from rich.text import Text

    if position is None:
        return Text("-", style="dim")
    value = position.get("value")
    parts = [str(position.get("terms"))]
    if value:
        parts.append(f"({_value_text(value)})")
    parts.append(f"since {position.get('since')} [{_event_text(position)}]")
    return text(" ".join(parts))


def _event_text(position: Mapping[str, Any]) -> str:
    """The position's event id, and the acceptance that made it the party's (spec 1.1)."""
    accepted = position.get("accepted")
    event = str(position.get("event"))
    return event if accepted is None else f"{event}, accepted in {accepted}"


def _ratified_text(unions: list[str]) -> str:
    """The unions that ratified the current tentative agreement, or ``none`` (spec 1.1)."""
    return ", ".join(unions) or "none"


def _value_text(value: Mapping[str, Any] | None) -> str:
    if not value:
        return "-"
    return f"{value.get('amount')} {value.get('unit') or ''}".strip()


def _stoppage_text(stoppage: Mapping[str, Any] | None) -> str:
    if not stoppage:
        return "none"
    parties = ", ".join(str(p) for p in stoppage.get("parties") or ())
    return f"{stoppage.get('kind')} by {parties} since {stoppage.get('since')} (day {stoppage.get('day')})"


# --- list ---------------------------------------------------------------------------------


def _catalog_table(document: Answer, _: Mapping[str, Any]) -> Table:
    shown = table("Negotiations", "negotiation", "title", "phase", "stoppage", "events")
    for row in document["negotiations"]:
        shown.add_row(
            text(row["negotiation"]),
            text(row["title"]),
            text(row["phase"], style="bold"),
            text(_stoppage_text(row["stoppage"])),
            text(row["events_applied"]),
        )
    return shown


@query_command(
    "list",
    epilog="""\b
Examples:
  negotiation list
  negotiation list --at 2023-08-11 --json""",
    when=("at", "known_at"),
    table=_catalog_table,
)
def list_(app: Negotiations, *, as_of: Moment | None, known_at: Moment | None) -> Answer:
    """List the negotiations in the store with their phase."""
    return answers(app).catalog(as_of=as_of, known_at=known_at)


# --- status -------------------------------------------------------------------------------


def _status_table(document: Answer, _: Mapping[str, Any]) -> Table:
    shown = table(f"Status of {document['negotiation']}", "", "")
    shown.show_header = False
    for key, value in document.items():
        if key == "negotiation":
            continue
        value_shown = (
            _stoppage_text(value) if key == "stoppage" else _ratified_text(value) if key == "ratified_by" else value
        )
        shown.add_row(text(key.replace("_", " ")), text(value_shown, style="bold" if key == "phase" else ""))
    return shown


@query_command(
    epilog="""\b
Examples:
  negotiation status wga-amptp-2023
  negotiation status wga-amptp-2023 --at 2023-08-11 --json
  negotiation status wga-amptp-2023 --at 2023-08-11 --known-at 2023-08-01T12:00:00Z
  negotiation status wga-amptp-2023 --version 10""",
    params=[_NEGOTIATION],
    table=_status_table,
)
def status(
    app: Negotiations, *, negotiation: str, as_of: Moment | None, known_at: Moment | None, at_version: int | None
) -> Answer:
    """Where NEGOTIATION stood: phase, talks, stoppage, agreement, contract.

    --json prints the spec's status answer (section 3).
    """
    return answers(app).status(negotiation, as_of=as_of, known_at=known_at, at_version=at_version)


# --- positions ----------------------------------------------------------------------------


def _positions_table(document: Answer, _: Mapping[str, Any]) -> Table:
    shown = table(f"Positions in {document['negotiation']}", "party", "issue", "terms", "value", "since", "event")
    for party, issues in document["positions"].items():
        for issue, position in issues.items():
            shown.add_row(
                text(party),
                text(issue),
                text(position["terms"]),
                text(_value_text(position["value"])),
                text(position["since"]),
                text(_event_text(position)),
            )
    return shown


@query_command(
    epilog="""\b
Examples:
  negotiation positions wga-amptp-2023 --at 2023-05-01
  negotiation positions wga-amptp-2023 --at 2023-09-24 --json""",
    params=[_NEGOTIATION],
    table=_positions_table,
)
def positions(
    app: Negotiations, *, negotiation: str, as_of: Moment | None, known_at: Moment | None, at_version: int | None
) -> Answer:
    """Each party's standing proposal on each issue of NEGOTIATION.

    --json prints the spec's positions answer (section 3).
    """
    return answers(app).positions(negotiation, as_of=as_of, known_at=known_at, at_version=at_version)


# --- timeline -----------------------------------------------------------------------------


def _timeline_table(document: Answer, arguments: Mapping[str, Any]) -> Table:
    shown = table(f"Timeline of {arguments['negotiation']}", "date", "type", "by", "id", "what", one_line=True)
    for row in document["events"]:
        shown.add_row(*(text(row[key]) for key in ("date", "type", "by", "id", "summary")))
    return shown


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
    table=_timeline_table,
    one_line=True,
)
def timeline(
    app: Negotiations, *, negotiation: str, start: Moment | None, end: Moment | None, known_at: Moment | None
) -> Answer:
    """The events of NEGOTIATION in valid-time order, one line each."""
    return answers(app).timeline(negotiation, start=start, end=end, known_at=known_at)


# --- diff ---------------------------------------------------------------------------------


def _diff_table(document: Answer, arguments: Mapping[str, Any]) -> Table | str:
    shown = table(
        f"Changes in {arguments['negotiation']} from {document['from']} to {document['to']}", "what", "before", "after"
    )
    for field, change in document["status"].items():
        before, after = change["before"], change["after"]
        if field == "stoppage":
            before, after = _stoppage_text(before), _stoppage_text(after)
        elif field == "ratified_by":
            before, after = _ratified_text(before), _ratified_text(after)
        shown.add_row(text(field.replace("_", " ")), text(before), text(after))
    changes = document["positions"]
    for row in changes["added"]:
        shown.add_row(text(f"{row['party']} on {row['issue']}"), _position_text(None), _position_text(row["position"]))
    for row in changes["changed"]:
        shown.add_row(
            text(f"{row['party']} on {row['issue']}"), _position_text(row["before"]), _position_text(row["after"])
        )
    for row in changes["removed"]:
        shown.add_row(text(f"{row['party']} on {row['issue']}"), _position_text(row["position"]), _position_text(None))
    return shown if shown.row_count else "no change"


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
    table=_diff_table,
)
def diff(app: Negotiations, *, negotiation: str, start: Moment, end: Moment, known_at: Moment | None) -> Answer:
    """What changed in status and positions between two times."""
    return answers(app).diff(negotiation, start=start, end=end, known_at=known_at)


# --- stoppages ----------------------------------------------------------------------------


def _stoppages_table(document: Answer, _: Mapping[str, Any]) -> Table:
    shown = table(f"Stoppages on {document['on']}", "negotiation", "kind", "by", "against", "since", "day", "ended")
    for row in document["stoppages"]:
        shown.add_row(
            text(row["negotiation"]),
            text(row["kind"]),
            text(row["party"]),
            text(row["against"]),
            text(row["since"]),
            text(row["day"]),
            text(row["ended"]),
        )
    return shown


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
    table=_stoppages_table,
)
def stoppages(app: Negotiations, *, on: Moment, known_at: Moment | None) -> Answer:
    """The strikes and lockouts running on a date, in all negotiations."""
    return answers(app).stoppages(on=on, known_at=known_at)


COMMANDS: Final = (list_, status, positions, timeline, diff, stoppages)
"""The commands of this module, registered by ``negotiation.cli``."""
