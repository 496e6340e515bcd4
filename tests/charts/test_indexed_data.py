"""The charts' data read from the indexed tables equals the data of the pure folds (the oracle).

``negotiation_data`` and ``stoppages_data`` ask a ``Queries``: the command line
and the service pass the store's ``IndexedQueries`` (``Answers.queries``), an
embedding may pass the pure ``HistoryQueries``. On the 2023 example logs and
the held-back shapes, for whole histories, ranges and knowledge times in the
past, both give equal data (or the same error), on SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from negotiation import Negotiations
from negotiation.answers import Answers
from negotiation.charts.data import NegotiationData, negotiation_data, stoppages_data
from negotiation.indexed import IndexedQueries
from negotiation.queries import HistoryQueries, Queries
from tests.charts.shapes import ALL_SHAPES, EXAMPLES

POSTGRES = pytest.param("postgres", marks=pytest.mark.postgres)
pytestmark = pytest.mark.parametrize("store_url", ["sqlite", POSTGRES], indirect=True)

D = dt.date
PDT = dt.timezone(dt.timedelta(hours=-7))
WGA = "wga-amptp-2023"

KNOWN = [None, D(2023, 1, 18), D(2023, 5, 1), D(2023, 8, 12), dt.datetime(2023, 7, 14, 8, tzinfo=PDT)]
"""Now, and knowledge times in the past (a naive date is the end of that day in the negotiation's zone)."""
RANGES = [
    (None, None),
    (D(2023, 8, 1), D(2023, 8, 15)),
    (D(2023, 5, 2), None),
    (D(2022, 12, 1), D(2023, 1, 31)),
    (D(2022, 1, 1), D(2022, 2, 1)),  # before every opening: not opened, from both
]


@pytest.fixture
def both(app: Negotiations) -> Iterator[tuple[Negotiations, Queries, Queries]]:
    """The example logs and the shapes; the pure queries, and the store's tables as the command line gets them."""
    app.import_files([EXAMPLES / "wga_amptp_2023.jsonl", EXAMPLES / "sag_aftra_amptp_2023.jsonl"])
    for build in ALL_SHAPES.values():
        app.append(build().events)
    answers = Answers(app)
    try:
        indexed = answers.queries()
        assert isinstance(indexed, IndexedQueries)
        yield app, HistoryQueries(app), indexed
    finally:
        answers.close()


def _outcome(ask: Callable[[], Any]) -> Any:
    try:
        return ask()
    except Exception as e:  # noqa: BLE001 - the same error (type and message) is part of the same answer
        return (type(e).__name__, str(e))


def test_negotiation_data_from_the_tables_equals_the_folds(both: tuple[Negotiations, Queries, Queries]) -> None:
    app, pure, indexed = both
    negotiations = app.negotiation_ids()
    assert len(negotiations) == 2 + len(ALL_SHAPES)
    for negotiation in [*negotiations, "nope"]:
        for known_at in KNOWN:
            for start, end in RANGES:
                point = {"start": start, "end": end, "known_at": known_at}
                expected = _outcome(lambda: negotiation_data(pure, negotiation, **point))  # noqa: B023 - called at once
                assert _outcome(lambda: negotiation_data(indexed, negotiation, **point)) == expected, (  # noqa: B023
                    negotiation,
                    point,
                )
    # Not a comparison of two empty answers: the WGA chart, as known on Aug. 12, from the tables.
    data = negotiation_data(indexed, WGA, known_at=D(2023, 8, 12))
    assert isinstance(data, NegotiationData)
    [strike] = data.stoppages
    assert strike["label"] == "strike by wga: 102 days (running)"
    assert [a["amount"] for p in data.panels if p.issue == "wages" for a in p.steps if a["party"] == "amptp"] == [4, 4]


def test_stoppages_data_from_the_tables_equals_the_folds(both: tuple[Negotiations, Queries, Queries]) -> None:
    _, pure, indexed = both
    ranges = [(D(2023, 1, 1), D(2023, 12, 31)), (D(2023, 7, 1), D(2023, 8, 1)), (D(2000, 1, 1), D(2030, 12, 31))]
    for known_at in KNOWN:
        for start, end in ranges:
            expected = stoppages_data(pure, start=start, end=end, known_at=known_at)
            assert stoppages_data(indexed, start=start, end=end, known_at=known_at) == expected, (start, known_at)
    bars = stoppages_data(indexed, start=D(2023, 1, 1), end=D(2023, 12, 31)).bars
    assert {"wga vs amptp: 148 days", "sag-aftra vs amptp: 118 days"} <= {b["label"] for b in bars}
