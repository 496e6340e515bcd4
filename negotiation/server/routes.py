"""The routes: thin handlers that parse a request, call the facade and render its answer.

Every answer comes from ``projections.answers``, the code behind the command
line's ``--json``: one answer, two interfaces. Catalog, status, positions,
timeline, diff, stoppages, gaps and the charts are read, as the command line
reads them, through the worker's ``negotiation.answers.Answers`` from the
indexed read-model tables (brought up to date before each answer; the facade's
pure folds when they cannot be). The facade is synchronous; its calls run in
worker threads.
Each handler's ``opt`` says the scope it needs (``auth``) and the query
parameters it takes (``query``); the guard checks both.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import Callable, Mapping
from typing import Annotated, Any, Final, TypeVar

import anyio.to_thread
import attrs
import orjson
from litestar import Request, Response, get, post
from litestar.connection import ASGIConnection
from litestar.datastructures import ResponseHeader
from litestar.handlers import BaseRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIType, Operation, RequestBody, Schema
from litestar.params import Parameter, PathParameter, QueryParameter
from litestar.response import Stream

from events.converter import Limits
from negotiation import charts
from negotiation.answers import Answers
from negotiation.application import Negotiations
from negotiation.core.errors import RefusedEventError
from negotiation.problems import NotAcceptableError, NotReadyError
from negotiation.server.accesslog import ACCESS_KEY
from negotiation.server.auth import Tokens
from negotiation.server.body import parse_body, read_body
from negotiation.server.params import check_known, moment, optional_moment, position_header
from negotiation.server.problem import MEDIA_TYPE, ProblemDocument
from negotiation.server.settings import ServerSettings
from negotiation.server.stream import Watcher, event_line, sse_messages
from negotiation.tabular import COMMANDS as TABLES
from negotiation.tabular import table_for, to_csv

__all__ = ["ROUTES", "AppendBody", "guard"]

T = TypeVar("T")

MAX_LIMIT: Final = 10_000
MAX_POSITION: Final = 2**63 - 1
"""Positions and versions are 64-bit in the stores."""
MOMENT_PATTERN: Final = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}([Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?([Zz]|[+-][0-9]{2}:[0-9]{2}))?$"
)
JSON: Final = "application/json"
LINES: Final = "application/x-ndjson"
CSV: Final = "text/csv"


def _problems(*statuses: int) -> dict[int, ResponseSpec]:
    return {
        status: ResponseSpec(ProblemDocument, description="A problem document (RFC 9457)", media_type=MEDIA_TYPE)
        for status in statuses
    }


READ_PROBLEMS: Final = _problems(400, 401, 403, 404, 406, 503)
WRITE_PROBLEMS: Final = _problems(400, 401, 403, 404, 409, 413, 415, 422, 503)


# --- the guard -----------------------------------------------------------------------


def guard(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """Authenticate (section 2 of the contract), then refuse query parameters the route does not take."""
    tokens: Tokens = connection.app.state.tokens
    name = tokens.authorize(connection.headers.get("authorization"), handler.opt.get("auth"))
    facts = connection.scope.get(ACCESS_KEY)  # type: ignore[call-overload,unused-ignore]  # our own scope key
    if isinstance(facts, dict):
        facts["token"] = name
    check_known(connection.query_params, handler.opt.get("query", ()))


# --- helpers -------------------------------------------------------------------------


def _facade(request: Request[Any, Any, Any]) -> Negotiations:
    app: Negotiations = request.app.state.negotiations
    return app


async def _run(function: Callable[[], T]) -> T:
    return await anyio.to_thread.run_sync(function)


def _media(request: Request[Any, Any, Any], *, csv: bool) -> str:
    """The answer's media type by ``Accept``: JSON, or CSV (the command's ``--csv``) where a table exists; else 406."""
    accept = request.headers.get("accept")
    if not accept:
        return JSON
    offered = [JSON, CSV] if csv else [JSON]
    best = request.accept.best_match(offered)
    if best is None:
        msg = f"this answer is available as {' or '.join(offered)}"
        raise NotAcceptableError(msg)
    return str(best)


async def _read_your_writes(request: Request[Any, Any, Any]) -> None:
    """Wait until the state read includes ``Min-Position`` (at most ``min_position_wait`` seconds)."""
    wanted = position_header("Min-Position", request.headers.get("min-position"))
    if wanted is None:
        return
    app = _facade(request)
    watcher: Watcher = request.app.state.watcher
    settings: ServerSettings = request.app.state.settings
    deadline = time.monotonic() + settings.min_position_wait
    while True:
        changed = watcher.changed()
        if await _run(lambda: app.caught_up(wanted)):
            return
        left = deadline - time.monotonic()
        if left <= 0:
            msg = f"position {wanted} is not readable yet; try again"
            raise NotReadyError(msg)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(changed.wait(), timeout=min(left, 0.05))


def _json(document: object, status: int = 200, headers: dict[str, str] | None = None) -> Response[bytes]:
    return Response(content=orjson.dumps(document), media_type=JSON, status_code=status, headers=headers)


async def _answer(
    request: Request[Any, Any, Any], command: str, build: Callable[[Answers], Mapping[str, Any]]
) -> Response[bytes]:
    """The command's JSON answer, or its table as CSV (``negotiation.tabular``, as the CLI's ``--csv``)."""
    media = _media(request, csv=command in TABLES)
    await _read_your_writes(request)
    answers: Answers = request.app.state.answers
    document = await _run(lambda: build(answers))
    if media == CSV:
        return Response(content=to_csv(table_for(command, document)).encode(), media_type="text/csv; charset=utf-8")
    return _json(document)


# --- health -----------------------------------------------------------------------------


@get("/healthz", opt={"auth": None}, tags=["health"], summary="200 while the process runs (no auth)")
async def healthz() -> dict[str, str]:
    """Liveness."""
    return {"status": "ok"}


@get(
    "/readyz",
    opt={"auth": "read"},
    tags=["health"],
    summary="200 when the store answers, else 503",
    responses=_problems(401, 403, 503),
)
async def readyz(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """Readiness: the store answers."""
    app = _facade(request)
    position = await _run(app.position)
    return {"status": "ready", "position": position}


# --- events -----------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class AppendBody:
    """What an append did."""

    stored: int
    """Events stored by this request."""
    duplicates: int
    """Events already stored with identical content (not stored again)."""
    positions: list[int]
    """The commit positions of the stored events, in order."""
    versions: dict[str, int]
    """Each negotiation of the batch with its stream version after the append."""


@dataclasses.dataclass
class AppendOperation(Operation):
    """The append's OpenAPI operation: the handler reads its body itself (limits, two media types)."""

    def __post_init__(self) -> None:
        line = Schema(type=OpenAPIType.OBJECT, description="An event line (event-log.md)")
        self.request_body = RequestBody(
            required=True,
            description="Event lines: JSON Lines, or a JSON array of the same objects",
            content={
                "application/x-ndjson": OpenAPIMediaType(schema=Schema(type=OpenAPIType.STRING)),
                "application/jsonl": OpenAPIMediaType(schema=Schema(type=OpenAPIType.STRING)),
                "application/json": OpenAPIMediaType(schema=Schema(type=OpenAPIType.ARRAY, items=line)),
            },
        )


