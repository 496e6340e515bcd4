r"""One tabular rendering of every query answer: a title, a header and rows of plain strings.

The command line prints these tables (as text for people, ``--csv`` for
spreadsheets and R) and the HTTP service serves them as ``text/csv``; all of
them start from the JSON answers of ``projections.answers``, so a table says
exactly what ``--json`` says::

    table = table_for("positions", positions_json(app.positions("wga-amptp-2023")))
    text = to_csv(table)

Cells are one line of printable text: whitespace runs become one space and
control characters (terminal escapes among them) visible escapes such as
``\x1b``. Dates stay ISO 8601, numbers are written as Python writes them
(``5``, ``3.5``), absent values are empty cells. ``to_csv`` writes RFC 4180
(comma, double quotes, CRLF) and guards against formula injection: a text cell
that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return (and is
not a plain number) gets a leading ``'``, so a spreadsheet shows it instead of
running it.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final, Literal

import attrs

__all__ = [
    "COMMANDS",
    "Column",
    "ColumnKind",
    "Table",
    "csv_cell",
    "plain",
    "printable",
    "table_for",
    "to_csv",
]

ColumnKind = Literal["id", "text", "label", "date", "number"]
"""How a column may be laid out: ``id`` cells are never broken, ``text`` cells wrap, the others are short."""

# C0 and C1 controls, DEL, lone surrogates, line/paragraph separators and the bidi controls.
_UNSAFE_RE: Final = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]")
_SPACE_RE: Final = re.compile(r"[\t\n\r ]+")
_NUMBER_RE: Final = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(value: object, *, limit: int | None = None) -> str:
    r"""``value`` as one line of printable text: whitespace runs become one space, controls visible escapes.

    ``limit`` cuts longer text to that many characters, the last an ellipsis.

    >>> printable("a\x1b[31m\nb")
    'a\\x1b[31m b'
    """
    text = _UNSAFE_RE.sub(_escape, _SPACE_RE.sub(" ", "" if value is None else str(value)).strip())
    if limit is not None and len(text) > limit:
        text = text[: max(0, limit - 1)] + "…"
    return text


def plain(value: object) -> str:
    """A cell: ``""`` for None, ``yes``/``no`` for booleans, numbers as Python writes them, lists joined by ``, ``."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, list | tuple):
        return ", ".join(plain(v) for v in value)
    return printable(value)


@attrs.frozen(kw_only=True)
class Column:
    """A column of a table: its header and how its cells may be laid out."""

    name: str
    kind: ColumnKind = "text"


@attrs.frozen(kw_only=True)
class Table:
    """A title, columns and rows of plain strings (one per column)."""

    title: str
    columns: tuple[Column, ...]
    rows: tuple[tuple[str, ...], ...]
    group: int | None = None
    """The column whose equal values the rows are grouped by (``positions``: the issue), if any."""

    @property
    def header(self) -> tuple[str, ...]:
        """The column names."""
        return tuple(c.name for c in self.columns)


def _table(
    title: str, columns: Sequence[tuple[str, ColumnKind]], rows: Iterable[Sequence[object]], group: int | None = None
) -> Table:
    return Table(
        title=printable(title),
        columns=tuple(Column(name=name, kind=kind) for name, kind in columns),
        rows=tuple(tuple(plain(cell) for cell in row) for row in rows),
        group=group,
    )


def _stoppage(stoppage: Mapping[str, Any] | None) -> str:
    if not stoppage:
        return "none"
    parties = ", ".join(str(p) for p in stoppage.get("parties") or ())
    return f"{stoppage.get('kind')} by {parties} since {stoppage.get('since')} (day {stoppage.get('day')})"


def _value(value: Mapping[str, Any] | None) -> tuple[object, object, object]:
    if not value:
        return None, None, None
    return value.get("amount"), value.get("unit"), value.get("currency")


def _position(position: Mapping[str, Any] | None) -> str:
    if position is None:
        return ""
    amount, unit, currency = _value(position.get("value"))
    number = (
        "" if amount is None else f" ({plain(amount)} {plain(unit)}{'' if currency is None else ' ' + plain(currency)})"
    )
    accepted = f", accepted in {position['accepted']}" if position.get("accepted") else ""
    return f"{position.get('terms')}{number} since {position.get('since')} [{position.get('event')}{accepted}]"


def _list(answer: Mapping[str, Any]) -> Table:
    return _table(
        "Negotiations",
        [("negotiation", "id"), ("title", "text"), ("phase", "label"), ("stoppage", "text"), ("events", "number")],
        (
            (row["negotiation"], row["title"], row["phase"], _stoppage(row["stoppage"]), row["events_applied"])
            for row in answer["negotiations"]
        ),
    )


def _status(answer: Mapping[str, Any]) -> Table:
    rows = [
        (key.replace("_", " "), _stoppage(value) if key == "stoppage" else value)
        for key, value in answer.items()
        if key != "negotiation"
    ]
    return _table(f"Status of {answer['negotiation']}", [("field", "label"), ("value", "text")], rows)


