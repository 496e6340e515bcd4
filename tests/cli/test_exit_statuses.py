"""Every row of ``negotiation.problems.PROBLEMS`` is the exit status the command line really returns.

Each error class gets at least one scenario: a real command that meets that
error where the command line can reach it (a refused line, an unknown
negotiation, a bad store URL, an unusable store), else the facade made to
raise it under a real ``status`` command (errors only other callers meet
today: an expected version, concurrent writers, an invalid query). A new row
without a scenario fails ``test_every_problem_has_a_scenario``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from events.converter import parse_event
from events.errors import InvalidEventError, InvalidMomentError, NegotiationError
from events.model import Event
from negotiation import cli as cli_package
from negotiation.core.errors import (
    ConcurrencyError,
    ConfigurationError,
    EventConflictError,
    ExpectedVersionError,
    InputTooLargeError,
    NegotiationNotFoundError,
    RefusedEventError,
    StoreError,
)
from negotiation.problems import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_REFUSED,
    EXIT_USAGE,
    PROBLEMS,
    BadRequestError,
    BodyTooLargeError,
    ForbiddenError,
    MethodNotAllowedError,
    NotAcceptableError,
    NotReadyError,
    RouteNotFoundError,
    UnauthorizedError,
    UnsupportedBodyError,
    problem_for,
)
from projections.errors import InvalidQueryError
from tests.cli.conftest import NEGOTIATION, event, opened

Run = Callable[..., Result]
Write = Callable[..., str]


class Context:
    """What a scenario needs: the runner, a store with the acme negotiation, a place for files."""

    def __init__(self, run: Run, db: str, write: Write, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.run = run
        self.db = db
        self.write = write
        self.tmp_path = tmp_path
        self.monkeypatch = monkeypatch


Scenario = Callable[[Context], Result]


def _import(*lines: dict[str, object] | str) -> Scenario:
    def scenario(c: Context) -> Result:
        return c.run("--db", c.db, "import", c.write("more.jsonl", list(lines)))

    return scenario


def _facade_raises(error: Exception) -> Scenario:
    """``status`` on a stored negotiation, with the facade's ``status`` (pure and indexed) raising ``error``."""

    def scenario(c: Context) -> Result:
        def status(*_: object, **__: object) -> None:
            raise error

        c.monkeypatch.setattr("negotiation.application.Negotiations.status", status)
        c.monkeypatch.setattr("negotiation.answers.Answers.status", status)  # the indexed path of the CLI
        return c.run("--db", c.db, "status", NEGOTIATION)

    return scenario


def _status_unknown(c: Context) -> Result:
    return c.run("--db", c.db, "status", "nope")


def _bad_store_url(c: Context) -> Result:
    return c.run("--db", "mysql://me@localhost/labor", "list")


def _store_is_a_directory(c: Context) -> Result:
    return c.run("--db", str(c.tmp_path), "list")


def _stdin_too_large(c: Context) -> Result:
    return c.run("--db", c.db, "--max-input-bytes", "10", "import", "-", input=b"x" * 11)


def _moment_out_of_range(c: Context) -> Result:
    return c.run("--db", c.db, "status", NEGOTIATION, "--at", "2024-13-40")


SCENARIOS: dict[type[BaseException], tuple[tuple[str, Scenario, str], ...]] = {
    # Each: (test id, scenario, what stderr must say: the scenario met the error meant).
    EventConflictError: (
        ("import-same-id-other-content", _import(event("e2", "talks.held", "2024-01-16", {})), "[rule: unique-id]"),
    ),
    ExpectedVersionError: (
        (
            "facade",
            _facade_raises(ExpectedVersionError(NEGOTIATION, expected=3, actual=7)),
            "error: negotiation 'acme-2024' is at version 7, not 3",
        ),
    ),
    ConcurrencyError: (
        ("facade", _facade_raises(ConcurrencyError(NEGOTIATION, 5)), "concurrent writers conflicted 5 times"),
    ),
    RefusedEventError: (
        ("import-opened-twice", _import(opened(event_id="e99", occurred_at="2024-04-01")), "[rule: opened-once]"),
    ),
    InvalidEventError: (("import-not-json", _import("{not json"), "not valid JSON"),),
    InputTooLargeError: (
        ("stdin-over-max-input-bytes", _stdin_too_large, "error: standard input: more than 10 bytes"),
    ),
    NegotiationNotFoundError: (("status-unknown", _status_unknown, "error: negotiation 'nope' not found"),),
    InvalidMomentError: (
        ("status-at-out-of-range", _moment_out_of_range, "Invalid value for '--at': '2024-13-40'"),
        ("facade", _facade_raises(InvalidMomentError("2024-13-40", "not a date")), "error: '2024-13-40': not a date"),
    ),
    InvalidQueryError: (("facade", _facade_raises(InvalidQueryError("a negative version")), "a negative version"),),
    ConfigurationError: (("db-unknown-scheme", _bad_store_url, "unknown store"),),
    StoreError: (("db-is-a-directory", _store_is_a_directory, "error: cannot open store"),),
    NegotiationError: (("facade", _facade_raises(NegotiationError("something refused")), "error: something refused"),),
    # The errors of a request to the HTTP service: the command line never raises them itself.
    **{
        cls: (("facade", _facade_raises(cls(f"{cls.__name__} said")), f"error: {cls.__name__} said"),)
        for cls in (
            BadRequestError,
            UnauthorizedError,
            ForbiddenError,
            RouteNotFoundError,
            MethodNotAllowedError,
            BodyTooLargeError,
            UnsupportedBodyError,
            NotAcceptableError,
            NotReadyError,
        )
    },
}


