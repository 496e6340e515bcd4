"""One table maps every error of the project to its exit status and its HTTP status.

The command line and the HTTP service both ask ``problem_for``; neither keeps a
mapping of its own. The first row whose class the error is an instance of wins,
so more specific classes come first.
"""

from __future__ import annotations

from typing import Final

import attrs

from events.errors import InvalidEventError, InvalidMomentError, NegotiationError
from negotiation.core.errors import (
    ConcurrencyError,
    ConfigurationError,
    EventConflictError,
    ExpectedVersionError,
    InputTooLargeError,
    NegotiationNotFoundError,
    RefusedEventError,
    StoreError,
)
from projections.errors import InvalidQueryError

__all__ = [
    "EXIT_BROKEN_PIPE",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_REFUSED",
    "EXIT_USAGE",
    "PROBLEMS",
    "Problem",
    "problem_for",
]

EXIT_OK: Final = 0
EXIT_REFUSED: Final = 1
"""Input refused, negotiation not found, the store failed."""
EXIT_USAGE: Final = 2
"""The command was called wrongly (a bad option, an unparsable moment)."""
EXIT_INTERRUPTED: Final = 130
"""Interrupted (Ctrl-C): 128 + SIGINT, as shells report it."""
EXIT_BROKEN_PIPE: Final = 141
"""The reader of standard output went away (``| head``): 128 + SIGPIPE."""


@attrs.frozen(kw_only=True)
class Problem:
    """How an interface reports one kind of error."""

    exit_code: int
    """The command line's exit status."""
    status: int
    """The HTTP status of the problem document (RFC 9457)."""
    slug: str
    """The last part of the problem's ``type`` URI."""
    title: str
    """The problem document's ``title``: the same for every error of the kind."""


PROBLEMS: Final[tuple[tuple[type[BaseException], Problem], ...]] = (
    (EventConflictError, Problem(exit_code=EXIT_REFUSED, status=409, slug="event-conflict", title="Event conflict")),
    (
        ExpectedVersionError,
        Problem(exit_code=EXIT_REFUSED, status=409, slug="wrong-version", title="Expected version not met"),
    ),
    (ConcurrencyError, Problem(exit_code=EXIT_REFUSED, status=409, slug="concurrency", title="Concurrent writers")),
    (RefusedEventError, Problem(exit_code=EXIT_REFUSED, status=422, slug="refused", title="Event refused")),
    (InvalidEventError, Problem(exit_code=EXIT_REFUSED, status=422, slug="invalid-event", title="Invalid event")),
    (InputTooLargeError, Problem(exit_code=EXIT_REFUSED, status=413, slug="too-large", title="Input too large")),
    (
        NegotiationNotFoundError,
        Problem(exit_code=EXIT_REFUSED, status=404, slug="not-found", title="Negotiation not found"),
    ),
    (InvalidMomentError, Problem(exit_code=EXIT_USAGE, status=400, slug="invalid-moment", title="Invalid moment")),
    (InvalidQueryError, Problem(exit_code=EXIT_USAGE, status=400, slug="invalid-query", title="Invalid query")),
    (
        ConfigurationError,
        Problem(exit_code=EXIT_REFUSED, status=500, slug="configuration", title="Configuration error"),
    ),
    (StoreError, Problem(exit_code=EXIT_REFUSED, status=503, slug="store-unavailable", title="Store unavailable")),
    (NegotiationError, Problem(exit_code=EXIT_REFUSED, status=400, slug="error", title="Error")),
)
"""Every error class, most specific first, with its exit status and HTTP status."""


def problem_for(error: BaseException) -> Problem | None:
    """The row for ``error``, or ``None`` for an error that is not the project's (a bug)."""
    for cls, problem in PROBLEMS:
        if isinstance(error, cls):
            return problem
    return None
