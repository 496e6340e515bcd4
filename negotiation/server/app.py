"""The application factory: one Litestar app per worker process, over one facade.

``create_app`` builds it from ``ServerSettings``; ``app_from_env`` is what
uvicorn imports in each worker (the settings come in ``ENV_VAR``). The app
opens the store at start-up, brings the read-model tables up to date (one
``negotiation.answers.Answers`` per worker, which answers the queries from
them), runs the stream ``Watcher``, and closes them at shutdown. On SIGTERM
the streams end at once (uvicorn then lets the other requests in flight
finish, for at most ``shutdown_timeout`` seconds).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from typing import Any

import anyio.to_thread
from litestar import Litestar, MediaType, Request, Response, get
from litestar.config.cors import CORSConfig
from litestar.exceptions import HTTPException
from litestar.openapi.config import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin

from negotiation.answers import Answers
from negotiation.application import Negotiations
from negotiation.server.accesslog import AccessLog, configure
from negotiation.server.auth import Tokens
from negotiation.server.problem import MEDIA_TYPE, document, http_error, render
from negotiation.server.routes import ROUTES, guard
from negotiation.server.settings import ServerSettings
from negotiation.server.stream import Watcher
from negotiation.store.logs import get_logger

__all__ = ["app_from_env", "create_app"]

logger = get_logger("negotiation.server")


def _problem_response(request: Request[Any, Any, Any], error: Exception) -> Response[bytes]:
    extra: dict[str, str] = {}
    if isinstance(error, HTTPException):
        allow = (error.headers or {}).get("allow")
        if allow:
            extra["Allow"] = allow
        translated = http_error(error.status_code, str(error.detail))
        if translated is not None:
            error = translated
    doc = document(error)
    if doc.status >= 500 and doc.status != 503:
        logger.error("http.internal_error", route=request.scope.get("path_template"), error=type(error).__name__)
    body, headers = render(doc)
    return Response(content=body, status_code=doc.status, media_type=MEDIA_TYPE, headers={**headers, **extra})


@get("/openapi.json", opt={"auth": "read"}, include_in_schema=False, media_type=MediaType.JSON)
async def openapi_json(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """The OpenAPI 3.1 document, generated from the handlers and the attrs types they use."""
    schema: dict[str, Any] = request.app.openapi_schema.to_schema()
    return schema


def create_app(settings: ServerSettings, *, negotiations: Negotiations | None = None) -> Litestar:
    """The service's ASGI app (Litestar) for ``settings``; ``negotiations``: an open facade to use."""
    tokens = Tokens.load(settings.token_file)
    stopping = asyncio.Event()

    async def start(app: Litestar) -> None:
        facade = negotiations if negotiations is not None else Negotiations(settings.db)
        answers = await anyio.to_thread.run_sync(lambda: Answers(facade, live=True))
        if answers.notice:
            logger.info("server.read_models", notice=answers.notice)
        watcher = Watcher(facade, poll_interval=settings.poll_interval)
        watcher.start()
        app.state.negotiations = facade
        app.state.answers = answers
        app.state.watcher = watcher
        loop = asyncio.get_running_loop()
        previous = signal.getsignal(signal.SIGTERM)

        def on_term(signum: int, frame: Any) -> None:
            loop.call_soon_threadsafe(stopping.set)
            if callable(previous):
                previous(signum, frame)

        with contextlib.suppress(ValueError):  # not the main thread (an embedding server): no stream shortcut
            signal.signal(signal.SIGTERM, on_term)

    async def stop(app: Litestar) -> None:
        stopping.set()
        app.state.watcher.stop()
        app.state.answers.close()
        if negotiations is None:
            app.state.negotiations.close()

    cors = (
        CORSConfig(
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type", "Last-Event-ID", "Min-Position"],
            expose_headers=["Next-After", "X-Request-ID", "Retry-After"],
            allow_credentials=False,
        )
        if settings.cors_origins
        else None
    )
    app = Litestar(
        route_handlers=[*ROUTES, openapi_json],
        guards=[guard],
        exception_handlers={Exception: _problem_response},
        on_startup=[start],
        on_shutdown=[stop],
        cors_config=cors,
        request_max_body_size=settings.max_body_bytes,
        openapi_config=OpenAPIConfig(
            title="negotiation-log",
            version="1",
            description="Append, ask and follow labor negotiations over HTTP (see docs/http.md).",
            path="/schema",
            render_plugins=[JsonRenderPlugin()],
        ),
        debug=False,
        logging_config=None,
    )
    app.state.settings = settings
    app.state.tokens = tokens
    app.state.stopping = stopping
    return app


def app_from_env() -> AccessLog:
    """The app of one uvicorn worker: settings from the environment, JSON access log on stderr."""
    settings = ServerSettings.from_env()
    configure()
    return AccessLog(create_app(settings), enabled=settings.access_log)
