"""docs/http.md and the examples run against a live server: every curl shown, the bash follower, EventSource.

Every ```sh block of docs/http.md runs, top to bottom, in a directory holding a
copy of ``examples/``, with ``URL`` the server and ``TOKEN`` a write token. Blocks under
"Errors" must answer a problem document; every other block must not. A block
with ``curl -N`` (a stream that never ends) runs for a few seconds and must
have printed an event.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from events.converter import parse_line
from negotiation import Negotiations
from tests.server.events import jsonl, negotiation_lines
from tests.server.live import READ_TOKEN, WRITE_TOKEN, LiveServer

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "http.md"
PROBLEM = '"type":"urn:negotiation-log:problem:'
CHROMIUM = "/usr/bin/chromium"


def _sh_blocks() -> list[tuple[str, str]]:
    """``(section, code)`` of every ```sh block, in order."""
    blocks, section = [], ""
    for match in re.finditer(r"^## ([^\n]+)$|^```sh\n(.*?)^```$", DOC.read_text(encoding="utf-8"), re.M | re.S):
        if match.group(1):
            section = match.group(1)
        else:
            blocks.append((section, match.group(2)))
    return blocks


def test_the_doc_has_a_curl_example_for_each_endpoint() -> None:
    code = "\n".join(block for _, block in _sh_blocks())
    for path in ["/healthz", "/readyz", "/openapi.json", "/v1/events", "/v1/events/stream", "/v1/negotiations?"]:
        assert path in code
    for answer in ["status", "positions", "timeline", "diff", "gap"]:
        assert f"/wga-amptp-2023/{answer}" in code
    assert "/v1/stoppages" in code
    assert "chart.svg" in code
    assert "chart.html" in code
    assert "text/csv" in code


def test_every_shell_example_of_the_doc(db: str, tokens: Path, tmp_path: Path) -> None:
    workdir = tmp_path / "work"
    shutil.copytree(ROOT / "examples", workdir / "examples")
    live = LiveServer.start(db, tokens=tokens)
    env = {**os.environ, "URL": live.url, "TOKEN": WRITE_TOKEN}
    try:
        for section, code in _sh_blocks():
            streaming = " -N " in code
            if streaming:
                done = _run_for_a_while(code, env, workdir)
            else:
                done = subprocess.run(
                    ["bash", "-c", f"set -o pipefail; {code}"],
                    cwd=workdir,
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=60,
                    check=False,
                )
            assert done.returncode == 0 or (streaming and "id: " in done.stdout), (code, done.stdout, done.stderr)
            if section == "Errors":
                assert PROBLEM in done.stdout, code
            else:
                assert PROBLEM not in done.stdout, (code, done.stdout)
            if streaming:
                assert re.search(r"^id: \d+\nevent: [a-z.]+\ndata: \{", done.stdout, re.M), done.stdout
    finally:
        live.stop()


def _run_for_a_while(code: str, env: dict[str, str], workdir: Path) -> subprocess.CompletedProcess[str]:
    process = subprocess.Popen(
        ["bash", "-c", code],
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = process.communicate(timeout=3)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, 9)
        out, err = process.communicate()
    return subprocess.CompletedProcess(process.args, 0, out, err)


def test_the_bash_follower_example(db: str, tokens: Path) -> None:
    """examples/follow_stream.sh prints each event once, from the stream, across a server restart."""
    live = LiveServer.start(db, tokens=tokens, workers=2)
    negotiation = f"f-{uuid.uuid4().hex[:6]}"
    events = negotiation_lines(negotiation, 12)
    follower = subprocess.Popen(
        [str(ROOT / "examples" / "follow_stream.sh"), live.url, READ_TOKEN, str(len(events))],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        with live.client(WRITE_TOKEN) as client:
            for event in events:
                assert client.post("/v1/events", content=jsonl([event])).status_code == 201
        out, err = follower.communicate(timeout=60)
    finally:
        if follower.poll() is None:
            os.killpg(follower.pid, 9)
        live.stop()
    assert follower.returncode == 0, err
    lines = [line.split() for line in out.splitlines()]
    assert [line[2] for line in lines] == [e["id"] for e in events]
    assert [line[1] for line in lines] == [e["type"] for e in events]
    assert [int(line[0]) for line in lines] == sorted(int(line[0]) for line in lines)


@pytest.mark.skipif(
    not Path(CHROMIUM).exists() and os.environ.get("NEGOTIATION_REQUIRE_BROWSER") != "1", reason="no chromium"
)
def test_a_browsers_eventsource_follows_and_resumes(tmp_path: Path) -> None:
    """The EventSource of docs/http.md, in Chromium, against a read-only service on loopback."""
    from playwright.sync_api import sync_playwright

    db = f"sqlite:///{tmp_path / 'store.db'}"
    negotiation = "browser-1"
    with Negotiations(db) as app:
        app.append([parse_line(line) for line in jsonl(negotiation_lines(negotiation, 3)).splitlines()])
    live = LiveServer.start(db)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = browser.new_page()
            page.goto(live.url + "/healthz")
            page.evaluate(
                """() => {
                  window.seen = [];
                  const source = new EventSource("/v1/events/stream?after=0");
                  const keep = (m) => window.seen.push([m.lastEventId, JSON.parse(m.data).id]);
                  source.addEventListener("negotiation.opened", keep);
                  source.addEventListener("talks.held", keep);
                }"""
            )
            page.wait_for_function("window.seen.length >= 3", timeout=30_000)
            seen = page.evaluate("window.seen")
            browser.close()
    finally:
        live.stop()
    assert seen == [["1", "browser-1-0"], ["2", "browser-1-1"], ["3", "browser-1-2"]]
