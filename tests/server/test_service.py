"""The HTTP service against a live server (one per backend): endpoints, appends, auth, hostile input."""

from __future__ import annotations

import subprocess
import time
import uuid
from pathlib import Path

import httpx
import orjson
import pytest

from tests.server.conftest import EXAMPLES
from tests.server.events import jsonl, negotiation_lines, opened, talks
from tests.server.live import NEGOTIATION, READ_TOKEN, WRITE_TOKEN, LiveServer

PROBLEM = "application/problem+json"
WGA = "wga-amptp-2023"


def _id() -> str:
    return f"n-{uuid.uuid4().hex[:10]}"


def _problem(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = orjson.loads(response.content)
    assert body["status"] == status
    assert {"type", "title", "status", "detail"} <= body.keys()
    return body  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def wga(shared: LiveServer) -> LiveServer:
    """The shared server with the WGA example appended over HTTP."""
    with shared.client(WRITE_TOKEN) as client:
        response = client.post(
            "/v1/events",
            content=(EXAMPLES / "wga_amptp_2023.jsonl").read_bytes(),
            headers={"Content-Type": "application/x-ndjson"},
        )
        assert response.status_code in (200, 201), response.text
    return shared


def _cli_json(db: str, *args: str) -> object:
    done = subprocess.run([NEGOTIATION, "--db", db, *args, "--json"], capture_output=True, check=True, timeout=60)
    return orjson.loads(done.stdout)


# --- answers: the same as the command line's --json --------------------------------------


@pytest.mark.parametrize(
    ("path", "args"),
    [
        (
            f"/v1/negotiations/{WGA}/status?at=2023-08-11&known_at=2023-12-31",
            ["status", WGA, "--at", "2023-08-11", "--known-at", "2023-12-31"],
        ),
        (
            f"/v1/negotiations/{WGA}/positions?at=2023-09-24&known_at=2023-12-31",
            ["positions", WGA, "--at", "2023-09-24", "--known-at", "2023-12-31"],
        ),
        (
            f"/v1/negotiations/{WGA}/timeline?from=2023-05-01&to=2023-05-31",
            ["timeline", WGA, "--from", "2023-05-01", "--to", "2023-05-31"],
        ),
        (
            f"/v1/negotiations/{WGA}/diff?from=2023-05-01&to=2023-09-27&known_at=2023-12-31",
            ["diff", WGA, "--from", "2023-05-01", "--to", "2023-09-27", "--known-at", "2023-12-31"],
        ),
        (
            "/v1/negotiations?at=2023-08-11&known_at=2023-12-31",
            ["list", "--at", "2023-08-11", "--known-at", "2023-12-31"],
        ),
        (
            "/v1/stoppages?on=2023-08-11&known_at=2023-12-31",
            ["stoppages", "--on", "2023-08-11", "--known-at", "2023-12-31"],
        ),
    ],
)
def test_answers_equal_the_command_lines_json(wga: LiveServer, path: str, args: list[str]) -> None:
    with wga.client(READ_TOKEN) as client:
        response = client.get(path)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    db = wga.process.args[2]  # type: ignore[index]
    assert orjson.loads(response.content) == _cli_json(str(db), *args)


def test_gap_answer(wga: LiveServer) -> None:
    with wga.client(READ_TOKEN) as client:
        body = client.get(f"/v1/negotiations/{WGA}/gap", params={"at": "2023-08-11"}).json()
    assert body["negotiation"] == WGA
    assert {g["issue"] for g in body["gaps"]} >= {"wages"}


def test_unknown_negotiation_and_route_are_404(wga: LiveServer) -> None:
    with wga.client(READ_TOKEN) as client:
        _problem(client.get("/v1/negotiations/no-such-thing/status"), 404)
        _problem(client.get("/v1/nothing-here"), 404)
        wrong_method = client.delete("/v1/events")
        _problem(wrong_method, 405)
        assert set(wrong_method.headers["allow"].replace(" ", "").split(",")) >= {"GET", "POST"}


@pytest.mark.parametrize(
    "query",
    ["at=yesterday", "at=2023-13-45", "at=2023-08-11T10:00:00", "known_at=%00", "nonsense=1", "at=9999999999-01-01"],
)
def test_bad_query_parameters_are_400(wga: LiveServer, query: str) -> None:
    with wga.client(READ_TOKEN) as client:
        body = _problem(client.get(f"/v1/negotiations/{WGA}/status?{query}"), 400)
    assert "\x00" not in str(body["detail"])


@pytest.mark.parametrize(
    ("path", "args"),
    [
        (f"/v1/negotiations/{WGA}/status?at=2023-08-11&known_at=2023-12-31", ["status", WGA, "--at", "2023-08-11"]),
        (f"/v1/negotiations/{WGA}/timeline?from=2023-05-01&to=2023-05-31", ["timeline", WGA, "--from", "2023-05-01"]),
        ("/v1/stoppages?on=2023-08-11&known_at=2023-12-31", ["stoppages", "--on", "2023-08-11"]),
        (f"/v1/negotiations/{WGA}/gap?at=2023-08-11&known_at=2023-12-31", ["gap", WGA, "--at", "2023-08-11"]),
    ],
)
def test_csv_is_the_command_lines(wga: LiveServer, path: str, args: list[str]) -> None:
    """``Accept: text/csv`` answers the table of the command's ``--csv``."""
    query = dict(part.split("=") for part in path.partition("?")[2].split("&"))
    extra = [f"--{'known-at' if k == 'known_at' else k}" for k in query if f"--{k}" not in args]
    cli_args = [*args]
    for key, value in query.items():
        flag = "--known-at" if key == "known_at" else f"--{key}"
        if flag not in cli_args:
            cli_args += [flag, value]
    assert extra is not None
    with wga.client(READ_TOKEN) as client:
        response = client.get(path, headers={"Accept": "text/csv"})
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/csv")
        _problem(client.get(path, headers={"Accept": "image/png"}), 406)
        preferred = client.get(path, headers={"Accept": "text/csv;q=0.5, application/json"})
        assert preferred.headers["content-type"].startswith("application/json")
    db = str(wga.process.args[2])  # type: ignore[index]
    done = subprocess.run([NEGOTIATION, "--db", db, *cli_args, "--csv"], capture_output=True, check=True, timeout=60)
    assert response.content == done.stdout


def test_charts(wga: LiveServer) -> None:
    with wga.client(READ_TOKEN) as client:
        svg = client.get(f"/v1/negotiations/{WGA}/chart.svg", params={"from": "2023-05-01", "to": "2023-10-01"})
        html = client.get(f"/v1/negotiations/{WGA}/chart.html")
        _problem(client.get("/v1/negotiations/nope/chart.svg"), 404)
        _problem(client.get(f"/v1/negotiations/{WGA}/chart.svg", params={"from": "someday"}), 400)
    assert svg.status_code == 200, svg.text
    assert svg.headers["content-type"].startswith("image/svg+xml")
    assert svg.content.lstrip().startswith(b"<svg") or b"<svg" in svg.content[:500]
    assert html.status_code == 200
    assert html.headers["content-type"].startswith("text/html")
    assert b"<html" in html.content[:2000].lower()


# --- appends -------------------------------------------------------------------------------


def test_append_is_idempotent_and_reports_versions(shared: LiveServer) -> None:
    negotiation = _id()
    body = jsonl(negotiation_lines(negotiation, 3))
    with shared.client(WRITE_TOKEN) as client:
        first = client.post("/v1/events", content=body, headers={"Content-Type": "application/jsonl"})
        assert first.status_code == 201, first.text
        answer = first.json()
        assert list(answer) == ["stored", "duplicates", "positions", "versions"]
        assert answer["stored"] == 3
        assert answer["duplicates"] == 0
        assert answer["versions"] == {negotiation: 3}
        again = client.post("/v1/events", content=body, headers={"Content-Type": "application/x-ndjson"})
        assert again.status_code == 200
        assert again.json() == {"stored": 0, "duplicates": 3, "positions": [], "versions": {negotiation: 3}}
        as_array = client.post("/v1/events", json=[talks(negotiation, 3)])
        assert as_array.status_code == 201
        assert as_array.json()["positions"] == [answer["positions"][-1] + 1] or as_array.json()["stored"] == 1
        lines = client.get("/v1/events", params={"negotiation": negotiation}).content.splitlines()
    assert [orjson.loads(line)["id"] for line in lines] == [f"{negotiation}-{n}" for n in range(4)]


def test_conflicting_content_is_409_and_rule_violations_422_naming_the_line(shared: LiveServer) -> None:
    negotiation = _id()
    with shared.client(WRITE_TOKEN) as client:
        assert client.post("/v1/events", content=jsonl(negotiation_lines(negotiation, 2))).status_code == 201
        changed = talks(negotiation, 1, note="other")
        body = _problem(client.post("/v1/events", content=jsonl([talks(negotiation, 5), changed])), 409)
        assert body["errors"][0]["id"] == f"{negotiation}-1"
        assert body["errors"][0]["line"] == 2
        # a second opening breaks a rule
        again = opened(negotiation, event_id=f"{negotiation}-again")
        refused = _problem(client.post("/v1/events", content=jsonl([talks(negotiation, 6), again])), 422)
        assert refused["errors"][0]["id"] == f"{negotiation}-again"
        assert refused["errors"][0]["line"] == 2
        assert refused["errors"][0]["rule"]
        versions = client.get("/v1/events", params={"negotiation": negotiation}).content.splitlines()
    assert len(versions) == 2  # nothing of the refused batches was stored


def test_expected_version(shared: LiveServer) -> None:
    negotiation = _id()
    with shared.client(WRITE_TOKEN) as client:
        assert client.post("/v1/events?expected_version=0", content=jsonl([opened(negotiation)])).status_code == 201
        wrong = _problem(client.post("/v1/events?expected_version=0", content=jsonl([talks(negotiation, 1)])), 409)
        assert wrong["current_version"] == 1
        assert "version 1" in str(wrong["detail"])
        assert client.post("/v1/events?expected_version=1", content=jsonl([talks(negotiation, 1)])).status_code == 201
        # a retry of what is stored is a duplicate, whatever the version
        assert client.post("/v1/events?expected_version=1", content=jsonl([talks(negotiation, 1)])).status_code == 200
        _problem(client.post("/v1/events?expected_version=x", content=jsonl([talks(negotiation, 2)])), 400)
        two = jsonl([talks(negotiation, 2), opened(_id())])
        _problem(client.post("/v1/events?expected_version=2", content=two), 422)


def test_read_your_writes(shared: LiveServer) -> None:
    negotiation = _id()
    with shared.client(WRITE_TOKEN) as client:
        position = client.post("/v1/events", content=jsonl([opened(negotiation)])).json()["positions"][-1]
        seen = client.get(f"/v1/negotiations/{negotiation}/status", headers={"Min-Position": str(position)})
        assert seen.status_code == 200
        assert seen.json()["events_applied"] == 1
        future = client.get(f"/v1/negotiations/{negotiation}/status", headers={"Min-Position": str(position + 10**9)})
        _problem(future, 503)
        assert future.headers["retry-after"]
        _problem(client.get("/v1/negotiations", headers={"Min-Position": "1; drop"}), 400)


def test_events_paging(shared: LiveServer) -> None:
    negotiation = _id()
    with shared.client(WRITE_TOKEN) as client:
        client.post("/v1/events", content=jsonl(negotiation_lines(negotiation, 5)))
        after, seen = 0, []
        for _ in range(100):
            page = client.get("/v1/events", params={"after": after, "limit": 2, "negotiation": negotiation})
            assert page.status_code == 200
            seen += [orjson.loads(line) for line in page.content.splitlines()]
            if int(page.headers["Next-After"]) == after:
                break
            after = int(page.headers["Next-After"])
        _problem(client.get("/v1/events", params={"limit": 10001}), 400)
        _problem(client.get("/v1/events", params={"after": -1}), 400)
    assert [e["id"] for e in seen] == [f"{negotiation}-{n}" for n in range(5)]
    assert all(isinstance(e["position"], int) for e in seen)


# --- auth ---------------------------------------------------------------------------------

READS = [
    "/readyz",
    "/openapi.json",
    "/v1/events",
    "/v1/events/stream",
    "/v1/negotiations",
    f"/v1/negotiations/{WGA}/status",
    f"/v1/negotiations/{WGA}/positions",
    f"/v1/negotiations/{WGA}/timeline",
    f"/v1/negotiations/{WGA}/diff?from=2023-05-01&to=2023-06-01",
    f"/v1/negotiations/{WGA}/gap",
    "/v1/stoppages?on=2023-08-11",
]


@pytest.mark.parametrize("path", READS)
def test_every_read_needs_a_token(wga: LiveServer, path: str) -> None:
    with wga.client() as anonymous:
        missing = anonymous.get(path)
        _problem(missing, 401)
        assert missing.headers["www-authenticate"].startswith("Bearer")
        _problem(anonymous.get(path, headers={"Authorization": "Bearer wrong"}), 401)
        _problem(anonymous.get(path, headers={"Authorization": f"Basic {READ_TOKEN}"}), 401)
    if path.endswith("/stream"):
        return
    with wga.client(READ_TOKEN) as reader:
        assert reader.get(path).status_code == 200


def test_writes_need_the_write_scope(wga: LiveServer) -> None:
    body = jsonl([opened(_id())])
    with wga.client() as anonymous:
        _problem(anonymous.post("/v1/events", content=body), 401)
    with wga.client(READ_TOKEN) as reader:
        _problem(reader.post("/v1/events", content=body), 403)
    with wga.client() as anonymous:
        assert anonymous.get("/healthz").status_code == 200


def test_the_log_names_tokens_never_shows_them(wga: LiveServer) -> None:
    with wga.client(READ_TOKEN) as reader:
        request_id = reader.get("/v1/negotiations").headers["x-request-id"]
    mine: list[dict[str, object]] = []
    for _ in range(100):  # the line is written after the answer is sent
        mine = [line for line in map(orjson.loads, wga.access_lines()) if line["request_id"] == request_id]
        if mine:
            break
        time.sleep(0.05)
    assert mine
    assert mine[0]["token"] == "reader"  # noqa: S105 - the token's NAME
    assert mine[0]["route"] == "/v1/negotiations"
    assert mine[0]["status"] == 200
    assert isinstance(mine[0]["duration_ms"], float)
    text = "".join(wga.log)
    assert READ_TOKEN not in text
    assert WRITE_TOKEN not in text


# --- hostile requests ------------------------------------------------------------------------


def test_oversized_body_is_413_before_it_is_read(db: str, tokens: Path) -> None:
    live = LiveServer.start(db, "--max-body-bytes", "100000", tokens=tokens)
    try:
        with live.client(WRITE_TOKEN) as client:
            _problem(client.post("/v1/events", content=b"x" * 200_000), 413)

            def chunks():  # no Content-Length: refused while streaming
                for _ in range(1000):
                    yield b"y" * 10_000

            _problem(client.post("/v1/events", content=chunks()), 413)
            assert client.get("/healthz").status_code == 200
    finally:
        live.stop()


@pytest.mark.parametrize(
    ("content", "content_type", "status"),
    [
        (b"{not json", "application/x-ndjson", 422),
        (b"\xff\xfe\xfa", "application/x-ndjson", 422),
        (b'{"id": "a\xff"}', "application/jsonl", 422),
        (b"[1, 2", "application/json", 415),
        (b'{"a": 1}', "application/json", 415),
        (b"<xml/>", "application/xml", 415),
        (b"[1, 2, 3]", "application/json", 422),
        (b"\x00\x00", "application/x-ndjson", 422),
    ],
)
def test_bad_bodies(shared: LiveServer, content: bytes, content_type: str, status: int) -> None:
    with shared.client(WRITE_TOKEN) as client:
        body = _problem(client.post("/v1/events", content=content, headers={"Content-Type": content_type}), status)
    assert "Traceback" not in str(body)


def test_a_10000_line_batch_with_one_bad_line(shared: LiveServer) -> None:
    negotiation = _id()
    events = negotiation_lines(negotiation, 10_000)
    events[7_776]["occurred_at"] = "2023-02-30"
    with shared.client(WRITE_TOKEN) as client:
        body = _problem(client.post("/v1/events", content=jsonl(events)), 422)
        assert [e["line"] for e in body["errors"]] == [7_777]
        assert body["errors"][0]["id"] == f"{negotiation}-7776"
        _problem(client.get(f"/v1/negotiations/{negotiation}/status"), 404)


@pytest.mark.parametrize("negotiation", ["..%2F..%2Fetc%2Fpasswd", "%2e%2e", "a%00b", "A" * 300, "x%0d%0aSet-Cookie:1"])
def test_path_traversal_and_odd_ids_are_404(wga: LiveServer, negotiation: str) -> None:
    with wga.client(READ_TOKEN) as client:
        response = client.get(f"/v1/negotiations/{negotiation}/status")
    assert response.status_code in (400, 404)
    assert response.headers["content-type"].startswith(PROBLEM)


def test_header_injection_in_last_event_id(wga: LiveServer) -> None:
    with wga.client(READ_TOKEN) as client:
        for value in ["1\r\nevent: evil", "-1", "abc", "1 2", "99999999999999999999999"]:
            try:
                response = client.get("/v1/events/stream", headers={"Last-Event-ID": value})
            except httpx.LocalProtocolError:  # the client refuses to send a raw newline: fine
                continue
            _problem(response, 400)


def test_markup_and_escapes_come_back_json_escaped(shared: LiveServer) -> None:
    negotiation = _id()
    nasty = '<script>alert(1)</script> \x1b[31mred\x1b[0m \u202e "quoted" \\ \''
    with shared.client(WRITE_TOKEN) as client:
        assert (
            client.post("/v1/events", json=[opened(negotiation), talks(negotiation, 1, note=nasty)]).status_code == 201
        )
        raw = client.get(f"/v1/negotiations/{negotiation}/timeline").content
        lines = client.get("/v1/events", params={"negotiation": negotiation}).content
    assert b"\x1b" not in raw
    assert b"\x1b" not in lines
    assert b"\\u001b" in raw
    assert (
        nasty in orjson.loads(raw)["events"][1]["summary"]
        or nasty in orjson.loads(lines.splitlines()[1])["data"]["note"]
    )