DOCUMENTED: dict[type[BaseException], int] = {
    EventConflictError: 1,
    ExpectedVersionError: 1,
    ConcurrencyError: 1,
    RefusedEventError: 1,
    InvalidEventError: 1,
    InputTooLargeError: 1,
    NegotiationNotFoundError: 1,
    InvalidMomentError: 2,
    InvalidQueryError: 2,
    ConfigurationError: 1,
    StoreError: 1,
    NegotiationError: 1,
    BadRequestError: 2,
    UnauthorizedError: 2,
    ForbiddenError: 2,
    RouteNotFoundError: 2,
    MethodNotAllowedError: 2,
    BodyTooLargeError: 1,
    UnsupportedBodyError: 1,
    NotAcceptableError: 2,
    NotReadyError: 1,
}
"""The statuses ``negotiation --help`` documents (1 refused, not found or store failure; 2 usage error),
written out so that a change to the table is a deliberate change of this list too."""


def test_every_problem_has_a_scenario() -> None:
    """Each error class of the table has a scenario here, and no scenario is for a class the table lacks."""
    assert set(SCENARIOS) == set(DOCUMENTED) == {cls for cls, _ in PROBLEMS}


@pytest.mark.parametrize(
    ("cls", "scenario", "says"),
    [
        pytest.param(cls, scenario, says, id=f"{cls.__name__}-{name}")
        for cls, scenarios in SCENARIOS.items()
        for name, scenario, says in scenarios
    ],
)
def test_exit_status_is_the_tables(
    cls: type[BaseException],
    scenario: Scenario,
    says: str,
    cli_run: Run,
    imported: str,
    write: Write,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The command exits with the status the table gives the class, and says why in error lines, no traceback."""
    expected = dict(PROBLEMS)[cls].exit_code
    result = scenario(Context(cli_run, imported, write, tmp_path, monkeypatch))
    assert result.exit_code == expected == DOCUMENTED[cls], result.stderr
    assert result.exit_code != EXIT_OK
    assert result.stdout == "" or "refused" in result.stdout
    assert "Traceback" not in result.stderr
    assert says in result.stderr


@pytest.mark.parametrize(("cls", "problem"), PROBLEMS, ids=lambda value: getattr(value, "__name__", ""))
def test_each_class_finds_its_own_row(cls: type[BaseException], problem: object) -> None:
    """A raised error finds its own row first (the table's order does not shadow it)."""
    assert problem_for(_instance(cls)) is problem


def _instance(cls: type[BaseException]) -> BaseException:
    """An instance of ``cls`` built from the scenarios' own arguments where they have one."""
    examples: dict[type[BaseException], BaseException] = {
        EventConflictError: EventConflictError("x", event=_event()),
        ExpectedVersionError: ExpectedVersionError(NEGOTIATION, expected=3, actual=7),
        ConcurrencyError: ConcurrencyError(NEGOTIATION, 5),
        RefusedEventError: RefusedEventError("x", event=_event()),
        InvalidEventError: InvalidEventError("x"),
        InputTooLargeError: InputTooLargeError("-", 10),
        NegotiationNotFoundError: NegotiationNotFoundError(NEGOTIATION),
        InvalidMomentError: InvalidMomentError("x", "y"),
        InvalidQueryError: InvalidQueryError("x"),
        ConfigurationError: ConfigurationError("x"),
        StoreError: StoreError("x"),
        NegotiationError: NegotiationError("x"),
    }
    return examples.get(cls) or cls("x")


def _event() -> Event:
    return parse_event(opened())


def test_the_cli_exit_constants_are_the_tables() -> None:
    """``negotiation.cli.EXIT_*`` are ``negotiation.problems``' (one source of exit statuses)."""
    assert (cli_package.EXIT_OK, cli_package.EXIT_REFUSED, cli_package.EXIT_USAGE, cli_package.EXIT_INTERRUPTED) == (
        EXIT_OK,
        EXIT_REFUSED,
        EXIT_USAGE,
        EXIT_INTERRUPTED,
    )
    with pytest.raises(AttributeError):
        _ = cli_package.EXIT_NOTHING
