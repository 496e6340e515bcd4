"""Deterministic synthetic negotiation logs in the spec's JSON Lines format.

``python -m benchmarks.generate --negotiations N --events-per M --seed S -o FILE``

Every negotiation is simulated against the rules of the state machine (spec
section 2), so a generated file imports without a refused line:

- ``negotiation.opened`` first, with a union, an employer and 3-5 issues (one
  more may be tabled later, up to 6), sometimes a mediator joining later;
- talks requested, scheduled, held, suspended and resumed;
- proposals with numeric values that converge over time (the union's demand
  comes down, the employer's offer goes up), withdrawn, accepted or rejected
  now and then; statements of 100-400 characters;
- strike authorizations, strikes and lockouts starting and ending, the old
  contract expiring or being extended, tentative agreements voted down, and a
  ratified agreement at the end; rarely, a statement retracted.

Every event carries ``recorded_at`` (a few minutes to hours after
``occurred_at``), so importing the file twice gives byte-identical stores. About
4% of the statements, proposals and strike authorizations are recorded late
(1-21 days after they occurred, after later events of their negotiation): they
stay valid wherever they land, and nothing ever refers to them.

The file is a feed: lines are in ``recorded_at`` order across negotiations,
which run concurrently (staggered starts between 2014 and 2024). Generation
streams: memory is bounded by the number of negotiations running at one time,
not by the size of the file.
"""

from __future__ import annotations

import argparse
import datetime as dt
import heapq
import math
import random
import sys
import uuid
import zoneinfo
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import orjson

__all__ = ["GENERATOR_VERSION", "generate", "negotiation_events"]

GENERATOR_VERSION: Final = 2
"""Bumped whenever the output for a given seed changes (cached data sets key on it)."""

UTC: Final = dt.UTC
FIRST_START: Final = dt.datetime(2014, 1, 6, tzinfo=UTC)
LAST_END: Final = dt.datetime(2025, 1, 1, tzinfo=UTC)
"""No event occurs after this (and none is recorded later than LAST_END + LATE_MAX): all in the past."""
LATE_SHARE: Final = 0.04
LATE_MIN: Final = dt.timedelta(days=1)
LATE_MAX: Final = dt.timedelta(days=21)
LATE_TYPES: Final = frozenset({"statement.issued", "proposal.made", "strike.authorized"})

ZONES: Final = (
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "America/Toronto",
    "Europe/Berlin",
    "Europe/London",
    "Australia/Sydney",
    "UTC",
)

UNIONS: Final = (
    ("uaw", "United Auto Workers"),
    ("seiu", "Service Employees International Union"),
    ("ibt", "International Brotherhood of Teamsters"),
    ("cwa", "Communications Workers of America"),
    ("afscme", "American Federation of State, County and Municipal Employees"),
    ("unite-here", "UNITE HERE"),
    ("ufcw", "United Food and Commercial Workers"),
    ("iam", "International Association of Machinists and Aerospace Workers"),
    ("ibew", "International Brotherhood of Electrical Workers"),
    ("nnu", "National Nurses United"),
    ("aft", "American Federation of Teachers"),
    ("usw", "United Steelworkers"),
    ("ilwu", "International Longshore and Warehouse Union"),
    ("verdi", "ver.di Vereinte Dienstleistungsgewerkschaft"),
    ("unifor", "Unifor"),
)
EMPLOYER_HEADS: Final = (
    "northwind",
    "contoso",
    "fabrikam",
    "acme",
    "globex",
    "initech",
    "umbrella",
    "stark",
    "wayne",
    "tyrell",
    "cyberdyne",
    "soylent",
    "hooli",
    "vandelay",
    "wonka",
    "oscorp",
    "massive-dynamic",
    "gringotts",
)
EMPLOYER_TAILS: Final = (
    ("logistics", "Logistics"),
    ("health", "Health System"),
    ("motors", "Motors"),
    ("foods", "Foods"),
    ("steel", "Steel"),
    ("telecom", "Telecom"),
    ("hotels", "Hotels & Resorts"),
    ("schools", "Unified School District"),
    ("transit", "Transit Authority"),
    ("aerospace", "Aerospace"),
    ("ports", "Port Employers Association"),
    ("grocers", "Grocers Association"),
)
MEDIATOR: Final = ("fmcs", "Federal Mediation and Conciliation Service")

