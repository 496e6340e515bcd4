"""Which store to use: one setting, ``--db URL`` or ``NEGOTIATION_DB``.

- a file path or ``sqlite:///PATH``: the embedded SQLite file store (default
  ``negotiations.db`` in the current directory);
- ``postgresql://USER[:PASSWORD]@HOST[:PORT]/DBNAME[?schema=NAME&connect_timeout=S]``:
  PostgreSQL (``connect_timeout`` defaults to 5 s per attempt; eventsourcing
  retries a failed write up to 10 times);
- ``memory:``: an in-memory store that lives as long as the process (tests).

The result is the explicit eventsourcing environment; the process environment
is never read by the store itself, so stray ``PERSISTENCE_MODULE`` or
``POSTGRES_*`` variables cannot redirect it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Final, Literal
from urllib.parse import parse_qs, unquote, urlsplit

import attrs

from negotiation.core.errors import ConfigurationError

__all__ = ["DEFAULT_DB", "ENV_VAR", "StoreConfig", "redact", "resolve"]

DEFAULT_DB: Final = "negotiations.db"
ENV_VAR: Final = "NEGOTIATION_DB"

Kind = Literal["sqlite", "postgres", "memory"]

_SCHEMA_RE: Final = re.compile(r"[a-z_][a-z0-9_]{0,62}")


@attrs.frozen(kw_only=True)
class StoreConfig:
    """A resolved store setting."""

    kind: Kind
    url: str = attrs.field(repr=lambda url: repr(redact(url)))
    """The setting as given; may hold a password: show ``display`` instead."""
    env: Mapping[str, str] = attrs.field(repr=False)
    """The eventsourcing environment for this store."""

    @property
    def display(self) -> str:
        """The URL with any password masked, safe for logs and errors."""
        return redact(self.url)

    def mask(self, text: str) -> str:
        """``text`` with this store's password replaced by ``***``."""
        password = self.env.get("POSTGRES_PASSWORD")
        return text.replace(password, "***") if password else text

    def error_text(self, error: BaseException) -> str:
        """A store error's first line, with the password masked: safe for a user."""
        text = str(error).strip()
        return self.mask(text.splitlines()[0] if text else type(error).__name__)


def redact(url: str) -> str:
    """Mask the password of a URL (``postgresql://u:***@h/db``)."""
    # The user may be empty (``://:pw@``); the password runs to the last ``@`` of
    # the authority, as urlsplit reads it (``u:p@ss@host`` has the password ``p@ss``).
    return re.sub(r"(://[^:/@]*):[^/]*@", r"\1:***@", url)


def resolve(db: str | None = None, environ: Mapping[str, str] | None = None) -> StoreConfig:
    """The store chosen by ``db``, else ``NEGOTIATION_DB``, else the default file."""
    environ = os.environ if environ is None else environ
    url = db or environ.get(ENV_VAR) or DEFAULT_DB
    if url in ("memory:", ":memory:", "memory://"):
        return StoreConfig(kind="memory", url=url, env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    if url.startswith(("postgresql://", "postgres://")):
        return _postgres(url)
    if url.startswith("sqlite:"):
        path = url.removeprefix("sqlite:")
        if not path.startswith("///"):
            raise ConfigurationError(f"{redact(url)}: expected sqlite:///PATH")
        path = path[3:]
    elif "://" in url:
        raise ConfigurationError(f"{redact(url)}: unknown store; use a file path, sqlite:///PATH or postgresql://...")
    else:
        path = url
    if not path:
        raise ConfigurationError("empty SQLite path")
    return StoreConfig(
        kind="sqlite",
        url=url,
        env={
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": path,
            "SQLITE_LOCK_TIMEOUT": "30",
            "ORIGINATOR_ID_TYPE": "text",
        },
    )


def _postgres(url: str) -> StoreConfig:
    parts = urlsplit(url)
    dbname = unquote(parts.path.lstrip("/"))
    if not parts.hostname or not dbname:
        raise ConfigurationError(f"{redact(url)}: expected postgresql://USER@HOST:PORT/DBNAME")
    query = parse_qs(parts.query)
    schema = query.get("schema", [""])[0]
    timeout = query.get("connect_timeout", ["5"])[0]
    if not timeout.isdigit() or int(timeout) < 1:
        raise ConfigurationError(f"{redact(url)}: connect_timeout must be a whole number of seconds >= 1")
    if schema and not _SCHEMA_RE.fullmatch(schema):
        raise ConfigurationError(f"{redact(url)}: schema must match {_SCHEMA_RE.pattern}")
    try:
        port = parts.port or 5432
    except ValueError:
        raise ConfigurationError(f"{redact(url)}: the port is not a number") from None
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": dbname,
        "POSTGRES_HOST": parts.hostname,
        "POSTGRES_PORT": str(port),
        "POSTGRES_USER": unquote(parts.username or "postgres"),
        "POSTGRES_PASSWORD": unquote(parts.password or ""),
        "POSTGRES_CONNECT_TIMEOUT": timeout,
        "POSTGRES_LOCK_TIMEOUT": "30",
        "POSTGRES_PRE_PING": "y",
        "ORIGINATOR_ID_TYPE": "text",
        # Large inserts in slices: eventsourcing's single statement hangs (negotiation.store.postgres).
        "APPLICATION_RECORDER_TOPIC": "negotiation.store.postgres:SlicedPostgresApplicationRecorder",
    }
    if schema:
        env["POSTGRES_SCHEMA"] = schema
    return StoreConfig(kind="postgres", url=url, env=env)
