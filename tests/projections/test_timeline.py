"""The timeline read model: events in valid-time order with summaries; statements."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings

from events import Event
from negotiation.core.history import History
from projections import NotOpenedError, statements_json, statements_of, summarize, timeline_json, timeline_of
from tests.projections.builders import NOW, Log
from tests.projections.timelines import WGA, wga
from tests.strategies import any_event

D = dt.date
PDT = dt.timezone(dt.timedelta(hours=-7))


@pytest.fixture(scope="module")
def history() -> History:
    return wga().history()


def test_range_includes_both_days(history: History) -> None:
    """``start``/``end`` dates include all of both days, in valid-time order."""
    entries = timeline_of(history, start=D(2023, 9, 20), end=D(2023, 9, 27))
    assert [e.id for e in entries] == ["w-pay-2", "w-ta", "w-strike-end"]
    assert [e.date for e in entries] == [D(2023, 9, 20), D(2023, 9, 24), D(2023, 9, 27)]


def test_open_ended_ranges(history: History) -> None:
    """Without bounds the whole timeline is listed; one bound cuts one end."""
    everything = timeline_of(history)
    assert len(everything) == len(history)
    assert [e.id for e in everything][:2] == ["open", "w-talks-1"]
    assert [e.id for e in timeline_of(history, start=D(2023, 9, 27))] == ["w-strike-end", "w-ratified"]
    assert [e.id for e in timeline_of(history, end=D(2023, 3, 20))] == ["open", "w-talks-1", "w-pay-1", "w-ai-1"]
    assert timeline_of(history, start=dt.datetime(2023, 9, 27, 0, 2, tzinfo=PDT), end=D(2023, 10, 1)) == []


def test_entries_are_in_valid_time_not_append_order(history: History) -> None:
    """amptp's Aug 11 offer, recorded Aug 22, sits on Aug 11 in the timeline."""
    ids = [e.id for e in timeline_of(history, start=D(2023, 8, 11), end=D(2023, 8, 22))]
    assert ids == ["w-resume", "a-pay-2", "a-st-1"]


def test_known_at_hides_what_was_not_known_yet(history: History) -> None:
    """As known on Aug 12, the Aug 11 offer is not in the timeline."""
    ids = [e.id for e in timeline_of(history, start=D(2023, 8, 11), end=D(2023, 8, 22), known_at=D(2023, 8, 12))]
    assert ids == ["w-resume"]


def test_summaries(history: History) -> None:
    """Each entry has a one-line human summary naming parties and issues by id."""
    summaries = {e.id: e.summary for e in timeline_of(history)}
    assert summaries["w-strike"] == "wga called a strike"
    assert summaries["a-pay-2"] == "amptp proposed on wages: 5% / 4% / 3.5% (5 percent)"
    assert summaries["w-pay-2"] == "wga proposed on wages: 5.5% / 4% / 3.5% (5.5 percent)"
    assert summaries["w-ai-1"] == "wga proposed on ai: AI is not a writer"
    assert summaries["a-rej-ai"] == "amptp rejected proposal w-ai-1 on ai"
    assert summaries["w-ta"] == "tentative agreement reached on ai, wages"
    assert summaries["w-ratified"] == "wga members ratified the agreement (98.9% yes)"
    assert summaries["w-st-1"] == "wga said (to members): Pencils down."
    assert summaries["w-susp"] == "talks suspended by amptp"
    assert summaries["open"] == "negotiation opened: WGA-AMPTP 2023 (wga, amptp)"


def test_entry_times_are_local(history: History) -> None:
    """``at`` is in the negotiation's zone; ``recorded_at`` is as stored."""
    (entry,) = [e for e in timeline_of(history) if e.id == "w-strike"]
    assert entry.at.utcoffset() == dt.timedelta(hours=-7)
    assert entry.at == dt.datetime(2023, 5, 2, 0, 1, tzinfo=PDT)
    assert entry.recorded_at == dt.datetime(2023, 5, 2, 8, 0, tzinfo=PDT)
    assert (entry.party, entry.type, entry.seq) == ("wga", "strike.called", 9)


def test_retracted_events_leave_the_timeline_once_known() -> None:
    """A retracted event is listed until its retraction is recorded, then only the retraction."""
    log = Log("r")
    log.open("2023-03-20")
    log.add("statement.issued", "s1", "2023-03-21", by="wga", text="We will strike.")
    log.add("event.retracted", "r1", "2023-03-25", target="s1", reason="misattributed")
    history = log.history()
    assert [e.id for e in timeline_of(history, known_at=D(2023, 3, 24))] == ["open", "s1"]
    assert [e.id for e in timeline_of(history)] == ["open", "r1"]
    assert timeline_of(history)[-1].summary == "retracted s1: misattributed"


def test_summary_is_one_line_for_any_text() -> None:
    """Newlines and other line breaks in free text collapse to single spaces."""
    log = Log("t")
    log.open("2023-01-01")
    log.add("statement.issued", "s1", "2023-01-02", by="wga", text="line one\nline\u2028two\r\n  three ")
    (entry,) = statements_of(log.history(), now=NOW)
    assert entry.summary == "wga said: line one line two three"


@settings(max_examples=200)
@given(any_event())
def test_every_event_summarizes_to_one_nonempty_line(event: Event) -> None:
    """Whatever the free text, a summary is one non-empty line."""
    summary = summarize(event)
    assert summary
    assert len(summary.splitlines()) == 1


def test_statements_by_party_and_time(history: History) -> None:
    """Statements up to ``as_of``, by one party if asked, oldest first."""
    assert [e.id for e in statements_of(history, now=NOW)] == ["w-st-1", "a-st-1"]
    assert [e.id for e in statements_of(history, party="amptp", now=NOW)] == ["a-st-1"]
    assert [e.id for e in statements_of(history, as_of=D(2023, 8, 21), now=NOW)] == ["w-st-1"]
    assert [e.id for e in statements_of(history, known_at=D(2023, 5, 2), now=NOW)] == ["w-st-1"]
    with pytest.raises(NotOpenedError):
        statements_of(history, as_of=D(2023, 1, 1), now=NOW)


def test_timeline_json(history: History) -> None:
    """Each JSON event carries its local time and date, id, type, actor, summary and recorded_at."""
    answer = timeline_json(timeline_of(history, start=D(2023, 5, 2), end=D(2023, 5, 2)))
    assert answer == {
        "negotiation": WGA,
        "events": [
            {
                "occurred_at": "2023-05-02T00:01:00-07:00",
                "date": "2023-05-02",
                "id": "w-strike",
                "type": "strike.called",
                "by": "wga",
                "summary": "wga called a strike",
                "recorded_at": "2023-05-02T08:00:00-07:00",
            },
            {
                "occurred_at": "2023-05-02T09:00:00-07:00",
                "date": "2023-05-02",
                "id": "w-st-1",
                "type": "statement.issued",
                "by": "wga",
                "summary": "wga said (to members): Pencils down.",
                "recorded_at": "2023-05-02T09:00:00-07:00",
            },
        ],
    }
    assert timeline_json([], negotiation=WGA) == {"negotiation": WGA, "events": []}
    statements = statements_json(statements_of(history, party="wga", now=NOW))["statements"]
    assert [(s["text"], s["audience"]) for s in statements] == [("Pencils down.", "members")]
