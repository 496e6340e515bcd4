"""Fixtures of the HTTP tests: a store URL per backend, a token file, a live server.

Starting a server takes a second or two, so most tests share one per module
and backend (``shared``); tests that need a fresh store or other options start
their own.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import postgres_schema
from tests.server.live import LiveServer, write_tokens

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@contextmanager
def fresh_db(kind: str, directory: Path, postgres_error: str | None) -> Iterator[str]:
    """A fresh store of ``kind`` (``sqlite`` or ``postgres``)."""
    if kind == "sqlite":
        yield f"sqlite:///{directory / f'store-{uuid.uuid4().hex[:8]}.db'}"
    else:
        with postgres_schema(postgres_error) as url:
            yield url


BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def db(request: pytest.FixtureRequest, tmp_path: Path, postgres_error: str | None) -> Iterator[str]:
    """A fresh store for one test: a SQLite file, or a PostgreSQL schema of its own."""
    with fresh_db(request.param, tmp_path, postgres_error) as url:
        yield url


@pytest.fixture
def tokens(tmp_path: Path) -> Path:
    return write_tokens(tmp_path / "tokens.txt")


@pytest.fixture(scope="module", params=BACKENDS)
def shared(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, postgres_error: str | None
) -> Iterator[LiveServer]:
    """One server (one worker, the test tokens) per module and backend, with the WGA example stored."""
    directory = tmp_path_factory.mktemp("server")
    with fresh_db(request.param, directory, postgres_error) as url:
        live = LiveServer.start(url, tokens=write_tokens(directory / "tokens.txt"))
        try:
            yield live
        finally:
            live.stop()
