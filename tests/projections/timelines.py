"""Hand-written timelines with known answers, shared by the read-model tests.

All in America/Los_Angeles, modelled on the 2023 WGA and SAG-AFTRA
negotiations with the AMPTP (dates real, some details simplified).
"""

from __future__ import annotations

from tests.projections.builders import Log

WGA = "wga-amptp-2023"
SAG = "sag-aftra-amptp-2023"


def wga() -> Log:
    """The writers' negotiation: a strike from May 2 still running at the tentative agreement.

    - wga's wages proposal (6 percent) is known from Mar 21;
    - amptp's counter (4 percent) on Apr 30;
    - the strike starts 2023-05-02T00:01-07:00 (day 102 on Aug 11);
    - amptp's Aug 11 offer (5 percent) was only recorded on Aug 22 (late);
    - wga moves to 5.5 percent on Sep 20; tentative agreement Sep 24,
      strike ends Sep 27 00:01, ratified Oct 9.
    """
    log = Log(WGA)
    log.open("2023-03-20", title="WGA-AMPTP 2023")
    log.add("talks.held", "w-talks-1", "2023-03-20", note="First session")
    log.add(
        "proposal.made",
        "w-pay-1",
        "2023-03-20",
        recorded="2023-03-21T09:00",
        by="wga",
        issue="wages",
        terms="6% / 5% / 5%",
        value={"amount": 6, "unit": "percent"},
    )
    log.add("proposal.made", "w-ai-1", "2023-03-20", by="wga", issue="ai", terms="AI is not a writer")
    log.add(
        "proposal.made",
        "a-pay-1",
        "2023-04-30",
        by="amptp",
        issue="wages",
        terms="4% / 3% / 2%",
        value={"amount": 4, "unit": "percent"},
    )
    log.add("proposal.rejected", "a-rej-ai", "2023-05-01", by="amptp", issue="ai", proposal="w-ai-1")
    log.add("contract.expired", "w-expired", "2023-05-01T23:59:59")
    log.add("talks.suspended", "w-susp", "2023-05-01T23:59:59", by="amptp")
    log.add("strike.called", "w-strike", "2023-05-02T00:01", recorded="2023-05-02T08:00", by="wga")
    log.add("statement.issued", "w-st-1", "2023-05-02T09:00", by="wga", text="Pencils down.", audience="members")
    log.add("talks.resumed", "w-resume", "2023-08-11T10:00", recorded="2023-08-12T08:00")
    log.add(
        "proposal.made",
        "a-pay-2",
        "2023-08-11T12:00",
        recorded="2023-08-22T18:00",
        by="amptp",
        issue="wages",
        terms="5% / 4% / 3.5%",
        value={"amount": 5, "unit": "percent"},
    )
    log.add("statement.issued", "a-st-1", "2023-08-22T18:00", by="amptp", text="Our offer is generous.")
    log.add(
        "proposal.made",
        "w-pay-2",
        "2023-09-20T15:00",
        by="wga",
        issue="wages",
        terms="5.5% / 4% / 3.5%",
        value={"amount": 5.5, "unit": "percent"},
    )
    log.add("agreement.tentative", "w-ta", "2023-09-24T19:00", terms={"wages": "5/4/3.5", "ai": "AI is not a writer"})
    log.add("strike.ended", "w-strike-end", "2023-09-27T00:01", by="wga")
    log.add("ratification.completed", "w-ratified", "2023-10-09T18:00", by="wga", yes_share=0.9894, outcome="ratified")
    return log


def sag() -> Log:
    """The actors' negotiation: a strike from Jul 14 00:01 to Nov 9 00:01."""
    log = Log(SAG)
    log.open("2023-06-07", unions=("sag-aftra",), issues=("wages", "ai"), title="SAG-AFTRA-AMPTP 2023")
    log.add("talks.held", "s-talks-1", "2023-06-07")
    log.add("contract.extended", "s-ext", "2023-06-30", until="2023-07-12")
    log.add("contract.expired", "s-expired", "2023-07-12T23:59:59")
    log.add("strike.called", "s-strike", "2023-07-14T00:01", recorded="2023-07-14T08:00", by="sag-aftra")
    log.add("strike.ended", "s-strike-end", "2023-11-09T00:01", by="sag-aftra")
    return log
