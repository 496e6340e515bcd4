"""Which store to use: one setting, ``--db URL`` or ``NEGOTIATION_DB``.

- a file path or ``sqlite:///PATH``: the embedded SQLite file store (default
  ``negotiations.db`` in the current directory);
- ``postgresql://USER[:PASSWORD]@HOST[:PORT]/DBNAME[?schema=NAME&connect_timeout=S&...]``:
  PostgreSQL (``connect_timeout`` defaults to 5 s per attempt, at most
  ``MAX_CONNECT_TIMEOUT``; eventsourcing retries a failed write up to 10
  times). Every other query parameter must be one of libpq's own connection
  parameters (``sslmode``, ``sslrootcert``, ``application_name``, ...): it is
  passed to libpq as given, and libpq's secret ones (``password``,
  ``sslpassword``, ...) are masked wherever the URL is shown. A parameter
  libpq does not know is refused, never ignored;
- ``memory:``: an in-memory store that lives as long as the process (tests).

The result is the explicit eventsourcing environment; the process environment
is never read by the store itself, so stray ``PERSISTENCE_MODULE`` or
``POSTGRES_*`` variables cannot redirect it.

A URL with a control character anywhere, raw or percent-encoded (``%00``:
libpq stops reading at a NUL and would connect elsewhere), or one that does
not parse, is a ``ConfigurationError`` whose one-line message shows the URL
with every secret masked.
"""

from __future__ import annotations

import functools
import json
import os
import re
import unicodedata
from collections.abc import Mapping
from typing import Final, Literal
from urllib.parse import parse_qsl, quote, unquote, unquote_plus, urlsplit

import attrs

from negotiation.core.errors import ConfigurationError

__all__ = [
    "DEFAULT_DB",
    "ENV_VAR",
    "LIBPQ_ENV",
    "MAX_CONNECT_TIMEOUT",
    "StoreConfig",
    "redact",
    "redact_text",
    "resolve",
]

DEFAULT_DB: Final = "negotiations.db"
ENV_VAR: Final = "NEGOTIATION_DB"

Kind = Literal["sqlite", "postgres", "memory"]

_SCHEMA_RE: Final = re.compile(r"[a-z_][a-z0-9_]{0,62}")
MAX_CONNECT_TIMEOUT: Final = 3600
"""The longest ``connect_timeout`` accepted, in seconds (an hour)."""
LIBPQ_ENV: Final = "NEGOTIATION_LIBPQ_PARAMETERS"
"""The environment key under which libpq parameters of the URL reach the store (a JSON object)."""
_OWN_PARAMETERS: Final = frozenset({"schema", "connect_timeout"})
"""Query parameters this module reads itself (``connect_timeout`` also goes to libpq)."""
_URL_PARTS: Final = {
    "host": "POSTGRES_HOST",
    "port": "POSTGRES_PORT",
    "user": "POSTGRES_USER",
    "dbname": "POSTGRES_DBNAME",
}
"""libpq parameters of the query that override a part of the URL, as libpq's own URIs do."""
_ALWAYS_SECRET: Final = frozenset(
    {"password", "sslpassword", "oauth_client_secret", "scram_client_key", "scram_server_key"}
)
"""Masked even when libpq's list of parameters cannot be asked (psycopg absent)."""
_SECRET_WORDS: Final = ("pass", "secret", "key", "token")
"""A query parameter whose name holds one of these is masked too, known to libpq or not (``x-password``)."""


