"""The server's modules in-process: tokens, body parsing, parameters, problem documents, the access log."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest
from litestar.testing import TestClient
from structlog.testing import capture_logs

from events.converter import Limits, parse_event
from negotiation import Negotiations
from negotiation.core.errors import ExpectedVersionError
from negotiation.problems import (
    BadRequestError,
    BodyTooLargeError,
    ForbiddenError,
    UnauthorizedError,
    UnsupportedBodyError,
)
from negotiation.server.accesslog import AccessLog
from negotiation.server.app import create_app
from negotiation.server.auth import TokenFileError, Tokens, parse_tokens
from negotiation.server.body import parse_body, read_body
from negotiation.server.params import moment, position_header
from negotiation.server.problem import RefusalsError, document, render
from negotiation.server.settings import ServerSettings
from tests.server.events import jsonl, negotiation_lines, opened


def test_token_file_lines() -> None:
    tokens = parse_tokens("# c\n\nabc write alice\n def read \n")
    assert [(t.scope, t.name) for t in tokens] == [("write", "alice"), ("read", "line-4")]
    assert all("abc" not in repr(t) for t in tokens)
    for bad in ["abc", "abc admin", "a b c d"]:
        with pytest.raises(TokenFileError) as e:
            parse_tokens(bad, source="t.txt")
        assert "t.txt:1:" in str(e.value)
        assert "abc" not in str(e.value).replace("t.txt", "")


def test_authorize() -> None:
    tokens = Tokens(parse_tokens("wtok write w\nrtok read r\n"))
    assert tokens.authorize("Bearer wtok", "write") == "w"
    assert tokens.authorize("bearer rtok", "read") == "r"
    assert tokens.authorize(None, None) is None
    with pytest.raises(ForbiddenError):
        tokens.authorize("Bearer rtok", "write")
    for header in [None, "", "Bearer", "Bearer wrong", "Basic wtok", "wtok"]:
        with pytest.raises(UnauthorizedError):
            tokens.authorize(header, "read")
    open_service = Tokens(None)
    assert open_service.authorize(None, "read") is None
    with pytest.raises(ForbiddenError):
        open_service.authorize("Bearer wtok", "write")


def test_token_file_unreadable(tmp_path: Path) -> None:
    with pytest.raises(TokenFileError):
        Tokens.load(str(tmp_path / "missing.txt"))


async def _chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


def test_read_body_stops_at_the_limit() -> None:
    assert asyncio.run(read_body(_chunks(b"ab", b"cd"), content_length=None, limit=4)) == b"abcd"
    with pytest.raises(BodyTooLargeError):
        asyncio.run(read_body(_chunks(b"ab", b"cde"), content_length=None, limit=4))
    with pytest.raises(BodyTooLargeError):
        asyncio.run(read_body(_chunks(), content_length="5", limit=4))
    with pytest.raises(BadRequestError):
        asyncio.run(read_body(_chunks(), content_length="x", limit=4))


def test_parse_body_numbers_lines_and_reports_every_bad_one() -> None:
    lines = jsonl(negotiation_lines("p-1", 3))
    body = b"# comment\n\n" + lines + b"{bad\n" + b'{"id": 1}\n'
    with pytest.raises(RefusalsError) as e:
        parse_body(body, content_type="application/x-ndjson", limits=Limits())
    assert [r.line for r in e.value.refusals] == [6, 7]
    batch = parse_body(b"# c\n" + lines, content_type=None, limits=Limits())
    assert [n for n, _ in batch] == [2, 3, 4]
    as_array = orjson.dumps(negotiation_lines("p-1", 2))
    assert [n for n, _ in parse_body(as_array, content_type="application/json; charset=utf-8", limits=Limits())] == [
        1,
        2,
    ]
    with pytest.raises(UnsupportedBodyError):
        parse_body(b"{}", content_type="application/json", limits=Limits())
    with pytest.raises(UnsupportedBodyError):
        parse_body(lines, content_type="text/plain", limits=Limits())
    with pytest.raises(BodyTooLargeError):
        parse_body(lines, content_type=None, limits=Limits(max_line_bytes=50))


def test_parameters() -> None:
    assert str(moment("at", "2023-08-11")) == "2023-08-11"
    assert moment("at", "2023-08-11T09:30:00Z").utcoffset() is not None
    for bad in ["2023-08-11T09:30:00", "2023-02-30", "yesterday", ""]:
        with pytest.raises(ValueError, match="at: not a date"):
            moment("at", bad)
    for far in ["9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+05:00", "9999-12-31"]:
        with pytest.raises(ValueError, match="known_at: out of range"):
            moment("known_at", far)
    assert position_header("Last-Event-ID", " 42 ") == 42
    assert position_header("Last-Event-ID", None) is None
    for bad in ["-1", "4 2", "x", "1\nevent: x", "9" * 30]:
        with pytest.raises(BadRequestError):
            position_header("Last-Event-ID", bad)


def test_problem_documents() -> None:
    body, headers = render(document(ExpectedVersionError("n", expected=1, actual=3)))
    assert orjson.loads(body)["current_version"] == 3
    assert orjson.loads(body)["status"] == 409
    body, headers = render(document(UnauthorizedError("no")))
    assert headers["WWW-Authenticate"].startswith("Bearer")
    body, _ = render(document(KeyError("secret internals")))
    assert orjson.loads(body)["status"] == 500
    assert b"secret internals" not in body


def test_the_access_log_names_the_token(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens.txt"
    tokens.write_text("very-secret-token read dashboard\n", encoding="utf-8")
    with Negotiations("memory:") as app:
        app.append([parse_event(opened("a-1"))])
        asgi = AccessLog(create_app(ServerSettings(token_file=str(tokens)), negotiations=app))
        with capture_logs() as logs, TestClient(app=asgi) as client:  # type: ignore[arg-type]
            ok = client.get("/v1/negotiations/a-1/status", headers={"Authorization": "Bearer very-secret-token"})
            missing = client.get("/v1/negotiations/a-1/status")
    assert ok.status_code == 200
    assert missing.status_code == 401
    lines = [line for line in logs if line["event"] == "http.request"]
    assert [(line["route"], line["status"], line["token"]) for line in lines] == [
        ("/v1/negotiations/{negotiation}/status", 200, "dashboard"),
        ("/v1/negotiations/{negotiation}/status", 401, None),
    ]
    assert lines[0]["request_id"] == ok.headers["x-request-id"]
    assert "very-secret-token" not in repr(logs)


def test_the_chart_is_read_from_the_worker_tables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 11: the chart routes ask the worker's live ``Answers``: tables brought up to date, nothing folded."""
    from negotiation.queries import HistoryQueries
    from tests.charts.shapes import EXAMPLES

    def folded(*args: object, **kwargs: object) -> object:
        raise AssertionError("the chart was folded")

    tokens = tmp_path / "tokens.txt"
    tokens.write_text("reader-token read dashboard\n", encoding="utf-8")
    auth = {"Authorization": "Bearer reader-token"}
    wga = "wga-amptp-2023"
    late = {
        "id": "wga-late-statement",
        "type": "statement.issued",
        "negotiation": wga,
        "occurred_at": "2023-10-20",
        "data": {"by": "wga", "text": "A statement stored while the service runs.", "audience": "press"},
    }
    with Negotiations(f"sqlite:///{tmp_path / 'n.db'}") as app:
        app.import_files([EXAMPLES / "wga_amptp_2023.jsonl"])
        with TestClient(app=create_app(ServerSettings(token_file=str(tokens)), negotiations=app)) as client:
            for name in ("status", "positions", "timeline", "catalog", "gaps"):
                monkeypatch.setattr(HistoryQueries, name, folded)
            before = client.get(f"/v1/negotiations/{wga}/chart.svg", headers=auth)
            app.append([parse_event(late)])
            after = client.get(f"/v1/negotiations/{wga}/chart.svg", headers=auth)
            missing = client.get("/v1/negotiations/nope/chart.svg", headers=auth)
    assert before.status_code == 200, before.text
    assert "strike by wga: 148 days" in before.text
    assert "wga-late-statement" not in before.text
    assert after.status_code == 200, after.text
    assert "wga-late-statement" in after.text  # live: the tables took in the append before the chart was read
    assert missing.status_code == 404


