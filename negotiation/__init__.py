"""Labor negotiations as an event-sourced state machine: the domain core and the facade.

The pure core (``negotiation.core``: state, machine, history) does no I/O; the facade
``Negotiations`` stores events through eventsourcing and answers temporal
queries.

The facade sits above ``projections``, which imports ``negotiation.core``; Python
initializes this package before any of its subpackages, so the facade's names
are loaded on first use (PEP 562 ``__getattr__``): ``import projections``
then never runs the facade half-way.
"""

from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from negotiation.application import AppendResult, Negotiations

_FACADE = frozenset({"AppendResult", "Negotiations"})


def __getattr__(name: str) -> Any:
    """Load the facade on first use (it imports ``projections``, which imports ``negotiation.core``)."""
    if name in _FACADE:
        from negotiation import application

        return getattr(application, name)
    raise AttributeError(f"module 'negotiation' has no attribute {name!r}")


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