@attrs.frozen(kw_only=True)
class StoreConfig:
    """A resolved store setting."""

    kind: Kind
    url: str = attrs.field(repr=lambda url: repr(redact(url)))
    """The setting as given; may hold a password: show ``display`` instead."""
    env: Mapping[str, str] = attrs.field(repr=False)
    """The eventsourcing environment for this store."""
    secrets: tuple[str, ...] = attrs.field(default=(), repr=False)
    """Every secret of the setting (passwords), masked in any text shown (``mask``)."""

    @property
    def display(self) -> str:
        """The URL with every secret masked, safe for logs and errors."""
        return self.mask(redact(self.url))

    def mask(self, text: str) -> str:
        """``text`` with this store's secrets (decoded or percent-encoded) replaced by ``***``.

        Any URL quoted in ``text`` is redacted too (``redact_text``): a URL whose
        user holds an unencoded ``/`` puts what was meant as its password in the
        database name (``postgresql://a/b:PW@h/db``), where no parsed part names it
        a secret, and a server message may quote the URL as given. This store's
        own URL, quoted whole, is redacted as a URL first: in a message a URL
        ends at white space, and a user name may hold some (``postgresql:// /:PW@h``).
        """
        if self.url and self.url in text:
            text = text.replace(self.url, redact(self.url))
        text = redact_text(text)
        forms = {form for secret in self.secrets if secret for form in (secret, quote(secret, safe=""), quote(secret))}
        password = self.env.get("POSTGRES_PASSWORD")
        if password:
            forms |= {password, quote(password, safe=""), quote(password)}
        for form in sorted(forms, key=len, reverse=True):
            text = text.replace(form, "***")
        return text

    def for_one_command(self) -> StoreConfig:
        """The store for one short command, asking from one thread at a time (the command line's).

        On PostgreSQL: one connection opened at first, not eventsourcing's five
        (more are opened if ever asked for at once), and no ping before each
        use of a connection. A query of the command line lives a fraction of a
        second: the four other connections (a server process each, started on
        the same processors) and a round trip before each statement cost it
        more than they could save. A server keeps both (``resolve``'s).
        """
        if self.kind != "postgres":
            return self
        return attrs.evolve(self, env={**self.env, "POSTGRES_POOL_SIZE": "1", "POSTGRES_PRE_PING": "n"})

    def error_text(self, error: BaseException) -> str:
        """A store error's first line, with the secrets masked: safe for a user."""
        text = str(error).strip()
        return self.mask(text.splitlines()[0] if text else type(error).__name__)


_PASSWORD_IN_URL: Final = re.compile(r"(://[^:]*):.*@", re.DOTALL)
_PASSWORD_IN_TEXT: Final = re.compile(r"(://[^:\s]*):\S*@")
_KEY: Final = re.compile(r"[?&;]([^=&#;?\s]*)=")
"""The start of a query parameter, up to its ``=``; found inside another's value too."""
_VALUE_END_IN_URL: Final = re.compile(r"[&#;]|$")
_VALUE_END_IN_TEXT: Final = re.compile(r"[&#;]|:?(?:\s|$)")
"""In a message, a URL's last value ends before white space (and a ``:`` ending the URL)."""


def redact(url: str) -> str:
    """Mask the passwords of a URL (``postgresql://u:***@h/db?sslpassword=***``); never fails.

    The password of the authority runs from the first ``:`` after ``://`` to
    the last ``@`` (a user or password may hold an unencoded ``@``, ``/`` or
    white space: masking too much is safe, too little is not). In the query,
    every value of a secret libpq parameter is masked, however its name is
    percent-encoded, and so is any parameter whose name holds ``pass``,
    ``secret``, ``key`` or ``token``.
    """
    return _redact(url, _PASSWORD_IN_URL, _VALUE_END_IN_URL)


def redact_text(text: str) -> str:
    """``redact`` for a message that holds URLs among other words: each URL ends at white space."""
    return _redact(text, _PASSWORD_IN_TEXT, _VALUE_END_IN_TEXT)


def _redact(text: str, password: re.Pattern[str], value_end: re.Pattern[str]) -> str:
    text = password.sub(r"\1:***@", text)
    out: list[str] = []
    done = 0
    for found in _KEY.finditer(text):
        name = unquote_plus(found.group(1)).lower()
        if found.start() < done or not (name in _secret_parameters() or any(word in name for word in _SECRET_WORDS)):
            continue
        end = value_end.search(text, found.end())
        stop = end.start() if end else len(text)
        out.append(text[done : found.end()] + "***")
        done = stop
    out.append(text[done:])
    return "".join(out)


def _has_control(text: str) -> bool:
    return any(unicodedata.category(c) in ("Cc", "Cs") for c in text)


def _refuse_controls(url: str) -> None:
    """A control character anywhere in the URL, raw or percent-encoded, is refused."""
    if _has_control(url) or ("%" in url and _has_control(unquote(url, errors="surrogateescape"))):
        shown = "".join(c if not _has_control(c) else repr(c)[1:-1] for c in redact(url))
        raise ConfigurationError(f"{shown}: a control character (raw or percent-encoded, such as %00) in the store URL")


