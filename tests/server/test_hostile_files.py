"""The hostile files of the command line (issue 12), posted to ``POST /v1/events`` of a real server.

Every case of ``tests/reliability/hostile.py`` and the round-two cases that
apply over HTTP (NUL, non-characters, integers beyond 64 bits, a line just over
the limit) is posted as the same file the CLI refuses, to a live
``negotiation serve`` on SQLite and PostgreSQL holding the same ``BASE``. Each
answer has the contract's status (422 with an ``errors`` list naming the line,
the id and the rule the CLI's ``verify`` names for the same file; 413 for an
over-long line; 415 for a body that is not JSON Lines or an array), is an
``application/problem+json`` document without a traceback or a raw control
character, never a 5xx, and the store is unchanged. Accepted markup and
terminal escapes come back JSON-escaped; a Hypothesis test round-trips the full
Unicode range through the server.
"""

from __future__ import annotations

import itertools
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import structlog
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import event as note_outcome
from hypothesis import strategies as st

from events.converter import FORBIDDEN_CHARACTERS
from negotiation import Negotiations
from negotiation.cli import cli
from tests.reliability.helpers import error_lines
from tests.reliability.hostile import (
    BASE,
    BASE_NEGOTIATION,
    CASES,
    INJECTION,
    STATEMENT,
    VALID_TAIL,
    Case,
    base_bytes,
    event,
    file_for,
    line,
)
from tests.server.conftest import BACKENDS, fresh_db
from tests.server.live import READ_TOKEN, WRITE_TOKEN, LiveServer, write_tokens

LINES = "application/x-ndjson"
PROBLEM = "application/problem+json"
MAX_LINE = 1024 * 1024
"""The server's (and the CLI's) default line limit."""
REFUSAL = re.compile(r"(?P<path>.+):(?P<line>\d+): (?P<id>.+?): (?P<reason>.+) \[rule: (?P<rule>[a-z-]+)\]")
RAW_CONTROLS = re.compile(rb"[\x00-\x1f\x7f]|\xc2[\x80-\x9f]")
"""What a problem document must not hold raw: C0 controls (newline included), DEL, C1 controls."""


def _text(text: str, event_id: str = "st") -> bytes:
    """The statement ``STATEMENT`` with ``id`` and ``data.text`` changed."""
    return line({**STATEMENT, "id": event_id, "data": {**STATEMENT["data"], "text": text}})


def _over_limit() -> bytes:
    """A statement line of exactly ``MAX_LINE + 1`` bytes."""
    short = _text("")
    return _text("x" * (MAX_LINE + 1 - len(short)))


_PROPOSAL = line(
    event(
        "p",
        "proposal.made",
        "2024-01-16",
        {"by": "ufw", "issue": "pay", "terms": "t", "value": {"amount": 12345, "unit": "%"}},
    )
)
BIG = str(2**70).encode()

ROUND_TWO: tuple[Case, ...] = (
    Case(name="nul-escaped", raw=_text("5%\x00 a year"), event_id="st", rule="format", reason="NUL"),
    Case(name="non-character-fdd0", raw=_text("5%\ufdd0"), event_id="st", rule="format", reason="non-character"),
    Case(name="non-character-fffe", raw=_text("\ufffe"), event_id="st", rule="format", reason="non-character"),
    Case(name="non-character-10ffff", raw=_text("x\U0010ffff"), event_id="st", rule="format", reason="non-character"),
    Case(name="surrogate-escaped-low", raw=_text("\\udfff").replace(b"\\\\", b"\\"), event_id="st", rule="format"),
    Case(name="amount-2-70", raw=_PROPOSAL.replace(b"12345", BIG), event_id="p", rule="format", reason="too large"),
    Case(
        name="share-2-70",
        raw=line(event("v", "strike.authorized", "2024-01-16", {"by": "ufw", "yes_share": 7})).replace(
            b"7}", BIG + b"}"
        ),
        event_id="v",
        rule="format",
    ),
    Case(
        name="schema-2-70",
        raw=_text("ok").replace(b'"data"', b'"schema":' + BIG + b',"data"'),
        event_id="st",
        rule="format",
    ),
    Case(name="line-limit-plus-1", raw=_over_limit(), event_id="st", rule="format", reason="too long"),
)
"""Round two (``test_hostile_round_two.py``) as lines of a posted file."""

ALL = (*CASES, *ROUND_TWO)
TOO_LARGE = {"line-10mb", "line-limit-plus-1"}


