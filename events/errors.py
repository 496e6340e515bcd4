"""Errors of the event vocabulary.

``NegotiationError`` is the root of every error the project raises on purpose;
the other packages subclass it in their own ``errors`` modules.
"""

from __future__ import annotations

__all__ = ["InvalidEventError", "InvalidMomentError", "NegotiationError"]


class NegotiationError(Exception):
    """Root of every error this project raises on purpose."""


class InvalidEventError(NegotiationError, ValueError):
    """A line or mapping is not a valid event of the event-log format.

    Attributes name what a user needs to fix the input: the field ``path``
    (dotted, e.g. ``data.value.amount``), the ``event_id`` when it could be
    read, the 1-based ``line`` when reading a file, and what was ``expected``.
    """

    rule = "format"

    def __init__(
        self,
        reason: str,
        *,
        path: str = "",
        event_id: str | None = None,
        line: int | None = None,
        expected: str | None = None,
    ) -> None:
        self.reason = reason
        self.path = path
        self.event_id = event_id
        self.line = line
        self.expected = expected
        super().__init__(self.message)

    @property
    def message(self) -> str:
        """The one-line description, without the file position."""
        where = f"{self.path}: " if self.path else ""
        return f"{where}{self.reason}"

    def __str__(self) -> str:
        who = f"event {self.event_id}: " if self.event_id else ""
        at = f"line {self.line}: " if self.line is not None else ""
        return f"{at}{who}{self.message}"

    def at(self, *, line: int | None = None, event_id: str | None = None) -> InvalidEventError:
        """A copy of this error that also names the line and the event id."""
        return InvalidEventError(
            self.reason,
            path=self.path,
            event_id=self.event_id if event_id is None else event_id,
            line=self.line if line is None else line,
            expected=self.expected,
        )


class InvalidMomentError(NegotiationError, ValueError):
    """A moment given by a user (``--at``, ``?known_at=``) is not a date or time we accept, or out of range."""

    def __init__(self, value: str, reason: str, *, expected: str | None = None) -> None:
        self.value = value
        self.reason = reason
        self.expected = expected
        """What would have been accepted (e.g. ``a date YYYY-MM-DD``), when the grammar says."""
        super().__init__(f"{value!r}: {reason}")
