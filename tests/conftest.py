"""Shared test set-up: Hypothesis profiles and the stores to run against.

Hypothesis: ``dev`` (the default) explores new examples on every run; ``ci``
(``HYPOTHESIS_PROFILE=ci``) is derandomized so that a CI run is reproducible.
Neither has a deadline: the first example of a test pays for cattrs generating
its hooks, which would make timing flaky. Tests set their own ``max_examples``.

Stores: ``store_url`` is a fresh, empty store per test, once per kind:

- ``memory``: the in-process store (``memory:``);
- ``sqlite``: a file in the test's ``tmp_path``;
- ``postgres``: a new schema in database ``test`` at ``127.0.0.1:5432`` (user
  ``postgres``, trust authentication), dropped after the test. Marked
  ``postgres``; skipped when no server answers, unless
  ``NEGOTIATION_REQUIRE_POSTGRES=1``, which turns the skip into a failure.

A test that needs only some kinds overrides the parameters::

    @pytest.mark.parametrize("store_url", ["sqlite", POSTGRES], indirect=True)

with ``POSTGRES = pytest.param("postgres", marks=pytest.mark.postgres)``.
``app`` is a ``Negotiations`` facade on ``store_url``, closed after the test.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import settings

if TYPE_CHECKING:
    from negotiation import Negotiations

settings.register_profile("dev", deadline=None)
settings.register_profile("ci", deadline=None, derandomize=True, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

POSTGRES_SERVER = "postgresql://postgres@127.0.0.1:5432/test"
"""The test server: database ``test``, user ``postgres``, trust authentication."""


@pytest.fixture(scope="session")
def postgres_error() -> str | None:
    """Why the PostgreSQL test server cannot be used, or ``None`` when it answers (asked once)."""
    try:
        import psycopg

        with psycopg.connect(POSTGRES_SERVER, connect_timeout=3):
            return None
    except Exception as e:  # noqa: BLE001 - any failure means "no usable server"
        return f"{type(e).__name__}: {' '.join(str(e).split()) or 'no detail'}"


@contextmanager
def postgres_schema(error: str | None = None) -> Iterator[str]:
    """A store URL on a fresh PostgreSQL schema, dropped afterwards.

    ``error`` (``postgres_error``): why the server cannot be used; then the
    test is skipped, or fails when ``NEGOTIATION_REQUIRE_POSTGRES=1``.
    """
    if error is not None:
        message = f"PostgreSQL not reachable at 127.0.0.1:5432: {error}"
        if os.environ.get("NEGOTIATION_REQUIRE_POSTGRES") == "1":
            pytest.fail(message)
        pytest.skip(message)
    import psycopg
    from psycopg import sql

    schema = f"test_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(POSTGRES_SERVER, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    try:
        yield f"{POSTGRES_SERVER}?schema={schema}"
    finally:
        with psycopg.connect(POSTGRES_SERVER, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


@pytest.fixture
def postgres_url(postgres_error: str | None) -> Iterator[str]:
    """A store URL on a fresh PostgreSQL schema, dropped after the test."""
    with postgres_schema(postgres_error) as url:
        yield url


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty store of each kind: ``memory:``, a SQLite file, a PostgreSQL schema."""
    kind = request.param
    if kind == "memory":
        return "memory:"
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'negotiations.db'}"
    if kind == "postgres":
        url: str = request.getfixturevalue("postgres_url")
        return url
    raise ValueError(f"unknown store kind {kind!r}")


@pytest.fixture
def app(store_url: str) -> Iterator[Negotiations]:
    """A ``negotiation.Negotiations`` on ``store_url``, closed after the test."""
    from negotiation import Negotiations  # here, so that tests of the events package need not import it

    with Negotiations(store_url) as negotiations:
        yield negotiations
