"""Fuzzing hostile input (issue 12): store URLs, command-line moments, and every string field in full Unicode.

- Store URLs: any URL built of reserved characters, percent escapes, controls
  and non-ASCII resolves to a store or is one ``ConfigurationError`` line:
  printable, never holding the password, never another exception.
- Command-line moments: any ``--at``/``--known-at`` value, however extreme, is
  an answer (exit 0) or a usage error (exit 2) naming the accepted range, never
  an internal error.
- Unicode: one negotiation whose every text field (title, names, terms,
  notes, reasons, statements, source fields...) holds generated text from the
  whole Unicode range (NUL, lone surrogates, non-characters, bidi controls, C0
  and C1 controls, line separators, astral characters) is imported on each of
  the three stores. A line holding NUL, a lone surrogate or a non-character is
  refused (one line, rule ``format``) and nothing is stored; any other text is
  stored and comes back byte for byte from the export, the pure answers, the
  persisted read models and the command line's JSON, and the command line's
  tables print it without a raw control character.

Example counts are modest (the machine is shared); ``HYPOTHESIS_PROFILE=ci``
derandomizes them.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import json
import re
import unicodedata
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import orjson
import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from events import parse_line, render_line
from events.converter import FORBIDDEN_CHARACTERS
from negotiation import ConfigurationError, Negotiations
from negotiation.cli import cli
from negotiation.store.config import LIBPQ_ENV, resolve
from projections.answers import positions_json
from projections.persisted import ReadModels
from tests.strategies import FORBIDDEN

SECRET = "Sekr1tPw"  # noqa: S105 - a marker to look for in the output
UNSAFE = re.compile(rb"[\x00-\x08\x0b-\x1f\x7f]|\xc2[\x80-\x9f]|\xe2\x80[\xa8-\xae]|\xe2\x81[\xa6-\xa9]")
"""Raw controls a terminal acts on: C0 (but tab and newline), DEL, C1, line separators, bidi controls."""


FORMULA = ("=", "+", "-", "@", "\t", "\r")
FORMULA_SAFE = re.compile(r"[+-]?\d+(\.\d+)?([eE][+-]?\d+)?")
"""What a cell may start with only as a plain number (negotiation.tabular.csv_cell)."""


def invoke(*args: str | Path) -> Result:
    """``negotiation ARGS...`` in-process, not on a terminal."""
    env: dict[str, str | None] = {"COLUMNS": "400", "NEGOTIATION_DB": None, "FORCE_COLOR": None, "NO_COLOR": None}
    return CliRunner().invoke(cli, [str(a) for a in args], env=env)


# --- store URLs ------------------------------------------------------------------------

URL_PIECES = st.sampled_from(
    [
        ":",
        "/",
        "@",
        "?",
        "#",
        "[",
        "]",
        "%",
        "&",
        "=",
        ";",
        " ",
        "+",
        "\\",
        '"',
        "'",
        "%00",
        "%0a",
        "%1B",
        "%5B",
        "%40",
        "%2F",
        "%3A",
        "%zz",
        "%",
        "%e2%80%ae",
        "\x00",
        "\n",
        "\x1b",
        "\x7f",
        "\x85",
        "\u202e",
        "é",
        "\U0001f4a5",
        "localhost",
        "127.0.0.1",
        "[::1]",
        "5432",
        "99999",
        "-1",
        "db",
        "u",
        "schema=s",
        "sslmode=require",
        "connect_timeout=1",
        "connect_timeout=99999999999999999999",
        "user=x",
        "host=h",
        "nope=1",
        "application_name=a",
    ]
)
URL_TEXT = st.lists(URL_PIECES | st.text(max_size=3), max_size=6).map("".join)


@st.composite
def store_urls(draw: st.DrawFn) -> str:
    """A store URL of any of the forms, with hostile parts; a PostgreSQL one always carries ``SECRET`` as a password.

    In the authority, and maybe in the query too (``password=``, ``sslpassword=``, an encoded name).
    """
    scheme = draw(st.sampled_from(["postgresql://", "postgres://", "sqlite:///", "sqlite:", "", "memory:", "http://"]))
    if scheme.startswith("postgres"):
        user, host, port, db, query = (draw(URL_TEXT) for _ in range(5))
        secret = draw(st.sampled_from(["", "password=", "sslpassword=", "pass%77ord=", "PASSWORD="]))
        if secret:
            glue = "&" if query else ""
            query = f"{query}{glue}{secret}{SECRET}" if draw(st.booleans()) else f"{secret}{SECRET}{glue}{query}"
        password = draw(st.sampled_from(["", "a", "p[w", "a/b", "a@b", "a:b", "a#b", "a?b", "%5B", "x y"]))
        authority = f"{user}:{password}{SECRET}@{host}" + (f":{port}" if draw(st.booleans()) else "")
        return f"{scheme}{authority}/{db}" + (f"?{query}" if query else "")
    return scheme + draw(URL_TEXT)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(url=store_urls())
@example(url=f"postgresql:// /:{SECRET}@/")  # found by this test: white space in the user, the password in the path
def test_any_store_url_resolves_or_is_one_clean_line(url: str) -> None:
    """``resolve`` returns a store or raises ``ConfigurationError``: one printable line, the password masked."""
    try:
        config = resolve(url, environ={})
    except ConfigurationError as e:
        message = str(e)
        assert not any(unicodedata.category(c) in ("Cc", "Cs") for c in message), message
        assert SECRET not in message, message
        return
    for key, value in config.env.items():
        assert not any(unicodedata.category(c) in ("Cc", "Cs") for c in value), (key, value)
    if config.kind != "postgres":
        return  # a file path is no secret
    assert SECRET not in config.display, config.display
    assert SECRET not in repr(config)
    if config.kind == "postgres":
        assert SECRET not in config.mask(f"FATAL: {url}"), url  # a server message quoting the URL as given
        parameters = json.loads(config.env[LIBPQ_ENV])
        assert all(isinstance(v, str) and "\x00" not in v for v in parameters.values())
        assert 1 <= int(config.env["POSTGRES_CONNECT_TIMEOUT"]) <= 3600


@settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow])
@given(url=store_urls())
def test_refused_store_urls_through_the_command_line(url: str) -> None:
    """The command line prints a refused URL's error as one ``error:`` line, exit 1, no traceback, no secret."""
    try:
        resolve(url, environ={})
    except ConfigurationError:
        pass
    else:
        assume(False)  # only URLs refused before any connection: no example waits for a server
    result = invoke("--db", url, "list")
    assert result.exit_code == 1, (result.exit_code, result.stderr, result.exception)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.stderr
    assert SECRET not in result.stderr
    assert not UNSAFE.search(result.stderr_bytes), result.stderr_bytes


