"""Negotiations of the held-back shapes, in the spec's JSON form, and a PNG decoder for the tests.

Each builder returns a ``Log`` (``tests.projections.builders``) of one
negotiation: a lockout, two unions striking together, a rejected tentative
agreement, no numeric issue, a single event, and one full of hostile text.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

from tests.projections.builders import Log

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

HOSTILE = "<script>window.__pwned = 1</script></script><script>window.__pwned = 2</script>"
MARKUP = '<b>bold</b> "><img src=x onerror="window.__pwned=3"> & <svg onload="window.__pwned=4">'
ESCAPES = "\x1b[31mRED\x1b[0m\x07 bell \u202eevil"


def lockout() -> Log:
    """An employer locks the union out, talks, a deal, a ratification."""
    log = Log("nhl-2012")
    log.open("2012-06-01", unions=("nhlpa",), employers=("nhl",), issues=("revenue-share",), title="NHL lockout")
    log.add("talks.held", "l-2", "2012-06-29")
    log.add(
        "proposal.made",
        "l-3",
        "2012-07-13",
        by="nhl",
        issue="revenue-share",
        terms="43%",
        value={"amount": 43, "unit": "percent"},
    )
    log.add(
        "proposal.made",
        "l-4",
        "2012-08-14",
        by="nhlpa",
        issue="revenue-share",
        terms="57% down to 52%",
        value={"amount": 54, "unit": "percent"},
    )
    log.add("lockout.declared", "l-5", "2012-09-16", by="nhl")
    log.add(
        "proposal.made",
        "l-6",
        "2012-10-16",
        by="nhl",
        issue="revenue-share",
        terms="50/50",
        value={"amount": 50, "unit": "percent"},
    )
    log.add("agreement.tentative", "l-7", "2013-01-06")
    log.add("lockout.ended", "l-8", "2013-01-12", by="nhl")
    log.add("ratification.completed", "l-9", "2013-01-13", by="nhlpa", outcome="ratified", yes_share=0.935)
    return log


def two_unions() -> Log:
    """Two unions strike the same employer together; one returns earlier."""
    log = Log("hotels-2023")
    log.open("2023-05-01", unions=("local-11", "teamsters"), employers=("hotels",), issues=("wages",))
    log.add("talks.held", "h-2", "2023-05-02")
    for i, (by, amount) in enumerate((("local-11", 5), ("teamsters", 6), ("hotels", 2)), start=3):
        log.add(
            "proposal.made",
            f"h-{i}",
            "2023-05-10",
            by=by,
            issue="wages",
            terms=f"{amount} dollars an hour",
            value={"amount": amount, "unit": "USD/hour"},
        )
    log.add("strike.called", "h-6", "2023-07-02", by="local-11")
    log.add("strike.called", "h-7", "2023-07-04", by="teamsters")
    log.add("strike.ended", "h-8", "2023-07-20", by="teamsters")
    log.add("strike.ended", "h-9", "2023-07-30", by="local-11")
    return log


def rejected_agreement() -> Log:
    """A tentative agreement voted down, then a second one ratified."""
    log = Log("boeing-2024")
    log.open("2024-03-01", unions=("iam",), employers=("boeing",), issues=("wages", "pension"))
    log.add("talks.held", "b-2", "2024-03-08")
    log.add(
        "proposal.made",
        "b-3",
        "2024-03-08",
        by="iam",
        issue="wages",
        terms="40%",
        value={"amount": 40, "unit": "percent"},
    )
    log.add(
        "proposal.made",
        "b-4",
        "2024-08-01",
        by="boeing",
        issue="wages",
        terms="25%",
        value={"amount": 25, "unit": "percent"},
    )
    log.add("agreement.tentative", "b-5", "2024-09-08")
    log.add("ratification.completed", "b-6", "2024-09-12", by="iam", outcome="rejected", yes_share=0.05)
    log.add("strike.called", "b-7", "2024-09-13", by="iam")
    log.add(
        "proposal.made",
        "b-8",
        "2024-10-31",
        by="boeing",
        issue="wages",
        terms="38%",
        value={"amount": 38, "unit": "percent"},
    )
    log.add("agreement.tentative", "b-9", "2024-10-31")
    log.add("ratification.completed", "b-10", "2024-11-04", by="iam", outcome="ratified", yes_share=0.59)
    return log


def no_numbers() -> Log:
    """Proposals without values: no panel, still a timeline."""
    log = Log("words-2023")
    log.open("2023-01-10", issues=("ai",), title="Only words")
    log.add("talks.held", "w-2", "2023-01-11")
    log.add("proposal.made", "w-3", "2023-01-11", by="wga", issue="ai", terms="No AI writers.")
    log.add("proposal.made", "w-4", "2023-02-01", by="amptp", issue="ai", terms="Annual meetings.")
    log.add("statement.issued", "w-5", "2023-02-02", by="wga", text="Not enough.")
    return log


def single_event() -> Log:
    """A negotiation that was only opened."""
    log = Log("lonely-2023")
    log.open("2023-04-01", title="Opened, nothing else")
    return log


def hostile() -> Log:
    """Script, markup and terminal escapes in the title, names, terms and statements."""
    log = Log("hostile-2023")
    log.add(
        "negotiation.opened",
        "x-1",
        "2023-01-10",
        title=f"Title {MARKUP}",
        parties=[
            {"id": "u", "name": f"Union {HOSTILE}", "role": "union"},
            {"id": "e", "name": f"Employer {ESCAPES}", "role": "employer"},
        ],
        issues=[{"id": "wages", "title": "Wages"}],
        timezone="America/Los_Angeles",
    )
    log.add("talks.held", "x-2", "2023-01-11", note=HOSTILE)
    log.add(
        "proposal.made",
        "x-3",
        "2023-01-11",
        by="u",
        issue="wages",
        terms=f"{HOSTILE} {ESCAPES}",
        value={"amount": 7, "unit": "percent"},
    )
    log.add(
        "proposal.made",
        "x-4",
        "2023-01-12",
        by="e",
        issue="wages",
        terms=MARKUP,
        value={"amount": 2, "unit": "percent"},
    )
    log.add("statement.issued", "x-5", "2023-01-13", by="e", text=f"{MARKUP} {ESCAPES}")
    log.add("strike.called", "x-6", "2023-01-20", by="u")
    return log


ALL_SHAPES = {
    "lockout": lockout,
    "two-unions": two_unions,
    "rejected-agreement": rejected_agreement,
    "no-numbers": no_numbers,
    "single-event": single_event,
    "hostile": hostile,
}


def png_size_and_pixels(data: bytes) -> tuple[int, int, set[bytes]]:
    """Decode an 8-bit RGBA or RGB PNG: its width, height and the set of distinct pixels (a sample)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width, height, channels = 8, b"", 0, 0, 4
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color = struct.unpack(">IIBB", body[:10])
            assert depth == 8
            channels = {6: 4, 2: 3}[color]
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * channels
    assert len(raw) == height * (stride + 1), "every scanline decoded"
    # Filter bytes aside, sample the raw (filtered) rows: enough to tell a blank image from a drawn one.
    pixels = {
        raw[r * (stride + 1) + 1 + c : r * (stride + 1) + 1 + c + channels]
        for r in range(0, height, 7)
        for c in range(0, stride, channels * 5)
    }
    return width, height, pixels
