"""Hostile input, round two (issue 12): the eight ways in that the first round left open.

Each test here failed before its fix. The store URL, time and Unicode fuzzing
is in ``test_fuzz.py``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import socket
import struct
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from structlog.testing import capture_logs

from events import InvalidEventError, Limits, parse_event, parse_line
from events.converter import FORBIDDEN_CHARACTERS
from negotiation import ConfigurationError, InputTooLargeError, Negotiations, StoreError
from negotiation.store.config import LIBPQ_ENV, resolve
from negotiation.store.eventstore import StreamEvent
from projections.persisted import ReadModels, runner
from tests.negotiation.helpers import NEGOTIATION, NOW, opened, statement, talks_requested
from tests.negotiation.helpers import proposal as proposal_event
from tests.reliability.helpers import SCRIPT, error_lines, export, run

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


# --- 3, 4, 5. store URLs: control characters, libpq parameters, malformed URLs -------


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://u:pw@127.0.0.1:5432/%00db",
        "postgresql://u:pw@127.0.0.1:5432/db%0A",
        "postgresql://u:p%00w@127.0.0.1:5432/db",
        "postgresql://u:pw@127.0.0.1:5432/db?application_name=a%00b",
        "postgresql://u:pw@127.0.0.1:5432/db\x00",
        "sqlite:///tmp/a\x1bb.db",
        "store\x00.db",
        "memory:\x7f",
    ],
)
def test_control_characters_in_a_store_url_are_refused(url: str) -> None:
    """``/%00db`` connected to another database as another user (issue 12, point 3): now a ConfigurationError."""
    with pytest.raises(ConfigurationError, match="a control character") as raised:
        resolve(url, environ={})
    message = str(raised.value)
    assert message.isprintable()
    assert "pw" not in message.replace("postgresql", "")


def test_percent_00_in_the_url_does_not_connect(postgres_url: str, tmp_path: Path) -> None:
    """Through the command line: exit 1, one line, nothing stored anywhere."""
    bad = postgres_url.replace("/test?", "/%00test?", 1)
    log = tmp_path / "one.jsonl"
    log.write_bytes(jsonl(OPENED))
    result = run("--db", bad, "import", log)
    assert result.returncode == 1
    assert error_lines(result.stderr) == [
        f"error: {bad}: a control character (raw or percent-encoded, such as %00) in the store URL"
    ]


@pytest.mark.parametrize(
    ("query", "parameters"),
    [
        ("sslmode=disable", {"sslmode": "disable"}),
        ("application_name=hostile%20test&sslmode=prefer", {"application_name": "hostile test", "sslmode": "prefer"}),
        ("sslrootcert=%2Fetc%2Fca.pem&keepalives=1", {"sslrootcert": "/etc/ca.pem", "keepalives": "1"}),
        ("target_session_attrs=read-write", {"target_session_attrs": "read-write"}),
    ],
)
def test_libpq_parameters_are_passed_through(query: str, parameters: dict[str, str]) -> None:
    """``?sslmode=require`` was ignored (issue 12, point 4): libpq's parameters now reach libpq as given."""
    config = resolve(f"postgresql://u@h/db?{query}", environ={})
    assert orjson.loads(config.env[LIBPQ_ENV]) == {**parameters, "connect_timeout": "5"}


@pytest.mark.postgres
def test_sslmode_require_is_honoured(postgres_url: str) -> None:
    """The test server has no TLS: ``sslmode=require`` must fail at once, saying so, never connect in clear."""
    result = run("--db", f"{postgres_url}&sslmode=require", "list")
    [line] = error_lines(result.stderr)
    assert result.returncode == 1
    assert "SSL was required" in line, line


