r"""Terminal output: everything the command line prints goes through here.

Everything the store holds is untrusted text (statements, terms, titles,
names, ids) and so are the reasons of refused lines: it is always printed
literally, through ``escape_controls`` and rich ``Text`` objects, never as rich
markup and never as terminal control sequences. JSON answers keep the same
JSON but show the characters a terminal could act on as ``\u`` escapes.

rich is imported only when a table, a progress bar or a ``Text`` is made, so
that ``negotiation --version`` stays cheap.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Final, TextIO

import attrs
import click
import orjson

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, Task
    from rich.table import Table
    from rich.text import Text

    from negotiation.tabular import Table as TextTable

__all__ = [
    "echo",
    "echo_err",
    "escape_controls",
    "json_text",
    "plural",
    "print_csv",
    "print_json",
    "print_table",
    "print_text_table",
    "progress_callback",
    "safe_json_line",
    "table",
    "text",
    "text_width",
]

# --- escaping untrusted text -------------------------------------------------------

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


_UNSAFE_UTF8_RE: Final = re.compile(
    rb"\x7f|\xc2[\x80-\x9f]|\xd8\x9c|\xe2\x80[\x8e\x8f\xa8-\xae]|\xe2\x81[\xa6-\xa9]",
)


def _json_line_escape(match: re.Match[bytes]) -> bytes:
    return f"\\u{ord(match.group().decode()):04x}".encode()


def safe_json_line(line: bytes) -> bytes:
    r"""A UTF-8 JSON line with the characters a terminal could act on as ``\u`` escapes (same JSON)."""
    return _UNSAFE_UTF8_RE.sub(_json_line_escape, line)


# A float that orjson may spell otherwise than Python's ``repr`` (``1e-7`` for ``1e-07``, ``0.00001`` for
# ``1e-05``, ``1e16`` for ``1e+16`` in older versions), as a whole value: with ``OPT_INDENT_2`` every scalar in a
# container starts its line or follows ``": "``, and ends its line; a raw newline never occurs inside a
# string, so a match is never string content.
_ORJSON_FLOAT_RE: Final = re.compile(
    rb"(?:(?<=[\n ])|^)(-?(?:[0-9](?:\.[0-9]+)?[eE][-+]?[0-9]+|0\.0000[0-9]+|[0-9]{17,}\.[0-9]+))(?=,?(?:\n|$))"
)
_DIGITS_AS_ZERO: Final = bytes.maketrans(b"123456789", b"000000000")
_FLOAT_HINTS: Final = (b"0e", b"0E", b"0" * 17)
"""Where such a float may be, in the text with every digit made ``0``; ``0.0000`` is looked for as it is."""
_UNSAFE_LEADS: Final = (b"\x7f", b"\xc2", b"\xd8", b"\xe2")
"""The first bytes of the UTF-8 of the characters ``_UNSAFE_UTF8_RE`` escapes."""


def _may_hold_float(rendered: bytes) -> bool:
    """Whether orjson's text may spell a float otherwise than Python (a quick look before the search)."""
    shape = rendered.translate(_DIGITS_AS_ZERO)
    return b"0.0000" in rendered or any(hint in shape for hint in _FLOAT_HINTS)


def _python_float(match: re.Match[bytes]) -> bytes:
    return repr(float(match.group(1))).encode()


def json_text(document: object, *, floats: bool = True) -> str:
    r"""One JSON document; characters a terminal could act on are ``\u`` escapes (still the same JSON).

    The text is ``json.dumps(document, ensure_ascii=False, indent=2)``'s, character
    for character (the contract of ``--json``), then escaped as ``_JSON_UNSAFE_RE``
    says. It is rendered by orjson (``json`` with ``indent`` is pure Python: most
    of the time of a large ``list``), with its float spelling brought back to
    Python's; what orjson cannot render (integers beyond 64 bits, keys that are
    not strings, lone surrogates) is rendered by ``json`` as before. ``floats``:
    whether the document may hold a float at all; if not, the text is not
    searched for orjson's spellings (the search costs eight times the rendering).
    """
    try:
        rendered = orjson.dumps(document, option=orjson.OPT_INDENT_2)
    except TypeError:  # orjson.JSONEncodeError: outside what orjson renders, see the docstring
        text = json.dumps(document, ensure_ascii=False, sort_keys=False, indent=2)
        # json.dumps escapes C0 controls itself; outside strings none of these can occur.
        return _JSON_UNSAFE_RE.sub(_json_escape, text)
    # Both scans below are a whole pass of a regular expression: done only where a quick look finds a reason.
    if floats and _may_hold_float(rendered):
        rendered = _ORJSON_FLOAT_RE.sub(_python_float, rendered)
    if any(lead in rendered for lead in _UNSAFE_LEADS):
        # orjson escapes C0 controls as json does, and refuses lone surrogates; the rest are escaped here.
        rendered = _UNSAFE_UTF8_RE.sub(_json_line_escape, rendered)
    return rendered.decode()


# --- lines -----------------------------------------------------------------------------


def echo(message: str) -> None:
    """One line on stdout, control characters escaped."""
    click.echo(escape_controls(message))


def echo_err(message: str) -> None:
    """One line on stderr, control characters escaped."""
    click.echo(escape_controls(message), err=True)


@attrs.frozen
class Items:
    """An answer ``{key: [item, ...]}`` whose items come one at a time: ``--json`` writes each as it comes.

    The text is ``json_text`` of the whole document, character for character;
    only the document is never built (``list`` of a large store).
    """

    key: str
    items: Iterable[Any]
    floats: bool = True
    """Whether an item may hold a float (``json_text``'s ``floats``)."""

    def document(self) -> dict[str, Any]:
        """The whole answer (for the tables and CSV)."""
        return {self.key: list(self.items)}


