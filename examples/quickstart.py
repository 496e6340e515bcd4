"""Quick start: record the opening weeks of the 2023 WGA negotiation and read it back.

Run with ``python examples/quickstart.py [--db URL]`` (default: a fresh SQLite
file in a temporary folder).
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
from pathlib import Path

from events import (
    AgendaIssue,
    NegotiationOpened,
    Party,
    ProposalMade,
    Source,
    StrikeAuthorized,
    StrikeCalled,
    TalksHeld,
    Value,
    render_line,
)
from negotiation import Negotiations

LA = dt.timezone(dt.timedelta(hours=-7))
NEG = "wga-amptp-2023"
SOURCE = Source(
    url="https://en.wikipedia.org/wiki/2023_Writers_Guild_of_America_strike",
    title="2023 Writers Guild of America strike",
    publisher="Wikipedia",
)

EVENTS = [
    NegotiationOpened(
        id="qs-1",
        negotiation=NEG,
        occurred_at=dt.date(2023, 3, 20),
        recorded_at=dt.datetime(2023, 3, 20, 18, 0, tzinfo=LA),
        source=SOURCE,
        title="WGA-AMPTP Minimum Basic Agreement 2023",
        parties=(
            Party(id="wga", name="Writers Guild of America", role="union"),
            Party(id="amptp", name="Alliance of Motion Picture and Television Producers", role="employer"),
        ),
        issues=(AgendaIssue(id="wages", title="Minimum compensation"), AgendaIssue(id="ai", title="AI")),
        timezone="America/Los_Angeles",
        contract_expires_on=dt.date(2023, 5, 1),
    ),
    TalksHeld(
        id="qs-2",
        negotiation=NEG,
        occurred_at=dt.date(2023, 3, 20),
        recorded_at=dt.datetime(2023, 3, 20, 18, 0, tzinfo=LA),
        source=SOURCE,
        note="Talks open",
    ),
    ProposalMade(
        id="qs-3",
        negotiation=NEG,
        occurred_at=dt.date(2023, 3, 20),
        recorded_at=dt.datetime(2023, 5, 1, 12, 0, tzinfo=LA),
        source=SOURCE,
        by="wga",
        issue="ai",
        terms="AI can't write or rewrite literary material; can't be used as source material",
    ),
    StrikeAuthorized(
        id="qs-4",
        negotiation=NEG,
        occurred_at=dt.date(2023, 4, 17),
        recorded_at=dt.datetime(2023, 4, 17, 20, 0, tzinfo=LA),
        source=SOURCE,
        by="wga",
        yes_share=0.9785,
        turnout=0.788,
    ),
    ProposalMade(
        id="qs-5",
        negotiation=NEG,
        occurred_at=dt.date(2023, 5, 1),
        recorded_at=dt.datetime(2023, 5, 2, 9, 0, tzinfo=LA),
        source=SOURCE,
        by="amptp",
        issue="wages",
        terms="4% / 3% / 2% increases over three years",
        value=Value(amount=4, unit="percent"),
    ),
    StrikeCalled(
        id="qs-6",
        negotiation=NEG,
        occurred_at=dt.datetime(2023, 5, 2, 0, 1, tzinfo=LA),
        recorded_at=dt.datetime(2023, 5, 2, 0, 5, tzinfo=LA),
        source=SOURCE,
        by="wga",
    ),
]


def main() -> None:
    """Append the events, print them back and print where things stood."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", help="store URL (default: a new SQLite file in a temporary folder)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = args.db or str(Path(tmp) / "quickstart.db")
        with Negotiations(db) as app:
            result = app.append(EVENTS)
            print(f"stored {len(result.stored)} events, {len(result.duplicates)} already present")
            again = app.append(EVENTS)
            print(f"appending again: stored {len(again.stored)}, {len(again.duplicates)} already present")
            for event in app.events(NEG):
                print(render_line(event).decode())
            for day in (dt.date(2023, 4, 1), dt.date(2023, 5, 2)):
                status = app.status(NEG, as_of=day)
                print(f"{day}: phase {status.phase}, talks {status.talks}")


if __name__ == "__main__":
    main()