# id, title, unit, union's opening demand, employer's opening offer (None: text-only issue)
ISSUES: Final = (
    ("wages", "General wage increase", "percent per year", 7.0, 1.5),
    ("health-care", "Employee share of health-care premiums", "percent of premium", 5.0, 25.0),
    ("pensions", "Defined-benefit pension multiplier", "dollars per month per year of service", 120.0, 70.0),
    ("staffing", "Minimum staffing levels", "workers per shift", 12.0, 8.0),
    ("overtime", "Mandatory overtime cap", "hours per week", 8.0, 20.0),
    ("paid-leave", "Paid time off", "days per year", 25.0, 15.0),
    ("signing-bonus", "Ratification bonus", "dollars", 5000.0, 500.0),
    ("cola", "Cost-of-living adjustment", "percent cap", 4.0, 0.0),
    ("job-security", "Job security and plant closures", None, None, None),
    ("scheduling", "Predictable scheduling", None, None, None),
    ("technology", "Automation and new technology", None, None, None),
    ("safety", "Health and safety committees", None, None, None),
    ("tiers", "Ending the two-tier wage system", None, None, None),
    ("subcontracting", "Limits on subcontracting", None, None, None),
)

PUBLISHERS: Final = (
    "Labor Notes",
    "The Daily Ledger",
    "Metro Tribune",
    "Associated Wire",
    "Business Courier",
    "Union Bulletin",
    "Evening Standard-Gazette",
)

SENTENCES: Final = (
    "{union} said its members deserve a fair share of the record profits {employer} reported this year.",
    "{employer} said it remains committed to reaching an agreement that keeps the company competitive.",
    "Negotiators met for more than ten hours and plan to return to the table later this week.",
    "The bargaining committee called the latest offer on {issue} a step in the right direction, but not enough.",
    "{employer} described its proposal on {issue} as comprehensive and generous.",
    "Members rallied outside the headquarters ahead of the session, carrying signs about {issue}.",
    "Both sides agreed not to discuss the details of the talks in public while bargaining continues.",
    "{union} accused management of stalling and refusing to address {issue}.",
    "The company warned that the union's demands on {issue} would threaten thousands of jobs.",
    "A spokesperson for {employer} said the offer would raise average pay substantially over the contract.",
    "The union's president told members to prepare for every outcome, including a work stoppage.",
    "Talks are expected to resume after the holiday weekend, according to people familiar with them.",
    "{union} thanked the community for its support and urged customers to stand with workers.",
    "The employer said contingency plans are in place to keep operations running.",
    "Local officials urged both parties to return to the table and settle quickly.",
    "According to the union, the gap on {issue} narrowed considerably during the last session.",
    "{employer} said it had made its last, best and final offer and asked the union to put it to a vote.",
    "Analysts estimate that a prolonged dispute would cost the region millions of dollars a week.",
    "The mediator asked both sides to refrain from public statements while a framework is explored.",
    "Workers have been without a raise since the previous agreement expired, the union said.",
)

STATEMENT_AUDIENCES: Final = ("press", "members", "public", "customers")
SUSPENSION_REASONS: Final = (
    "The parties remain far apart on {issue}; no further sessions are scheduled.",
    "The employer walked out after the union rejected its package on {issue}.",
    "The union broke off talks, citing the employer's refusal to move on {issue}.",
    "Talks recessed without progress; the mediator will contact both sides.",
)


def _rfc3339(moment: dt.datetime, tz: dt.tzinfo) -> str:
    return moment.astimezone(tz).isoformat()


