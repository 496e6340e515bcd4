"""The one translation point from eventsourcing's and the database drivers' errors to ``StoreError``.

Everything that touches the store wraps the call in ``store_errors``: a failure
becomes a ``StoreError`` whose one-line message says what was being done and
the driver's first line with any password masked (``StoreConfig.error_text``).
Errors that mean "another writer got there first, try again" are told apart
here too (``is_retryable``): a write conflict (``IntegrityError``) or a busy
SQLite database.

A busy SQLite database is recognised by SQLite's result code (``SQLITE_BUSY``,
``SQLITE_LOCKED``) on the driver error eventsourcing wraps; only an error that
carries no driver error (raised by hand, e.g. by a test's fault injection) is
read by its text.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Final, Protocol

from eventsourcing.persistence import IntegrityError, OperationalError, PersistenceError

from negotiation.core.errors import StoreError

__all__ = ["OPENING_FAILURES", "STORE_FAILURES", "ErrorText", "is_busy", "is_retryable", "store_error", "store_errors"]

STORE_FAILURES: Final[tuple[type[BaseException], ...]] = (PersistenceError, sqlite3.Error)
"""What a store raises when it fails: eventsourcing's errors (which wrap the drivers') and SQLite's own,
which eventsourcing lets through where it opens a connection (a busy database while another process
creates the tables or switches to WAL)."""

OPENING_FAILURES: Final[tuple[type[BaseException], ...]] = (*STORE_FAILURES, OSError)
"""What opening a store can raise besides: the OS's errors (a SQLite file in a missing directory)."""

_BUSY_CODES: Final = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})
_BUSY_TEXT: Final = ("database is locked", "database table is locked")


class ErrorText(Protocol):
    """What formats a driver error for a user (``negotiation.store.config.StoreConfig``)."""

    def error_text(self, error: BaseException) -> str:
        """The error's first line, with the password masked."""
        ...


def is_busy(error: BaseException) -> bool:
    """SQLite's "database is locked": another connection held the lock; trying again is safe."""
    driver = error if isinstance(error, sqlite3.Error) else error.__cause__
    if isinstance(driver, sqlite3.Error):
        code = getattr(driver, "sqlite_errorcode", None)
        if code is not None:
            return code & 0xFF in _BUSY_CODES  # the primary code of an extended one (SQLITE_BUSY_SNAPSHOT...)
    return isinstance(error, OperationalError) and str(error).startswith(_BUSY_TEXT)


def is_retryable(error: BaseException) -> bool:
    """Another writer got there first (a taken stream version or tracking position, a busy database)."""
    return isinstance(error, IntegrityError) or is_busy(error)


def store_error(config: ErrorText, doing: str, error: BaseException, then: str = "") -> StoreError:
    """The ``StoreError`` for ``error``: what was being done, the driver's first line (masked), what follows."""
    return StoreError(f"{doing}: {config.error_text(error)}{then}")


@contextmanager
def store_errors(
    config: ErrorText,
    doing: str,
    *,
    then: str = "",
    passing: Callable[[BaseException], bool] | None = None,
    on_error: Callable[[], object] | None = None,
    catching: tuple[type[BaseException], ...] = STORE_FAILURES,
) -> Iterator[None]:
    """Translate the store's failures inside the block to ``StoreError(f"{doing}: {error}{then}")``.

    ``passing`` picks errors to re-raise unchanged (``is_retryable`` for a
    caller that retries); ``on_error`` runs before a translated error is raised
    (e.g. to drop caches that may be stale). ``catching``: the errors that are
    the store's (``STORE_FAILURES``; ``OPENING_FAILURES`` when opening one). A ``StoreError``
    raised inside passes through as it is (it is an ``OSError``).
    """
    try:
        yield
    except StoreError:
        raise
    except catching as e:
        if passing is not None and passing(e):
            raise
        if on_error is not None:
            on_error()
        raise store_error(config, doing, e, then) from None
