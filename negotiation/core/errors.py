"""Errors of the domain core and of the application facade.

Every error carries its data as attributes (the event, the rule, the line) so
that callers can report it without parsing the message.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from events.errors import InvalidEventError, InvalidMomentError, NegotiationError

if TYPE_CHECKING:
    from events.model import Event

__all__ = [
    "ConcurrencyError",
    "ConfigurationError",
    "EventConflictError",
    "ExpectedVersionError",
    "InputTooLargeError",
    "InvalidEventError",
    "InvalidMomentError",
    "NegotiationError",
    "NegotiationNotFoundError",
    "RefusedEventError",
    "RuleViolationError",
    "StoreError",
]


class RefusedEventError(NegotiationError, ValueError):
    """Base of the errors that refuse one event; names its id, rule and line."""

    rule: str = "refused"

    def __init__(self, reason: str, *, event: Event, rule: str | None = None, line: int | None = None) -> None:
        self.reason = reason
        self.event = event
        if rule is not None:
            self.rule = rule
        self.line = line
        super().__init__(reason)

    @property
    def event_id(self) -> str:
        """The id of the refused event."""
        return self.event.id

    @property
    def message(self) -> str:
        """The one-line description, without the file position."""
        return f"{self.reason} [rule: {self.rule}]"

    def __str__(self) -> str:
        at = f"line {self.line}: " if self.line is not None else ""
        return f"{at}event {self.event.id}: {self.message}"


class RuleViolationError(RefusedEventError):
    """The event breaks a rule of the state machine (spec section 2).

    ``breaks`` names the already-stored event that a late event would make
    invalid, when that is why it is refused.
    """

    def __init__(
        self,
        reason: str,
        *,
        event: Event,
        rule: str,
        breaks: str | None = None,
        line: int | None = None,
    ) -> None:
        self.breaks = breaks
        super().__init__(reason, event=event, rule=rule, line=line)


class EventConflictError(RefusedEventError):
    """An event with this id is already stored with different content."""

    rule = "unique-id"


class NegotiationNotFoundError(NegotiationError, LookupError):
    """No negotiation with that id is stored."""

    def __init__(self, negotiation: str) -> None:
        self.negotiation = negotiation
        super().__init__(f"negotiation {negotiation!r} not found")


class ConcurrencyError(NegotiationError, RuntimeError):
    """Other writers kept appending to the same negotiation; the retries ran out."""

    def __init__(self, negotiation: str, attempts: int) -> None:
        self.negotiation = negotiation
        self.attempts = attempts
        super().__init__(
            f"negotiation {negotiation!r}: concurrent writers conflicted {attempts} times; nothing was stored"
        )


class ConfigurationError(NegotiationError, ValueError):
    """The store URL or another setting is not usable."""


class InputTooLargeError(NegotiationError, ValueError):
    """An input that must be copied to disk (standard input, a pipe, a device) passed its limit.

    ``source`` names the input (``-`` for standard input); ``limit`` is the
    number of bytes allowed (``Limits.max_input_bytes``), or ``None`` when
    copying stopped because the disk was nearly full. Nothing was stored.
    """

    def __init__(self, source: str, limit: int | None, *, reason: str | None = None) -> None:
        self.source = source
        self.limit = limit
        name = "standard input" if source == "-" else source
        why = reason or f"more than {limit:,} bytes (raise --max-input-bytes, or import a regular file)"
        super().__init__(f"{name}: {why}; nothing was stored")


class StoreError(NegotiationError, OSError):
    """The database failed (unreachable, read-only, full); nothing was half-written."""


class ExpectedVersionError(NegotiationError, RuntimeError):
    """An append said which version the negotiation must have, and it has another; nothing was stored."""

    def __init__(self, negotiation: str, *, expected: int, actual: int) -> None:
        self.negotiation = negotiation
        self.expected = expected
        self.actual = actual
        super().__init__(f"negotiation {negotiation!r} is at version {actual}, not {expected}; nothing was stored")
