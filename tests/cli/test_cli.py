"""The command line, run in-process through click's ``CliRunner`` (spec section 4)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import pytest
from click.testing import Result

from negotiation.cli import escape_controls, parse_moment
from tests.cli.conftest import INJECTION, NEGOTIATION, acme_events, event, jsonl, opened

Run = Callable[..., Result]
Write = Callable[..., str]

ESC = "\x1b"

# --- the pure helpers ----------------------------------------------------------------


def test_escape_controls_shows_escape_sequences_as_text() -> None:
    """ESC, BEL, CSI and OSC become visible backslash escapes; brackets stay as they are."""
    assert escape_controls(INJECTION) == r"[bold red]X[/] \x1b[31mRED\x1b]0;title\x07"


def test_escape_controls_covers_c1_del_newlines_and_bidi() -> None:
    """C1 controls, DEL, newlines, lone surrogates and bidi overrides are escaped too."""
    assert escape_controls("a\x9bb\x7fc\nd\te\u202ef\ud800") == r"a\x9bb\x7fc\nd\te\u202ef\ud800"


def test_escape_controls_keeps_printable_text() -> None:
    """Ordinary text, non-ASCII letters and backslashes print unchanged."""
    text = r"Grève générale — 5 % [rule] C:\path ✓"
    assert escape_controls(text) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2023-08-11", "date"),
        ("2023-08-11T09:30:00-07:00", "datetime"),
        ("2023-08-11T16:30:00Z", "datetime"),
        ("2023-08-11 16:30:00.123456+00:00", "datetime"),
    ],
)
def test_parse_moment_accepts_dates_and_rfc3339(text: str, expected: str) -> None:
    """A date stays a date (end of day is the facade's business); a time with offset is aware."""
    value = parse_moment(text)
    assert type(value).__name__ == expected
    if expected == "datetime":
        assert getattr(value, "tzinfo", None) is not None


@pytest.mark.parametrize(
    "text", ["2023-08-11T09:30:00", "2023-02-30", "yesterday", "", "2023-8-1", "2023-08-11T25:00:00Z"]
)
def test_parse_moment_refuses_naive_and_garbage(text: str) -> None:
    """Naive times, impossible dates and words are refused."""
    with pytest.raises(ValueError, match=r".*"):
        parse_moment(text)


# --- import, verify, export -----------------------------------------------------------


def test_import_stores_and_summarises(cli_run: Run, db: str, acme_file: str) -> None:
    """A clean import exits 0 and says how many events were stored."""
    result = cli_run("--db", db, "import", acme_file)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == "7 events stored, 0 already present, 0 refused"
    assert result.stderr == ""


def test_import_then_export_round_trip(cli_run: Run, tmp_path: Path, imported: str) -> None:
    """Importing an export into an empty store gives an identical export."""
    first = cli_run("--db", imported, "export")
    assert first.exit_code == 0, first.stderr
    lines = first.stdout.splitlines()
    assert len(lines) == 7
    assert all(json.loads(line)["negotiation"] == NEGOTIATION for line in lines)
    exported = tmp_path / "export.jsonl"
    exported.write_text(first.stdout, encoding="utf-8")
    other = str(tmp_path / "other.db")
    assert cli_run("--db", other, "import", str(exported)).exit_code == 0
    second = cli_run("--db", other, "export")
    assert second.exit_code == 0, second.stderr
    assert second.stdout == first.stdout


def test_export_keeps_untrusted_text_as_json_escapes(cli_run: Run, imported: str) -> None:
    """The export is JSON: ESC is written as \\u001b, never as the raw byte."""
    result = cli_run("--db", imported, "export", NEGOTIATION)
    assert result.exit_code == 0
    assert ESC not in result.stdout
    assert "\\u001b[31mRED" in result.stdout
    assert json.loads(result.stdout.splitlines()[2])["data"]["terms"] == INJECTION


def test_export_escapes_c1_controls_but_keeps_the_json(cli_run: Run, db: str, write: Write) -> None:
    """A C1 control (CSI as one character) leaves the export as a \\u escape; the JSON is unchanged."""
    statement = event("e2", "statement.issued", "2024-01-11", {"by": "acme", "text": "a\x9b31mb\u202ec"})
    assert cli_run("--db", db, "import", write("c1.jsonl", [opened(), statement])).exit_code == 0
    result = cli_run("--db", db, "export")
    assert "\x9b" not in result.stdout
    assert "\u202e" not in result.stdout
    assert json.loads(result.stdout.splitlines()[1])["data"]["text"] == "a\x9b31mb\u202ec"


def test_export_of_unknown_negotiation_exits_1(cli_run: Run, imported: str) -> None:
    """Exporting a negotiation that is not stored is an error on stderr, status 1, no output."""
    result = cli_run("--db", imported, "export", NEGOTIATION, "nope")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == "error: negotiation 'nope' not found\n"


def test_export_of_empty_store_is_empty(cli_run: Run, db: str) -> None:
    """An empty store exports nothing."""
    result = cli_run("--db", db, "export")
    assert result.exit_code == 0
    assert result.stdout == ""


def test_reimport_is_a_no_op(cli_run: Run, imported: str, acme_file: str) -> None:
    """Importing the same file again stores nothing and says so; exit 0."""
    before = cli_run("--db", imported, "export").stdout
    result = cli_run("--db", imported, "import", acme_file)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == "0 events stored, 7 already present, 0 refused; nothing new to store"
    assert cli_run("--db", imported, "export").stdout == before


def test_import_from_stdin(cli_run: Run, db: str) -> None:
    """``-`` reads the events from standard input."""
    result = cli_run("--db", db, "import", "-", input=jsonl(acme_events()))
    assert result.exit_code == 0, result.stderr
    assert "7 events stored" in result.stdout
    assert len(cli_run("--db", db, "export").stdout.splitlines()) == 7


def _bad_events() -> list[dict[str, Any] | str]:
    """Three good lines, a comment, an employer calling a strike (line 5) and a line that is not JSON (line 6)."""
    return [
        opened(),
        event("e2", "talks.held", "2024-01-15", {}),
        "# a comment line",
        event("e3", "statement.issued", "2024-01-16", {"by": "acme", "text": "hello"}),
        event("e4", "strike.called", "2024-02-01", {"by": "acme"}),
        '{"id": "e5", "type": ',
    ]


def test_atomic_import_refuses_bad_file_and_stores_nothing(cli_run: Run, db: str, write: Write) -> None:
    """One refused line and nothing is stored: every refusal on stderr as path:line: id: reason, exit 1."""
    path = write("bad.jsonl", _bad_events())
    result = cli_run("--db", db, "import", path)
    assert result.exit_code == 1
    errors = result.stderr.splitlines()
    assert len(errors) == 2
    assert re.fullmatch(re.escape(path) + r":5: e4: .*union.* \[rule: [a-z-]+\]", errors[0]), errors[0]
    assert re.fullmatch(re.escape(path) + r":6: e5: not valid JSON .*\[rule: format\]", errors[1]), errors[1]
    assert "nothing was stored" in result.stdout
    assert "2 refused" in result.stdout
    assert cli_run("--db", db, "export").stdout == ""


def test_skip_invalid_stores_the_valid_lines(cli_run: Run, db: str, write: Write) -> None:
    """--skip-invalid stores the valid lines, still reports the refused ones and exits 1."""
    path = write("bad.jsonl", _bad_events())
    result = cli_run("--db", db, "import", "--skip-invalid", path)
    assert result.exit_code == 1
    assert result.stdout.strip() == "3 events stored, 0 already present, 2 refused"
    assert len(result.stderr.splitlines()) == 2
    exported = [json.loads(line)["id"] for line in cli_run("--db", db, "export").stdout.splitlines()]
    assert exported == ["e1", "e2", "e3"]


def test_verify_checks_and_stores_nothing(cli_run: Run, db: str, write: Write, acme_file: str) -> None:
    """verify reports refusals like import (exit 1), or passes (exit 0), and never stores."""
    bad = cli_run("--db", db, "verify", write("bad.jsonl", _bad_events()))
    assert bad.exit_code == 1
    assert len(bad.stderr.splitlines()) == 2
    good = cli_run("--db", db, "verify", acme_file)
    assert good.exit_code == 0, good.stderr
    assert good.stdout.strip() == "7 events checked: 7 new, 0 already present, 0 refused; nothing was stored"
    assert cli_run("--db", db, "export").stdout == ""


def test_verify_checks_against_the_store(cli_run: Run, imported: str, write: Write) -> None:
    """verify sees what is stored: known events are 'already present', a conflicting id is refused."""
    changed = acme_events()
    changed[1] = event("e2", "talks.held", "2024-01-16", {})
    result = cli_run("--db", imported, "verify", write("changed.jsonl", changed))
    assert result.exit_code == 1
    assert "6 already present, 1 refused" in result.stdout
    assert re.search(r":2: e2: .*\[rule: unique-id\]", result.stderr)


def test_line_limit_refuses_long_lines(cli_run: Run, db: str, acme_file: str) -> None:
    """--max-line-bytes refuses the longer lines, naming line and reason."""
    result = cli_run("--db", db, "--max-line-bytes", "200", "import", acme_file)
    assert result.exit_code == 1
    assert re.search(r"acme\.jsonl:1: [^:]+: line of \d+ bytes is too long", result.stderr)


def test_string_limit_refuses_long_strings(cli_run: Run, db: str, acme_file: str) -> None:
    """--max-string-bytes refuses events with a longer string."""
    result = cli_run("--db", db, "--max-string-bytes", "10", "verify", acme_file)
    assert result.exit_code == 1
    assert "acme.jsonl:1: e1:" in result.stderr


def test_no_progress_bar_without_a_terminal(cli_run: Run, db: str, write: Write) -> None:
    """Without a terminal the import prints the summary only: no progress bar, nothing on stderr."""
    events = [opened()] + [event(f"t{i}", "talks.held", "2024-01-15", {}) for i in range(1500)]
    result = cli_run("--db", db, "import", write("many.jsonl", events))
    assert result.exit_code == 0
    assert result.stderr == ""
    assert result.stdout == "1,501 events stored, 0 already present, 0 refused\n"


def test_progress_bar_on_a_terminal(cli_run: Run, db: str, write: Write, monkeypatch: pytest.MonkeyPatch) -> None:
    """On a terminal the progress bar runs (events/s on stderr) and the import still succeeds."""
    monkeypatch.setattr("negotiation.cli.output._isatty", lambda _stream: True)
    events = [opened()] + [event(f"t{i}", "talks.held", "2024-01-15", {}) for i in range(1500)]
    result = cli_run("--db", db, "import", write("many.jsonl", events))
    assert result.exit_code == 0, result.stderr
    assert "1,501 events stored" in result.stdout
    quiet = cli_run("--db", db, "import", "--quiet", write("many.jsonl", events))
    assert quiet.exit_code == 0
    assert quiet.stderr == ""


class _FakeBar:
    """Stands in for rich's progress bar: records what it is shown."""

    made: ClassVar[list[_FakeBar]] = []

    def __init__(self) -> None:
        self.started = self.stopped = 0
        self.shown: dict[str, int] = {}
        _FakeBar.made.append(self)

    def start(self) -> None:
        self.started += 1

    def stop(self) -> None:
        self.stopped += 1

    def add_task(self, stage: str, total: None) -> str:
        self.shown[stage] = 0
        return stage

    def advance(self, task: str, n: int) -> None:
        self.shown[task] += n


def test_a_query_shows_the_progress_of_a_backlog_on_a_terminal(
    cli_run: Run, db: str, write: Write, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A query that first takes in a backlog (events stored without their tables) shows the import's bar on
    a terminal; a query on current tables shows none (the bar appears at the first events reported)."""
    from negotiation import Negotiations

    events = [opened()] + [event(f"t{i}", "talks.held", "2024-01-15", {}) for i in range(2500)]
    with Negotiations(db) as app:
        app.import_files([write("many.jsonl", events)])  # the facade: no tables
    monkeypatch.setattr("negotiation.cli.output._isatty", lambda _stream: True)
    monkeypatch.setattr("negotiation.cli.output._progress_bar", _FakeBar)
    _FakeBar.made.clear()
    first = cli_run("--db", db, "status", NEGOTIATION, "--json")
    assert first.exit_code == 0, first.stderr
    assert json.loads(first.stdout)["events_applied"] == 2501
    [bar] = _FakeBar.made
    assert (bar.started, bar.stopped, bar.shown) == (1, 1, {"updating read models": 2501})
    again = cli_run("--db", db, "status", NEGOTIATION, "--json")
    assert again.exit_code == 0, again.stderr
    assert json.loads(again.stdout)["events_applied"] == 2501
    assert len(_FakeBar.made) == 1  # nothing to take in: no bar


def test_interrupted_import_exits_130(cli_run: Run, db: str, acme_file: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C during an import says how to complete it and exits 130."""

    def interrupt(*_: object, **__: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("negotiation.application.Negotiations.import_files", interrupt)
    result = cli_run("--db", db, "import", acme_file)
    assert result.exit_code == 130
    assert result.stderr == "interrupted; run the import again to complete it\n"


# --- usage errors and failures --------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["nope"],
        ["import"],
        ["import", "/no/such/file.jsonl"],
        ["status"],
        ["status", NEGOTIATION, "--at", "2023-08-11T09:30:00"],
        ["status", NEGOTIATION, "--at", "next tuesday"],
        ["status", NEGOTIATION, "--known-at", "2023-02-30"],
        ["status", NEGOTIATION, "--version", "-1"],
        ["diff", NEGOTIATION, "--from", "2024-01-01"],
        ["stoppages"],
        ["timeline", NEGOTIATION, "--to", "garbage"],
        ["--max-line-bytes", "0", "import", "-"],
    ],
)
def test_usage_errors_exit_2(cli_run: Run, db: str, args: list[str]) -> None:
    """Bad commands, options, dates and missing files are usage errors: exit 2, message on stderr."""
    result = cli_run("--db", db, *args)
    assert result.exit_code == 2, result.output
    assert "Error:" in result.stderr
    assert result.stdout == ""


def test_usage_error_escapes_user_input(cli_run: Run, db: str) -> None:
    """A file name holding escape sequences is shown escaped in click's usage error."""
    result = cli_run("--db", db, "import", f"{INJECTION}.jsonl")
    assert result.exit_code == 2
    assert ESC not in result.stderr
    assert "\x07" not in result.stderr
    assert r"[bold red]X[/] \x1b[31mRED" in result.stderr


def test_not_found_exits_1_with_one_line(cli_run: Run, imported: str) -> None:
    """A query on an unknown negotiation: one error line on stderr, exit 1, no traceback."""
    result = cli_run("--db", imported, "status", "nope")
    assert result.exit_code == 1
    assert result.stderr == "error: negotiation 'nope' not found\n"


def test_error_line_prints_untrusted_text_literally(cli_run: Run, imported: str) -> None:
    """An unknown negotiation id with markup and escapes is echoed literally and escaped in the error line."""
    result = cli_run("--db", imported, "export", INJECTION)
    assert result.exit_code == 1
    assert ESC not in result.stderr
    assert "\x07" not in result.stderr
    assert "[bold red]X[/]" in result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_refused_line_prints_untrusted_text_literally(cli_run: Run, db: str, write: Write) -> None:
    """A refusal whose reason quotes untrusted input shows markup verbatim and no control character."""
    bad = event("e2", "statement.issued", "2024-01-11", {"by": INJECTION, "text": "x"})
    result = cli_run("--db", db, "import", write("bad.jsonl", [opened(), bad]))
    assert result.exit_code == 1
    assert ESC not in result.stderr
    assert "\x07" not in result.stderr
    assert "[bold red]X[/]" in result.stderr
    assert result.stderr.startswith(f"{Path(db).parent / 'bad.jsonl'}:2: e2: ")


def test_verbose_shows_traceback(cli_run: Run, imported: str) -> None:
    """--verbose prints the traceback before the error line; without it there is none."""
    plain = cli_run("--db", imported, "status", "nope")
    assert "Traceback" not in plain.stderr
    verbose = cli_run("--verbose", "--db", imported, "status", "nope")
    assert verbose.exit_code == 1
    assert "Traceback (most recent call last)" in verbose.stderr
    assert "NegotiationNotFoundError" in verbose.stderr
    assert verbose.stderr.endswith("error: negotiation 'nope' not found\n")


def test_unexpected_error_is_one_line(cli_run: Run, imported: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A bug shows as one 'internal error' line (exit 1); --verbose adds the traceback."""

    def broken(*_: object, **__: object) -> None:
        raise ZeroDivisionError("boom")

    monkeypatch.setattr("negotiation.application.Negotiations.export", broken)
    result = cli_run("--db", imported, "export")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: internal error: ZeroDivisionError: boom")
    assert len(result.stderr.splitlines()) == 1
    verbose = cli_run("-v", "--db", imported, "export")
    assert "Traceback" in verbose.stderr


def test_store_failure_exits_1(cli_run: Run, tmp_path: Path) -> None:
    """A store that cannot be opened (a directory) is one error line and exit 1."""
    result = cli_run("--db", str(tmp_path), "list")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ")
    assert len(result.stderr.splitlines()) == 1


def test_bad_store_url_hides_the_password(cli_run: Run) -> None:
    """An unusable store URL is a configuration error (exit 1) that masks the password."""
    result = cli_run("--db", "mysql://u:s3cret@host/db", "export")
    assert result.exit_code == 1
    assert "s3cret" not in result.stderr
    assert result.stderr.startswith("error: ")


def test_db_from_environment(cli_run: Run, db: str, acme_file: str) -> None:
    """Without --db the store is NEGOTIATION_DB."""
    assert cli_run("import", acme_file, env={"NEGOTIATION_DB": f"sqlite:///{db}"}).exit_code == 0
    assert len(cli_run("--db", db, "export").stdout.splitlines()) == 7


def test_default_store_is_in_the_current_directory(
    cli_run: Run, tmp_path: Path, acme_file: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without --db and NEGOTIATION_DB the store is negotiations.db in the current directory."""
    monkeypatch.chdir(tmp_path)
    assert cli_run("import", acme_file).exit_code == 0
    assert (tmp_path / "negotiations.db").exists()


# --- logging --------------------------------------------------------------------------------


def test_log_json_writes_json_lines_on_stderr(cli_run: Run, db: str, write: Write) -> None:
    """--log-json writes the library's log as JSON objects on stderr, refusals included."""
    path = write("bad.jsonl", _bad_events())
    result = cli_run("--log-json", "--db", db, "import", "--skip-invalid", path)
    logs = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    assert logs
    assert {"event", "level", "timestamp"} <= logs[0].keys()
    assert {log["event"] for log in logs} >= {"event.refused", "import.stored"}
    assert ESC not in result.stderr


def test_default_logging_is_quiet(cli_run: Run, db: str, acme_file: str) -> None:
    """Without --log-json, info logs stay out of stdout and stderr."""
    result = cli_run("--db", db, "import", acme_file)
    assert result.stderr == ""
    assert "events.appended" not in result.stdout
    assert "import.stored" not in result.stdout


# --- help and version -------------------------------------------------------------------------


COMMANDS = ["import", "verify", "export", "list", "status", "positions", "timeline", "diff", "stoppages", "serve"]


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_help_describes_options_with_an_example(cli_run: Run, command: str | None) -> None:
    """The group's and every command's --help list their options and show an example."""
    result = cli_run(*([command] if command else []), "--help")
    assert result.exit_code == 0
    assert "Example" in result.stdout
    assert "--help" in result.stdout
    for option in re.findall(r"^\s+(?:-\w, )?(--[\w-]+)", result.stdout, flags=re.MULTILINE):
        line = next(line for line in result.stdout.splitlines() if option in line)
        assert len(line.split(option, 1)[1].strip()) > 0 or option == "--max-string-bytes", line


def test_version(cli_run: Run) -> None:
    """--version prints the program's version."""
    result = cli_run("--version")
    assert result.exit_code == 0
    assert re.fullmatch(r"negotiation \d+\.\d+\.\d+.*\n", result.stdout)


# --- queries ------------------------------------------------------------------------------------

STATUS_KEYS = [
    "negotiation",
    "as_of",
    "known_at",
    "phase",
    "talks",
    "stoppage",
    "agreement",
    "contract",
    "events_applied",
    "ratified_by",
]


def _json(result: Result) -> Any:
    assert result.exit_code == 0, result.stderr
    assert ESC not in result.stdout
    return json.loads(result.stdout)


def test_status_json_has_the_spec_shape(cli_run: Run, imported: str) -> None:
    """status --json: the spec's keys in the spec's order; a strike since 2024-03-02 is on day 9 on 03-10."""
    answer = _json(cli_run("--db", imported, "status", NEGOTIATION, "--at", "2024-03-10", "--json"))
    assert list(answer) == STATUS_KEYS
    assert answer["negotiation"] == NEGOTIATION
    assert answer["phase"] == "strike"
    assert answer["contract"] == "expired"
    assert answer["stoppage"] == {"kind": "strike", "parties": ["ufw"], "since": "2024-03-02", "day": 9}
    assert answer["as_of"].startswith("2024-03-10T23:59:59")
    assert answer["events_applied"] == 7


def test_status_at_an_earlier_time_and_version(cli_run: Run, imported: str) -> None:
    """--at a date before the strike, and --version N, answer for that point."""
    before = _json(cli_run("--db", imported, "status", NEGOTIATION, "--at", "2024-01-12", "--json"))
    assert before["phase"] == "opened"
    assert before["stoppage"] is None
    at_time = _json(cli_run("--db", imported, "status", NEGOTIATION, "--at", "2024-03-02T05:59:59-05:00", "--json"))
    assert at_time["stoppage"] is None
    second = _json(cli_run("--db", imported, "status", NEGOTIATION, "--version", "2", "--json"))
    assert second["events_applied"] == 2
    assert second["phase"] == "bargaining"


def test_status_known_before_recording_is_not_found(cli_run: Run, imported: str) -> None:
    """--known-at before anything was recorded: the negotiation was not known then (exit 1)."""
    result = cli_run("--db", imported, "status", NEGOTIATION, "--known-at", "2000-01-01T00:00:00Z")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ")
    assert len(result.stderr.splitlines()) == 1


def test_status_table(cli_run: Run, imported: str) -> None:
    """The human status is a table naming phase and stoppage."""
    result = cli_run("--db", imported, "status", NEGOTIATION, "--at", "2024-03-10")
    assert result.exit_code == 0, result.stderr
    assert "strike by ufw since 2024-03-02 (day 9)" in result.stdout
    assert "phase" in result.stdout


def test_positions_json_and_untrusted_terms(cli_run: Run, imported: str) -> None:
    """positions --json has the spec shape and keeps the terms exactly; ESC only as a JSON escape."""
    result = cli_run("--db", imported, "positions", NEGOTIATION, "--json")
    answer = _json(result)
    assert list(answer) == ["negotiation", "as_of", "known_at", "positions"]
    union = answer["positions"]["ufw"]["pay"]
    assert list(union) == ["terms", "value", "since", "event"]
    assert union["terms"] == INJECTION
    assert union["event"] == "e3"
    assert answer["positions"]["acme"]["pay"]["value"] == {"amount": 2, "unit": "%"}
    assert "\\u001b[31mRED" in result.stdout


def test_positions_table_prints_terms_literally(cli_run: Run, imported: str) -> None:
    """Terms with markup and escape sequences print literally in the table: no styling, no raw ESC."""
    result = cli_run("--db", imported, "positions", NEGOTIATION)
    assert result.exit_code == 0, result.stderr
    assert "[bold red]X[/]" in result.stdout
    assert r"\x1b[31mRED\x1b]0;title\x07" in result.stdout
    assert ESC not in result.stdout
    assert "\x07" not in result.stdout
    assert "2 %" in result.stdout


def test_positions_table_prints_literally_on_a_color_terminal(cli_run: Run, imported: str) -> None:
    """Even when rich is forced to emit colours, untrusted text is neither styled nor raw."""
    result = cli_run("--db", imported, "positions", NEGOTIATION, env={"FORCE_COLOR": "1", "TERM": "xterm-256color"})
    assert result.exit_code == 0, result.stderr
    assert "[bold red]X[/]" in result.stdout
    assert "\x1b[31mRED" not in result.stdout
    assert "\x1b]0;" not in result.stdout
    assert "\x07" not in result.stdout


def test_timeline_table_prints_statements_literally(cli_run: Run, imported: str) -> None:
    """The timeline shows every event, one row each, untrusted text literal and escaped."""
    result = cli_run("--db", imported, "timeline", NEGOTIATION)
    assert result.exit_code == 0, result.stderr
    assert "[bold red]X[/]" in result.stdout
    assert r"\x1b[31mRED" in result.stdout
    assert ESC not in result.stdout
    assert "\x07" not in result.stdout
    for event_id in ("e1", "e4", "e7"):
        assert re.search(rf"\b{event_id}\b", result.stdout)


def test_timeline_piped_is_one_line_per_event_uncut(cli_run: Run, imported: str, write: Write) -> None:
    """Into a pipe (no terminal width) every event is one row, however long its summary."""
    long_text = "word " * 100
    extra = event("e8", "statement.issued", "2024-03-05", {"by": "ufw", "text": long_text.strip()})
    assert cli_run("--db", imported, "import", write("more.jsonl", [extra])).exit_code == 0
    result = cli_run("--db", imported, "timeline", NEGOTIATION, env={"COLUMNS": None})
    assert result.exit_code == 0, result.stderr
    rows = [line for line in result.stdout.splitlines() if line.startswith("2024-")]
    assert len(rows) == 8
    assert long_text.strip() in result.stdout


def test_timeline_json_in_valid_time_order_with_bounds(cli_run: Run, imported: str) -> None:
    """timeline --json lists events in valid-time order; --from/--to are inclusive dates."""
    answer = _json(cli_run("--db", imported, "timeline", NEGOTIATION, "--json"))
    assert answer["negotiation"] == NEGOTIATION
    assert [e["id"] for e in answer["events"]] == ["e1", "e2", "e3", "e4", "e5", "e6", "e7"]
    window = _json(
        cli_run("--db", imported, "timeline", NEGOTIATION, "--from", "2024-01-15", "--to", "2024-02-01", "--json")
    )
    assert [e["id"] for e in window["events"]] == ["e2", "e3", "e4", "e5"]


def test_diff_json_and_table(cli_run: Run, imported: str) -> None:
    """diff names the status fields and positions that changed between two dates."""
    args = ["--db", imported, "diff", NEGOTIATION, "--from", "2024-01-12", "--to", "2024-03-10"]
    answer = _json(cli_run(*args, "--json"))
    assert answer["status"]["phase"] == {"before": "opened", "after": "strike"}
    added = {(p["party"], p["issue"]) for p in answer["positions"]["added"]}
    assert added == {("ufw", "pay"), ("acme", "pay")}
    table = cli_run(*args)
    assert table.exit_code == 0, table.stderr
    assert "opened" in table.stdout
    assert "strike" in table.stdout
    assert "[bold red]X[/]" in table.stdout
    assert ESC not in table.stdout


def test_stoppages_json_and_table(cli_run: Run, imported: str) -> None:
    """stoppages --on lists the strike across negotiations, with its day count."""
    answer = _json(cli_run("--db", imported, "stoppages", "--on", "2024-03-10", "--json"))
    assert answer["on"] == "2024-03-10"
    assert [(s["negotiation"], s["kind"], s["party"], s["day"]) for s in answer["stoppages"]] == [
        (NEGOTIATION, "strike", "ufw", 9)
    ]
    none = _json(cli_run("--db", imported, "stoppages", "--on", "2024-02-01", "--json"))
    assert none["stoppages"] == []
    table = cli_run("--db", imported, "stoppages", "--on", "2024-03-10")
    assert table.exit_code == 0
    assert NEGOTIATION in table.stdout


def test_list_json_and_table(cli_run: Run, imported: str, write: Write) -> None:
    """list shows every stored negotiation with its phase."""
    other = opened("other-2024")
    assert cli_run("--db", imported, "import", write("other.jsonl", [other])).exit_code == 0
    answer = _json(cli_run("--db", imported, "list", "--json"))
    phases = {n["negotiation"]: n["phase"] for n in answer["negotiations"]}
    assert phases == {NEGOTIATION: "strike", "other-2024": "opened"}
    table = cli_run("--db", imported, "list")
    assert table.exit_code == 0
    assert "other-2024" in table.stdout
    assert "strike" in table.stdout


def test_list_of_empty_store(cli_run: Run, db: str) -> None:
    """An empty store lists no negotiation."""
    assert _json(cli_run("--db", db, "list", "--json")) == {"negotiations": []}


@pytest.mark.parametrize("console", [True, False])
def test_the_console_script_freezes_what_it_imported(monkeypatch: pytest.MonkeyPatch, console: bool) -> None:
    """As the console script (no argv) the startup objects leave the collector's sight; called with argv, not."""
    from negotiation.cli import group

    frozen: list[bool] = []
    monkeypatch.setattr(group.gc, "freeze", lambda: frozen.append(True))
    monkeypatch.setattr(group.sys, "argv", ["negotiation", "--version"])
    with pytest.raises(SystemExit) as exited:
        group.main(None if console else ["--version"])
    assert exited.value.code == 0
    assert frozen == ([True] if console else [])


@pytest.mark.postgres
def test_commands_open_postgres_with_one_connection(
    cli_run: Run, postgres_url: str, acme_file: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each command opens its store for one command (``StoreConfig.for_one_command``): a pool of one, no pings."""
    from negotiation import Negotiations

    pools: list[tuple[int, bool]] = []
    close = Negotiations.close

    def closing(app: Negotiations) -> None:
        datastore = app.store.factory.datastore  # type: ignore[attr-defined]  # PostgresFactory
        pools.append((datastore.pool.min_size, datastore.pre_ping))
        close(app)

    monkeypatch.setattr(Negotiations, "close", closing)
    assert cli_run("--db", postgres_url, "import", acme_file).exit_code == 0
    listed = cli_run("--db", postgres_url, "list", "--json")
    assert listed.exit_code == 0, listed.stderr
    assert [n["negotiation"] for n in json.loads(listed.stdout)["negotiations"]] == [NEGOTIATION]
    assert pools == [(1, False), (1, False)]
