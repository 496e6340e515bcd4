"""Charts of a negotiation and of the stoppages across the store (``pip install 'negotiation-log[charts]'``).

An interface over the facade, like the command line: the data comes from the
answers of a ``negotiation.queries.Queries`` (``timeline``, ``status``,
``positions``, ``gaps``, ``catalog``), is drawn with Vega-Lite through altair and rendered offline by vl-convert to
SVG, PNG or one self-contained HTML page::

    from negotiation import Negotiations
    from negotiation.charts import negotiation_chart, write

    with Negotiations("demo.db") as app:
        write(negotiation_chart(app, "wga-amptp-2023"), "wga.html")

The facade is itself a ``Queries`` (its answers fold the histories). The command
line and the HTTP service pass the store's indexed tables instead
(``negotiation.answers.Answers.queries``), which give the same charts without
folding a history::

    from negotiation.answers import Answers

    answers = Answers(app)
    write(negotiation_chart(answers.queries(), "wga-amptp-2023"), "wga.html")
    answers.close()

altair and vl-convert are imported when a chart is drawn, not with this
package; without them ``ChartsUnavailableError`` says which extra to install.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from events.errors import NegotiationError
from negotiation.charts.data import When, negotiation_data, stoppages_data
from negotiation.charts.output import FORMATS, ChartFormatError, format_of

if TYPE_CHECKING:
    from negotiation.queries import Queries

__all__ = [
    "FORMATS",
    "INSTALL_HINT",
    "ChartFormatError",
    "ChartsUnavailableError",
    "format_of",
    "negotiation_chart",
    "render",
    "require",
    "stoppages_chart",
    "write",
]

INSTALL_HINT: Final = "pip install 'negotiation-log[charts]'"


class ChartsUnavailableError(NegotiationError):
    """altair or vl-convert is not installed: the ``charts`` extra is missing."""

    def __init__(self, missing: str) -> None:
        super().__init__(f"charts need the 'charts' extra ({missing} is not installed): {INSTALL_HINT}")
        self.missing = missing


def require() -> None:
    """Raise ``ChartsUnavailableError`` unless altair and vl-convert can be imported."""
    for module, package in (("altair", "altair"), ("vl_convert", "vl-convert-python")):
        if importlib.util.find_spec(module) is None:
            raise ChartsUnavailableError(package)


def negotiation_chart(
    queries: Queries,
    negotiation: str,
    *,
    start: When | None = None,
    end: When | None = None,
    known_at: When | None = None,
) -> dict[str, Any]:
    """The Vega-Lite specification of one negotiation: timeline and numeric panels."""
    require()
    from negotiation.charts.specs import negotiation_spec

    return negotiation_spec(negotiation_data(queries, negotiation, start=start, end=end, known_at=known_at))


def stoppages_chart(queries: Queries, *, start: When, end: When, known_at: When | None = None) -> dict[str, Any]:
    """The Vega-Lite specification of every strike and lockout in the store between two dates."""
    require()
    from negotiation.charts.specs import stoppages_spec

    return stoppages_spec(stoppages_data(queries, start=start, end=end, known_at=known_at))


def render(spec: dict[str, Any], fmt: str, *, title: str = "Chart", scale: float = 1.0) -> bytes:
    """The chart as the bytes of an ``html``, ``svg`` or ``png`` file."""
    require()
    from negotiation.charts import output

    return output.render(spec, fmt, title=title, scale=scale)


def write(spec: dict[str, Any], path: str | Path, *, title: str = "Chart", scale: float = 1.0) -> Path:
    """Write the chart to ``path``, in the format its suffix names (``.html``, ``.svg``, ``.png``)."""
    require()
    from negotiation.charts import output

    return output.write(spec, path, title=title, scale=scale)
