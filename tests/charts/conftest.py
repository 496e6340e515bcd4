"""Stores for the chart tests: the 2023 Hollywood examples, and the held-back shapes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from negotiation import Negotiations
from tests.charts.shapes import ALL_SHAPES, EXAMPLES


@pytest.fixture(scope="module")
def hollywood() -> Iterator[Negotiations]:
    """An in-memory store holding the WGA and SAG-AFTRA 2023 example logs."""
    with Negotiations("memory:") as app:
        app.import_files([EXAMPLES / "wga_amptp_2023.jsonl", EXAMPLES / "sag_aftra_amptp_2023.jsonl"])
        yield app


@pytest.fixture(scope="module")
def shapes() -> Iterator[Negotiations]:
    """An in-memory store holding every held-back shape of ``tests.charts.shapes``."""
    with Negotiations("memory:") as app:
        for build in ALL_SHAPES.values():
            app.append(build().events)
        yield app