# --- command-line moments ----------------------------------------------------------------

OFFSETS = st.sampled_from(["Z", "z", "+00:00", "-05:00", "+05:00", "+14:00", "-23:59", "+23:59", "+24:00", "-00:00"])


@st.composite
def moments(draw: st.DrawFn) -> str:
    """What a user may type after ``--at``: dates, times with offsets, extremes, and junk."""
    kind = draw(st.sampled_from(["date", "time", "extreme", "text"]))
    if kind == "date":
        return draw(st.dates()).isoformat()
    if kind == "time":
        moment = draw(st.datetimes(min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 31, 23, 59, 59)))
        return moment.isoformat(timespec=draw(st.sampled_from(["seconds", "milliseconds", "microseconds"]))) + draw(
            OFFSETS
        )
    if kind == "extreme":
        day = draw(st.sampled_from(["0001-01-01", "9999-12-31", "0000-01-01", "10000-01-01", "2024-02-30"]))
        clock = draw(st.sampled_from(["", "T00:00:00", "T23:59:59", "T23:59:59.999999", "T24:00:00"]))
        return day + clock + (draw(OFFSETS) if clock else "")
    return draw(st.text(max_size=30))


MOMENT_COMMANDS = [
    ["status", "wga-amptp-2023", "--at"],
    ["status", "wga-amptp-2023", "--known-at"],
    ["positions", "wga-amptp-2023", "--at"],
    ["list", "--at"],
    ["list", "--known-at"],
    ["timeline", "wga-amptp-2023", "--known-at"],
    ["timeline", "wga-amptp-2023", "--from"],
    ["diff", "wga-amptp-2023", "--from", "2023-05-01", "--to"],
    ["diff", "wga-amptp-2023", "--to", "2023-05-01", "--from"],
    ["stoppages", "--on"],
]


