"""Hostile input, hand-made and generated: refused line by line, cleanly, and the store stays as it was.

Through the command line (in-process with CliRunner, and as a subprocess) and
through the facade, every hostile line of ``tests/reliability/hostile.py`` is
refused with one line ``PATH:LINE: EVENT-ID: REASON [rule: RULE]``, exit status
1 (never 2 or a crash), no traceback, no terminal control in the output, and
an export of the store identical before and after.
"""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
from pathlib import Path
from typing import Any

import attrs
import orjson
import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from events import EVENT_TYPES, AgendaIssue, Event, InvalidEventError, IssueTabled, Limits, parse_line
from negotiation import Negotiations
from negotiation.cli import cli
from negotiation.core.errors import NegotiationError, RefusedEventError
from tests.reliability.helpers import TERMINAL_BYTES, error_lines, export, run
from tests.reliability.hostile import (
    BASE,
    BASE_NEGOTIATION,
    CASES,
    CLOSED,
    REJECTED,
    VALID_TAIL,
    Case,
    base_bytes,
    file_for,
    line,
)
from tests.strategies import events_of, json_values

REFUSAL = re.compile(r"(?P<path>.+):(?P<line>\d+): (?P<id>.+?): (?P<reason>.+) \[rule: (?P<rule>[a-z-]+)\]")
CASE_IDS = [case.name for case in CASES]


@pytest.fixture(scope="module")
def base_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite store holding ``BASE``, made once."""
    directory = tmp_path_factory.mktemp("hostile")
    log = directory / "base.jsonl"
    log.write_bytes(base_bytes())
    db = directory / "base.db"
    with Negotiations(str(db)) as app:
        report = app.import_files([log])
    assert report.stored == len(BASE)
    return db


def copy_store(source: Path, target: Path) -> Path:
    """A copy of the SQLite store ``source`` at ``target``."""
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    return target


@pytest.fixture
def store(base_db: Path, tmp_path: Path) -> Path:
    """A fresh copy of the base store."""
    return copy_store(base_db, tmp_path / "store.db")


@pytest.fixture(scope="module")
def base_export(base_db: Path) -> bytes:
    """The base store's export."""
    return export(base_db)


def invoke(*args: str | Path) -> Result:
    """``negotiation ARGS...`` in-process, stdout and stderr apart."""
    return CliRunner().invoke(cli, [str(a) for a in args], env={"COLUMNS": "400", "NEGOTIATION_DB": None})


def refusal_of(stderr: str, path: Path, number: int, case: Case) -> dict[str, str]:
    """The one refusal line for ``case``, checked against what it must say."""
    found = REFUSAL.fullmatch(stderr)
    assert found is not None, stderr
    assert found["path"] == str(path)
    assert int(found["line"]) == number
    assert found["id"] == (case.event_id or "-")
    assert found["rule"] == case.rule
    assert case.reason in found["reason"], found["reason"]
    return found.groupdict()


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    """A file in ``tmp_path``."""
    path = tmp_path / name
    path.write_bytes(data)
    return path


# --- each case, in-process through the command line and through the facade ------------------------


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_cli_refuses_the_line_and_stores_nothing(case: Case, store: Path, base_export: bytes, tmp_path: Path) -> None:
    """import and verify refuse the hostile line with one clean refusal line, exit 1, and store nothing."""
    data, number = file_for(case)
    path = write(tmp_path, "hostile.jsonl", data)
    for command in ("import", "verify"):
        result = invoke("--db", store, command, path)
        assert result.exit_code == 1, (result.exit_code, result.stderr, result.exception)
        assert not TERMINAL_BYTES.search(result.stderr_bytes), result.stderr_bytes
        lines = error_lines(result.stderr_bytes)
        assert len(lines) == 1, lines
        refusal_of(lines[0], path, number, case)
        assert "1 refused" in result.stdout
        assert "nothing was stored" in result.stdout
    assert export(store) == base_export


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_facade_refuses_the_event_and_stores_nothing(
    case: Case, store: Path, base_export: bytes, tmp_path: Path
) -> None:
    """The facade refuses the line in import_files and, when it parses, the event in append; nothing is stored."""
    data, number = file_for(case)
    path = write(tmp_path, "hostile.jsonl", data)
    with Negotiations(str(store)) as app:
        report = app.import_files([path])
        assert [(r.line, r.event_id, r.rule) for r in report.refused] == [(number, case.event_id, case.rule)]
        assert report.stored == 0
        event = parsed(case.raw)
        if isinstance(event, InvalidEventError):
            assert case.rule == "format"
            assert event.event_id == case.event_id
            assert len(str(event).splitlines()) == 1
        else:
            setup = [parse_line(raw) for raw in case.setup]
            with pytest.raises(RefusedEventError) as info:
                app.append([*setup, event])  # all or nothing: the valid setup events are not stored either
            assert (info.value.event_id, info.value.rule) == (case.event_id, case.rule)
            assert case.reason in str(info.value)
    assert export(store) == base_export


def parsed(raw: bytes) -> Event | InvalidEventError:
    """The event of a line, or why it is not one."""
    try:
        return parse_line(raw)
    except InvalidEventError as e:
        return e


