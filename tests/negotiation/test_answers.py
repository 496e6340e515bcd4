"""``negotiation.answers.Answers`` in live mode: tables brought up to date before each answer, pure path on failure."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

import pytest

from negotiation import NegotiationNotFoundError, Negotiations, StoreError
from negotiation import answers as answers_module
from negotiation.answers import Answers
from projections.answers import catalog_json, positions_json, status_json, stoppages_json, timeline_json
from tests.negotiation.helpers import NOW, at, opened, proposal, strike_called, strike_ended

KNOWN = NOW + dt.timedelta(days=1)


def _expected(app: Negotiations, name: str) -> tuple[object, ...]:
    """The pure answers (the facade's folds), as the JSON documents."""
    return (
        status_json(app.status(name, as_of=at(5), known_at=KNOWN)),
        positions_json(app.positions(name, as_of=at(5), known_at=KNOWN)),
        timeline_json(app.timeline(name, known_at=KNOWN), negotiation=name),
        catalog_json(app.catalog(as_of=at(5), known_at=KNOWN)),
        stoppages_json(app.stoppages(on=at(2.5), known_at=KNOWN), on=at(2.5)),
    )


def _asked(answers: Answers, name: str) -> tuple[object, ...]:
    return (
        answers.status(name, as_of=at(5), known_at=KNOWN),
        answers.positions(name, as_of=at(5), known_at=KNOWN),
        answers.timeline(name, known_at=KNOWN),
        answers.catalog(as_of=at(5), known_at=KNOWN),
        answers.stoppages(on=at(2.5), known_at=KNOWN),
    )


def _opening(name: str) -> list[object]:
    return [
        opened(f"{name}-open", 0, negotiation=name),
        proposal(f"{name}-p1", 1, negotiation=name),
        strike_called(f"{name}-strike", 2, negotiation=name),
    ]


def test_live_answers_see_what_another_writer_stored_since(tmp_path: Path) -> None:
    """Events stored after the answers were set up (here by another facade, as another worker) are answered."""
    url = f"sqlite:///{tmp_path / 'n.db'}"
    with Negotiations(url) as reader, Negotiations(url) as writer:
        writer.append(_opening("a"), now=NOW)
        answers = Answers(reader, live=True)
        try:
            assert answers.indexed
            assert _asked(answers, "a") == _expected(writer, "a")
            writer.append([*_opening("b"), strike_ended("a-end", 3, negotiation="a")], now=NOW)
            for name in ("a", "b"):
                assert _asked(answers, name) == _expected(writer, name)
            not_live = Answers(reader)
            try:  # without live, the tables stay where they were set up (the command line's one-shot answers)
                writer.append([proposal("b-p2", 4, negotiation="b")], now=NOW)
                assert not_live.positions("b", as_of=at(5), known_at=KNOWN) != _expected(writer, "b")[1]
                assert answers.positions("b", as_of=at(5), known_at=KNOWN) == _expected(writer, "b")[1]
            finally:
                not_live.close()
        finally:
            answers.close()


def test_refresh_is_one_position_read_when_nothing_is_new(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing new: the tables are not touched; something new: only then they are brought up to date."""
    with Negotiations(f"sqlite:///{tmp_path / 'n.db'}") as app:
        app.append(_opening("a"), now=NOW)
        answers = Answers(app, live=True)
        calls: list[int] = []
        real = answers_module.catch_up
        monkeypatch.setattr(answers_module, "catch_up", lambda models, *a: calls.append(1) or real(models, *a))
        try:
            for _ in range(3):
                assert answers.refresh()
            assert calls == []
            app.append([strike_ended("a-end", 3, negotiation="a")], now=NOW)
            assert answers.refresh()
            assert answers.refresh()
            assert calls == [1]
        finally:
            answers.close()


def test_a_failed_refresh_answers_that_call_from_the_event_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tables that cannot be brought up to date now: the pure answer, the same document; the next call tries again."""
    with Negotiations(f"sqlite:///{tmp_path / 'n.db'}") as app:
        app.append(_opening("a"), now=NOW)
        answers = Answers(app, live=True)
        try:
            app.append([strike_ended("a-end", 3, negotiation="a")], now=NOW)

            def refused(*args: object, **kwargs: object) -> int:
                raise StoreError("database is locked")

            monkeypatch.setattr(answers_module, "catch_up", refused)
            assert not answers.refresh()
            assert _asked(answers, "a") == _expected(app, "a")
            monkeypatch.undo()
            assert answers.refresh()
            assert answers.indexed
        finally:
            answers.close()


def test_live_answers_from_many_threads_while_another_writes(tmp_path: Path) -> None:
    """Threads share one live ``Answers`` while a writer appends: no errors, and the final answers are right."""
    url = f"sqlite:///{tmp_path / 'n.db'}"
    names = [f"n-{i}" for i in range(6)]
    with Negotiations(url) as reader, Negotiations(url) as writer:
        answers = Answers(reader, live=True)
        errors: list[BaseException] = []
        done = threading.Event()

        def ask() -> None:
            while not done.is_set():
                try:
                    answers.catalog(as_of=at(5), known_at=KNOWN)
                    answers.status(names[0], as_of=at(5), known_at=KNOWN)
                except Exception as e:  # noqa: BLE001 - NegotiationNotFoundError before the first append is fine
                    if type(e).__name__ != "NegotiationNotFoundError":
                        errors.append(e)

        threads = [threading.Thread(target=ask) for _ in range(4)]
        try:
            for thread in threads:
                thread.start()
            for name in names:
                writer.append(_opening(name), now=NOW)
        finally:
            done.set()
            for thread in threads:
                thread.join()
        try:
            assert errors == []
            for name in names:
                assert _asked(answers, name) == _expected(writer, name)
        finally:
            answers.close()


def test_an_id_that_is_not_a_slug_is_not_found_without_asking_the_tables(tmp_path: Path) -> None:
    """As the facade: an id no store can hold (NUL, upper case) is not found, on either path."""
    with Negotiations(f"sqlite:///{tmp_path / 'n.db'}") as app:
        answers = Answers(app, live=True)
        try:
            for odd in ("a\x00b", "A" * 300, "../etc"):
                for ask in (answers.status, answers.positions, answers.timeline):
                    with pytest.raises(NegotiationNotFoundError):
                        ask(odd)
        finally:
            answers.close()