@pytest.fixture(scope="module", params=BACKENDS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, postgres_error: str | None
) -> Iterator[LiveServer]:
    """A server per backend holding ``BASE``."""
    directory = tmp_path_factory.mktemp("hostile-http")
    with fresh_db(request.param, directory, postgres_error) as url:
        live = LiveServer.start(url, tokens=write_tokens(directory / "tokens.txt"))
        try:
            with live.client(WRITE_TOKEN) as client:
                stored = client.post("/v1/events", content=base_bytes(), headers={"Content-Type": LINES})
            assert stored.status_code == 201, stored.text
            yield live
        finally:
            live.stop()


@pytest.fixture(scope="module")
def cli_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite store holding ``BASE``, for the CLI's ``verify`` of the same files."""
    directory = tmp_path_factory.mktemp("hostile-cli")
    log = directory / "base.jsonl"
    log.write_bytes(base_bytes())
    db = directory / "base.db"
    with Negotiations(str(db)) as app:
        assert app.import_files([log]).stored == len(BASE)
    return db


def stored(live: LiveServer) -> bytes:
    """Every stored event, as ``GET /v1/events?after=0`` answers them."""
    with live.client(READ_TOKEN) as client:
        response = client.get("/v1/events", params={"after": 0, "limit": 10000})
    assert response.status_code == 200
    return response.content


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """The problem document of ``response``, checked: status, media type, no traceback, no raw control."""
    assert response.status_code == status, (response.status_code, response.content[:2000])
    assert response.headers["content-type"].startswith(PROBLEM)
    assert b"Traceback" not in response.content
    assert not RAW_CONTROLS.search(response.content), response.content[:2000]
    document: dict[str, Any] = orjson.loads(response.content)
    assert document["status"] == status
    return document


def cli_refusal(store: Path, path: Path) -> dict[str, str]:
    """The one refusal of ``negotiation verify`` for the file at ``path`` (in-process; logging put back after)."""
    saved = structlog.get_config()
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    try:
        result = CliRunner().invoke(
            cli, ["--db", str(store), "verify", str(path)], env={"COLUMNS": "400", "NEGOTIATION_DB": None}
        )
    finally:
        structlog.configure(**saved)
        root.setLevel(level)
        root.handlers[:] = handlers
    assert result.exit_code == 1, (result.exit_code, result.stderr)
    lines = error_lines(result.stderr_bytes)
    assert len(lines) == 1, lines
    found = REFUSAL.fullmatch(lines[0])
    assert found is not None, lines[0]
    return found.groupdict()


@pytest.mark.parametrize("case", ALL, ids=[case.name for case in ALL])
def test_hostile_file_is_refused_like_the_cli(case: Case, server: LiveServer, cli_store: Path, tmp_path: Path) -> None:
    """The CLI's hostile file: 422 naming the line, id and rule ``verify`` names (413 over the line limit)."""
    data, number = file_for(case)
    path = tmp_path / "hostile.jsonl"
    path.write_bytes(data)
    expected = cli_refusal(cli_store, path)
    assert int(expected["line"]) == number
    assert expected["id"] == (case.event_id or "-")
    assert expected["rule"] == case.rule
    before = stored(server)
    with server.client(WRITE_TOKEN) as client:
        response = client.post("/v1/events", content=data, headers={"Content-Type": LINES})
    assert response.status_code < 500
    if case.name in TOO_LARGE:
        document = problem(response, 413)
        assert f"line {number} " in document["detail"]
    else:
        document = problem(response, 409 if case.rule == "unique-id" else 422)
        errors = document["errors"]
        assert len(errors) == 1, errors
        assert errors[0]["line"] == number
        assert (errors[0]["id"] or "-") == expected["id"]
        assert errors[0]["rule"] == expected["rule"]
        assert case.reason in errors[0]["reason"]
        if errors[0]["reason"].isprintable() and case.rule != "recorded-after-occurred":
            # the same reason (the CLI escapes control characters for the terminal; "now" differs)
            assert errors[0]["reason"] == expected["reason"]
    assert stored(server) == before


HOSTILE_LINES = [case.raw for case in ALL if case.rule == "format" and not case.setup and case.name not in TOO_LARGE]
"""The lines refused by their format alone, without the store."""


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("text/plain", base_bytes()),
        ("application/json", b"this is not json"),
        ("application/json", b'{"id": "a"}'),
        ("application/json", b'["\xff\xfe"]'),
        ("application/json", b"[" * 100_000 + b"]" * 100_000),
        ("application/json", b"[" + _text("\x1b[2J\x00").replace(b"\\u0000", b"\x00") + b"]"),
        ("application/xml", b"<events/>"),
    ],
    ids=["text-plain", "not-json", "object", "invalid-utf8", "nested-100k", "raw-controls", "xml"],
)
def test_a_body_that_is_not_lines_or_an_array_is_415(content_type: str, body: bytes, server: LiveServer) -> None:
    """Not JSON Lines nor a JSON array: 415, one clean problem document, nothing stored."""
    before = stored(server)
    with server.client(WRITE_TOKEN) as client:
        response = client.post("/v1/events", content=body, headers={"Content-Type": content_type})
    problem(response, 415)
    assert stored(server) == before