def _utc(moment: dt.datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class _Sim:
    """One negotiation simulated against the rules; yields events in valid-time order."""

    def __init__(self, rng: random.Random, index: int, start: dt.datetime, duration: dt.timedelta, count: int) -> None:
        self.rng = rng
        self.start = start
        self.count = count
        self.mean_gap = 0.95 * duration.total_seconds() / max(count, 1)
        self.tz_name = rng.choice(ZONES)
        self.tz = zoneinfo.ZoneInfo(self.tz_name)
        head = rng.choice(EMPLOYER_HEADS)
        tail, tail_name = rng.choice(EMPLOYER_TAILS)
        union_id, union_name = rng.choice(UNIONS)
        local = rng.randrange(1, 3000)
        self.union = f"{union_id}-local-{local}"
        self.negotiation = f"{union_id}-{head}-{start.year}-{index:05d}"
        self.employer = f"{head}-{tail}"
        self.parties: dict[str, tuple[str, str]] = {
            self.union: (f"{union_name} Local {local}", "union"),
            self.employer: (f"{head.replace('-', ' ').title()} {tail_name}", "employer"),
        }
        spare = list(ISSUES)
        rng.shuffle(spare)
        first = rng.randint(3, 5)
        self.issues = spare[:first]
        self.spare_issues = spare[first:6]
        self.mediator_joined = False
        # state the rules look at
        self.talks = "none"
        self.strike = False
        self.lockout = False
        self.authorized = False
        self.agreement = "none"
        self.contract = "in_force"
        self.expires = (start + duration * rng.uniform(0.2, 0.5)).astimezone(self.tz).date()
        self.standing: dict[tuple[str, str], str] = {}
        """(party, issue) -> id of its standing, referable proposal."""
        self.values: dict[tuple[str, str], float] = {}
        self.statements: list[str] = []
        self.retracted: set[str] = set()
        self.k = 0
        self.t = start
        self.last_recorded = start

    # --- helpers ---------------------------------------------------------------

    def _id(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def _text(self, low: int, high: int, issue: str | None = None) -> str:
        target = self.rng.randint(low, high)
        names = {
            "union": self.parties[self.union][0],
            "employer": self.parties[self.employer][0],
            "issue": (issue or self.rng.choice(self.issues)[1]).lower(),
        }
        parts: list[str] = []
        size = 0
        while size < target:
            sentence = self.rng.choice(SENTENCES).format(**names)
            if parts and size + len(sentence) + 1 > high:
                break
            parts.append(sentence)
            size += len(sentence) + 1
        return " ".join(parts)[:high]

    def _source(self, moment: dt.datetime) -> dict[str, str] | None:
        if self.rng.random() >= 0.4:
            return None
        day = moment.astimezone(self.tz).date()
        slug = f"{self.employer}-talks-{self.rng.randrange(10**6):06d}"
        return {
            "url": f"https://news.example.org/{day.year}/{day.month:02d}/{slug}",
            "publisher": self.rng.choice(PUBLISHERS),
            "published_at": day.isoformat(),
        }

    def _progress(self) -> float:
        return self.k / max(self.count - 1, 1)

    def _value(self, party: str, issue: tuple[Any, ...]) -> dict[str, Any] | None:
        _, _, unit, ask, offer = issue
        if unit is None:
            return None
        p = self._progress()
        middle = (ask + offer) / 2
        opening = ask if party == self.union else offer
        target = opening + (middle - opening) * min(1.0, p**0.7 + self.rng.uniform(-0.05, 0.05))
        scale = max(abs(ask), abs(offer), 1.0)
        amount = round(target + self.rng.gauss(0, scale * 0.01), 1 if scale < 100 else 0)
        if scale >= 100:
            return {"amount": int(amount), "unit": unit}
        return {"amount": amount, "unit": unit}

    # --- the choice of the next event ---------------------------------------------

    def _choices(self) -> list[tuple[str, float]]:
        p = self._progress()
        stoppage = self.strike or self.lockout
        c: list[tuple[str, float]] = []
        if self.talks == "none":
            c.append(("talks.requested", 6.0))
        elif self.talks == "requested":
            c.append(("talks.scheduled", 4.0))
        elif self.talks == "scheduled":
            c += [("talks.held", 5.0), ("talks.scheduled", 0.3)]
        elif self.talks == "active":
            c += [("talks.held", 4.0), ("talks.scheduled", 1.0), ("talks.suspended", 0.35)]
        if self.talks == "suspended" or (stoppage and self.talks != "suspended"):
            c.append(("talks.resumed", 1.2 if self.talks == "suspended" else 0.3))
        c += [("proposal.made", 5.0 if self.talks in ("active", "scheduled") else 1.5), ("statement.issued", 4.0)]
        if self.standing:
            c += [("proposal.rejected", 0.9), ("proposal.accepted", 0.35), ("proposal.withdrawn", 0.2)]
        if not self.authorized and p > 0.1:
            c.append(("strike.authorized", 0.5))
        if self.authorized and not self.strike and p > 0.2 and self.agreement != "tentative":
            c.append(("strike.called", 0.25))
        if self.strike:
            c.append(("strike.ended", 0.6))
        if not self.lockout and p > 0.3:
            c.append(("lockout.declared", 0.04))
        if self.lockout:
            c.append(("lockout.ended", 0.8))
        if not self.mediator_joined and (self.talks == "suspended" or stoppage or p > 0.5):
            c.append(("party.joined", 0.4))
        if self.spare_issues and len(self.issues) < 6:
            c.append(("issue.tabled", 0.08))
        if self.contract == "in_force" and self.t.astimezone(self.tz).date() < self.expires and p > 0.15:
            c.append(("contract.extended", 0.03))
        if self.agreement in ("none", "rejected") and p > 0.5:
            c.append(("agreement.tentative", 0.06))
        if self.agreement == "tentative":
            c.append(("ratification.completed", 1.0))
        if self.statements:
            c.append(("event.retracted", 0.015))
        return c

    def _next_type(self) -> str:
        remaining = self.count - self.k
        if self.k == 0:
            return "negotiation.opened"
        if self.agreement == "ratified":
            return "statement.issued"
        if self.count >= 4 and remaining == 3:
            return "agreement.tentative" if self.agreement != "tentative" else "statement.issued"
        if self.count >= 4 and remaining == 2:
            return "ratification.completed"
        expiry = dt.datetime.combine(self.expires, dt.time(23, 59, 59), tzinfo=self.tz)
        if self.contract in ("in_force", "extended") and self.t > expiry:
            return "contract.expired"
        choices = self._choices()
        total = sum(w for _, w in choices)
        pick = self.rng.random() * total
        for kind, weight in choices:
            pick -= weight
            if pick < 0:
                return kind
        return choices[-1][0]

    # --- events ------------------------------------------------------------------

    def events(self) -> Iterator[tuple[dt.datetime, dt.datetime, int, dict[str, Any], bool]]:
        """``(occurred, recorded, k, line object, late)`` in valid-time order."""
        while self.k < self.count:
            if self.k:
                gap = max(1.0, self.rng.expovariate(1.0) * self.mean_gap)
                # Near LAST_END the simulation is squeezed, one millisecond apart: events sharing an instant
                # would be ordered by when they were stored, so a late one could land after a ratification
                # (version 1 did that; at 100,000 negotiations some lines were refused).
                last = self.t
                self.t = min(self.t + dt.timedelta(seconds=round(gap)), LAST_END - dt.timedelta(seconds=1))
                if self.t <= last:
                    self.t = last + dt.timedelta(milliseconds=1)
            kind = self._next_type()
            event_id = self._id()
            late = kind in LATE_TYPES and self.rng.random() < LATE_SHARE
            data = self._data(kind, event_id, late=late)
            occurred = self.t
            if self.k == 0:
                occurred_text = occurred.astimezone(self.tz).date().isoformat()
            else:
                occurred_text = _rfc3339(occurred, self.tz)
            if late:
                recorded = occurred + LATE_MIN + (LATE_MAX - LATE_MIN) * self.rng.random()
                recorded = recorded.replace(microsecond=0)
            else:
                delay = dt.timedelta(seconds=round(60 * math.exp(self.rng.uniform(0, 5.5))))
                recorded = max(self.last_recorded + dt.timedelta(seconds=1), occurred + delay)
                self.last_recorded = recorded
            line: dict[str, Any] = {
                "id": event_id,
                "type": kind,
                "negotiation": self.negotiation,
                "occurred_at": occurred_text,
                "recorded_at": _utc(recorded),
            }
            source = self._source(occurred)
            if source is not None:
                line["source"] = source
            line["data"] = data
            yield occurred, recorded, self.k, line, late
            self.k += 1

    def _party(self, *roles: str) -> str:
        return self.rng.choice([p for p, (_, role) in self.parties.items() if role in roles])

    def _data(self, kind: str, event_id: str, *, late: bool) -> dict[str, Any]:
        rng = self.rng
        if kind == "negotiation.opened":
            parties = [{"id": p, "name": n, "role": r} for p, (n, r) in self.parties.items()]
            if rng.random() < 0.1:
                self.parties[MEDIATOR[0]] = (MEDIATOR[1], "mediator")
                self.mediator_joined = True
                parties.append({"id": MEDIATOR[0], "name": MEDIATOR[1], "role": "mediator"})
            year = self.t.year
            return {
                "title": f"{year} {self.parties[self.union][0]} - {self.parties[self.employer][0]} contract",
                "parties": parties,
                "issues": [{"id": i[0], "title": i[1]} for i in self.issues],
                "timezone": self.tz_name,
                "contract_expires_on": self.expires.isoformat(),
            }
        if kind == "party.joined":
            self.parties[MEDIATOR[0]] = (MEDIATOR[1], "mediator")
            self.mediator_joined = True
            return {"party": {"id": MEDIATOR[0], "name": MEDIATOR[1], "role": "mediator"}}
        if kind == "issue.tabled":
            issue = self.spare_issues.pop(0)
            self.issues.append(issue)
            return {"by": self._party("union", "employer"), "issue": {"id": issue[0], "title": issue[1]}}
        if kind == "talks.requested":
            self.talks = "requested"
            return {"by": self.union, "to": self.employer}
        if kind == "talks.scheduled":
            self.talks = "scheduled"
            day = (self.t + dt.timedelta(days=rng.randint(1, 14))).astimezone(self.tz).date()
            return {"for_date": day.isoformat()}
        if kind in ("talks.held", "talks.resumed"):
            self.talks = "active"
            return {"note": self._text(40, 160)} if rng.random() < 0.5 else {}
        if kind == "talks.suspended":
            self.talks = "suspended"
            issue = rng.choice(self.issues)
            return {
                "by": self._party("union", "employer"),
                "reason": rng.choice(SUSPENSION_REASONS).format(issue=issue[1].lower()),
            }
        if kind == "proposal.made":
            return self._proposal(event_id, late=late)
        if kind in ("proposal.accepted", "proposal.rejected", "proposal.withdrawn"):
            (party, issue_id), proposal = rng.choice(sorted(self.standing.items()))
            if kind == "proposal.withdrawn":
                del self.standing[party, issue_id]
                return {"by": party, "issue": issue_id}
            other = self.employer if party == self.union else self.union
            return {"by": other, "issue": issue_id, "proposal": proposal}
        if kind == "statement.issued":
            if not late:
                self.statements.append(event_id)
                del self.statements[:-50]
            return {"by": self._party("union", "employer", "mediator"), "text": self._text(100, 400)} | (
                {"audience": rng.choice(STATEMENT_AUDIENCES)} if rng.random() < 0.8 else {}
            )
        if kind == "strike.authorized":
            self.authorized = True
            return {
                "by": self.union,
                "yes_share": round(rng.uniform(0.7, 0.99), 4),
                "turnout": round(rng.uniform(0.4, 0.9), 4),
            }
        if kind in ("strike.called", "strike.ended"):
            self.strike = kind == "strike.called"
            return {"by": self.union}
        if kind in ("lockout.declared", "lockout.ended"):
            self.lockout = kind == "lockout.declared"
            return {"by": self.employer}
        if kind == "contract.expired":
            self.contract = "expired"
            return {}
        if kind == "contract.extended":
            self.contract = "extended"
            self.expires += dt.timedelta(days=rng.randint(30, 120))
            return {"until": self.expires.isoformat()}
        if kind == "agreement.tentative":
            self.agreement = "tentative"
            terms = {i[0]: self._text(60, 160, i[1]) for i in self.issues if rng.random() < 0.5}
            return {"terms": terms} if terms else {}
        if kind == "ratification.completed":
            final = self.count - self.k <= 2
            outcome = "ratified" if final else "rejected"
            self.agreement = outcome
            if outcome == "ratified":
                self.strike = self.lockout = False
                self.contract = "new"
            share = rng.uniform(0.55, 0.95) if final else rng.uniform(0.2, 0.49)
            return {
                "by": self.union,
                "yes_share": round(share, 4),
                "turnout": round(rng.uniform(0.4, 0.9), 4),
                "outcome": outcome,
            }
        if kind == "event.retracted":
            target = self.statements.pop(rng.randrange(len(self.statements)))
            return {"target": target, "reason": "Misattributed: the statement was issued by another organization."}
        msg = f"no generator for {kind}"
        raise AssertionError(msg)

    def _proposal(self, event_id: str, *, late: bool) -> dict[str, Any]:
        rng = self.rng
        party = self.union if rng.random() < 0.55 else self.employer
        issue = rng.choice(self.issues)
        data: dict[str, Any] = {"by": party, "issue": issue[0]}
        value = self._value(party, issue)
        if value is not None:
            verb = "Raise" if party == self.union else "Hold"
            data["terms"] = f"{verb} {issue[1].lower()} to {value['amount']} {value['unit']}. " + self._text(0, 120)
            data["value"] = value
        else:
            data["terms"] = self._text(80, 240, issue[1])
        other = self.employer if party == self.union else self.union
        answer = self.standing.get((other, issue[0]))
        if answer is not None and rng.random() < 0.6:
            data["in_response_to"] = answer
        if not late:
            self.standing[party, issue[0]] = event_id
        return data


Line = tuple[dt.datetime, int, bytes, bool]
"""``(recorded, k, line, late)``: one generated line and where it sorts."""


def negotiation_events(seed: int, index: int, count: int, start: dt.datetime, duration: dt.timedelta) -> Iterator[Line]:
    """One negotiation's lines in ``recorded_at`` order, streaming.

    Late events wait in a small heap until no later-simulated event can be
    recorded before them: every event is recorded at or after it occurred, and
    events occur in order.
    """
    sim = _Sim(random.Random(f"{seed}:{index}"), index, start, duration, count)
    pending: list[Line] = []
    for occurred, recorded, k, obj, late in sim.events():
        while pending and pending[0][0] <= occurred:
            yield heapq.heappop(pending)
        heapq.heappush(pending, (recorded, k, orjson.dumps(obj), late))
    while pending:
        yield heapq.heappop(pending)


def _schedule(seed: int, negotiations: int, events_per: int) -> list[tuple[dt.datetime, int, dt.timedelta]]:
    """(start, index, duration) of every negotiation, by start."""
    rng = random.Random(f"{seed}:schedule")
    span = (LAST_END - FIRST_START).total_seconds()
    out = []
    for index in range(negotiations):
        days = rng.uniform(90, 720) * max(1.0, events_per / 1000)
        duration = dt.timedelta(days=min(days, span / 86400 * 0.9))
        latest = span - duration.total_seconds() - LATE_MAX.total_seconds()
        offset = 0.0 if negotiations == 1 else rng.uniform(0, max(latest, 0))
        start = (FIRST_START + dt.timedelta(seconds=offset)).replace(microsecond=0)
        out.append((start, index, duration))
    out.sort()
    return out


def generate(path: str | Path, *, negotiations: int, events_per: int, seed: int = 1) -> dict[str, Any]:
    """Write the feed to ``path``; returns counts (events, negotiations, late events, by type)."""
    schedule = _schedule(seed, negotiations, events_per)
    heap: list[tuple[dt.datetime, int, int, bytes, bool, Iterator[Line]]] = []
    next_start = 0
    written = 0
    late = 0
    by_type: dict[str, int] = {}

    def enter(stream: Iterator[Line], index: int) -> None:
        item = next(stream, None)
        if item is not None:
            recorded, k, line, is_late = item
            heapq.heappush(heap, (recorded, index, k, line, is_late, stream))

    with Path(path).open("wb") as out:
        out.write(
            f"# benchmarks.generate v{GENERATOR_VERSION}: seed={seed} negotiations={negotiations} "
            f"events-per={events_per}\n".encode()
        )
        while heap or next_start < len(schedule):
            # A negotiation's first line is recorded after it starts: let in every
            # negotiation that starts before the earliest pending line.
            while next_start < len(schedule) and (not heap or schedule[next_start][0] <= heap[0][0]):
                start, index, duration = schedule[next_start]
                enter(negotiation_events(seed, index, events_per, start, duration), index)
                next_start += 1
            _, index, _, line, is_late, stream = heapq.heappop(heap)
            out.write(line)
            out.write(b"\n")
            written += 1
            kind = _type_of(line)
            by_type[kind] = by_type.get(kind, 0) + 1
            late += is_late
            enter(stream, index)
    return {
        "path": str(path),
        "events": written,
        "negotiations": negotiations,
        "events_per": events_per,
        "seed": seed,
        "late": late,
        "by_type": dict(sorted(by_type.items())),
        "generator_version": GENERATOR_VERSION,
    }


def _type_of(line: bytes) -> str:
    start = line.index(b'"type":"') + 8
    return line[start : line.index(b'"', start)].decode()


def main(argv: list[str] | None = None) -> int:
    """The command line: writes the file and prints its counts as JSON on stderr."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.generate", description=__doc__.splitlines()[0])
    parser.add_argument("--negotiations", type=int, required=True)
    parser.add_argument("--events-per", type=int, required=True, help="events per negotiation (at least 1)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("-o", "--output", required=True, help="the JSON Lines file to write")
    args = parser.parse_args(argv)
    if args.negotiations < 1 or args.events_per < 1:
        parser.error("--negotiations and --events-per must be at least 1")
    stats = generate(args.output, negotiations=args.negotiations, events_per=args.events_per, seed=args.seed)
    sys.stderr.write(orjson.dumps(stats, option=orjson.OPT_INDENT_2).decode() + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