@post(
    "/v1/events",
    operation_class=AppendOperation,
    opt={"auth": "write", "query": ("expected_version",)},
    tags=["events"],
    summary="Append events (JSON Lines or a JSON array); atomic, idempotent by event id",
    status_code=201,
    responses={200: ResponseSpec(AppendBody, description="Everything was a duplicate"), **WRITE_PROBLEMS},
)
async def append(
    request: Request[Any, Any, Any],
    expected_version: int | None = Parameter(
        default=None,
        ge=0,
        le=MAX_POSITION,
        description="409 unless the one negotiation of the batch is at this version",
    ),
) -> Response[AppendBody]:
    """Append events: all stored or none; 201, or 200 when everything was a duplicate."""
    settings: ServerSettings = request.app.state.settings
    expected = expected_version
    body = await read_body(
        request.stream(), content_length=request.headers.get("content-length"), limit=settings.max_body_bytes
    )
    limits = Limits(max_line_bytes=settings.max_line_bytes)
    app = _facade(request)

    def store() -> AppendBody:
        batch = parse_body(body, content_type=request.headers.get("content-type"), limits=limits)
        try:
            result = app.append([event for _, event in batch], expected_version=expected)
        except RefusedEventError as e:
            # the refused event's own line: an id may be on several lines (the same id with other content)
            same_id = [(number, event) for number, event in batch if event.id == e.event_id]
            e.line = next((number for number, event in same_id if event == e.event), same_id[0][0] if same_id else None)
            raise
        return AppendBody(
            stored=len(result.stored),
            duplicates=len(result.duplicates),
            positions=list(result.positions),
            versions=dict(result.versions),
        )

    answer = await _run(store)
    return Response(  # type: ignore[return-value,unused-ignore]  # documented as AppendBody, rendered in key order
        content=orjson.dumps(  # type: ignore[arg-type]
            {
                "stored": answer.stored,
                "duplicates": answer.duplicates,
                "positions": answer.positions,
                "versions": answer.versions,
            }
        ),
        status_code=201 if answer.stored else 200,
        media_type=JSON,
    )