@pytest.mark.postgres
def test_application_name_reaches_the_server(postgres_url: str) -> None:
    """A harmless parameter shows that the pool connects with it: the server sees the application name."""
    name = f"hostile-{id(postgres_url)}"
    with (
        Negotiations(f"{postgres_url}&application_name={name}") as app,
        app.store.factory.datastore.get_connection() as conn,  # type: ignore[attr-defined]
    ):
        row = conn.execute("SELECT current_setting('application_name') AS name").fetchone()
    assert row is not None
    assert row["name"] == name


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("postgresql://u@h/db?sslmod=require", "unknown parameter 'sslmod'"),
        ("postgresql://u@h/db?schema=a&schema=b", "the parameter 'schema' is given twice"),
        ("postgresql://u@h/db?sslmode", "not a valid URL"),
    ],
)
def test_unknown_or_repeated_parameters_are_refused(url: str, message: str) -> None:
    """Never ignored: a parameter libpq does not know, or one given twice, is a ConfigurationError."""
    with pytest.raises(ConfigurationError, match=message):
        resolve(url, environ={})


SECRET = "S3cr3t-Hunter2"  # noqa: S105 - a fake, to look for in the output


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql://u:{SECRET}@127.0.0.1:1/db?user=x&password={SECRET}",
        f"postgresql://u@127.0.0.1:1/db?password={SECRET}&connect_timeout=1",
        f"postgresql://u@127.0.0.1:1/db?sslpassword={SECRET}&connect_timeout=1",
        f"postgresql://u@127.0.0.1:1/db?pass%77ord={SECRET}&connect_timeout=1",
        f"postgresql://u:p[w{SECRET}@127.0.0.1:5432/x",
        f"postgresql://u:{SECRET}@127.0.0.1:99999/x",
        f"postgresql://u:a/{SECRET}@127.0.0.1:5432/x?sslmode=bogus",
        f"postgresql://u:{SECRET}@127.0.0.1:5432/x?sslmode=bogus",
        f"postgresql://u:{SECRET}@127.0.0.1:5432/x?nope=1",
    ],
)
def test_bad_urls_give_one_masked_line(url: str) -> None:
    """A ``[`` in a password printed a traceback (issue 12, point 5); a query password leaked (point 4)."""
    result = run("--db", url, "list", timeout=60)
    [line] = error_lines(result.stderr)
    assert result.returncode == 1
    assert line.startswith("error: ")
    assert SECRET not in line
    assert "Hunter2" not in line


# --- 8. a wrong password is final, reported at once ----------------------------------


class FakePostgres:
    """A loopback server that answers every login with PostgreSQL's "password authentication failed"."""

    def __init__(self) -> None:
        self.logins = 0
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                with contextlib.suppress(OSError):
                    self._answer(conn)

    def _answer(self, conn: socket.socket) -> None:
        while True:
            size = struct.unpack("!I", conn.recv(4))[0]
            body = conn.recv(size - 4)
            code = struct.unpack("!I", body[:4])[0]
            if code in (80877103, 80877104):  # SSLRequest, GSSENCRequest: not supported here
                conn.sendall(b"N")
                continue
            self.logins += 1
            fields = b'SFATAL\0VFATAL\0C28P01\0Mpassword authentication failed for user "u"\0\0'
            conn.sendall(b"E" + struct.pack("!I", len(fields) + 4) + fields)
            return

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def fake_postgres() -> Iterator[FakePostgres]:
    """A ``FakePostgres`` on a free loopback port, closed after the test."""
    server = FakePostgres()
    yield server
    server.close()


def test_wrong_password_is_reported_at_once(fake_postgres: FakePostgres) -> None:
    """About 18 logins, then "couldn't get a connection after 5.00 sec" (issue 12, point 8).

    Now: one login, and the server's reason with the password masked.
    """
    url = f"postgresql://u:{SECRET}@127.0.0.1:{fake_postgres.port}/db"
    result = run("--db", url, "list", timeout=60)
    [line] = error_lines(result.stderr)
    assert result.returncode == 1
    assert 'password authentication failed for user "u"' in line, line
    assert SECRET not in line
    assert fake_postgres.logins == 1


def test_wrong_password_through_the_facade(fake_postgres: FakePostgres) -> None:
    """The library raises ``StoreError`` with the server's reason, masked, after one login."""
    with pytest.raises(StoreError, match="password authentication failed") as raised:
        Negotiations(f"postgresql://u:{SECRET}@127.0.0.1:{fake_postgres.port}/db")
    assert SECRET not in str(raised.value)
    assert fake_postgres.logins == 1


