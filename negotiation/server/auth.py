"""Bearer tokens: the token file, constant-time lookup, and the guard every route runs.

A token file holds ``TOKEN SCOPE [NAME]`` lines (``#`` starts a comment),
scope ``read`` or ``write`` (``write`` implies ``read``). Tokens are compared
as SHA-256 digests with ``hmac.compare_digest`` against every entry, so the
time taken says nothing about which token came close. Only a token's NAME is
ever logged or shown.
"""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path
from typing import Final, Literal

import attrs

from negotiation.problems import ForbiddenError, UnauthorizedError

__all__ = ["SCOPES", "Token", "TokenFileError", "Tokens", "parse_tokens"]

Scope = Literal["read", "write"]
SCOPES: Final = ("read", "write")


class TokenFileError(ValueError):
    """The token file cannot be used (the line is named, never the token)."""


@attrs.frozen(kw_only=True)
class Token:
    """One entry of the token file; ``digest`` is SHA-256 of the token."""

    digest: bytes = attrs.field(repr=False)
    scope: Scope
    name: str


def _digest(token: str | bytes) -> bytes:
    raw = token.encode("utf-8", errors="surrogateescape") if isinstance(token, str) else token
    return hashlib.sha256(raw).digest()


def parse_tokens(text: str, *, source: str = "token file") -> tuple[Token, ...]:
    """The entries of a token file's text; ``TokenFileError`` names a bad line."""
    tokens: list[Token] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) not in (2, 3):
            msg = f"{source}:{number}: expected 'TOKEN SCOPE [NAME]'"
            raise TokenFileError(msg)
        token, scope = parts[0], parts[1]
        if scope not in SCOPES:
            msg = f"{source}:{number}: scope must be 'read' or 'write'"
            raise TokenFileError(msg)
        name = parts[2] if len(parts) == 3 else f"line-{number}"
        tokens.append(Token(digest=_digest(token), scope="write" if scope == "write" else "read", name=name))
    return tuple(tokens)


@attrs.frozen
class Tokens:
    """The service's tokens; ``None`` entries: no token file (open, read-only)."""

    entries: tuple[Token, ...] | None

    @classmethod
    def load(cls, path: str | None) -> Tokens:
        """Read the token file (``None``: no token file)."""
        if path is None:
            return cls(None)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            msg = f"cannot read the token file {path}: {type(e).__name__}"
            raise TokenFileError(msg) from None
        return cls(parse_tokens(text, source=path))

    def find(self, token: str) -> Token | None:
        """The entry of ``token``, comparing against all of them in constant time."""
        given = _digest(token)
        found: Token | None = None
        for entry in self.entries or ():
            if hmac.compare_digest(given, entry.digest) and found is None:
                found = entry
        return found

    def authorize(self, authorization: str | None, needed: Scope | None) -> str | None:
        """The token's NAME if the request may go on; raise 401/403 errors otherwise.

        ``needed`` ``None``: no auth at all (``/healthz``).
        """
        if needed is None:
            return None
        if self.entries is None:
            if needed == "write":
                msg = "this service is read-only: it was started without --token-file"
                raise ForbiddenError(msg)
            return None
        scheme, _, credentials = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not credentials.strip():
            msg = "send 'Authorization: Bearer TOKEN'"
            raise UnauthorizedError(msg)
        entry = self.find(credentials.strip())
        if entry is None:
            msg = "unknown token"
            raise UnauthorizedError(msg)
        if needed == "write" and entry.scope != "write":
            msg = f"token {entry.name!r} may only read"
            raise ForbiddenError(msg)
        return entry.name
