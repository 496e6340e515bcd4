"""The peer: the textbook eventsourcing way to record the same feed.

An ``eventsourcing.domain.Aggregate`` subclass with one ``@event`` method per
catalog type and minimal state, and ``app.save(aggregate)`` once per event, on
SQLite. No validation beyond what the methods' signatures impose. Two styles:

- ``cached``: aggregates kept in a dict between commands (the kindest case);
- ``get``: the command-handler pattern, ``app.repository.get(id)`` before every
  command, so each event replays its aggregate's stream so far.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

__all__ = ["NegotiationAggregate", "PeerApp", "run"]

_NAMESPACE = uuid.UUID("6f1d1a3e-2b6c-4c3a-9d1e-5a4f3b2c1d0e")


class NegotiationAggregate(Aggregate):
    """One negotiation, textbook style: state changes in ``@event`` methods."""

    @staticmethod
    def create_id(negotiation: str, **_: Any) -> uuid.UUID:  # type: ignore[override]
        """A stable id per negotiation."""
        return uuid.uuid5(_NAMESPACE, negotiation)

    @event("Opened")
    def __init__(self, negotiation: str, occurred_at: str, data: dict[str, Any]) -> None:
        self.negotiation = negotiation
        self.parties = {p["id"]: p["role"] for p in data["parties"]}
        self.issues = {i["id"] for i in data["issues"]}
        self.talks = "none"
        self.strikes: list[str] = []
        self.lockouts: list[str] = []
        self.agreement = "none"
        self.contract = "in_force"
        self.positions: dict[str, dict[str, Any]] = {}

    @event("PartyJoined")
    def party_joined(self, occurred_at: str, data: dict[str, Any]) -> None:
        self.parties[data["party"]["id"]] = data["party"]["role"]

    @event("IssueTabled")
    def issue_tabled(self, occurred_at: str, data: dict[str, Any]) -> None:
        self.issues.add(data["issue"]["id"])

    @event("TalksRequested")
    def talks_requested(self, occurred_at: str, data: dict[str, Any]) -> None:
        self.talks = "requested"

    @event("TalksScheduled")
    def talks_scheduled(self, occurred_at: str, data: dict[str, Any]) -> None:
        self.talks = "scheduled"

    @event("TalksHeld")
    def talks_held(self, occurred_at: str, data: dict[str, Any]) -> None:
        self.talks = "active"

    @event("TalksSuspended")
    def talks_suspended(self, occurred_at: str, data: dict[str, Any]) -> None:
        self.talks = "suspended"

    @event("TalksResumed")
    def talks_resumed(self, occurred_at: str, data: dict[str, Any]) -> None:
        self.talks = "active"

    @event("ProposalMade")
    def proposal_made(self, occurred_at: str, data: dict[str, Any]) -> None:
        self.positions.setdefault(data["by"], {})[data["issue"]] = data.get("value")

    @event("ProposalWithdrawn")
    def proposal_withdrawn(self, occurred_at: str, data: dict[str, Any]) -> None:
        self.positions.get(data["by"], {}).pop(data["issue"], None)

    @event("ProposalAccepted")
    def proposal_accepted(self, occurred_at: str, data: dict[str, Any]) -> None:
        pass

    @event("ProposalRejected")
    def proposal_rejected(self, occurred_at: str, data: dict[str, Any]) -> None:
        pass

    @event("StatementIssued")
    def statement_issued(self, occurred_at: str, data: dict[str, Any]) -> None:
        pass

    @event("StrikeAuthorized")
    def strike_authorized(self, occurred_at: str, data: dict[str, Any]) -> None:
        pass

    @event("StrikeCalled")
    def strike_called(self, occurred_at: str, data: dict[str, Any]) -> None:
        self.strikes.append(data["by"])

    @event("StrikeEnded")
    def strike_ended(self, occurred_at: str, data: dict[str, Any]) -> None:
        self.strikes.remove(data["by"])

    @event("LockoutDeclared")
    def lockout_declared(self, occurred_at: str, data: dict[str, Any]) -> None:
        self.lockouts.append(data["by"])

    @event("LockoutEnded")
    def lockout_ended(self, occurred_at: str, data: dict[str, Any]) -> None:
        self.lockouts.remove(data["by"])

    @event("ContractExpired")
    def contract_expired(self, occurred_at: str, data: dict[str, Any]) -> None:
        self.contract = "expired"

    @event("ContractExtended")
    def contract_extended(self, occurred_at: str, data: dict[str, Any]) -> None:
        self.contract = "extended"

    @event("AgreementTentative")
    def agreement_tentative(self, occurred_at: str, data: dict[str, Any]) -> None:
        self.agreement = "tentative"

    @event("RatificationCompleted")
    def ratification_completed(self, occurred_at: str, data: dict[str, Any]) -> None:
        self.agreement = data["outcome"]
        if data["outcome"] == "ratified":
            self.contract = "new"
            self.strikes, self.lockouts = [], []

    @event("EventRetracted")
    def event_retracted(self, occurred_at: str, data: dict[str, Any]) -> None:
        pass


class PeerApp(Application[uuid.UUID]):
    """A plain eventsourcing application: the default mapper and transcoder."""


def _lines(path: str | Path, limit: int) -> Iterator[dict[str, Any]]:
    count = 0
    with Path(path).open("rb") as source:
        for raw in source:
            line = raw.strip()
            if not line or line.startswith(b"#"):
                continue
            if count >= limit:
                return
            count += 1
            yield json.loads(line)


def run(path: str | Path, db: str | Path, *, limit: int, style: str = "cached") -> dict[str, Any]:
    """Record the first ``limit`` events of ``path`` into a fresh SQLite file; one save per event."""
    app = PeerApp(env={"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(db)})
    cache: dict[str, NegotiationAggregate] = {}
    count = 0
    start = time.perf_counter()
    for obj in _lines(path, limit):
        negotiation, data, occurred_at = obj["negotiation"], obj["data"], obj["occurred_at"]
        if obj["type"] == "negotiation.opened":
            aggregate = NegotiationAggregate(negotiation=negotiation, occurred_at=occurred_at, data=data)
        elif style == "cached":
            aggregate = cache[negotiation]
        else:
            aggregate = app.repository.get(NegotiationAggregate.create_id(negotiation))
        if obj["type"] != "negotiation.opened":
            getattr(aggregate, obj["type"].replace(".", "_"))(occurred_at, data)
        app.save(aggregate)
        if style == "cached":
            cache[negotiation] = aggregate
        count += 1
    seconds = time.perf_counter() - start
    app.close()
    return {"style": style, "events": count, "seconds": seconds, "events_per_s": count / seconds}
