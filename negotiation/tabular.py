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
import textwrap
import unicodedata
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
    "to_text",
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
    shown: Literal["both", "csv", "text"] = "both"
    """Where the column appears: the text layout may show a merged cell that CSV keeps apart."""


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
        """The names of the columns of the CSV form (``csv_rows``)."""
        return tuple(c.name for c in self.columns if c.shown != "text")

    def csv_rows(self) -> list[tuple[str, ...]]:
        """The rows, with the cells of the CSV form's columns only."""
        keep = [i for i, c in enumerate(self.columns) if c.shown != "text"]
        return [tuple(row[i] for i in keep) for row in self.rows]


def _table(
    title: str,
    columns: Sequence[tuple[str, ColumnKind] | Column],
    rows: Iterable[Sequence[object]],
    group: int | None = None,
) -> Table:
    return Table(
        title=printable(title),
        columns=tuple(c if isinstance(c, Column) else Column(name=c[0], kind=c[1]) for c in columns),
        rows=tuple(tuple(plain(cell) for cell in row) for row in rows),
        group=group,
    )


def _stoppage(stoppage: Mapping[str, Any] | None) -> str:
    if not stoppage:
        return "none"
    parties = ", ".join(str(p) for p in stoppage.get("parties") or ())
    return f"{stoppage.get('kind')} by {parties} since {stoppage.get('since')} (day {stoppage.get('day')})"


def _ratified(unions: Sequence[str] | None) -> str:
    """The unions that ratified the current tentative agreement (spec 1.1), or ``none``."""
    return ", ".join(str(u) for u in unions or ()) or "none"


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
        (
            key.replace("_", " "),
            _stoppage(value) if key == "stoppage" else _ratified(value) if key == "ratified_by" else value,
        )
        for key, value in answer.items()
        if key != "negotiation"
    ]
    return _table(f"Status of {answer['negotiation']}", [("field", "label"), ("value", "text")], rows)


def _positions(answer: Mapping[str, Any]) -> Table:
    rows = []
    for party, issues in answer["positions"].items():
        for issue, position in issues.items():
            amount, unit, currency = _value(position["value"])
            value = None if amount is None else " ".join(plain(v) for v in (amount, unit, currency) if v is not None)
            rows.append(
                (
                    issue,
                    party,
                    amount,
                    unit,
                    currency,
                    value,
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
            Column(name="amount", kind="number", shown="csv"),
            Column(name="unit", kind="label", shown="csv"),
            Column(name="currency", kind="label", shown="csv"),
            Column(name="value", kind="label", shown="text"),
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
        elif field == "ratified_by":
            before, after = _ratified(before), _ratified(after)
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
    writer.writerows([csv_cell(cell) for cell in row] for row in table.csv_rows())
    return out.getvalue()


# --- text for people -------------------------------------------------------------------------------

_GAP: Final = "  "
_NBSP: Final = "\u00a0"
_MIN_TEXT: Final = 32
"""Narrower than this, a text column reads badly: the table is laid out as blocks instead."""


def _width(text: str) -> int:
    """Terminal cells taken by ``text`` (East Asian wide characters take two)."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 0 if unicodedata.combining(c) else 1 for c in text)


def _pad(text: str, width: int, *, right: bool = False) -> str:
    space = " " * max(0, width - _width(text))
    return space + text if right else text + space


def _wrap(text: str, width: int) -> list[str]:
    return textwrap.wrap(text, max(8, width), break_on_hyphens=False) or [""]


def _shown(cell: str) -> str:
    return cell if cell else "-"


def to_text(table: Table, width: int = 80) -> str:
    """The table for a terminal ``width`` columns wide: ids are never broken, text wraps in the space left.

    When the short columns (ids, dates, numbers, labels) leave the text columns
    room enough, the table is laid out in columns; otherwise each row becomes a
    block: a line of its short cells, then each text cell wrapped below it,
    indented (or, without text columns, its cells as ``name: value`` pairs).
    Rows of a grouped table (``positions``: by issue) sit under a line naming
    their group. Columns empty in every row are left out; an empty cell shows
    as ``-``. Ends with a newline.
    """
    lines = [*textwrap.wrap(table.title, width, break_long_words=False, break_on_hyphens=False), ""]
    if not table.rows:
        lines.append("(none)")
        return "\n".join(lines) + "\n"
    visible = [
        i
        for i, c in enumerate(table.columns)
        if c.shown != "csv" and (i == table.group or any(row[i] for row in table.rows))
    ]
    short = [i for i in visible if table.columns[i].kind != "text" and i != table.group]
    texts = [i for i in visible if table.columns[i].kind == "text"]
    sizes = {i: max([_width(table.columns[i].name)] + [_width(_shown(r[i])) for r in table.rows]) for i in short}
    indent = "  " if table.group is not None else ""
    fixed = len(indent) + sum(sizes.values()) + len(_GAP) * (len(short) - 1)
    room = width - fixed - len(_GAP) * len(texts)
    if texts:
        layout = "columns" if room // len(texts) >= _MIN_TEXT else "blocks"
    else:
        layout = "columns" if fixed <= width else "pairs"
    text_width = room // len(texts) if texts and layout == "columns" else 0
    if layout != "pairs":
        # Blocks name their short columns too; their text columns are named on the lines below (or alone).
        shown_texts = texts if layout == "columns" else []
        header = [_pad(table.columns[i].name, sizes[i], right=table.columns[i].kind == "number") for i in short]
        header += [table.columns[i].name for i in shown_texts]
        lines.append((indent + _GAP.join(header)).rstrip())
        rules = ["-" * sizes[i] for i in short] + ["-" * min(text_width, 40) for _ in shown_texts]
        lines.append(indent + _GAP.join(rules))
    group: str | None = None
    body = indent + "    "
    for row in table.rows:
        if table.group is not None and row[table.group] != group:
            group = row[table.group]
            lines.append(f"{table.columns[table.group].name} {_shown(group)}")
        cells = [_pad(_shown(row[i]), sizes[i], right=table.columns[i].kind == "number") for i in short]
        if layout == "columns":
            wrapped = [_wrap(_shown(row[i]), text_width) for i in texts]
            depth = max([1] + [len(w) for w in wrapped])
            for n in range(depth):
                head = cells if n == 0 else [" " * sizes[i] for i in short]
                tail = [_pad(w[n] if n < len(w) else "", text_width) for w in wrapped]
                lines.append((indent + _GAP.join(head + tail)).rstrip())
        elif layout == "blocks":
            lines.append((indent + _GAP.join(cells)).rstrip())
            for i in texts:
                if not row[i]:
                    continue
                label = f"{table.columns[i].name}: " if len(texts) > 1 else ""
                lines.extend(body + line for line in _wrap(label + row[i], width - len(body)))
        else:
            first, *others = short
            lines.append(indent + _shown(row[first]))
            # No-break spaces keep each name with its value: textwrap breaks only at ASCII whitespace.
            pairs = "   ".join(f"{table.columns[i].name}: {_shown(row[i])}".replace(" ", _NBSP) for i in others)
            pieces = textwrap.wrap(pairs, max(8, width - len(body)), break_long_words=False, break_on_hyphens=False)
            lines.extend(body + line.replace(_NBSP, " ") for line in pieces)
    return "\n".join(lines) + "\n"