def print_json(document: object) -> None:
    """A JSON answer (``--json``) on stdout."""
    if isinstance(document, Items):
        _print_items(document)
        return
    click.echo(json_text(document))


def _print_items(answer: Items) -> None:
    # json_text's indented form of {key: [items]}, a batch of items at a time: each batch is rendered as
    # {key: [batch]}, whose items are indented as the whole document's are, and written without the text
    # around them. One rendering per batch, not per item: per-item rendering and indenting was most of the
    # time of a large ``list``.
    out = sys.stdout  # what click.echo writes to (CliRunner replaces it in tests)
    head = f"{{\n  {json_text(answer.key)}: ["
    around = len(head) + 1, len("\n  ]\n}")  # the head and its newline; the list's and the document's ends
    items = iter(answer.items)
    written = False
    while batch := list(itertools.islice(items, _BATCH)):
        body = json_text({answer.key: batch}, floats=answer.floats)[around[0] : -around[1]]
        out.write((f"{head}\n" if not written else ",\n") + body)
        written = True
    out.write("\n  ]\n}\n" if written else f"{head}]\n}}\n")
    out.flush()


_BATCH: Final = 1000
"""Items rendered together by ``_print_items``."""


def plural(n: int, word: str) -> str:
    """``1 event``, ``1,501 events``."""
    return f"{n:,} {word}{'' if n == 1 else 's'}"


# --- tables ----------------------------------------------------------------------------


def text(value: object, style: str = "") -> Text:
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


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (OSError, ValueError):  # closed or detached
        return False


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


def table(title: str, *columns: str, one_line: bool = False) -> Table:
    """A table with literal headers; ``one_line`` rows are cut (with an ellipsis) instead of wrapped."""
    from rich.table import Table

    result = Table(title=text(title), title_justify="left")
    for column in columns:
        result.add_column(text(column), overflow="ellipsis" if one_line else "fold", no_wrap=one_line)
    return result


def print_table(shown: Table, *, one_line: bool = False) -> None:
    """Print a table on stdout; ``one_line`` tables fit a terminal's width by cutting the last column."""
    console = _console(one_line=one_line)
    if one_line and console.width < _UNLIMITED:
        # Fit the terminal: the other columns keep their width, the last one is cut.
        shown.expand = True
        shown.columns[-1].ratio = 1
    console.print(shown)


def text_width(*, one_line: bool = False) -> int:
    """The width tables are laid out for: ``COLUMNS``, else the terminal's, else 80.

    ``one_line``: into a pipe or a file (no terminal, no ``COLUMNS``) rows are not
    wrapped at all, so that each stays one line for ``grep``.
    """
    if "COLUMNS" not in os.environ and not _isatty(sys.stdout):
        return _UNLIMITED if one_line else 80
    return shutil.get_terminal_size((80, 24)).columns


def print_text_table(shown: TextTable, *, one_line: bool = False) -> None:
    """Print a ``negotiation.tabular`` table laid out for the terminal (see ``text_width``), its title in bold.

    The layout is ``negotiation.tabular.to_text`` (cells already printable); rich
    only adds the style on a color terminal and never wraps the lines again.
    """
    from rich.text import Text

    from negotiation.tabular import to_text

    laid_out = Text(to_text(shown, text_width(one_line=one_line)).rstrip("\n"))
    laid_out.stylize("bold", 0, len(laid_out.plain.split("\n\n", 1)[0]))
    _console(one_line=True).print(laid_out, soft_wrap=True)


def print_csv(shown: TextTable) -> None:
    """Print a ``negotiation.tabular`` table as RFC 4180 CSV (CRLF line ends, formulas guarded)."""
    from negotiation.tabular import to_csv

    sys.stdout.flush()
    sys.stdout.buffer.write(to_csv(shown).encode("utf-8"))
    sys.stdout.buffer.flush()


# --- progress ----------------------------------------------------------------------------


@contextmanager
def progress_callback(*, quiet: bool) -> Iterator[Callable[[str, int], None] | None]:
    """A progress bar on stderr (events and events/s) when both stdout and stderr are terminals.

    The bar appears at the first events reported: a query whose tables are
    current reports none, and shows (and imports) nothing.
    """
    if quiet or not (_isatty(sys.stdout) and _isatty(sys.stderr)):
        yield None
        return
    bars: list[Progress] = []
    tasks: dict[str, Any] = {}

    def advance(stage: str, n: int) -> None:
        if not bars:
            bars.append(_progress_bar())
            bars[0].start()
        bar = bars[0]
        task = tasks.get(stage)
        if task is None:
            task = tasks[stage] = bar.add_task(escape_controls(stage), total=None)
        bar.advance(task, n)

    try:
        yield advance
    finally:
        if bars:
            bars[0].stop()


def _progress_bar() -> Progress:
    """The bar: a spinner, the stage, the events so far, events/s and the time elapsed; gone when done."""
    from rich.console import Console
    from rich.progress import Progress, ProgressColumn, SpinnerColumn, TextColumn, TimeElapsedColumn

    class RateColumn(ProgressColumn):
        """Events per second."""

        def render(self, task: Task) -> Text:
            speed = task.finished_speed or task.speed
            return text(f"{speed:,.0f} events/s" if speed else "", style="progress.data.speed")

    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TextColumn("{task.completed:,.0f} events"),
        RateColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True, markup=False, emoji=False, highlight=False),
        transient=True,
    )
