"""A small server-sent-events reader for the tests (httpx streaming)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import orjson


def messages(response: httpx.Response) -> Iterator[dict[str, object]]:
    """Each message of the stream: ``{"id", "event", "data"}`` (comments skipped); ``data`` parsed."""
    fields: dict[str, str] = {}
    for line in response.iter_lines():
        if line == "":
            if "data" in fields:
                yield {"id": fields.get("id"), "event": fields.get("event"), "data": orjson.loads(fields["data"])}
            fields = {}
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        fields[name] = value.removeprefix(" ")
