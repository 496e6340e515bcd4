"""Event lines for the HTTP tests: small valid negotiations, built by id."""

from __future__ import annotations

import orjson


def opened(negotiation: str, *, event_id: str | None = None) -> dict[str, object]:
    return {
        "id": event_id or f"{negotiation}-0",
        "type": "negotiation.opened",
        "negotiation": negotiation,
        "occurred_at": "2023-01-02",
        "data": {
            "title": f"Test {negotiation}",
            "parties": [
                {"id": "u", "name": "Union", "role": "union"},
                {"id": "e", "name": "Employer", "role": "employer"},
            ],
            "issues": [{"id": "wages", "title": "Wages"}],
            "timezone": "UTC",
        },
    }


def talks(negotiation: str, n: int, *, note: str = "session") -> dict[str, object]:
    return {
        "id": f"{negotiation}-{n}",
        "type": "talks.held",
        "negotiation": negotiation,
        "occurred_at": "2023-01-03",
        "data": {"note": f"{note} {n}"},
    }


def negotiation_lines(negotiation: str, count: int) -> list[dict[str, object]]:
    """``opened`` then ``count - 1`` talks."""
    return [opened(negotiation), *(talks(negotiation, n) for n in range(1, count))]


def jsonl(events: list[dict[str, object]]) -> bytes:
    return b"".join(orjson.dumps(e) + b"\n" for e in events)
