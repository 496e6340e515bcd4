"""The settings of one service: what ``negotiation serve`` was told, handed to every worker.

uvicorn starts each worker process from an import string, so the settings
travel in one environment variable as JSON (``to_env`` / ``from_env``).
"""

from __future__ import annotations

import os
from typing import Final

import attrs
import orjson

__all__ = ["ENV_VAR", "ServerSettings"]

ENV_VAR: Final = "NEGOTIATION_SERVER_SETTINGS"


@attrs.frozen(kw_only=True)
class ServerSettings:
    """How the service runs."""

    db: str | None = None
    """The store (``--db``); ``None``: ``NEGOTIATION_DB`` or the default file."""
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    token_file: str | None = None
    """``TOKEN SCOPE [NAME]`` lines; without it the service is read-only."""
    max_body_bytes: int = 16 * 1024 * 1024
    max_line_bytes: int = 1024 * 1024
    """The longest event line accepted (413 above it)."""
    cors_origins: tuple[str, ...] = ()
    heartbeat: float = 15.0
    """Seconds between comment lines on an idle stream."""
    poll_interval: float = 0.05
    """Seconds between looks at the store for new events when it cannot notify (SQLite)."""
    min_position_wait: float = 5.0
    """Seconds a read with ``Min-Position`` waits before answering 503."""
    shutdown_timeout: float = 5.0
    """Seconds SIGTERM leaves the requests in flight (streams are then cut)."""
    access_log: bool = True

    def to_env(self) -> str:
        """The settings as the JSON value of ``ENV_VAR``."""
        return orjson.dumps(attrs.asdict(self)).decode()

    @classmethod
    def from_env(cls) -> ServerSettings:
        """The settings the parent process put in ``ENV_VAR`` (defaults without it)."""
        raw = os.environ.get(ENV_VAR)
        if not raw:
            return cls()
        values = orjson.loads(raw)
        values["cors_origins"] = tuple(values.get("cors_origins", ()))
        return cls(**values)