def _positions(answer: Mapping[str, Any]) -> Table:
    rows = []
    for party, issues in answer["positions"].items():
        for issue, position in issues.items():
            amount, unit, currency = _value(position["value"])
            rows.append(
                (
                    issue,
                    party,
                    amount,
                    unit,
                    currency,
                    position["since"],
                    position["event"],
                    position.get("accepted"),
                    position["terms"],
                )
            )
    rows.sort(key=lambda r: (str(r[0]), str(r[1])))
    return _table(
        f"Positions in {answer['negotiation']}",
        [
            ("issue", "id"),
            ("party", "id"),
            ("amount", "number"),
            ("unit", "label"),
            ("currency", "label"),
            ("since", "date"),
            ("event", "id"),
            ("accepted", "id"),
            ("terms", "text"),
        ],
        rows,
        group=0,
    )


def _timeline(answer: Mapping[str, Any]) -> Table:
    return _table(
        f"Timeline of {answer['negotiation']}",
        [("date", "date"), ("type", "label"), ("by", "id"), ("id", "id"), ("what", "text")],
        ((e["date"], e["type"], e["by"], e["id"], e["summary"]) for e in answer["events"]),
    )


def _statements(answer: Mapping[str, Any]) -> Table:
    return _table(
        f"Statements in {answer['negotiation']}",
        [("date", "date"), ("by", "id"), ("id", "id"), ("audience", "label"), ("text", "text")],
        ((s["date"], s["by"], s["id"], s.get("audience"), s.get("text")) for s in answer["statements"]),
    )


def _diff(answer: Mapping[str, Any]) -> Table:
    rows: list[tuple[object, ...]] = []
    for field, change in answer["status"].items():
        before, after = change["before"], change["after"]
        if field == "stoppage":
            before, after = _stoppage(before), _stoppage(after)
        rows.append((field.replace("_", " "), "changed", before, after))
    changes = answer["positions"]
    rows += [(f"{r['party']} on {r['issue']}", "added", "", _position(r["position"])) for r in changes["added"]]
    rows += [
        (f"{r['party']} on {r['issue']}", "changed", _position(r["before"]), _position(r["after"]))
        for r in changes["changed"]
    ]
    rows += [(f"{r['party']} on {r['issue']}", "removed", _position(r["position"]), "") for r in changes["removed"]]
    return _table(
        f"Changes in {answer['negotiation']} from {answer['from']} to {answer['to']}",
        [("what", "id"), ("change", "label"), ("before", "text"), ("after", "text")],
        rows,
    )


def _stoppages(answer: Mapping[str, Any]) -> Table:
    return _table(
        f"Stoppages on {answer['on']}",
        [
            ("negotiation", "id"),
            ("kind", "label"),
            ("by", "id"),
            ("against", "id"),
            ("since", "date"),
            ("day", "number"),
            ("ended", "date"),
        ],
        (
            (s["negotiation"], s["kind"], s["party"], s["against"], s["since"], s["day"], s["ended"])
            for s in answer["stoppages"]
        ),
    )


def _gap(answer: Mapping[str, Any]) -> Table:
    return _table(
        f"Gaps in {answer['negotiation']}",
        [
            ("issue", "id"),
            ("unit", "label"),
            ("union", "id"),
            ("union amount", "number"),
            ("union conceded", "number"),
            ("employer", "id"),
            ("employer amount", "number"),
            ("employer conceded", "number"),
            ("distance", "number"),
        ],
        (
            (
                g["issue"],
                g["unit"] if not g.get("currency") else f"{g['unit']} {g['currency']}",
                g["union"]["party"],
                g["union"]["amount"],
                g["union"]["conceded"],
                g["employer"]["party"],
                g["employer"]["amount"],
                g["employer"]["conceded"],
                g["distance"],
            )
            for g in answer["gaps"]
        ),
    )


_BUILDERS: Final[dict[str, Callable[[Mapping[str, Any]], Table]]] = {
    "list": _list,
    "status": _status,
    "positions": _positions,
    "timeline": _timeline,
    "statements": _statements,
    "diff": _diff,
    "stoppages": _stoppages,
    "gap": _gap,
}

COMMANDS: Final = tuple(_BUILDERS)
"""The commands whose answers have a table: the command line's names (``gap`` for ``gaps_json``)."""


def table_for(command: str, answer: Mapping[str, Any]) -> Table:
    """The table of a command's JSON answer (``projections.answers``); ``KeyError`` for an unknown command."""
    return _BUILDERS[command](answer)


def csv_cell(text: str) -> str:
    """``text`` as a CSV cell no spreadsheet will run: a leading ``'`` before ``=``, ``+``, ``-``, ``@``, tab, CR.

    Plain numbers (``-3``, ``+1.5``) are left as they are.
    """
    if text.startswith(_FORMULA_START) and not _NUMBER_RE.fullmatch(text):
        return "'" + text
    return text


def to_csv(table: Table) -> str:
    """The table as RFC 4180 CSV: the header row, then one row per table row, CRLF line ends."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, dialect="excel", lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow([csv_cell(name) for name in table.header])
    writer.writerows([csv_cell(cell) for cell in row] for row in table.rows)
    return out.getvalue()
