"""Hostile input, round two (issue 12): the eight ways in that the first round left open.

Each test here failed before its fix. The store URL, time and Unicode fuzzing
is in ``test_fuzz.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from events import InvalidEventError, parse_event, parse_line
from events.converter import FORBIDDEN_CHARACTERS
from negotiation import Negotiations
from tests.negotiation.helpers import NEGOTIATION, opened, statement
from tests.reliability.helpers import error_lines, export, run

OPENED: dict[str, Any] = {
    "id": "o1",
    "type": "negotiation.opened",
    "negotiation": "n1",
    "occurred_at": "2023-01-01",
    "data": {
        "title": "T",
        "parties": [{"id": "u", "name": "U", "role": "union"}, {"id": "e", "name": "E", "role": "employer"}],
        "issues": [{"id": "pay", "title": "Pay"}],
        "timezone": "UTC",
    },
}


def proposal(terms: str, event_id: str = "p1") -> dict[str, Any]:
    """A ``proposal.made`` line of negotiation ``n1`` with ``terms``."""
    return {
        "id": event_id,
        "type": "proposal.made",
        "negotiation": "n1",
        "occurred_at": "2023-01-02",
        "data": {"by": "u", "issue": "pay", "terms": terms},
    }


def jsonl(*objects: dict[str, Any]) -> bytes:
    """JSON Lines of ``objects``."""
    return b"".join(orjson.dumps(o) + b"\n" for o in objects)


# --- 1. NUL, lone surrogates and non-characters are refused at the door --------------

FORBIDDEN_TEXTS = {
    "nul": ("5%\u0000 a year", "NUL (U+0000)"),
    "non-character-fdd0": ("5%\ufdd0", "a Unicode non-character (U+FDD0)"),
    "non-character-fffe": ("\ufffe", "a Unicode non-character (U+FFFE)"),
    "non-character-10ffff": ("x\U0010ffff", "a Unicode non-character (U+10FFFF)"),
}


@pytest.mark.parametrize("name", sorted(FORBIDDEN_TEXTS))
def test_forbidden_character_is_refused_on_every_store(name: str, store_url: str, tmp_path: Path) -> None:
    """``"terms": "5%\\u0000 a year"`` (issue 12, point 1): one line naming line, event id and field; nothing stored."""
    text, what = FORBIDDEN_TEXTS[name]
    log = tmp_path / "hostile.jsonl"
    log.write_bytes(jsonl(OPENED, proposal(text)))
    if store_url == "memory:":
        with Negotiations(store_url) as app:
            report = app.import_files([log])
            assert not report.stored
            assert [str(r) for r in report.refused] == [
                f"{log}:2: p1: data.terms: string holds {what} at character {_position(text)} "
                "(expected text without NUL, lone surrogates or Unicode non-characters) [rule: format]"
            ]
            assert not app.negotiation_ids()
        return
    result = run("--db", store_url, "import", log)
    assert result.returncode == 1
    lines = error_lines(result.stderr)
    assert lines[0] == (
        f"{log}:2: p1: data.terms: string holds {what} at character {_position(text)} "
        "(expected text without NUL, lone surrogates or Unicode non-characters) [rule: format]"
    )
    assert export(store_url) == b""


def _position(text: str) -> int:
    """The 1-based position of the first forbidden character of ``text``."""
    return next(i for i, c in enumerate(text, 1) if FORBIDDEN_CHARACTERS.fullmatch(c))


@pytest.mark.parametrize(
    ("obj", "path"),
    [
        ({**OPENED, "source": {"title": "a\u0000b"}}, "source.title"),
        ({**OPENED, "data": {**OPENED["data"], "title": "\ufdef"}}, "data.title"),
        (
            {
                **OPENED,
                "data": {
                    **OPENED["data"],
                    "parties": [*OPENED["data"]["parties"], {"id": "m", "name": "\0", "role": "mediator"}],
                },
            },
            "data.parties[2].name",
        ),
        ({**OPENED, "data": {**OPENED["data"], "issues": [{"id": "pay", "title": "P\ud800"}]}}, "data.issues[0].title"),
        ({**OPENED, "data": {**OPENED["data"], "timezone": "UTC\0"}}, "data.timezone"),
    ],
)
def test_every_string_field_is_checked(obj: dict[str, Any], path: str) -> None:
    """Envelope, data, nested objects and arrays alike: the path names the field."""
    with pytest.raises(InvalidEventError) as raised:
        parse_event(obj)
    assert raised.value.path == path
    assert raised.value.event_id == "o1"
    assert "\n" not in str(raised.value)


def test_escaped_and_raw_forms_are_both_refused() -> None:
    """``\\u0000`` and ``\\ufdd0`` escaped, and the raw UTF-8 of a non-character, in a line."""
    for raw in (
        b'{"id":"p1","type":"proposal.made","negotiation":"n1","occurred_at":"2023-01-02","data":{"by":"u","issue":"pay","terms":"\\u0000"}}',
        b'{"id":"p1","type":"proposal.made","negotiation":"n1","occurred_at":"2023-01-02","data":{"by":"u","issue":"pay","terms":"\\ufdd0"}}',
        '{"id":"p1","type":"proposal.made","negotiation":"n1","occurred_at":"2023-01-02","data":{"by":"u","issue":"pay","terms":"\U0001fffe"}}'.encode(),
    ):
        with pytest.raises(InvalidEventError, match=r"data\.terms: string holds"):
            parse_line(raw)


def test_facade_refuses_a_forbidden_character(store_url: str) -> None:
    """A Python caller's event holding NUL is an ``InvalidEventError``; nothing of the batch is stored."""
    with Negotiations(store_url) as app:
        with pytest.raises(InvalidEventError, match=r"data\.text: string holds NUL"):
            app.append([opened("o"), statement("s", 1, text="a\0b")])
        assert not app.negotiation_ids()


def test_other_controls_and_bidi_are_stored_faithfully(app: Negotiations) -> None:
    """Only NUL and the non-characters are refused: other controls and bidi overrides are text, stored as given."""
    text = "\x01\x1b[31m\u202e\u2066\x7f\x85\u2028"
    app.append([opened("o"), statement("s", 1, text=text)])
    stored = app.stored_events(NEGOTIATION)[-1]
    assert getattr(stored, "text") == text  # noqa: B009 - Event has no text; the statement has


# --- 6. the Python API refuses foreign objects with InvalidEventError ------------------


@pytest.mark.parametrize(
    "batch",
    [[{"id": "x"}], [None], "abc", b"abc", {"id": "x"}, None, 42, [opened("o"), "x"]],
    ids=["dict", "none-item", "str", "bytes", "mapping", "none", "int", "event-then-str"],
)
@pytest.mark.parametrize("method", ["append", "verify"])
def test_append_refuses_what_is_not_an_event(batch: Any, method: str, store_url: str) -> None:
    """``append([{"id": "x"}])``, ``append([None])``, ``append("abc")`` (issue 12, point 6).

    An ``InvalidEventError`` in one line, and nothing stored.
    """
    with Negotiations(store_url) as app:
        with pytest.raises(InvalidEventError) as raised:
            getattr(app, method)(batch)
        assert "\n" not in str(raised.value)
        assert not app.negotiation_ids()