def test_the_gap_is_read_from_the_worker_tables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 11: ``/gap`` reads the worker's live tables (the folds are never asked), the same document as the CLI's."""
    from negotiation.queries import HistoryQueries
    from projections.answers import gaps_json
    from tests.charts.shapes import EXAMPLES

    def folded(*args: object, **kwargs: object) -> object:
        raise AssertionError("the gaps were folded")

    tokens = tmp_path / "tokens.txt"
    tokens.write_text("reader-token read dashboard\n", encoding="utf-8")
    auth = {"Authorization": "Bearer reader-token"}
    wga = "wga-amptp-2023"
    late = {
        "id": "wga-late-offer",
        "type": "proposal.made",
        "negotiation": wga,
        "occurred_at": "2023-08-20",
        "data": {"by": "amptp", "issue": "wages", "terms": "5.25%", "value": {"amount": 5.25, "unit": "percent"}},
    }
    with Negotiations(f"sqlite:///{tmp_path / 'n.db'}") as app:
        app.import_files([EXAMPLES / "wga_amptp_2023.jsonl"])
        with TestClient(app=create_app(ServerSettings(token_file=str(tokens)), negotiations=app)) as client:
            monkeypatch.setattr(HistoryQueries, "gaps", folded)
            before = client.get(f"/v1/negotiations/{wga}/gap", params={"at": "2023-08-22"}, headers=auth)
            app.append([parse_event(late)])
            after = client.get(f"/v1/negotiations/{wga}/gap", params={"at": "2023-08-22"}, headers=auth)
            monkeypatch.undo()
            expected = gaps_json(app.gaps(wga, as_of=dt.date(2023, 8, 22)), negotiation=wga)
    assert before.status_code == 200, before.text
    assert [g["employer"]["amount"] for g in before.json()["gaps"]] == [5]
    assert after.status_code == 200, after.text
    assert after.json() == orjson.loads(orjson.dumps(expected))  # live: the late offer is in
    assert [g["employer"]["amount"] for g in after.json()["gaps"]] == [5.25]
