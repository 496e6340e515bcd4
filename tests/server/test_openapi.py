"""The published OpenAPI document, and schemathesis over it against a live server (the stream excluded).

Schemathesis runs as its command line (bounded: examples per operation, a
seed; no ``--max-time``, which would keep fuzzing until it runs out: about
650 requests per backend, 1,300 in all; the coverage and fuzzing phases: the stateful phase
follows links for minutes and finds nothing the others miss here). Every check runs but ``positive_data_acceptance``: a
schema-valid moment such as ``2023-99-99`` matches the documented pattern and
is still refused (400), which is right. The server's access log then shows no
5xx for any of the requests.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import httpx
import orjson

from tests.server.conftest import EXAMPLES
from tests.server.live import READ_TOKEN, WRITE_TOKEN, LiveServer

SCHEMATHESIS = str(Path(sys.executable).with_name("schemathesis"))
EXAMPLES_PER_OPERATION = 40


def test_the_openapi_document_is_generated_from_the_code(shared: LiveServer) -> None:
    with shared.client(READ_TOKEN) as client:
        document = client.get("/openapi.json").json()
    assert document["openapi"].startswith("3.1")
    paths = document["paths"]
    for path in ["/v1/events", "/v1/events/stream", "/v1/negotiations", "/v1/stoppages", "/healthz", "/readyz"]:
        assert path in paths
    schemas = document["components"]["schemas"]
    problem = next(s for name, s in schemas.items() if name.endswith("ProblemDocument"))
    assert set(problem["properties"]) >= {"type", "title", "status", "detail", "errors"}
    append = next(s for name, s in schemas.items() if name.endswith("AppendBody"))
    assert set(append["properties"]) == {"stored", "duplicates", "positions", "versions"}
    assert "application/x-ndjson" in paths["/v1/events"]["post"]["requestBody"]["content"]


def test_schemathesis_finds_no_5xx_and_no_nonconforming_answer(shared: LiveServer, tmp_path: Path) -> None:
    with shared.client(WRITE_TOKEN) as client:
        client.post("/v1/events", content=(EXAMPLES / "wga_amptp_2023.jsonl").read_bytes())
    done = subprocess.run(
        [
            SCHEMATHESIS,
            "run",
            f"{shared.url}/openapi.json",
            "--header",
            f"Authorization: Bearer {WRITE_TOKEN}",
            "--exclude-path",
            "/v1/events/stream",
            "--max-examples",
            str(EXAMPLES_PER_OPERATION),
            "--checks",
            "all",
            "--exclude-checks",
            "positive_data_acceptance",
            "--phases",
            "coverage,fuzzing",
            "--seed",
            "20260101",
            "--request-timeout",
            "20",
            "--no-color",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,  # schemathesis keeps a cache in its working directory
        timeout=400,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-4000:]
    generated = re.search(r"(\d+) generated", done.stdout)
    assert generated is not None, done.stdout[-2000:]
    assert int(generated.group(1)) >= 500
    statuses = [orjson.loads(line)["status"] for line in shared.access_lines()]
    assert len(statuses) >= 500
    assert all(status < 500 or status == 503 for status in statuses)
    assert 503 not in statuses or all("not-ready" in line for line in shared.log if '"status": 503' in line)
    assert httpx.get(shared.url + "/healthz").status_code == 200
