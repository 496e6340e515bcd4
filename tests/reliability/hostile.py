"""Hostile event-log lines, each with what its refusal must say.

``BASE`` is a store's content (three negotiations); every case is a line (after
some ``setup`` lines that are valid) that must be refused against it with the
named rule and event id. The cases cover the format (types, unknown types,
nesting, sizes, encodings, control characters, timestamps), duplicate ids and
every rule of section 2 of the spec.
"""

from __future__ import annotations

import json
from typing import Any

import attrs

BASE_NEGOTIATION = "base-2024"
"""Opened 2024-01-10 (union ufw, employer acme; issues pay and ai); strike since 2024-03-02."""
REJECTED = "rejected-2024"
"""A tentative agreement voted down: no agreement awaits a vote."""
CLOSED = "closed-2024"
"""Ratified: closed to everything but statements and retractions."""
RECORDED = "2024-06-01T00:00:00+00:00"

INJECTION = "[bold red]X[/] \x1b[31mRED\x1b]0;title\x07 \u009b2J \u202eevil"
"""Untrusted text that rich would style and a terminal would act on (ESC, OSC, BEL, CSI, bidi)."""


def event(
    event_id: str, kind: str, occurred_at: str, data: dict[str, Any], negotiation: str = BASE_NEGOTIATION, **extra: Any
) -> dict[str, Any]:
    """One event of the spec's JSON Lines format, recorded at ``RECORDED`` unless ``extra`` says otherwise."""
    return {
        "id": event_id,
        "type": kind,
        "negotiation": negotiation,
        "occurred_at": occurred_at,
        "recorded_at": RECORDED,
        **extra,
        "data": data,
    }


def opened(negotiation: str, event_id: str) -> dict[str, Any]:
    """``negotiation.opened`` with a union, an employer and two issues."""
    return event(
        event_id,
        "negotiation.opened",
        "2024-01-10",
        {
            "title": f"Acme {negotiation}",
            "timezone": "America/New_York",
            "parties": [
                {"id": "ufw", "name": "United Factory Workers", "role": "union"},
                {"id": "acme", "name": "Acme Corp.", "role": "employer"},
            ],
            "issues": [{"id": "pay", "title": "Pay"}, {"id": "ai", "title": "AI"}],
        },
        negotiation,
    )


BASE: list[dict[str, Any]] = [
    opened(BASE_NEGOTIATION, "b1"),
    event("b2", "talks.held", "2024-01-15", {}),
    event("b3", "proposal.made", "2024-01-15", {"by": "ufw", "issue": "pay", "terms": "5%"}),
    event("b4", "proposal.made", "2024-01-20", {"by": "acme", "issue": "pay", "terms": "2%"}),
    event("b5", "strike.called", "2024-03-02T06:00:00-05:00", {"by": "ufw"}),
    event("b6", "statement.issued", "2024-03-03", {"by": "acme", "text": "We regret the strike."}),
    event("b7", "event.retracted", "2024-03-04", {"target": "b6", "reason": "issued in error"}),
    opened(REJECTED, "r1"),
    event("r2", "agreement.tentative", "2024-02-01", {}, REJECTED),
    event(
        "r3", "ratification.completed", "2024-02-10", {"by": "ufw", "yes_share": 0.3, "outcome": "rejected"}, REJECTED
    ),
    opened(CLOSED, "c1"),
    event("c2", "agreement.tentative", "2024-02-01", {}, CLOSED),
    event("c3", "ratification.completed", "2024-02-10", {"by": "ufw", "yes_share": 0.9, "outcome": "ratified"}, CLOSED),
]


def line(obj: Any) -> bytes:
    """The JSON text of ``obj`` (stdlib json: it writes whatever it is given)."""
    return json.dumps(obj, ensure_ascii=False).encode("utf-8", "surrogatepass")


def base_bytes() -> bytes:
    """``BASE`` as JSON Lines."""
    return b"".join(line(obj) + b"\n" for obj in BASE)


@attrs.frozen(kw_only=True)
class Case:
    """A hostile line, the valid lines it needs before it, and its expected refusal."""

    name: str
    raw: bytes
    event_id: str | None
    """The id the refusal names (``None``: the line's id cannot be read: ``-``)."""
    rule: str
    reason: str = ""
    """A fragment of the reason."""
    setup: tuple[bytes, ...] = ()


def _nested(depth: int) -> bytes:
    return b'{"id":"deep","type":"talks.held","negotiation":"base-2024","occurred_at":"2024-01-16","data":{"note":' + (
        b"[" * depth + b"]" * depth + b"}}"
    )


