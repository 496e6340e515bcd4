"""The persisted read models of a memory store: rows in plain dicts, eventsourcing's POPO tracking record."""

from __future__ import annotations

import threading
from typing import Any

import attrs
from eventsourcing.persistence import Tracking
from eventsourcing.popo import POPOTrackingRecorder

from negotiation.store.eventstore import APPLICATION_NAME
from projections.persisted.tables import (
    CatalogRow,
    Pointer,
    PositionRow,
    RowChanges,
    Slot,
    StatusRow,
    VersionMovedError,
    check_tracked,
    decoded,
)

__all__ = ["MemoryViewRecorder", "MemoryViews"]


class MemoryViewRecorder(POPOTrackingRecorder):
    """One version's rows in memory, with eventsourcing's POPO tracking record (the memory store)."""

    def __init__(self, views: MemoryViews, *, version: int) -> None:
        super().__init__()
        self.views = views
        self.version = version
        self.status: dict[str, StatusRow] = {}
        self.positions: dict[str, dict[tuple[str, str], PositionRow]] = {}
        self.catalog: dict[str, CatalogRow] = {}

    def create_table(self) -> None:
        """Nothing to create in memory."""

    def write(self, changes: RowChanges, tracking: Tracking, slot: Slot, *, after: int) -> None:
        """Rows and tracking record under one lock: all or nothing."""
        with self.views.lock:
            check_tracked(self.max_tracking_id(tracking.application_name) or 0, after)
            self._assert_tracking_uniqueness(tracking)
            pointer = self.views.current
            holder = pointer.active if slot == "active" else pointer.building
            if holder != self.version or self.views.recorders.get(self.version) is not self:
                raise VersionMovedError(f"version {self.version} is no longer the {slot} one (now {holder})")
            for negotiation in changes.removed:
                self.status.pop(negotiation, None)
                self.positions.pop(negotiation, None)
                self.catalog.pop(negotiation, None)
            for negotiation in changes.positions_cleared:
                self.positions.pop(negotiation, None)
            for negotiation, party, issue in changes.positions_deleted:
                self.positions.get(negotiation, {}).pop((party, issue), None)
            for p in changes.positions_upserted:
                self.positions.setdefault(p.negotiation, {})[p.key] = p
            for s in changes.status:
                self.status[s.negotiation] = s
            for row in changes.catalog:
                self.catalog[row.negotiation] = row
            self._insert_tracking(tracking)


class MemoryViews:
    """The read models of a memory store: they live as long as this object."""

    def __init__(self, *, application_name: str = APPLICATION_NAME) -> None:
        self.application_name = application_name
        self.lock = threading.RLock()
        self.current = Pointer(1)
        self.recorders: dict[int, MemoryViewRecorder] = {}

    def tables(self, version: int) -> MemoryViewRecorder:
        """A version's rows (created on first use)."""
        with self.lock:
            recorder = self.recorders.get(version)
            if recorder is None:
                recorder = self.recorders[version] = MemoryViewRecorder(self, version=version)
            return recorder

    def ensure(self) -> Pointer:
        """The active version exists from the start."""
        with self.lock:
            self.tables(self.current.active)
            return self.current

    def pointer(self) -> Pointer:
        """The current pointer."""
        return self.current

    def versions(self) -> list[int]:
        """The versions that have rows."""
        with self.lock:
            return sorted(self.recorders)

    def begin_rebuild(self) -> int:
        """The version to build: an unfinished one, else a new one."""
        with self.lock:
            version = self.current.building
            if version is None:
                version = max([self.current.active, *self.recorders]) + 1
                self.current = Pointer(self.current.active, version)
            self.tables(version)
            return version

    def switch(self, old: int, new: int) -> bool:
        """Make ``new`` active if it has caught up with ``old``."""
        with self.lock:
            if self.current != Pointer(old, new):
                return False
            name = self.application_name
            if (self.tables(new).max_tracking_id(name) or 0) < (self.tables(old).max_tracking_id(name) or 0):
                return False
            self.current = Pointer(new)
            return True

    def drop(self, version: int) -> None:
        """Forget a version's rows, unless the pointer names it."""
        with self.lock:
            if version not in (self.current.active, self.current.building):
                self.recorders.pop(version, None)

    def position(self) -> int:
        """The active version's tracked position."""
        with self.lock:
            return self.tables(self.current.active).max_tracking_id(self.application_name) or 0

    def _active(self) -> MemoryViewRecorder:
        return self.tables(self.current.active)

    def read_status(self, negotiation: str) -> dict[str, Any] | None:
        """The status row as a dict, JSON decoded."""
        with self.lock:
            row = self._active().status.get(negotiation)
        return None if row is None else decoded(attrs.asdict(row), "stoppage")

    def read_positions(self, negotiation: str) -> list[dict[str, Any]] | None:
        """The positions rows by party, issue; ``None`` without a status row."""
        with self.lock:
            active = self._active()
            if negotiation not in active.status:
                return None
            rows = sorted(active.positions.get(negotiation, {}).values(), key=lambda r: r.key)
        return [decoded(attrs.asdict(r), "value") for r in rows]

    def read_catalog(self) -> list[dict[str, Any]]:
        """Every catalog row, by negotiation id."""
        with self.lock:
            rows = sorted(self._active().catalog.values(), key=lambda r: r.negotiation)
        return [decoded(attrs.asdict(r), "parties") for r in rows]

    def close(self) -> None:
        """Nothing to release."""