@pytest.mark.postgres
def test_unknown_role_and_database_are_final(postgres_url: str) -> None:
    """Other refusals no retry can cure: an unknown role, an unknown database."""
    for url, reason in (
        (postgres_url.replace("postgres@", "no_such_role_x@", 1), 'role "no_such_role_x" does not exist'),
        (postgres_url.replace("/test?", "/no_such_db_x?", 1), 'database "no_such_db_x" does not exist'),
    ):
        with pytest.raises(StoreError, match=reason):
            Negotiations(url)


# --- 2. --max-line-bytes bounds memory; standard input's copy is bounded --------------

MEASURE = """
import resource, subprocess, sys
result = subprocess.run(sys.argv[1:], capture_output=True)
sys.stdout.write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) + "\\n")
sys.stdout.buffer.write(result.stderr)
sys.exit(result.returncode)
"""


def peak_rss_kib(*args: str | Path) -> tuple[int, int, list[str]]:
    """Run ``negotiation ARGS...``: its exit status, its peak resident memory in KiB, its stderr lines."""
    result = subprocess.run(
        [sys.executable, "-c", MEASURE, SCRIPT, *map(str, args)], capture_output=True, timeout=300, check=False
    )
    first, *rest = result.stdout.decode().splitlines()
    return result.returncode, int(first), rest


@pytest.mark.parametrize("command", ["import", "verify"])
def test_a_huge_line_is_refused_in_bounded_memory(command: str, tmp_path: Path) -> None:
    """A 2 GB sparse file peaked at 4.3 GB RSS (issue 12, point 2): a 256 MiB line now costs no more than a small file.

    The lines before and after the huge one are read and checked as usual.
    """
    log = tmp_path / "sparse.jsonl"
    with log.open("wb") as f:
        f.write(jsonl(OPENED))
        f.write(b'{"id":"huge","type":"statement.issued","negotiation":"n1",')
        f.truncate(f.tell() + 256 * 2**20)  # a hole of zeros: no disk used
        f.seek(0, 2)
        f.write(b"\n" + jsonl(proposal("3%")))
    code, peak, lines = peak_rss_kib("--db", f"sqlite:///{tmp_path / 's.db'}", "--max-line-bytes", "1000", command, log)
    assert code == 1
    size = 256 * 2**20 + len(b'{"id":"huge","type":"statement.issued","negotiation":"n1",')
    assert f"{log}:2: huge: line of {size} bytes is too long (expected at most 1000 bytes) [rule: format]" in lines
    assert len([line for line in lines if line.startswith(str(log))]) == 1
    assert peak < 200 * 1024, f"peak RSS {peak} KiB"


@pytest.mark.parametrize("ending", [b"\n", b"\r\n", b""])
def test_line_limit_is_exact(ending: bytes, tmp_path: Path) -> None:
    """A line of exactly the limit passes the size check; one byte more is refused, whatever the line ending."""
    line = orjson.dumps(proposal("x"))
    limit = len(line)
    log = tmp_path / "edge.jsonl"
    log.write_bytes(jsonl(OPENED) + line + ending)
    with Negotiations("memory:") as app:
        ok = app.import_files([log], limits=Limits(max_line_bytes=max(limit, len(orjson.dumps(OPENED)))))
        assert ok.refused == ()
        tight = app.import_files([log], limits=Limits(max_line_bytes=limit - 1, max_string_bytes=100))
        assert [r.reason for r in tight.refused if r.line == 2] == [
            f"line of {limit} bytes is too long (expected at most {limit - 1} bytes)"
        ]


def test_an_endless_device_is_copied_only_up_to_the_limit() -> None:
    """``import /dev/zero`` ended in MemoryError (issue 12, point 2): a device is copied up to max_input_bytes."""
    with Negotiations("memory:") as app, pytest.raises(InputTooLargeError, match="more than 5,000,000 bytes"):
        app.import_files(["/dev/zero"], limits=Limits(max_line_bytes=1000, max_input_bytes=5_000_000))