def test_every_hostile_line_at_once_names_each_line(server: LiveServer) -> None:
    """All format refusals of one body together: each named by its line, none stored, no raw control."""
    body = b"".join(raw + b"\n" for raw in (*VALID_TAIL, *HOSTILE_LINES))
    before = stored(server)
    with server.client(WRITE_TOKEN) as client:
        response = client.post("/v1/events", content=body, headers={"Content-Type": LINES})
    document = problem(response, 422)
    first = len(VALID_TAIL) + 1
    assert [(e["line"], e["rule"]) for e in document["errors"]] == [
        (number, "format") for number in range(first, first + len(HOSTILE_LINES))
    ]
    assert stored(server) == before


_ids = itertools.count()


def test_markup_and_escapes_come_back_json_escaped(server: LiveServer) -> None:
    """Accepted text with markup, ESC, OSC, BEL, CSI and bidi: stored as given, escaped in every GET answer."""
    event_id = f"inj-{next(_ids)}"
    with server.client(WRITE_TOKEN) as client:
        response = client.post("/v1/events", content=_text(INJECTION, event_id), headers={"Content-Type": LINES})
    assert response.status_code == 201, response.text
    position = response.json()["positions"][0]
    with server.client(READ_TOKEN) as client:
        answer = client.get("/v1/events", params={"after": position - 1, "limit": 1})
        timeline = client.get(f"/v1/negotiations/{BASE_NEGOTIATION}/timeline")
    assert answer.status_code == 200
    assert not re.search(rb"[\x00-\x1f]", answer.content.rstrip(b"\n")), answer.content
    assert b"\\u001b[31mRED" in answer.content
    assert orjson.loads(answer.content)["data"]["text"] == INJECTION
    assert timeline.status_code == 200
    assert not re.search(rb"[\x00-\x09\x0b-\x1f]", timeline.content), timeline.content[:2000]


# --- the full Unicode range, round trip -----------------------------------------------


@pytest.fixture(scope="module")
def sqlite_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A SQLite server holding ``BASE``."""
    directory = tmp_path_factory.mktemp("unicode-http")
    with fresh_db("sqlite", directory, None) as url:
        live = LiveServer.start(url, tokens=write_tokens(directory / "tokens.txt"))
        try:
            with live.client(WRITE_TOKEN) as client:
                assert (
                    client.post("/v1/events", content=base_bytes(), headers={"Content-Type": LINES}).status_code == 201
                )
            yield live
        finally:
            live.stop()


ANY_CHARACTER = st.characters(min_codepoint=0, max_codepoint=0x10FFFF, exclude_categories=())


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(ANY_CHARACTER, min_size=1, max_size=40), title=st.text(ANY_CHARACTER, max_size=20))
def test_any_unicode_text_round_trips_or_is_refused(text: str, title: str, sqlite_server: LiveServer) -> None:
    """201 and ``GET /v1/events`` gives back exactly the text; or 422 (NUL, lone surrogate, non-character)."""
    event_id = f"u-{next(_ids)}"
    obj = {**STATEMENT, "id": event_id, "data": {**STATEMENT["data"], "text": text}, "source": {"title": title}}
    raw = json.dumps(obj, ensure_ascii=True).encode()  # lone surrogates as \\udXXX escapes
    with sqlite_server.client(WRITE_TOKEN) as client:
        response = client.post("/v1/events", content=raw, headers={"Content-Type": LINES})
    assert response.status_code in (201, 422), (response.status_code, response.text)
    note_outcome(f"answer {response.status_code}")
    if FORBIDDEN_CHARACTERS.search(text + title):
        document = problem(response, 422)
        assert [(e["line"], e["id"], e["rule"]) for e in document["errors"]] == [(1, event_id, "format")]
        return
    assert response.status_code == 201, response.text
    position = response.json()["positions"][0]
    with sqlite_server.client(READ_TOKEN) as client:
        answer = client.get("/v1/events", params={"after": position - 1, "limit": 1})
    back = orjson.loads(answer.content)
    assert back["id"] == event_id
    assert back["data"]["text"] == text
    assert back.get("source", {}).get("title", "") == title