# --- all at once, as a subprocess ---------------------------------------------------------------


def _all_cases(tmp_path: Path) -> tuple[Path, dict[int, Case], int]:
    """One file with every case; returns it, the hostile line numbers and the number of valid lines."""
    lines = list(VALID_TAIL)
    at: dict[int, Case] = {}
    for case in CASES:
        lines += case.setup
        lines.append(case.raw)
        at[len(lines)] = case
    return write(tmp_path, "all.jsonl", b"".join(raw + b"\n" for raw in lines)), at, len(lines) - len(at)


@pytest.mark.slow
def test_every_case_in_one_file_subprocess(store: Path, base_export: bytes, tmp_path: Path) -> None:
    """The console script reports every hostile line of one file at its line, stores nothing, then skips them."""
    path, at, valid = _all_cases(tmp_path)
    result = run("--db", store, "import", path)
    assert result.returncode == 1
    lines = error_lines(result.stderr)
    assert len(lines) == len(at), lines
    for text, (number, case) in zip(lines, sorted(at.items()), strict=True):
        refusal_of(text, path, number, case)
    assert export(store) == base_export

    skipped = run("--db", store, "import", "--skip-invalid", path)
    assert skipped.returncode == 1

    def found(texts: list[str]) -> list[tuple[str, str, str]]:
        matches = [REFUSAL.fullmatch(text) for text in texts]
        return [(m["line"], m["id"], m["rule"]) for m in matches if m is not None]

    assert found(error_lines(skipped.stderr)) == found(lines)  # the same refusals (reasons may quote the time)
    assert skipped.stdout.decode().startswith(f"{valid} events stored, 0 already present, {len(at)} refused")
    assert len(export(store).splitlines()) == len(BASE) + valid
    again = run("--db", store, "import", "--skip-invalid", path)
    assert again.stdout.decode().startswith(f"0 events stored, {valid} already present, {len(at)} refused")


# --- limits -------------------------------------------------------------------------------------


def test_size_limits_are_configurable(store: Path, tmp_path: Path) -> None:
    """--max-line-bytes and --max-string-bytes move the limits both ways; the facade takes Limits alike."""
    text = "x" * 1_500_000
    big = line(
        {
            "id": "big",
            "type": "statement.issued",
            "negotiation": BASE_NEGOTIATION,
            "occurred_at": "2024-01-16",
            "recorded_at": "2024-06-01T00:00:00+00:00",
            "data": {"by": "ufw", "text": text},
        }
    )
    path = write(tmp_path, "big.jsonl", big + b"\n")
    refused = invoke("--db", store, "import", path)
    assert refused.exit_code == 1
    assert "line of 1500" in refused.stderr
    assert "(expected at most 1048576 bytes)" in refused.stderr
    longer = invoke("--db", store, "--max-line-bytes", "2000000", "import", path)
    assert longer.exit_code == 1
    assert "data.text: string of 1500000 bytes is too long" in longer.stderr
    allowed = invoke("--db", store, "--max-line-bytes", "2000000", "--max-string-bytes", "1500000", "import", path)
    assert allowed.exit_code == 0, allowed.stderr
    assert allowed.stdout.startswith("1 event stored")

    small = write(tmp_path, "small.jsonl", VALID_TAIL[1] + b"\n")
    assert "too long" in invoke("--db", store, "--max-line-bytes", "50", "verify", small).stderr
    assert "key of 11 bytes is too long" in invoke("--db", store, "--max-string-bytes", "4", "verify", small).stderr
    with Negotiations(str(store)) as app:
        report = app.import_files([small], limits=Limits(max_line_bytes=50), dry_run=True)
        assert [r.rule for r in report.refused] == ["format"]
    for option in ("--max-line-bytes", "--max-string-bytes"):
        assert option in invoke("--help").stdout
        assert invoke(option, "0", "list").exit_code == 2  # a usage error: at least 1


# --- generated hostile input --------------------------------------------------------------------

_SAMPLE = orjson.loads(VALID_TAIL[1])


