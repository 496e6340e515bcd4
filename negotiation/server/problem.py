"""Problem documents (RFC 9457): every error of the service, one shape, one table.

``negotiation.problems`` says each error's status; this module only renders
it. An error that is not the project's (a bug) becomes a 500 that says so in
one line, never a traceback. Texts are JSON-escaped by ``orjson`` and cut to a
bounded length; no error text carries a token (tokens never reach errors) or
a store password (the facade masks it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import attrs
import orjson

from events.errors import InvalidEventError
from negotiation.core.errors import ExpectedVersionError, RefusedEventError
from negotiation.problems import (
    BadRequestError,
    BodyTooLargeError,
    MethodNotAllowedError,
    NotReadyError,
    RouteNotFoundError,
    UnsupportedBodyError,
    problem_for,
)

__all__ = [
    "MEDIA_TYPE",
    "EventRefusal",
    "ProblemDocument",
    "RefusalsError",
    "document",
    "http_error",
    "refusal_reason",
    "render",
]

MEDIA_TYPE: Final = "application/problem+json"
TYPE_BASE: Final = "urn:negotiation-log:problem:"
MAX_TEXT: Final = 1000
RETRY_AFTER: Final = "1"


@attrs.frozen(kw_only=True)
class EventRefusal:
    """One refused event of an append: the facts of the CLI's ``path:line: id: reason [rule: r]``."""

    line: int | None
    """1-based line of the body (item of a JSON array)."""
    id: str | None
    """The event id, when it could be read."""
    rule: str | None
    """The rule broken (``format`` for a malformed line)."""
    reason: str


@attrs.frozen(kw_only=True)
class ProblemDocument:
    """The body of every error answer (``application/problem+json``)."""

    type: str
    title: str
    status: int
    detail: str
    errors: list[EventRefusal] | None = None
    """Where events were refused: each of them."""
    current_version: int | None = None
    """With an ``expected_version`` refusal: the negotiation's version."""


class RefusalsError(InvalidEventError):
    """Several lines of one body were refused; ``refusals`` lists them (nothing was stored)."""

    def __init__(self, refusals: list[EventRefusal]) -> None:
        self.refusals = refusals
        first = refusals[0]
        super().__init__(
            f"{len(refusals)} event(s) refused; first: line {first.line}: {first.reason}",
            event_id=first.id,
            line=first.line,
        )


def _cut(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def refusal_reason(error: InvalidEventError) -> str:
    """The reason of a malformed event as the CLI's refusal line says it: what was found, what was expected."""
    reason = error.message if error.expected is None else f"{error.message} (expected {error.expected})"
    return _cut(reason)


def _refusal(error: BaseException) -> EventRefusal | None:
    if isinstance(error, RefusedEventError):
        # the reason alone, as the CLI's refusal line has it: the rule is a member of its own
        return EventRefusal(line=error.line, id=error.event_id, rule=error.rule, reason=_cut(error.reason))
    if isinstance(error, InvalidEventError):
        return EventRefusal(line=error.line, id=error.event_id, rule=error.rule, reason=refusal_reason(error))
    return None


_HTTP_ERRORS: Final[Mapping[int, type[Exception]]] = {
    400: BadRequestError,
    404: RouteNotFoundError,
    405: MethodNotAllowedError,
    413: BodyTooLargeError,
    415: UnsupportedBodyError,
    503: NotReadyError,
}


def http_error(status: int, detail: str) -> Exception | None:
    """The project's error for a status the framework answered by itself (unknown route, bad int)."""
    cls = _HTTP_ERRORS.get(status)
    return None if cls is None else cls(detail)


def document(error: BaseException) -> ProblemDocument:
    """The problem document of ``error`` (a 500 for one that is not the project's)."""
    problem = problem_for(error)
    if problem is None:
        return ProblemDocument(
            type=TYPE_BASE + "internal",
            title="Internal error",
            status=500,
            detail=f"internal error ({type(error).__name__}); nothing was stored by this request",
        )
    errors: list[EventRefusal] | None = None
    if isinstance(error, RefusalsError):
        errors = error.refusals
    else:
        refusal = _refusal(error)
        errors = None if refusal is None else [refusal]
    return ProblemDocument(
        type=TYPE_BASE + problem.slug,
        title=problem.title,
        status=problem.status,
        detail=_cut(str(error)),
        errors=errors,
        current_version=error.actual if isinstance(error, ExpectedVersionError) else None,
    )


def render(doc: ProblemDocument) -> tuple[bytes, dict[str, str]]:
    """The JSON body (``None`` members left out) and the headers the status needs."""
    body: dict[str, Any] = {"type": doc.type, "title": doc.title, "status": doc.status, "detail": doc.detail}
    if doc.errors is not None:
        body["errors"] = [attrs.asdict(e) for e in doc.errors]
    if doc.current_version is not None:
        body["current_version"] = doc.current_version
    headers: dict[str, str] = {}
    if doc.status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="negotiation-log"'
    if doc.status == 503:
        headers["Retry-After"] = RETRY_AFTER
    return orjson.dumps(body), headers