@pytest.fixture(scope="module")
def wga_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite store holding the WGA example."""
    db = tmp_path_factory.mktemp("moments") / "wga.db"
    with Negotiations(str(db)) as app:
        report = app.import_files([Path(__file__).resolve().parents[2] / "examples" / "wga_amptp_2023.jsonl"])
    assert report.ok
    return db


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(moment=moments(), command=st.sampled_from(MOMENT_COMMANDS), as_json=st.booleans())
def test_any_moment_is_an_answer_or_a_usage_error(wga_db: Path, moment: str, command: list[str], as_json: bool) -> None:
    """Never an internal error: exit 0 with an answer, or exit 2 with one line saying what is accepted."""
    result = invoke("--db", wga_db, *command, moment, *(["--json"] if as_json else []))
    assert "internal error" not in result.stderr, result.stderr
    assert result.exit_code in (0, 1, 2), (result.exit_code, result.stderr, result.exception)
    lines = result.stderr.splitlines()
    if result.exit_code == 1:  # the negotiation was not open at that moment: one line
        assert len(lines) == 1, lines
        assert lines[0].startswith("error: ")
        assert "not open" in lines[0] or "not found" in lines[0], lines
    if result.exit_code == 2:  # click's usage error: the last line says what is wrong and what is accepted
        assert lines[-1].startswith("Error: Invalid value for"), lines
    assert not UNSAFE.search(result.stdout_bytes + result.stderr_bytes)
    if result.exit_code == 0 and as_json:
        json.loads(result.stdout)


# --- every string field, the full Unicode range, all three stores -------------------------

N = "fuzz-2024"
POISON = st.sampled_from(
    ["\x00", "\ud800", "\udfff", "\ufdd0", "\ufdef", "\ufffe", "\uffff", "\U0001fffe", "\U0010ffff"]
)
"""What the format refuses: NUL, lone surrogates, non-characters."""
TROUBLE = st.sampled_from(
    ["\u202e", "\u2066", "\u200f", "\x1b", "\x9b", "\x85", "\u2028", "\r", "\n", "\t", "\x7f", "\x01", "\ufeff",
     "\u0301", "\U0001f4a5", "\U000e0001", "\uffef", "[bold]", "</script>", "&amp;", '"', "\\", ",", "=cmd|", "<svg>"]
)  # fmt: skip
"""Allowed, but what terminals, markup, CSV or JSON might misread."""
CLEAN_TEXT = st.lists(
    st.text(st.characters(codec="utf-8", exclude_characters=FORBIDDEN), max_size=4) | TROUBLE, max_size=5
).map("".join)


@st.composite
def field_texts(draw: st.DrawFn) -> list[str]:
    """One text per field: every code point the format allows, and in half the examples one refused character."""
    texts = [draw(CLEAN_TEXT) for _ in FIELDS]
    if draw(st.booleans()):
        index = draw(st.integers(0, len(FIELDS) - 1))
        cut = draw(st.integers(0, len(texts[index])))
        texts[index] = texts[index][:cut] + draw(POISON) + texts[index][cut:]
    return texts


# (line index, path to the text in the line), for every text field of the negotiation below.
FIELDS: tuple[tuple[int, tuple[str | int, ...]], ...] = (
    (0, ("data", "title")),
    (0, ("data", "parties", 0, "name")),
    (0, ("data", "parties", 1, "name")),
    (0, ("data", "issues", 0, "title")),
    (0, ("source", "title")),
    (0, ("source", "url")),
    (1, ("data", "party", "name")),
    (2, ("data", "issue", "title")),
    (3, ("data", "note")),
    (4, ("data", "terms")),
    (4, ("data", "value", "unit")),
    (4, ("source", "publisher")),
    (4, ("source", "published_at")),
    (5, ("data", "text")),
    (5, ("data", "audience")),
    (6, ("data", "reason")),
    (7, ("data", "reason")),
    (8, ("data", "terms", "pay")),
)


def template() -> list[dict[str, Any]]:
    """The negotiation's lines, text fields to be filled in."""
    base = {"negotiation": N, "recorded_at": "2024-06-01T00:00:00Z"}
    return [
        base | {"id": "f1", "type": "negotiation.opened", "occurred_at": "2024-01-10", "source": {},
                "data": {"title": "", "parties": [{"id": "u", "name": "", "role": "union"},
                                                  {"id": "e", "name": "", "role": "employer"}],
                         "issues": [{"id": "pay", "title": ""}], "timezone": "America/New_York"}},
        base | {"id": "f2", "type": "party.joined", "occurred_at": "2024-01-11",
                "data": {"party": {"id": "m", "name": "", "role": "mediator"}}},
        base | {"id": "f3", "type": "issue.tabled", "occurred_at": "2024-01-11",
                "data": {"by": "u", "issue": {"id": "ai", "title": ""}}},
        base | {"id": "f4", "type": "talks.held", "occurred_at": "2024-01-15", "data": {"note": ""}},
        base | {"id": "f5", "type": "proposal.made", "occurred_at": "2024-01-15", "schema": 2, "source": {},
                "data": {"by": "u", "issue": "pay", "terms": "",
                         "value": {"amount": 5, "unit": "", "currency": "USD"}}},
        base | {"id": "f6", "type": "statement.issued", "occurred_at": "2024-01-17",
                "data": {"by": "u", "text": "", "audience": ""}},
        base | {"id": "f7", "type": "talks.suspended", "occurred_at": "2024-02-01", "data": {"by": "e", "reason": ""}},
        base | {"id": "f8", "type": "event.retracted", "occurred_at": "2024-02-02",
                "data": {"target": "f6", "reason": ""}},
        base | {"id": "f9", "type": "agreement.tentative", "occurred_at": "2024-03-20", "data": {"terms": {"pay": ""}}},
    ]  # fmt: skip