def _mutations() -> st.SearchStrategy[bytes]:
    """Lines made hostile: a field replaced by any JSON value, bytes cut, inserted or flipped."""
    keys = [*_SAMPLE, "data.note", "data.by", "schema", "source"]

    @st.composite
    def replace_field(draw: st.DrawFn) -> bytes:
        obj = orjson.loads(VALID_TAIL[1])
        key = draw(st.sampled_from(keys))
        value = draw(json_values())
        if key.startswith("data."):
            obj["data"][key[5:]] = value
        else:
            obj[key] = value
        return line(obj)

    @st.composite
    def corrupt_bytes(draw: st.DrawFn) -> bytes:
        raw = bytearray(VALID_TAIL[1])
        for _ in range(draw(st.integers(1, 4))):
            at = draw(st.integers(0, len(raw) - 1))
            action = draw(st.sampled_from(["cut", "insert", "flip"]))
            if action == "cut":
                del raw[at]
            elif action == "insert":
                raw[at:at] = draw(st.binary(min_size=1, max_size=4).filter(lambda b: b"\n" not in b))
            else:
                raw[at] = draw(st.integers(0, 255).filter(lambda b: b != 10))
        return bytes(raw)

    return st.one_of(replace_field(), corrupt_bytes())


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(hostile=_mutations())
def test_generated_lines_never_crash_the_import(
    hostile: bytes, base_db: Path, base_export: bytes, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Any mutated line: exit 0 (it was still valid) or 1 with one refusal line; never a traceback; atomic."""
    directory = tmp_path_factory.mktemp("fuzz")
    db = copy_store(base_db, directory / "store.db")
    path = write(directory, "fuzz.jsonl", VALID_TAIL[0] + b"\n" + hostile + b"\n")
    result = invoke("--db", db, "import", path)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code in (0, 1), (result.exit_code, result.stderr)
    assert not TERMINAL_BYTES.search(result.stdout_bytes + result.stderr_bytes)
    lines = error_lines(result.stderr_bytes)
    if result.exit_code == 1:
        assert len(lines) == 1, lines
        found = REFUSAL.fullmatch(lines[0])
        assert found is not None, lines
        assert found["line"] == "2"
        assert export(db) == base_export
    else:
        assert lines == []
        # A mutation may leave no event at all: a line made blank, or a comment (a "#" first).
        stripped = hostile.strip()
        is_event = bool(stripped) and not stripped.startswith(b"#")
        assert len(export(db).splitlines()) == len(BASE) + 1 + is_event


_CAST: dict[str, st.SearchStrategy[Any]] = {
    "negotiation": st.sampled_from([BASE_NEGOTIATION, REJECTED, CLOSED, "fresh-2024"]),
    "by": st.sampled_from(["ufw", "acme", "nobody"]),
    "to": st.sampled_from(["ufw", "acme", "nobody"]),
    "issue": st.sampled_from(["pay", "ai", "health"]),
    "proposal": st.sampled_from(["b3", "b4", "b6", "zz"]),
    "target": st.sampled_from(["b3", "b6", "b7", "r2", "zz"]),
}


def _cast_events() -> st.SearchStrategy[Event]:
    """Format-valid events of any type, among the base store's negotiations, parties, issues and events."""
    strategies = []
    for cls in EVENT_TYPES.values():
        fields = attrs.fields_dict(cls)
        cast = {name: s for name, s in _CAST.items() if name in fields and fields[name].type in (str, str | None)}
        strategies.append(events_of(cls, **cast, recorded_at=st.none()))
    return st.one_of(strategies)


@settings(max_examples=80, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(events=st.lists(_cast_events(), min_size=1, max_size=3))
def test_generated_events_are_stored_or_refused_atomically(
    events: list[Event], base_db: Path, base_export: bytes, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The facade stores a batch of arbitrary events whole, or refuses it with a project error and stores nothing."""
    db = copy_store(base_db, tmp_path_factory.mktemp("facade") / "store.db")
    stored = 0
    with Negotiations(str(db)) as app:
        try:
            result = app.append(events)
        except NegotiationError as e:
            error: NegotiationError | None = e
        else:
            error = None
            assert len(result.stored) + len(result.duplicates) == len(events)
            stored = len(result.stored)
    if error is not None:
        assert len(str(error).splitlines()) == 1
    after = export(db)
    assert len(after.splitlines()) == len(BASE) + stored
    if not stored:
        assert after == base_export


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("issue", "pay"),  # a str where an AgendaIssue belongs
        ("by", 7),
        ("occurred_at", dt.datetime(2024, 1, 16, 10, 0)),  # naive
        ("occurred_at", "2024-01-16"),  # a str where a date belongs
        ("id", "a\x1bb"),
        ("negotiation", "Base 2024"),
        ("source", {"url": "https://example.org"}),  # a dict where a Source belongs
    ],
)
def test_facade_refuses_events_no_line_could_express(field: str, value: Any, store: Path, base_export: bytes) -> None:
    """A Python event with a wrongly typed or malformed field is refused as InvalidEventError, never stored."""
    event = IssueTabled(
        id="t",
        negotiation=BASE_NEGOTIATION,
        occurred_at=dt.date(2024, 1, 16),
        by="ufw",
        issue=AgendaIssue(id="health", title="Health"),
    )
    bad = attrs.evolve(event, **{field: value})
    with Negotiations(str(store)) as app, pytest.raises(InvalidEventError) as info:
        app.append([bad])
    assert len(str(info.value).splitlines()) == 1
    assert not TERMINAL_BYTES.search(str(info.value).encode())
    assert export(store) == base_export


def test_a_line_made_a_comment_is_skipped(base_db: Path, tmp_path: Path) -> None:
    """Found by the fuzz test: a mutation that puts "#" first leaves a comment line, which the import skips."""
    db = copy_store(base_db, tmp_path / "store.db")
    path = write(tmp_path, "comment.jsonl", VALID_TAIL[0] + b"\n#" + VALID_TAIL[1][1:] + b"\n")
    result = invoke("--db", db, "import", path)
    assert result.exit_code == 0, result.stderr
    assert len(export(db).splitlines()) == len(BASE) + 1
