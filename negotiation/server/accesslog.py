"""The access log: one structlog JSON line per request.

``AccessLog`` wraps the whole ASGI application, so it sees every answer,
the framework's own (an unknown route) included. Each request gets an id
(``X-Request-ID``, also sent back); the line says the route template, the
status, the duration and the NAME of the token used, never the token. The
processors are small pure functions; ``configure`` is called by the server
process only (the library never configures logging on import).
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Final

import structlog

__all__ = ["ACCESS_KEY", "AccessLog", "configure", "utc_timestamp"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Any, Any, Any], Awaitable[None]]

ACCESS_KEY: Final = "negotiation.access"
"""The scope key of the request's access facts (the auth guard adds ``token``)."""

logger = structlog.get_logger("negotiation.server.access")


def utc_timestamp(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Add ``ts``: the time the line was written (RFC 3339, UTC)."""
    event_dict["ts"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return event_dict


def configure() -> None:
    """JSON lines on stderr for the access log and the library's log (info and above)."""
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            utc_timestamp,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(20),
        logger_factory=structlog.WriteLoggerFactory(file=sys.stderr),  # one write per line: workers share stderr
        cache_logger_on_first_use=True,
    )


def _request_id(scope: Scope) -> str:
    for key, value in scope.get("headers", ()):
        if key == b"x-request-id" and 0 < len(value) <= 64 and value.isascii() and value.isalnum():
            return str(value.decode())
    return uuid.uuid4().hex


class AccessLog:
    """ASGI middleware writing one ``http.request`` line per HTTP request."""

    def __init__(self, app: ASGIApp, *, enabled: bool = True) -> None:
        self.app = app
        self.enabled = enabled

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        facts: dict[str, Any] = {"request_id": _request_id(scope), "status": None, "token": None}
        scope[ACCESS_KEY] = facts

        async def send_logged(message: Message) -> None:
            if message["type"] == "http.response.start":
                facts["status"] = message["status"]
                headers = list(message.get("headers", ()))
                headers.append((b"x-request-id", facts["request_id"].encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_logged)
        finally:
            if self.enabled:
                logger.info(
                    "http.request",
                    request_id=facts["request_id"],
                    method=scope["method"],
                    route=scope.get("path_template") or "(no route)",
                    status=facts["status"],
                    duration_ms=round((time.perf_counter() - started) * 1000, 3),
                    token=facts["token"],
                    pid=os.getpid(),
                )
