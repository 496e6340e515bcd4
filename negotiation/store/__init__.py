"""The store adapter over eventsourcing: configuration, the event store and its recorders, logging."""

from negotiation.store.config import StoreConfig, resolve
from negotiation.store.eventstore import EventStore, StreamEvent

__all__ = ["EventStore", "StoreConfig", "StreamEvent", "resolve"]