def _strike(event_id: str, occurred_at: str, by: str = "ufw", **extra: Any) -> bytes:
    return line(event(event_id, "strike.called", occurred_at, {"by": by}, **extra))


STATEMENT = event("st", "statement.issued", "2024-01-16", {"by": "ufw", "text": "ok"})


def _statement(**changes: Any) -> bytes:
    obj = json.loads(json.dumps(STATEMENT))
    for key, value in changes.items():
        *parents, last = key.split(".")
        node = obj
        for step in parents:
            node = node[step]
        node[last] = value
    return line(obj)


CASES: tuple[Case, ...] = (
    # --- not an event-log line at all
    Case(name="not-json", raw=b"this is not json", event_id=None, rule="format", reason="not valid JSON"),
    Case(name="truncated", raw=_statement()[:-9], event_id="st", rule="format", reason="not valid JSON"),
    Case(name="array", raw=b'[{"id": "a"}]', event_id=None, rule="format", reason="a JSON object"),
    Case(name="string", raw=b'"event"', event_id=None, rule="format"),
    Case(name="number", raw=b"42", event_id=None, rule="format"),
    Case(name="nan", raw=_statement().replace(b'"ok"', b"NaN"), event_id="st", rule="format", reason="not valid JSON"),
    Case(name="bom", raw=b"\xef\xbb\xbf" + _statement(), event_id="st", rule="format", reason="not valid JSON"),
    # --- types
    Case(name="unknown-type", raw=_statement(type="strike.cancelled"), event_id="st", rule="format", reason="unknown"),
    Case(name="type-number", raw=_statement(type=7), event_id="st", rule="format", reason="unknown event type"),
    Case(name="occurred-number", raw=_statement(occurred_at=20240116), event_id="st", rule="format"),
    Case(name="by-number", raw=_statement(**{"data.by": 7}), event_id="st", rule="format", reason="data.by"),
    Case(name="data-array", raw=_statement(data=["ufw", "ok"]), event_id="st", rule="format", reason="data"),
    Case(
        name="data-missing", raw=line({k: v for k, v in STATEMENT.items() if k != "data"}), event_id="st", rule="format"
    ),
    Case(name="id-missing", raw=line({k: v for k, v in STATEMENT.items() if k != "id"}), event_id=None, rule="format"),
    Case(name="id-number", raw=_statement(id=17), event_id=None, rule="format", reason="id"),
    Case(name="id-empty", raw=_statement(id=""), event_id=None, rule="format", reason="id"),
    Case(name="id-too-long", raw=_statement(id="x" * 129), event_id=None, rule="format", reason="id"),
    Case(name="id-escape", raw=_statement(id="a\x1b[31mb"), event_id=None, rule="format", reason="id"),
    Case(name="id-nul", raw=_statement(id="a\x00b"), event_id=None, rule="format", reason="id"),
    Case(name="negotiation-not-slug", raw=_statement(negotiation="Base 2024"), event_id="st", rule="format"),
    Case(name="unknown-envelope-field", raw=_statement(extra=1), event_id="st", rule="format", reason="unknown field"),
    Case(name="unknown-data-field", raw=_statement(**{"data.mood": "x"}), event_id="st", rule="format"),
    Case(
        name="share-too-big",
        raw=line(event("v", "strike.authorized", "2024-01-16", {"by": "ufw", "yes_share": 1.5})),
        event_id="v",
        rule="format",
        reason="share",
    ),
    Case(
        name="share-string",
        raw=line(event("v", "strike.authorized", "2024-01-16", {"by": "ufw", "yes_share": "90%"})),
        event_id="v",
        rule="format",
    ),
    Case(
        name="amount-infinite",
        raw=line(
            event(
                "p",
                "proposal.made",
                "2024-01-16",
                {"by": "ufw", "issue": "pay", "terms": "t", "value": {"amount": 12345, "unit": "%"}},
            )
        ).replace(b"12345", b"1e400"),
        event_id="p",
        rule="format",
        reason="infinity",
    ),
    Case(name="schema-future", raw=_statement(schema=2), event_id="st", rule="format", reason="newer"),
    Case(name="schema-bool", raw=_statement(schema=True), event_id="st", rule="format", reason="schema"),
    # --- nesting and size
    Case(name="nested-100k", raw=_nested(100_000), event_id="deep", rule="format", reason="not valid JSON"),
    Case(name="nested-500", raw=_nested(500), event_id="deep", rule="format", reason="data.note"),
    Case(
        name="line-10mb",
        raw=_statement(**{"data.text": "x" * 10_000_000}),
        event_id="st",
        rule="format",
        reason="too long",
    ),
    Case(
        name="string-100k",
        raw=_statement(**{"data.text": "x" * 100_000}),
        event_id="st",
        rule="format",
        reason="string of",
    ),
    # --- encodings and control characters
    Case(
        name="invalid-utf8",
        raw=_statement().replace(b'"ok"', b'"\xff\xfe"'),
        event_id="st",
        rule="format",
        reason="not valid JSON",
    ),
    Case(
        name="lone-surrogate",
        raw=_statement().replace(b'"ok"', b'"\\ud800"'),
        event_id="st",
        rule="format",
        reason="not valid JSON",
    ),
    Case(
        name="raw-nul",
        raw=_statement().replace(b'"ok"', b'"o\x00k"'),
        event_id="st",
        rule="format",
        reason="not valid JSON",
    ),
    Case(
        name="raw-escape",
        raw=_statement().replace(b'"ok"', b'"\x1b[2J"'),
        event_id="st",
        rule="format",
        reason="not valid JSON",
    ),
    Case(name="nul-outside", raw=_statement() + b"\x00", event_id="st", rule="format", reason="not valid JSON"),
    # --- timestamps
    Case(
        name="naive",
        raw=_statement(occurred_at="2024-01-16T10:00:00"),
        event_id="st",
        rule="format",
        reason="occurred_at",
    ),
    Case(
        name="naive-recorded",
        raw=_statement(recorded_at="2024-06-01T00:00:00"),
        event_id="st",
        rule="format",
        reason="recorded_at",
    ),
    Case(name="feb-30", raw=_statement(occurred_at="2024-02-30"), event_id="st", rule="format", reason="calendar date"),
    Case(name="month-13", raw=_statement(occurred_at="2024-13-01T00:00:00Z"), event_id="st", rule="format"),
    Case(name="hour-25", raw=_statement(occurred_at="2024-01-16T25:00:00Z"), event_id="st", rule="format"),
    Case(name="offset-no-colon", raw=_statement(occurred_at="2024-01-16T10:00:00+0500"), event_id="st", rule="format"),
    Case(name="recorded-date-only", raw=_statement(recorded_at="2024-06-01"), event_id="st", rule="format"),
    Case(
        name="recorded-before-occurred",
        raw=_statement(occurred_at="2024-01-16T10:00:00Z", recorded_at="2024-01-16T09:00:00Z"),
        event_id="st",
        rule="format",
        reason="recorded before",
    ),
    Case(
        name="recorded-2099",
        raw=_statement(recorded_at="2099-01-01T00:00:00Z"),
        event_id="st",
        rule="recorded-not-future",
    ),
    Case(
        name="occurred-and-recorded-2099",
        raw=_statement(occurred_at="2099-01-01", recorded_at="2099-01-02T00:00:00Z"),
        event_id="st",
        rule="recorded-not-future",
    ),
    Case(
        name="occurred-2099",
        raw=line({k: v for k, v in STATEMENT.items() if k != "recorded_at"} | {"occurred_at": "2099-01-01"}),
        event_id="st",
        rule="recorded-after-occurred",
    ),
    # --- duplicate ids
    Case(
        name="stored-id-other-content",
        raw=line(event("b3", "proposal.made", "2024-01-15", {"by": "ufw", "issue": "pay", "terms": "6%"})),
        event_id="b3",
        rule="unique-id",
    ),
    Case(
        name="file-id-twice",
        setup=(_statement(id="twice"),),
        raw=_statement(id="twice", **{"data.text": "other"}),
        event_id="twice",
        rule="unique-id",
    ),
    # --- every rule of section 2
    Case(
        name="opened-first",
        raw=line(event("f1", "talks.held", "2024-01-16", {}, "fresh-2024")),
        event_id="f1",
        rule="opened-first",
    ),
    Case(
        name="opened-once",
        raw=line({**opened(BASE_NEGOTIATION, "again"), "occurred_at": "2024-01-11"}),
        event_id="again",
        rule="opened-once",
    ),
    Case(name="unknown-party-by", raw=_statement(**{"data.by": "nobody"}), event_id="st", rule="known-party"),
    Case(
        name="unknown-party-to",
        raw=line(event("q", "talks.requested", "2024-01-16", {"by": "ufw", "to": "nobody"})),
        event_id="q",
        rule="known-party",
    ),
    Case(
        name="issue-off-agenda",
        raw=line(event("p", "proposal.made", "2024-01-16", {"by": "ufw", "issue": "health", "terms": "t"})),
        event_id="p",
        rule="on-agenda",
    ),
    Case(name="employer-strikes", raw=_strike("s", "2024-01-16", by="acme"), event_id="s", rule="union-strikes"),
    Case(
        name="union-locks-out",
        raw=line(event("l", "lockout.declared", "2024-01-16", {"by": "ufw"})),
        event_id="l",
        rule="employer-lockouts",
    ),
    Case(name="strike-twice", raw=_strike("s", "2024-03-05"), event_id="s", rule="stoppage-not-running"),
    Case(
        name="late-strike-breaks-later",
        raw=_strike("s", "2024-02-01"),
        event_id="s",
        rule="stoppage-not-running",
        reason="b5",
    ),
    Case(
        name="end-unstarted-strike",
        raw=line(event("e", "strike.ended", "2024-02-01", {"by": "ufw"})),
        event_id="e",
        rule="stoppage-running",
    ),
    Case(
        name="end-unstarted-lockout",
        raw=line(event("e", "lockout.ended", "2024-03-05", {"by": "acme"})),
        event_id="e",
        rule="stoppage-running",
    ),
    Case(
        name="resume-without-break",
        raw=line(event("r", "talks.resumed", "2024-01-20", {})),
        event_id="r",
        rule="resume-needs-break",
    ),
    Case(
        name="vote-without-agreement",
        raw=line(
            event("v", "ratification.completed", "2024-03-05", {"by": "ufw", "yes_share": 0.9, "outcome": "ratified"})
        ),
        event_id="v",
        rule="vote-needs-agreement",
    ),
    Case(
        name="vote-twice",
        raw=line(
            event(
                "v",
                "ratification.completed",
                "2024-02-11",
                {"by": "ufw", "yes_share": 0.9, "outcome": "ratified"},
                REJECTED,
            )
        ),
        event_id="v",
        rule="vote-needs-agreement",
    ),
    Case(
        name="after-ratification",
        raw=line(event("h", "talks.held", "2024-02-11", {}, CLOSED)),
        event_id="h",
        rule="closed-after-ratification",
    ),
    Case(
        name="accept-unknown-proposal",
        raw=line(event("a", "proposal.accepted", "2024-01-21", {"by": "acme", "issue": "pay", "proposal": "zz"})),
        event_id="a",
        rule="proposal-reference",
    ),
    Case(
        name="accept-own-proposal",
        raw=line(event("a", "proposal.accepted", "2024-01-21", {"by": "ufw", "issue": "pay", "proposal": "b3"})),
        event_id="a",
        rule="proposal-reference",
    ),
    Case(
        name="reject-other-issue",
        raw=line(event("a", "proposal.rejected", "2024-01-21", {"by": "ufw", "issue": "ai", "proposal": "b4"})),
        event_id="a",
        rule="proposal-reference",
    ),
    Case(
        name="retract-unknown",
        raw=line(event("x", "event.retracted", "2024-03-05", {"target": "zz", "reason": "r"})),
        event_id="x",
        rule="retraction-target",
    ),
    Case(
        name="retract-twice",
        raw=line(event("x", "event.retracted", "2024-03-05", {"target": "b6", "reason": "r"})),
        event_id="x",
        rule="retraction-target",
    ),
    Case(
        name="retract-a-retraction",
        raw=line(event("x", "event.retracted", "2024-03-05", {"target": "b7", "reason": "r"})),
        event_id="x",
        rule="retraction-target",
    ),
    Case(
        name="retract-other-negotiation",
        raw=line(event("x", "event.retracted", "2024-02-11", {"target": "b3", "reason": "r"}, REJECTED)),
        event_id="x",
        rule="retraction-target",
    ),
    # --- untrusted text in the refusal itself
    Case(
        name="markup-id",
        raw=_statement(id="[bold red]X[/]", **{"data.by": "nobody"}),
        event_id="[bold red]X[/]",
        rule="known-party",
    ),
    Case(
        name="escape-in-type", raw=_statement(type=INJECTION), event_id="st", rule="format", reason="unknown event type"
    ),
)
"""Every hostile case; names are unique."""

VALID_TAIL: tuple[bytes, ...] = (
    line(opened("ok-2024", "ok1")),
    line(event("ok2", "talks.held", "2024-01-16", {}, "ok-2024")),
)
"""Valid lines of another negotiation: an atomic import must not store them either."""


def file_for(case: Case) -> tuple[bytes, int]:
    """A log of the valid lines, the case's setup and its hostile line; returns it and the hostile line's number."""
    lines = [*VALID_TAIL, *case.setup, case.raw]
    return b"".join(raw + b"\n" for raw in lines), len(lines)
