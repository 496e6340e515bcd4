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
        processors=[structlog.processors.format_exc_info, structlog.processors.KeyValueRenderer(key_order=["event"])],
        wrapper_class=structlog.stdlib.BoundLogger,
    )


def _structlog_enabled(level: int) -> bool:
    """Whether the configured structlog wrapper would log ``level``; ``True`` when it cannot tell.

    Asked before a logger is built and bound (most of a dropped message's
    cost: a catch-up asks once per phase change). Only structlog's own
    filtering loggers (``make_filtering_bound_logger``) are asked: their
    ``is_enabled_for`` compares with the level the class was made for and
    reads nothing of an instance.
    """
    wrapper = structlog.get_config().get("wrapper_class")
    if getattr(wrapper, "__module__", None) != structlog.make_filtering_bound_logger.__module__:
        return True
    enabled = getattr(wrapper, "is_enabled_for", None)
    return True if enabled is None else bool(enabled(None, level))


class LibraryLogger:
    """A logger that picks its sink when a message is logged; ``bind`` adds context."""

    def __init__(self, name: str, context: dict[str, Any] | None = None) -> None:
        self.name = name
        self.context = dict(context or {})

    def bind(self, **context: Any) -> LibraryLogger:
        """A logger with more context (e.g. ``negotiation=...``, ``event_id=...``)."""
        return LibraryLogger(self.name, {**self.context, **context})

    def _sink(self, level: int = logging.ERROR) -> Any:
        """Where a message of ``level`` goes; ``None`` when the standard library's logger would drop it.

        Asked before the message is built: a catch-up logs a line per phase
        change, and an application that set up no logging shows none of them.
        """
        if structlog.is_configured():
            if not _structlog_enabled(level):
                return None
            base = structlog.get_logger(self.name)
        elif logging.getLogger(self.name).isEnabledFor(level):
            base = _stdlib_logger(self.name)
        else:
            return None
        return base.bind(**self.context) if self.context else base

    def debug(self, event: str, **fields: Any) -> None:
        """Log at DEBUG."""
        if (sink := self._sink(logging.DEBUG)) is not None:
            sink.debug(event, **fields)

    def info(self, event: str, **fields: Any) -> None:
        """Log at INFO."""
        if (sink := self._sink(logging.INFO)) is not None:
            sink.info(event, **fields)

    def warning(self, event: str, **fields: Any) -> None:
        """Log at WARNING."""
        if (sink := self._sink(logging.WARNING)) is not None:
            sink.warning(event, **fields)

    def error(self, event: str, **fields: Any) -> None:
        """Log at ERROR."""
        if (sink := self._sink(logging.ERROR)) is not None:
            sink.error(event, **fields)

    def exception(self, event: str, **fields: Any) -> None:
        """Log at ERROR with the current exception's traceback."""
        if (sink := self._sink(logging.ERROR)) is not None:
            sink.exception(event, **fields)


def get_logger(name: str = "negotiation", **context: Any) -> LibraryLogger:
    """The library's logger for ``name``, optionally bound to ``context``."""
    return LibraryLogger(name, context)
