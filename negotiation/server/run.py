"""Serving the app with uvicorn: checks at start-up, the socket, the workers.

The parent process checks what would make every worker fail (a non-loopback
address without a token file, an unreadable token file, a store that cannot
be opened) and refuses to start with one line. It brings the read-model
tables up to date as the command line does (a backlog, or tables of an older
layout, in bulk: a second process derives rows), so that the workers, which
take events in a page at a time between requests, find them current. Then it
binds the socket (port 0: any free port, printed) and runs ``workers``
uvicorn processes on it, each building its app from ``ServerSettings`` passed
in the environment.
"""

from __future__ import annotations

import ipaddress
import os
import signal
import sys
from typing import Final

import uvicorn
from uvicorn.supervisors import Multiprocess

from events.converter import one_line
from negotiation.answers import Answers
from negotiation.application import Negotiations
from negotiation.core.errors import NegotiationError
from negotiation.server.auth import TokenFileError, Tokens
from negotiation.server.settings import ENV_VAR, ServerSettings

__all__ = ["StartupError", "check", "run"]

APP: Final = "negotiation.server.app:app_from_env"


class StartupError(Exception):
    """The service cannot start as asked; the message says why in one line."""

    def __init__(self, message: str, *, exit_code: int) -> None:
        self.exit_code = exit_code
        super().__init__(message)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check(settings: ServerSettings) -> str:
    """Refuse settings no worker could serve; returns the store's display name (password masked).

    Brings the read-model tables up to date (``Answers``, not live: in bulk);
    its one-line notice, if any (tables rebuilt, or answered without them), goes to stderr.
    """
    if not _loopback(settings.host) and settings.token_file is None:
        msg = f"refusing to bind {settings.host} without --token-file: only loopback may be open without tokens"
        raise StartupError(msg, exit_code=2)
    if settings.workers < 1:
        raise StartupError("--workers must be at least 1", exit_code=2)
    try:
        Tokens.load(settings.token_file)
    except TokenFileError as e:
        raise StartupError(str(e), exit_code=2) from None
    try:
        with Negotiations(settings.db) as app:  # creates the tables once, before the workers race
            app.position()
            answers = Answers(app)
            answers.close()
            if answers.notice:
                # A store's message may hold any character: one line, every control escaped.
                sys.stderr.write(f"negotiation serve: {one_line(answers.notice)}\n")
            return app.config.display
    except NegotiationError as e:
        raise StartupError(str(e), exit_code=1) from None


def _ignore(signum: int, frame: object) -> None:
    """A SIGTERM after shutdown: nothing left to do."""


def run(settings: ServerSettings) -> None:
    """Serve until SIGTERM or SIGINT (then finish the requests in flight, bounded, and return)."""
    store = check(settings)
    os.environ[ENV_VAR] = settings.to_env()
    config = uvicorn.Config(
        APP,
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        access_log=False,
        log_level="warning",
        lifespan="on",
        timeout_graceful_shutdown=max(1, round(settings.shutdown_timeout)),
        proxy_headers=False,
        server_header=False,
    )
    try:
        sock = config.bind_socket()
    except (OSError, SystemExit) as e:
        msg = f"cannot listen on {settings.host}:{settings.port}: {e}"
        raise StartupError(msg, exit_code=1) from None
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    sys.stderr.write(
        f"negotiation serve: listening on http://{shown}:{port} "
        f"({settings.workers} worker{'s' if settings.workers != 1 else ''}, store {store})\n"
    )
    sys.stderr.flush()
    # uvicorn re-raises SIGTERM once it has shut down, to end with the default
    # action (killed by a signal); the contract says exit 0: let that re-raise find
    # a handler that does nothing.
    signal.signal(signal.SIGTERM, _ignore)
    server = uvicorn.Server(config)
    if settings.workers > 1:
        Multiprocess(config, sockets=[sock]).run()
    else:
        server.run(sockets=[sock])