STDIN_IMPORT = """
import sys
from events import Limits
from negotiation import InputTooLargeError, Negotiations
with Negotiations("memory:") as app:
    try:
        app.import_files(["-"], limits=Limits(max_input_bytes=int(sys.argv[1])), dry_run=sys.argv[2] == "verify")
    except InputTooLargeError as e:
        print(e)
"""


@pytest.mark.parametrize("command", ["import", "verify"])
def test_endless_standard_input_is_bounded(command: str) -> None:
    """``import - < /dev/zero`` filled the disk: standard input is copied up to max_input_bytes, then refused."""
    with Path("/dev/zero").open("rb") as zero:
        result = subprocess.run(
            [sys.executable, "-c", STDIN_IMPORT, "3000000", command],
            stdin=zero,
            capture_output=True,
            timeout=120,
            check=False,
        )
    assert result.stdout.decode().strip() == (
        "standard input: more than 3,000,000 bytes (raise --max-input-bytes, or import a regular file); "
        "nothing was stored"
    )


@pytest.mark.parametrize("source", ["-", "/dev/zero"])
@pytest.mark.parametrize("command", ["import", "verify"])
def test_endless_input_through_the_command_line(source: str, command: str, tmp_path: Path) -> None:
    """``negotiation --max-line-bytes 1000 import /dev/zero`` and ``import - < /dev/zero``: one line, exit 1."""
    limits = ["--max-line-bytes", "1000", "--max-input-bytes", "4000000"]
    with Path("/dev/zero").open("rb") as zero:
        result = subprocess.run(
            [SCRIPT, "--db", f"sqlite:///{tmp_path / 's.db'}", *limits, command, source],
            stdin=zero,
            capture_output=True,
            timeout=120,
            check=False,
        )
    name = "standard input" if source == "-" else source
    assert error_lines(result.stderr) == [
        f"error: {name}: more than 4,000,000 bytes (raise --max-input-bytes, or import a regular file); "
        "nothing was stored"
    ]
    assert result.returncode == 1


# --- 7. extreme times are usage errors naming the accepted range -----------------------

RANGE = "from 0001-01-02 to 9999-12-30"


