"""A small service that embeds the library: it records events and reacts to phase changes.

    python examples/embed_in_service.py --db sqlite:///service.db
    python examples/embed_in_service.py --db "postgresql://postgres@127.0.0.1:5432/test?schema=demo"

The service opens the store (``Negotiations``) and its persisted read models
(``ReadModels``) with an ``on_change`` hook, starts the follower (it polls
SQLite and listens to PostgreSQL's notifications), and follows the raw events
through a subscription too. It then appends a short scripted negotiation one
step at a time; after each append it waits until the read models include it
(read your writes), so every reaction is logged before the next step. At the
end it prints the persisted status and positions and exits 0.

Run it again on the same store and it records a new negotiation
(``acme-2024-2``, ...): event ids make appends idempotent, so the same one
would not change anything.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys
import tempfile
import threading
from pathlib import Path

import structlog

from events.model import (
    AgendaIssue,
    AgreementTentative,
    ContractExpired,
    Event,
    NegotiationOpened,
    Party,
    ProposalMade,
    RatificationCompleted,
    StrikeAuthorized,
    StrikeCalled,
    StrikeEnded,
    TalksHeld,
    TalksResumed,
    TalksSuspended,
    Value,
)
from negotiation import NegotiationError, Negotiations
from projections.persisted import ReadModels

log = structlog.get_logger("service")

REACTIONS = {
    "opened": "negotiation opened",
    "bargaining": "bargaining under way",
    "impasse": "talks at impasse",
    "strike": "strike started",
    "lockout": "lockout started",
    "tentative_agreement": "tentative agreement reached",
    "ratified": "agreement ratified",
}


def configure_logging() -> None:
    """The service's logging (an application's job, never the library's): the library only above INFO."""
    logging.basicConfig(stream=sys.stdout, format="%(message)s", level=logging.WARNING)
    logging.getLogger("service").setLevel(logging.INFO)
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            structlog.stdlib.add_logger_name,
            structlog.stdlib.add_log_level,
            structlog.dev.ConsoleRenderer(colors=False),
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def react(negotiation: str, old: str | None, new: str | None) -> None:
    """The ``on_change`` hook: runs in the follower's thread after the change is committed."""
    if new in REACTIONS:
        log.info(REACTIONS[new], negotiation=negotiation, previous=old)


def script(negotiation: str) -> list[Event]:
    """A short negotiation: bargaining, impasse, a strike, a tentative agreement, ratification."""

    def day(month: int, d: int) -> dt.date:
        return dt.date(2024, month, d)

    n = negotiation
    return [
        NegotiationOpened(
            id="open",
            occurred_at=day(1, 10),
            title="Acme Corp. and Food Workers Local 7, 2024 contract",
            parties=(
                Party(id="local-7", name="Food Workers Local 7", role="union"),
                Party(id="acme", name="Acme Corp.", role="employer"),
            ),
            issues=(AgendaIssue(id="pay", title="Wages"), AgendaIssue(id="hours", title="Scheduling")),
            timezone="America/Chicago",
            contract_expires_on=day(2, 15),
            negotiation=n,
        ),
        TalksHeld(id="talks-1", occurred_at=day(1, 15), negotiation=n),
        ProposalMade(
            id="union-pay-1",
            occurred_at=day(1, 15),
            by="local-7",
            issue="pay",
            terms="6% a year",
            value=Value(amount=6, unit="percent"),
            negotiation=n,
        ),
        ProposalMade(
            id="acme-pay-1",
            occurred_at=day(1, 20),
            by="acme",
            issue="pay",
            terms="2% a year",
            value=Value(amount=2, unit="percent"),
            negotiation=n,
        ),
        TalksSuspended(id="walkout", occurred_at=day(2, 1), by="local-7", reason="no movement on pay", negotiation=n),
        StrikeAuthorized(id="vote", occurred_at=day(2, 5), by="local-7", yes_share=0.91, turnout=0.8, negotiation=n),
        ContractExpired(id="expired", occurred_at=day(2, 15), negotiation=n),
        StrikeCalled(id="strike", occurred_at=day(2, 16), by="local-7", negotiation=n),
        TalksResumed(id="talks-2", occurred_at=day(3, 1), note="with a federal mediator", negotiation=n),
        ProposalMade(
            id="acme-pay-2",
            occurred_at=day(3, 5),
            by="acme",
            issue="pay",
            terms="4.5% a year",
            value=Value(amount=4.5, unit="percent"),
            in_response_to="union-pay-1",
            negotiation=n,
        ),
        AgreementTentative(id="deal", occurred_at=day(3, 10), terms={"pay": "4.5% a year"}, negotiation=n),
        StrikeEnded(id="back-to-work", occurred_at=day(3, 11), by="local-7", negotiation=n),
        RatificationCompleted(
            id="ratified", occurred_at=day(3, 25), by="local-7", yes_share=0.84, outcome="ratified", negotiation=n
        ),
    ]


def unused_id(app: Negotiations, base: str) -> str:
    """``base``, or ``base-2``, ``base-3``... if the store already has it."""
    taken = set(app.negotiation_ids())
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def run(db: str) -> int:
    """The service's life: start, follow, record the script, report, stop."""
    with Negotiations(db) as app, ReadModels(app, on_change=react, interval=0.05) as models:
        negotiation = unused_id(app, "acme-2024")
        log.info("service started", store=app.config.display, negotiation=negotiation)
        start = app.position()
        followed: list[str] = []
        with models.subscribe(after=start, poll_interval=0.05) as feed, models.follow():
            models.wait(start, timeout=30)  # catch up with what was stored before

            def consume() -> None:
                for _, event in feed:
                    if event.negotiation == negotiation:
                        followed.append(event.TYPE)
                        if event.id == last:
                            return

            events = script(negotiation)
            last = events[-1].id
            consumer = threading.Thread(target=consume, name="event-feed")
            consumer.start()
            for event in events:
                result = app.append([event])
                models.wait(result.positions[-1], timeout=10)  # read your writes
            consumer.join(10)
            feed.stop()
        status = models.status(negotiation)
        positions = models.positions(negotiation)
        assert status is not None
        assert positions is not None
        log.info("followed events", count=len(followed), last=followed[-1] if followed else None)
        print(f"{negotiation}: {status['phase']}, {status['events_applied']} events, contract {status['contract']}")
        for party, by_issue in sorted(positions["positions"].items()):
            for issue, position in sorted(by_issue.items()):
                print(f"  {party} on {issue}: {position['terms']} (since {position['since']})")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Parse ``--db`` (default: a fresh SQLite file in a temporary directory) and run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--db", help="store URL: a SQLite path, sqlite:///PATH or postgresql://... (default: a temp file)"
    )
    args = parser.parse_args(argv)
    configure_logging()
    try:
        if args.db:
            return run(args.db)
        with tempfile.TemporaryDirectory() as tmp:
            return run(f"sqlite:///{Path(tmp) / 'service.db'}")
    except NegotiationError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
