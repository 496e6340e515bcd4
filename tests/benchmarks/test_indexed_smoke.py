"""``benchmarks.indexed`` end to end on a tiny feed: every command answers, from compiled modules."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from benchmarks import indexed


def test_compile_project_writes_the_bytecode_python_reads() -> None:
    """Each package of ours gets a current ``__pycache__`` file: what an installed copy has."""
    assert indexed.compile_project()
    for package in indexed.PACKAGES:
        spec = importlib.util.find_spec(package)
        assert spec is not None
        assert spec.origin is not None
        source = Path(spec.origin).stat()
        header = Path(importlib.util.cache_from_source(spec.origin)).read_bytes()[:16]
        # magic, flags, then the source's time and size: what the import system checks before it uses the file
        assert header[:4] == importlib.util.MAGIC_NUMBER
        assert int.from_bytes(header[8:12], "little") == int(source.st_mtime) & 0xFFFFFFFF
        assert int.from_bytes(header[12:16], "little") == source.st_size & 0xFFFFFFFF


def test_a_tiny_run_times_every_command(tmp_path: Path) -> None:
    """Every query of the report exited 0, and the report says the commands ran compiled."""
    out = tmp_path / "out"
    assert indexed.main(["--negotiations", "12", "--events-per", "8", "--runs", "1", "--out", str(out)]) == 0
    report = json.loads((out / "report-indexed.json").read_text())
    assert report["bytecode"] is True
    (size,) = report["sizes"]
    assert size["events"] == 96
    assert set(size["queries"]) >= {"--version", "list", "stoppages --on D", "timeline N (30 days)"}
    assert all(q["exit"] == 0 for q in size["queries"].values()), size["queries"]
    assert size["import"]["exit"] == 0