def put(line: dict[str, Any], path: tuple[str | int, ...], text: str) -> None:
    """Set the text at ``path`` in ``line``."""
    target: Any = line
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = text


def forbidden(text: str) -> bool:
    """Whether the event-log format refuses ``text`` (NUL, a surrogate, a non-character)."""
    return FORBIDDEN_CHARACTERS.search(text) is not None


def encode(line: dict[str, Any], *, ascii_only: bool) -> bytes:
    """A JSON line; escaped to ASCII (lone surrogates need it) or as raw UTF-8."""
    if ascii_only or any("\ud800" <= c <= "\udfff" for c in json.dumps(line, ensure_ascii=False)):
        return json.dumps(line, ensure_ascii=True).encode()
    return json.dumps(line, ensure_ascii=False).encode()


def strings(value: Any) -> list[str]:
    """Every string in a decoded JSON document."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in strings(item)]
    return []


TABLE_COMMANDS = [
    ["list"],
    ["status", N],
    ["positions", N, "--at", "2024-01-20"],
    ["timeline", N],
    ["diff", N, "--from", "2024-01-01", "--to", "2024-01-20"],
    ["stoppages", "--on", "2024-02-05"],
]

_counter = itertools.count()


@pytest.mark.parametrize(
    "store_url", ["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
@settings(max_examples=10, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(texts=field_texts(), ascii_only=st.booleans())
def test_every_string_field_in_full_unicode(store_url: str, tmp_path: Path, texts: list[str], ascii_only: bool) -> None:
    """Refused at the door when it holds NUL, a surrogate or a non-character; else faithful everywhere."""
    lines = template()
    for (index, path), text in zip(FIELDS, texts, strict=True):
        put(lines[index], path, text)
    refused_lines = sorted({index + 1 for (index, _), text in zip(FIELDS, texts, strict=True) if forbidden(text)})
    log = tmp_path / f"fuzz-{next(_counter)}.jsonl"
    log.write_bytes(b"".join(encode(line, ascii_only=ascii_only) + b"\n" for line in lines))
    with Negotiations(store_url) as app:
        report = app.import_files([log])
        # A refused line is refused for its text; the lines after the opening then for a rule.
        assert sorted(r.line for r in report.refused if r.rule == "format") == refused_lines, report.refused
        assert all(
            ("string holds" in r.reason or "not valid JSON" in r.reason) for r in report.refused if r.rule == "format"
        )
        assert all(r.line in refused_lines or r.rule != "format" for r in report.refused)
        assert all(str(r).isprintable() for r in report.refused), report.refused
        if refused_lines:
            assert report.stored == 0
            assert N not in app.negotiation_ids()
            return
        try:
            check_faithful(app, store_url, lines, texts)
        finally:
            wipe(app, store_url)


def check_faithful(app: Negotiations, store_url: str, lines: list[dict[str, Any]], texts: list[str]) -> None:
    """The export, the pure and persisted answers and the command line's outputs give the texts back."""
    exported = list(app.export([N]))
    assert exported == [render_line(parse_line(json.dumps(line))) for line in lines]
    decoded = [orjson.loads(line) for line in exported]
    assert all(text in strings(decoded) for text in texts)
    pure = positions_json(app.positions(N, as_of=dt.date(2024, 1, 20)))
    with ReadModels(app) as models:
        models.catch_up()
        assert models.position() == app.position()
        stored = models.positions(N)
        assert stored is not None
        now_pure = positions_json(app.positions(N))
        assert stored["positions"] == now_pure["positions"]
        [entry] = [e for e in models.catalog() if e["negotiation"] == N]
        assert entry["title"] == texts[0]
    assert texts[FIELDS.index((4, ("data", "terms")))] in strings(pure)
    if store_url == "memory:":
        return  # the command line opens a store of its own: an in-memory one would be empty
    export_result = invoke("--db", store_url, "export", N)
    assert export_result.exit_code == 0, export_result.stderr
    # The command line escapes DEL and C1 controls as \\u escapes: the same JSON text, inert on a terminal.
    assert [orjson.loads(line) for line in export_result.stdout_bytes.splitlines()] == decoded
    for command in TABLE_COMMANDS:
        table = invoke("--db", store_url, *command)
        assert table.exit_code == 0, (command, table.stderr, table.exception)
        assert not UNSAFE.search(table.stdout_bytes + table.stderr_bytes), (command, table.stdout)
        answer = invoke("--db", store_url, *command, "--json")
        assert answer.exit_code == 0, (command, answer.stderr)
        assert not UNSAFE.search(answer.stdout_bytes), (command, answer.stdout)
        json.loads(answer.stdout)
        sheet = invoke("--db", store_url, *command, "--csv")
        if sheet.exit_code == 2 and "--csv" in sheet.stderr:
            continue  # a command without a table has no --csv
        assert sheet.exit_code == 0, (command, sheet.stderr, sheet.exception)
        for row in csv.reader(io.StringIO(sheet.stdout_bytes.decode("utf-8"), newline="")):
            for cell in row:  # no cell a spreadsheet would run as a formula
                assert not cell.startswith(FORMULA) or FORMULA_SAFE.fullmatch(cell), (command, cell)
    shown = strings(json.loads(invoke("--db", store_url, "timeline", N, "--json").stdout))
    # The timeline's summary is one line: white space collapsed, as projections.timeline renders it.
    note = re.sub(r"\s+", " ", texts[FIELDS.index((3, ("data", "note")))]).strip()
    assert any(note in text for text in shown), (note, shown)