@pytest.fixture(scope="module")
def wga_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite store holding the WGA example."""
    db = tmp_path_factory.mktemp("extreme") / "wga.db"
    with Negotiations(str(db)) as app:
        assert app.import_files([Path(__file__).resolve().parents[2] / "examples" / "wga_amptp_2023.jsonl"]).ok
    return db


@pytest.mark.parametrize(
    "args",
    [
        ["status", "wga-amptp-2023", "--at", "9999-12-31T23:59:59-05:00"],
        ["status", "wga-amptp-2023", "--known-at", "9999-12-31T23:59:59-05:00"],
        ["list", "--at", "0001-01-01T00:00:00+05:00"],
        ["list", "--known-at", "0001-01-01"],
        ["positions", "wga-amptp-2023", "--at", "9999-12-31"],
        ["timeline", "wga-amptp-2023", "--known-at", "0001-01-01T00:00:00Z"],
        ["stoppages", "--on", "9999-12-31"],
    ],
)
def test_extreme_moments_are_usage_errors(args: list[str], wga_store: Path) -> None:
    """``status N --at 9999-12-31T23:59:59-05:00`` was "internal error: OverflowError" (issue 12, point 7): exit 2."""
    result = run("--db", wga_store, *args)
    lines = error_lines(result.stderr)
    assert result.returncode == 2, lines
    assert RANGE in lines[-1], lines
    assert "internal error" not in result.stderr.decode()


@pytest.mark.parametrize(
    "moment", ["0001-01-02", "9999-12-30", "0001-01-02T00:00:00-05:00", "9999-12-30T23:59:59+14:00"]
)
def test_the_ends_of_the_range_are_answers(moment: str, wga_store: Path) -> None:
    """The first and last moments accepted give answers (the negotiation not open yet, or as it stands)."""
    result = run("--db", wga_store, "list", "--at", moment, "--json")
    assert result.returncode == 0, result.stderr
    orjson.loads(result.stdout)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("occurred_at", "0001-01-01T00:00:00+05:00"),
        ("occurred_at", "0001-01-01"),
        ("recorded_at", "9999-12-31T23:59:59-05:00"),
    ],
)
def test_extreme_event_times_are_refused_at_the_door(field: str, value: str) -> None:
    """An event in year 1 imported, then ``timeline`` ended in OverflowError: its line is refused, naming the range."""
    with pytest.raises(InvalidEventError) as raised:
        parse_event({**OPENED, field: value})
    assert raised.value.path == field
    assert raised.value.expected is not None
    assert RANGE in raised.value.expected


# --- 1 (continued). a projector never stops for good on an event it cannot project ------


def poison(app: Negotiations, negotiation: str = "a") -> None:
    """Store a negotiation whose second event holds NUL in its terms, past the door (as a store written before it)."""
    app.append([opened("o", negotiation=negotiation)])
    bad = proposal_event("p", 1, terms="5%\0 a year", negotiation=negotiation, recorded_at=NOW)
    app.store.put([StreamEvent(negotiation, 2, bad)])


@pytest.mark.postgres
def test_a_nul_no_longer_wedges_the_postgresql_read_models(postgres_url: str) -> None:
    """Every catch_up() failed on "text fields cannot contain NUL" (issue 12, point 1): nothing after it got rows.

    Now the event is skipped: its negotiation's rows are removed in the same
    transaction that moves the tracked position past it, the skip is logged
    as an error, and every other negotiation is projected; a restarted
    projector does not meet it again.
    """
    with Negotiations(postgres_url) as app:
        poison(app)
        app.append([opened("o2", negotiation="b")])
        with capture_logs() as logs, ReadModels(app) as models:
            assert models.catch_up() == 3
            assert models.status("a") is None
            assert models.status("b") is not None
        [skipped] = [log for log in logs if log["event"] == "read_models.event_skipped"]
        assert (skipped["log_level"], skipped["negotiation"], skipped["position"]) == ("error", "a", 2)
        assert "NUL" in skipped["reason"]
        app.append([talks_requested("r", 2, negotiation="a"), opened("o3", negotiation="c")])
        with ReadModels(app) as again:
            assert again.position() == 3  # durable: the restarted projector starts after the skipped event
            assert again.catch_up() == 2
            assert again.status("c") is not None
            assert again.status("a") is None  # skipped again: its earlier rows are gone, never half-written
            assert again.position() == app.position()


@pytest.mark.parametrize(
    "store_url", ["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_an_event_that_cannot_be_projected_is_skipped_on_every_store(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever makes a projection fail (here a fold that raises for one negotiation), the others go on."""
    real = runner.status_row_of

    def failing(negotiation: str, *args: Any) -> Any:
        if negotiation == "a":
            raise ArithmeticError("a fold that cannot be computed")
        return real(negotiation, *args)

    monkeypatch.setattr(runner, "status_row_of", failing)
    with Negotiations(store_url) as app:
        app.append(
            [opened("o", negotiation="a"), opened("o2", negotiation="b"), talks_requested("r", 1, negotiation="b")]
        )
        with ReadModels(app, page_size=10) as models:
            assert models.catch_up() == 3
            assert models.status("a") is None
            status = models.status("b")
            assert status is not None
            assert status["talks"] == "requested"
            assert models.position() == app.position()


def test_a_store_written_before_the_range_stays_readable(app: Negotiations) -> None:
    """An event in year 1 stored before the door refused it is still read back and exported, never lost."""
    early = opened("o", dt.datetime(1, 1, 1, 12, tzinfo=dt.UTC), recorded_at=NOW)
    app.store.put([StreamEvent(NEGOTIATION, 1, early)])
    [line] = list(app.export([NEGOTIATION]))
    assert orjson.loads(line)["occurred_at"] == "0001-01-01T12:00:00+00:00"
