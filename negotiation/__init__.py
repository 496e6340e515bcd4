"""Labor negotiations as an event-sourced state machine: the domain core and the facade.

The pure core (``negotiation.core``: state, machine, history) does no I/O; the facade
``Negotiations`` stores events through eventsourcing and answers temporal
queries.
"""

from negotiation.core import (
    RULES,
    TRANSITIONS,
    ConcurrencyError,
    ConfigurationError,
    EventConflictError,
    Fold,
    History,
    InputTooLargeError,
    InvalidEventError,
    NegotiationError,
    NegotiationNotFoundError,
    NegotiationState,
    Recorded,
    RefusedEventError,
    RuleViolationError,
    StoreError,
    check,
    evolve,
    fold,
    phase,
)

from negotiation.application import AppendResult, Negotiations  # isort: skip  # the facade comes last

__all__ = [
    "RULES",
    "TRANSITIONS",
    "AppendResult",
    "ConcurrencyError",
    "ConfigurationError",
    "EventConflictError",
    "Fold",
    "History",
    "InputTooLargeError",
    "InvalidEventError",
    "NegotiationError",
    "NegotiationNotFoundError",
    "NegotiationState",
    "Negotiations",
    "Recorded",
    "RefusedEventError",
    "RuleViolationError",
    "StoreError",
    "check",
    "evolve",
    "fold",
    "phase",
]