@get(
    "/v1/events",
    opt={"auth": "read", "query": ("after", "limit", "negotiation")},
    tags=["events"],
    summary="Stored events after a position, in commit order, as JSON Lines",
    media_type=LINES,
    response_headers=[
        ResponseHeader(name="Next-After", description="The position to ask for next", documentation_only=True)
    ],
    responses=READ_PROBLEMS,
)
async def events(
    request: Request[Any, Any, Any],
    after: int = Parameter(default=0, ge=0, le=MAX_POSITION, description="Commit position"),
    limit: int = Parameter(default=1000, ge=1, le=MAX_LIMIT, description="At most this many events"),
    negotiation: str | None = Parameter(default=None, description="Only this negotiation's events"),
) -> Response[bytes]:
    """Each line: the event line plus ``"position"``; header ``Next-After``."""
    await _read_your_writes(request)
    app = _facade(request)
    page = await _run(lambda: app.events_after(after=after, limit=limit, negotiation=negotiation))
    body = b"".join(event_line(position, event) + b"\n" for position, event in page.events)
    return Response(content=body, media_type=LINES, headers={"Next-After": str(page.next_after)})


@get(
    "/v1/events/stream",
    opt={"auth": "read", "query": ("after", "negotiation")},
    tags=["events"],
    summary="Server-sent events: what is stored after a position, then each new event (resume: Last-Event-ID)",
    media_type="text/event-stream",
    responses=_problems(400, 401, 403, 503),
)
async def stream(
    request: Request[Any, Any, Any],
    after: int = Parameter(default=0, ge=0, le=MAX_POSITION, description="Commit position (Last-Event-ID wins)"),
    negotiation: str | None = Parameter(default=None, description="Only this negotiation's events"),
) -> Stream:
    """Live events; a comment line at least every heartbeat interval."""
    last = position_header("Last-Event-ID", request.headers.get("last-event-id"))
    start = last if last is not None else after
    settings: ServerSettings = request.app.state.settings
    messages = sse_messages(
        _facade(request),
        request.app.state.watcher,
        after=start,
        negotiation=negotiation,
        heartbeat=settings.heartbeat,
        stopping=request.app.state.stopping,
    )
    return Stream(
        messages,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


# --- answers ------------------------------------------------------------------------------

NegotiationId = Annotated[str, PathParameter(description="The negotiation's id (a slug)")]
_AT = Parameter(
    default=None, pattern=MOMENT_PATTERN, description="Valid time: YYYY-MM-DD (end of that day) or RFC 3339 with offset"
)
_KNOWN = Parameter(
    default=None,
    pattern=MOMENT_PATTERN,
    description="Knowledge time: YYYY-MM-DD (end of that day) or RFC 3339 with offset",
)


@get(
    "/v1/negotiations",
    opt={"auth": "read", "query": ("at", "known_at")},
    tags=["answers"],
    summary="The catalog (negotiation list --json)",
    responses=READ_PROBLEMS,
)
async def catalog(
    request: Request[Any, Any, Any], at: str | None = _AT, known_at: str | None = _KNOWN
) -> Response[dict[str, Any]]:
    """Every negotiation open at that point."""
    as_of, known = optional_moment("at", at), optional_moment("known_at", known_at)
    return await _answer(request, "list", lambda answers: answers.catalog(as_of=as_of, known_at=known))  # type: ignore[return-value]


@get(
    "/v1/negotiations/{negotiation:str}/status",
    opt={"auth": "read", "query": ("at", "known_at")},
    tags=["answers"],
    summary="The status answer (event-log.md section 3)",
    responses=READ_PROBLEMS,
)
async def status(
    request: Request[Any, Any, Any], negotiation: NegotiationId, at: str | None = _AT, known_at: str | None = _KNOWN
) -> Response[dict[str, Any]]:
    """Where the negotiation stood."""
    as_of, known = optional_moment("at", at), optional_moment("known_at", known_at)
    return await _answer(request, "status", lambda answers: answers.status(negotiation, as_of=as_of, known_at=known))  # type: ignore[return-value]


@get(
    "/v1/negotiations/{negotiation:str}/positions",
    opt={"auth": "read", "query": ("at", "known_at")},
    tags=["answers"],
    summary="The positions answer (event-log.md section 3)",
    responses=READ_PROBLEMS,
)
async def positions(
    request: Request[Any, Any, Any], negotiation: NegotiationId, at: str | None = _AT, known_at: str | None = _KNOWN
) -> Response[dict[str, Any]]:
    """Each party's standing proposal on each issue."""
    as_of, known = optional_moment("at", at), optional_moment("known_at", known_at)
    return await _answer(  # type: ignore[return-value]
        request, "positions", lambda answers: answers.positions(negotiation, as_of=as_of, known_at=known)
    )


@get(
    "/v1/negotiations/{negotiation:str}/timeline",
    opt={"auth": "read", "query": ("from", "to", "known_at")},
    tags=["answers"],
    summary="The timeline (negotiation timeline --json)",
    responses=READ_PROBLEMS,
)
async def timeline(
    request: Request[Any, Any, Any],
    negotiation: NegotiationId,
    start: Annotated[
        str | None,
        QueryParameter(name="from", pattern=MOMENT_PATTERN, description="From this date (inclusive) or time"),
    ] = None,
    end: Annotated[
        str | None,
        QueryParameter(name="to", pattern=MOMENT_PATTERN, description="Up to this date (inclusive) or time"),
    ] = None,
    known_at: str | None = _KNOWN,
) -> Response[dict[str, Any]]:
    """The events in valid-time order with one-line summaries."""
    first, last = optional_moment("from", start), optional_moment("to", end)
    known = optional_moment("known_at", known_at)
    return await _answer(  # type: ignore[return-value]
        request,
        "timeline",
        lambda answers: answers.timeline(negotiation, start=first, end=last, known_at=known),
    )


@get(
    "/v1/negotiations/{negotiation:str}/diff",
    opt={"auth": "read", "query": ("from", "to", "known_at")},
    tags=["answers"],
    summary="What changed between two times (negotiation diff --json)",
    responses=READ_PROBLEMS,
)
async def diff(
    request: Request[Any, Any, Any],
    negotiation: NegotiationId,
    start: Annotated[str, QueryParameter(name="from", pattern=MOMENT_PATTERN, description="The earlier time")],
    end: Annotated[str, QueryParameter(name="to", pattern=MOMENT_PATTERN, description="The later time")],
    known_at: str | None = _KNOWN,
) -> Response[dict[str, Any]]:
    """Status and positions changes."""
    first, last = moment("from", start), moment("to", end)
    known = optional_moment("known_at", known_at)
    return await _answer(  # type: ignore[return-value]
        request, "diff", lambda answers: answers.diff(negotiation, start=first, end=last, known_at=known)
    )


@get(
    "/v1/negotiations/{negotiation:str}/gap",
    opt={"auth": "read", "query": ("at", "known_at")},
    tags=["answers"],
    summary="The distance between union and employer numbers per issue (negotiation gap --json)",
    responses=READ_PROBLEMS,
)
async def gap(
    request: Request[Any, Any, Any], negotiation: NegotiationId, at: str | None = _AT, known_at: str | None = _KNOWN
) -> Response[dict[str, Any]]:
    """Gaps and their moves."""
    as_of, known = optional_moment("at", at), optional_moment("known_at", known_at)
    return await _answer(  # type: ignore[return-value]
        request,
        "gap",
        lambda answers: answers.gaps(negotiation, as_of=as_of, known_at=known),
    )


@get(
    "/v1/stoppages",
    opt={"auth": "read", "query": ("on", "known_at")},
    tags=["answers"],
    summary="The strikes and lockouts running on a date (negotiation stoppages --json)",
    responses=READ_PROBLEMS,
)
async def stoppages(
    request: Request[Any, Any, Any],
    on: str = Parameter(pattern=MOMENT_PATTERN, description="The date (or instant) to look at"),
    known_at: str | None = _KNOWN,
) -> Response[dict[str, Any]]:
    """Stoppages across negotiations."""
    day, known = moment("on", on), optional_moment("known_at", known_at)
    return await _answer(  # type: ignore[return-value]
        request,
        "stoppages",
        lambda answers: answers.stoppages(on=day, known_at=known),
    )


# --- charts --------------------------------------------------------------------------------


async def _chart(
    request: Request[Any, Any, Any],
    *,
    negotiation: str,
    fmt: str,
    start: str | None,
    end: str | None,
    known_at: str | None,
) -> Response[bytes]:
    """The chart of ``negotiation chart NEGOTIATION -o FILE.fmt`` (same options), drawn offline."""
    first, last = optional_moment("from", start), optional_moment("to", end)
    known = optional_moment("known_at", known_at)
    await _read_your_writes(request)
    answers: Answers = request.app.state.answers

    def draw() -> bytes:
        charts.require()
        # The worker's tables, brought up to date once for the whole chart (the pure folds if they cannot be).
        queries = answers.queries(negotiation)
        spec = charts.negotiation_chart(queries, negotiation, start=first, end=last, known_at=known)
        return charts.render(spec, fmt, title=negotiation)

    body = await _run(draw)
    media = "image/svg+xml" if fmt == "svg" else "text/html; charset=utf-8"
    return Response(content=body, media_type=media)


_FROM = Annotated[str | None, QueryParameter(name="from", pattern=MOMENT_PATTERN, description="From this date or time")]
_TO = Annotated[str | None, QueryParameter(name="to", pattern=MOMENT_PATTERN, description="Up to this date or time")]


@get(
    "/v1/negotiations/{negotiation:str}/chart.svg",
    opt={"auth": "read", "query": ("from", "to", "known_at")},
    tags=["charts"],
    summary="The negotiation's chart as SVG (negotiation chart -o FILE.svg)",
    media_type="image/svg+xml",
    responses=READ_PROBLEMS,
)
async def chart_svg(
    request: Request[Any, Any, Any],
    negotiation: NegotiationId,
    start: _FROM = None,
    end: _TO = None,
    known_at: str | None = _KNOWN,
) -> Response[bytes]:
    """Timeline and numeric panels, SVG."""
    return await _chart(request, negotiation=negotiation, fmt="svg", start=start, end=end, known_at=known_at)


@get(
    "/v1/negotiations/{negotiation:str}/chart.html",
    opt={"auth": "read", "query": ("from", "to", "known_at")},
    tags=["charts"],
    summary="The negotiation's chart as one self-contained, offline HTML page (negotiation chart -o FILE.html)",
    media_type="text/html",
    responses=READ_PROBLEMS,
)
async def chart_html(
    request: Request[Any, Any, Any],
    negotiation: NegotiationId,
    start: _FROM = None,
    end: _TO = None,
    known_at: str | None = _KNOWN,
) -> Response[bytes]:
    """Timeline and numeric panels, interactive HTML."""
    return await _chart(request, negotiation=negotiation, fmt="html", start=start, end=end, known_at=known_at)


ROUTES: Final = [
    healthz,
    readyz,
    append,
    events,
    stream,
    catalog,
    status,
    positions,
    timeline,
    diff,
    gap,
    stoppages,
    chart_svg,
    chart_html,
]
