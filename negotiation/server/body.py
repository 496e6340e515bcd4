"""The body of an append: read within the size limit, split into event lines, parsed.

A body is JSON Lines (``application/x-ndjson``, ``application/jsonl``; blank
and ``#`` lines skipped, as in files) or a JSON array (``application/json``)
of event objects; without a ``Content-Type`` the first character decides. The
body is read chunk by chunk and refused (413) as soon as it passes the limit,
before it has been read whole; a ``Content-Length`` over it is refused before
reading anything. Every malformed line is reported (up to ``MAX_REFUSALS``),
by its 1-based line number (item number for an array).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Final

import orjson

from events.converter import Limits, parse_line
from events.errors import InvalidEventError
from events.model import Event
from negotiation.problems import BadRequestError, BodyTooLargeError, UnsupportedBodyError
from negotiation.server.problem import EventRefusal, RefusalsError, refusal_reason

__all__ = ["JSON_TYPES", "LINES_TYPES", "Batch", "parse_body", "read_body"]

LINES_TYPES: Final = frozenset({"application/x-ndjson", "application/jsonl", "application/json-lines"})
JSON_TYPES: Final = frozenset({"application/json"})
MAX_REFUSALS: Final = 100

Batch = list[tuple[int, Event]]
"""``(line number, event)`` pairs, in body order."""


async def read_body(chunks: AsyncIterator[bytes], *, content_length: str | None, limit: int) -> bytes:
    """The whole body, refused with ``BodyTooLargeError`` as soon as it is over ``limit`` bytes."""
    if content_length is not None:
        try:
            declared = int(content_length)
        except ValueError:
            msg = "Content-Length is not a number"
            raise BadRequestError(msg) from None
        if declared > limit:
            msg = f"body of {declared} bytes is over the limit of {limit} bytes"
            raise BodyTooLargeError(msg)
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            msg = f"body is over the limit of {limit} bytes"
            raise BodyTooLargeError(msg)
        parts.append(chunk)
    return b"".join(parts)


def _media_type(content_type: str | None, body: bytes) -> str:
    if content_type:
        media = content_type.split(";", 1)[0].strip().lower()
        if media in LINES_TYPES or media in JSON_TYPES:
            return media
        msg = "send JSON Lines (application/x-ndjson, application/jsonl) or a JSON array (application/json)"
        raise UnsupportedBodyError(msg)
    return "application/json" if body.lstrip()[:1] == b"[" else "application/x-ndjson"


def _lines(body: bytes, media: str) -> list[tuple[int, bytes]]:
    if media in JSON_TYPES:
        try:
            items = orjson.loads(body)
        except orjson.JSONDecodeError as e:
            msg = f"the body is not a JSON array: not valid UTF-8 JSON ({str(e).splitlines()[0][:200]})"
            raise UnsupportedBodyError(msg) from None
        if not isinstance(items, list):
            msg = "the body is not a JSON array of events"
            raise UnsupportedBodyError(msg)
        return [(number, orjson.dumps(item)) for number, item in enumerate(items, start=1)]
    lines = []
    for number, raw in enumerate(body.split(b"\n"), start=1):
        line = raw.rstrip(b"\r")
        if not line.strip() or line.lstrip().startswith(b"#"):
            continue
        lines.append((number, line))
    return lines


def parse_body(body: bytes, *, content_type: str | None, limits: Limits) -> Batch:
    """The events of the body with their line numbers; every bad line refused together."""
    media = _media_type(content_type, body)
    batch: Batch = []
    refusals: list[EventRefusal] = []
    for number, line in _lines(body, media):
        if len(line) > limits.max_line_bytes:
            msg = f"line {number} has {len(line)} bytes: over the line limit of {limits.max_line_bytes}"
            raise BodyTooLargeError(msg)
        try:
            batch.append((number, parse_line(line, limits=limits)))
        except InvalidEventError as e:
            if len(refusals) < MAX_REFUSALS:
                refusals.append(EventRefusal(line=number, id=e.event_id, rule=e.rule, reason=refusal_reason(e)))
    if refusals:
        raise RefusalsError(refusals)
    if not batch:
        msg = "the body holds no event lines"
        raise InvalidEventError(msg, expected="JSON Lines or a JSON array of events")
    return batch