def wipe(app: Negotiations, store_url: str) -> None:
    """Make the shared store empty again for the next example (the fixture is per test, not per example)."""
    app.close()
    if store_url.startswith("sqlite:///"):
        Path(store_url.removeprefix("sqlite:///")).unlink()
    elif store_url.startswith("postgresql://"):
        import psycopg
        from psycopg import sql

        schema = store_url.rsplit("schema=", 1)[1]
        with psycopg.connect(store_url.split("?", maxsplit=1)[0], autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))
            conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))


# --- charts: untrusted text in SVG and self-contained HTML -------------------------------------

CHART_TEXT = "</script><svg onload=alert(1)>\u202e\x1b[31m&amp;<b>\"'"


@pytest.mark.parametrize("suffix", ["svg", "html"])
def test_charts_hold_untrusted_text_inertly(suffix: str, tmp_path: Path) -> None:
    """Every text field carries markup that would break out of SVG or HTML: the chart is written, and stays inert."""
    lines = template()
    for index, path in FIELDS:
        put(lines[index], path, CHART_TEXT)
    log = tmp_path / "chart.jsonl"
    log.write_bytes(b"".join(encode(line, ascii_only=False) + b"\n" for line in lines))
    db = tmp_path / "chart.db"
    with Negotiations(str(db)) as app:
        assert app.import_files([log]).ok
    out = tmp_path / f"chart.{suffix}"
    result = invoke("--db", db, "chart", N, "--output", out)
    if result.exit_code == 2 and "No such command" in result.stderr:
        pytest.skip("no chart command (the charts extra is not installed)")
    assert result.exit_code == 0, (result.stderr, result.exception)
    text = out.read_text(encoding="utf-8")
    assert "<svg onload" not in text
    if suffix == "svg":
        ElementTree.fromstring(text)  # noqa: S314 - our own output; well-formed: no text broke out of its element
    else:
        assert text.count("</script>") == text.count("<script")  # no script element ended early


def test_a_password_after_an_unencoded_slash_is_masked_in_server_messages() -> None:
    """Found by the fuzz test: the user ``0/`` ends the authority early, so the password lands in the database name."""
    url = f"postgresql://0/:{SECRET}@/"
    config = resolve(url, environ={})
    assert SECRET not in config.display
    assert SECRET not in config.mask(f"FATAL: {url}")