def resolve(db: str | None = None, environ: Mapping[str, str] | None = None) -> StoreConfig:
    """The store chosen by ``db``, else ``NEGOTIATION_DB``, else the default file."""
    environ = os.environ if environ is None else environ
    url = db or environ.get(ENV_VAR) or DEFAULT_DB
    _refuse_controls(url)
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


@functools.cache  # asked of libpq once per process
def _known_parameters() -> dict[str, bool]:
    """The connection parameters libpq knows, each with whether it is a secret; ``{}`` without psycopg."""
    try:
        from psycopg import pq  # psycopg is the optional PostgreSQL extra
    except ImportError:
        return {}
    return {
        o.keyword.decode(): o.dispchar == b"*" or o.keyword.decode() in _ALWAYS_SECRET
        for o in pq.Conninfo.get_defaults()
    }


def _secret_parameters() -> frozenset[str]:
    return _ALWAYS_SECRET | {name for name, secret in _known_parameters().items() if secret}


def _postgres(url: str) -> StoreConfig:
    shown = redact(url)
    try:
        parts = urlsplit(url)
        hostname = parts.hostname
        port = parts.port or 5432
        pairs = parse_qsl(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError as e:
        # urlsplit and .port refuse e.g. a "[" in an unencoded password, or port 99999.
        reason = str(e).split(":")[0] if "port" in str(e).lower() else "not a valid URL"
        raise ConfigurationError(
            f"{shown}: {reason}; expected postgresql://USER@HOST:PORT/DBNAME, with reserved characters "
            "of the user and password percent-encoded (%5B for [, %40 for @, %2F for /)"
        ) from None
    dbname = unquote(parts.path.lstrip("/"))
    if not hostname or not dbname:
        raise ConfigurationError(f"{shown}: expected postgresql://USER@HOST:PORT/DBNAME")
    query: dict[str, str] = {}
    known = _known_parameters()
    for name, value in pairs:
        if name in query:
            raise ConfigurationError(f"{shown}: the parameter {name!r} is given twice")
        if name not in _OWN_PARAMETERS and name not in known:
            hint = "" if known else " (PostgreSQL needs psycopg: install negotiation-log[postgres])"
            raise ConfigurationError(
                f"{shown}: unknown parameter {name!r}; expected schema or a libpq connection parameter "
                f"(sslmode, sslrootcert, application_name, ...){hint}"
            )
        query[name] = value
    schema = query.pop("schema", "")
    timeout = query.pop("connect_timeout", "5")
    if not re.fullmatch(r"[0-9]{1,10}", timeout) or not 1 <= int(timeout) <= MAX_CONNECT_TIMEOUT:
        raise ConfigurationError(
            f"{shown}: connect_timeout must be a whole number of seconds from 1 to {MAX_CONNECT_TIMEOUT}"
        )
    if schema and not _SCHEMA_RE.fullmatch(schema):
        raise ConfigurationError(f"{shown}: schema must match {_SCHEMA_RE.pattern}")
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": dbname,
        "POSTGRES_HOST": hostname,
        "POSTGRES_PORT": str(port),
        "POSTGRES_USER": unquote(parts.username or "postgres"),
        "POSTGRES_PASSWORD": unquote(parts.password or ""),
        "POSTGRES_CONNECT_TIMEOUT": str(int(timeout)),
        "POSTGRES_LOCK_TIMEOUT": "30",
        "POSTGRES_PRE_PING": "y",
        "ORIGINATOR_ID_TYPE": "text",
        # Large inserts in slices: eventsourcing's single statement hangs (negotiation.store.postgres).
        "APPLICATION_RECORDER_TOPIC": "negotiation.store.postgres:SlicedPostgresApplicationRecorder",
    }
    # As in libpq's own URIs, a parameter of the query overrides the part of the URL.
    for name, key in _URL_PARTS.items():
        if name in query:
            env[key] = query.pop(name)
    if "password" in query:
        env["POSTGRES_PASSWORD"] = query.pop("password")
    secrets = tuple(value for name, value in query.items() if name in _secret_parameters() and value)
    # libpq reads connect_timeout too: each attempt it makes is bounded as well.
    env[LIBPQ_ENV] = json.dumps({**query, "connect_timeout": str(int(timeout))}, sort_keys=True)
    if schema:
        env["POSTGRES_SCHEMA"] = schema
    return StoreConfig(kind="postgres", url=url, env=env, secrets=secrets)
