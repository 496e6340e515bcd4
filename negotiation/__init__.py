"""Labor negotiations as an event-sourced state machine: the domain core and the facade.

The pure core (``state``, ``machine``, ``timeline``) does no I/O; the facade
``Negotiations`` stores events through eventsourcing and answers temporal
queries.
"""

from negotiation.errors import (
    ConcurrencyError,
    ConfigurationError,
    EventConflictError,
    InvalidEventError,
    NegotiationError,
    NegotiationNotFoundError,
    RefusedEventError,
    RuleViolationError,
    StoreError,
)
from negotiation.machine import RULES, TRANSITIONS, check, evolve, fold
from negotiation.state import NegotiationState, phase
from negotiation.timeline import Fold, History, Recorded

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
