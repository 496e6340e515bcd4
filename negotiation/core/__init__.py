"""The pure core: state, transition table and rules, the bitemporal history. No I/O."""

from negotiation.core.errors import (
    ConcurrencyError,
    ConfigurationError,
    EventConflictError,
    InputTooLargeError,
    InvalidEventError,
    NegotiationError,
    NegotiationNotFoundError,
    RefusedEventError,
    RuleViolationError,
    StoreError,
)
from negotiation.core.history import Fold, History, Recorded
from negotiation.core.machine import RULES, TRANSITIONS, check, evolve, fold
from negotiation.core.state import NegotiationState, phase

__all__ = [
    "RULES",
    "TRANSITIONS",
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
    "Recorded",
    "RefusedEventError",
    "RuleViolationError",
    "StoreError",
    "check",
    "evolve",
    "fold",
    "phase",
]
