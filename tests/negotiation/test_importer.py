"""The importer checks each negotiation's lines as one batch, and one by one when a line is refused."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import attrs
import pytest
from eventsourcing.persistence import StoredEvent

from events import Event, render_line
from negotiation import Negotiations, importer
from tests.negotiation.helpers import EMPLOYER, NEGOTIATION, NOW, at, opened, statement, strike_called, strike_ended


def _write(path: Path, events: list[Event]) -> Path:
    path.write_bytes(b"".join(render_line(e) + b"\n" for e in events))
    return path


def _recorded(event: Event) -> Event:
    """The event with a ``recorded_at``, so that re-reading it gives equal events."""
    return attrs.evolve(event, recorded_at=at(30))


def test_a_file_valid_as_a_whole_is_stored_in_file_order(tmp_path: Path) -> None:
    """Lines out of valid-time order are accepted when the file's timeline is valid, and keep their order."""
    lines = [_recorded(e) for e in (opened("o", 0), strike_ended("end", 9), strike_called("call", 5))]
    with Negotiations("memory:") as app:
        report = app.import_files([_write(tmp_path / "f.jsonl", lines)], now=NOW)
        assert (report.stored, report.refused) == (3, ())
        assert [e.id for e in app.events(NEGOTIATION)] == ["o", "end", "call"]
        assert not app.history(NEGOTIATION).state().strikes


def test_every_refused_line_is_reported_and_nothing_is_stored(tmp_path: Path) -> None:
    """With refused lines, each is reported with its line number, and an atomic import stores nothing."""
    lines = [
        _recorded(e)
        for e in (
            opened("o", 0),
            strike_ended("no-strike", 2),
            statement("fine", 3),
            strike_called("by-employer", 4, by=EMPLOYER),
        )
    ]
    with Negotiations("memory:") as app:
        report = app.import_files([_write(tmp_path / "f.jsonl", lines)], now=NOW)
        assert [(r.line, r.event_id, r.rule) for r in report.refused] == [
            (2, "no-strike", "stoppage-running"),
            (4, "by-employer", "union-strikes"),
        ]
        assert report.stored == 0
        assert app.negotiation_ids() == []


def test_skip_invalid_stores_the_lines_that_pass_one_by_one(tmp_path: Path) -> None:
    """With ``skip_invalid`` the lines that pass, checked in file order, are stored."""
    lines = [_recorded(e) for e in (opened("o", 0), strike_ended("no-strike", 2), statement("fine", 3))]
    with Negotiations("memory:") as app:
        report = app.import_files([_write(tmp_path / "f.jsonl", lines)], skip_invalid=True, now=NOW)
        assert (report.stored, [r.event_id for r in report.refused]) == (2, ["no-strike"])
        assert [e.id for e in app.events(NEGOTIATION)] == ["o", "fine"]


class _OlderObserver:
    """An observer written before ``check_elsewhere``: ``checked`` of four arguments, nothing checked elsewhere."""

    def __init__(self) -> None:
        self.told: list[tuple[str, int, int, bytes | None]] = []
        self.positions: list[int] = []

    def begin(self, lines: int) -> None:
        pass

    def wants(self, base: int, events: int) -> bool:
        return True

    def checked(self, negotiation: str, base: int, events: int, lines: bytes | None) -> None:
        self.told.append((negotiation, base, events, lines))

    def stored(self, records: object, positions: list[int]) -> None:
        self.positions.extend(positions)


def test_an_observer_without_check_elsewhere_is_told_as_before(tmp_path: Path) -> None:
    lines = [_recorded(e) for e in (opened("o", 0), statement("s", 2))]
    observer = _OlderObserver()
    with Negotiations("memory:") as app:
        report = app.import_files([_write(tmp_path / "f.jsonl", lines)], now=NOW, observer=observer)  # type: ignore[arg-type]
    assert report.stored == 2
    assert observer.told == [(NEGOTIATION, 0, 2, b"\n".join(render_line(e) for e in lines))]
    assert len(observer.positions) == 2


def test_without_an_observer_no_lines_are_kept(tmp_path: Path) -> None:
    """The import alone keeps neither the lines nor the events of what it checks: only an observer asks for them."""
    kept: list[object] = []
    check_lines = importer._check_lines

    def noted(*args: object, **kwargs: object) -> importer.Outcome:
        outcome = check_lines(*args, **kwargs)  # type: ignore[arg-type]
        kept.append((outcome.lines, outcome.events))
        return outcome

    lines = [_recorded(e) for e in (opened("o", 0), statement("s", 2))]
    with pytest.MonkeyPatch.context() as patch, Negotiations("memory:") as app:
        patch.setattr(importer, "_check_lines", noted)
        assert app.import_files([_write(tmp_path / "f.jsonl", lines)], now=NOW).stored == 2
    assert kept == [(None, None)]


@pytest.mark.parametrize("pread", [True, False], ids=["pread", "seek-and-read"])
def test_lines_are_read_again_whole_at_their_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, pread: bool
) -> None:
    """The second pass reads each line at its offset and length: CRLF endings, blank lines, comments and
    interleaved negotiations give the events of a plain file (with or without ``os.pread``)."""
    if not pread:
        monkeypatch.setattr(importer, "_PREAD", None)
    elif importer._PREAD is None:
        pytest.skip("no os.pread on this platform")
    ours = [_recorded(e) for e in (opened("o", 0), statement("s1", 1), strike_called("call", 5), statement("s2", 6))]
    other = [attrs.evolve(e, negotiation="other-one") for e in ours[:2]]
    body = [render_line(ours[0]), b"", b"# a comment", render_line(other[0]), render_line(ours[1])]
    body += [render_line(other[1]) + b"  ", render_line(ours[2]), render_line(ours[3])]
    path = tmp_path / "crlf.jsonl"
    path.write_bytes(b"\r\n".join(body))  # (the last line has no ending at all)
    with Negotiations("memory:") as app:
        report = app.import_files([path], now=NOW)
        assert (report.stored, report.refused) == (6, ())
        assert app.events(NEGOTIATION) == ours
        assert app.events("other-one") == other


@pytest.mark.parametrize("db", ["memory:", "sqlite"])
def test_a_writer_storing_after_the_checks_of_an_empty_store_makes_the_import_check_again(
    tmp_path: Path, db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The checks of an empty store read no negotiation; one stored meanwhile is met by the next pass."""
    url = f"sqlite:///{tmp_path / 'store.db'}" if db == "sqlite" else db
    lines = [_recorded(e) for e in (opened("o", 0), statement("mine", 3))]
    with Negotiations(url) as app:
        asked: list[str] = []
        stored_events = app.stored_events

        def asking(negotiation: str) -> list[Event]:
            asked.append(negotiation)
            return stored_events(negotiation)

        put_stored = app.store.put_stored
        intruded: list[bool] = []

        def intruder_first(records: Sequence[StoredEvent]) -> list[int]:
            if not intruded:  # another writer opens the negotiation first, with events of its own
                intruded.append(True)
                app.append([_recorded(opened("o", 0)), _recorded(statement("theirs", 2))], now=NOW)
            return put_stored(records)

        monkeypatch.setattr(app, "stored_events", asking)
        monkeypatch.setattr(app.store, "put_stored", intruder_first)
        report = app.import_files([_write(tmp_path / "f.jsonl", lines)], now=NOW)
        monkeypatch.undo()
        assert asked == [NEGOTIATION], "the first pass asked nothing of the empty store; the second asked again"
        assert (report.stored, report.duplicates, report.refused) == (1, 1, ())
        assert [e.id for e in app.events(NEGOTIATION)] == ["o", "theirs", "mine"]
