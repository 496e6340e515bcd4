"""Structured logging for the library, configured by the application, never by us.

structlog, left unconfigured, prints every message to standard output: a
library that logged through it unconditionally would write into its users'
output (``negotiation status --json | jq`` included). So each message goes
through structlog when the application has configured it (the CLI does, tests
do with ``structlog.testing.capture_logs``), and otherwise to the standard
library logger of the same name, which stays silent below WARNING until the
application sets up logging.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

import structlog

__all__ = ["LibraryLogger", "get_logger"]


@functools.cache
def _stdlib_logger(name: str) -> Any:
    return structlog.wrap_logger(
        logging.getLogger(name),
        processors=[
            # First: a message below the logger's level is dropped before it is rendered (a catch-up logs
            # a line per phase change, and an application that set up no logging shows none of them).
            structlog.stdlib.filter_by_level,
            structlog.processors.format_exc_info,
            structlog.processors.KeyValueRenderer(key_order=["event"]),
        ],
        wrapper_class=structlog.stdlib.BoundLogger,
    )


class LibraryLogger:
    """A logger that picks its sink when a message is logged; ``bind`` adds context."""

    def __init__(self, name: str, context: dict[str, Any] | None = None) -> None:
        self.name = name
        self.context = dict(context or {})

    def bind(self, **context: Any) -> LibraryLogger:
        """A logger with more context (e.g. ``negotiation=...``, ``event_id=...``)."""
        return LibraryLogger(self.name, {**self.context, **context})

    def _sink(self) -> Any:
        base = structlog.get_logger(self.name) if structlog.is_configured() else _stdlib_logger(self.name)
        return base.bind(**self.context) if self.context else base

    def debug(self, event: str, **fields: Any) -> None:
        """Log at DEBUG."""
        self._sink().debug(event, **fields)

    def info(self, event: str, **fields: Any) -> None:
        """Log at INFO."""
        self._sink().info(event, **fields)

    def warning(self, event: str, **fields: Any) -> None:
        """Log at WARNING."""
        self._sink().warning(event, **fields)

    def error(self, event: str, **fields: Any) -> None:
        """Log at ERROR."""
        self._sink().error(event, **fields)

    def exception(self, event: str, **fields: Any) -> None:
        """Log at ERROR with the current exception's traceback."""
        self._sink().exception(event, **fields)


def get_logger(name: str = "negotiation", **context: Any) -> LibraryLogger:
    """The library's logger for ``name``, optionally bound to ``context``."""
    return LibraryLogger(name, context)
