"""docs/guarantees.md names its evidence: every test it cites exists."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from tests.reliability.hostile import CASES

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "guarantees.md"
CITATION = re.compile(r"`(?:(?P<file>[\w/]+\.py))?::(?P<test>test_\w+)")
CASE = re.compile(r"cases? `([a-z0-9-]+)`(?: and `([a-z0-9-]+)`)?")


def _tests_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {node.name for node in tree.body if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")}


def test_every_cited_test_exists() -> None:
    """Each `file.py::test_name` (or `::test_name` after one) in docs/guarantees.md is a test function of that file."""
    text = DOC.read_text(encoding="utf-8")
    current: Path | None = None
    cited = 0
    for match in CITATION.finditer(text):
        if match["file"]:
            current = ROOT / "tests" / match["file"]
        assert current is not None, match.group()
        assert current.exists(), current
        assert match["test"] in _tests_of(current), f"{current.name}::{match['test']} is cited but does not exist"
        cited += 1
    assert cited >= 30
    names = {case.name for case in CASES}
    for match in CASE.finditer(text):
        assert {name for name in match.groups() if name} <= names
    assert (ROOT / "scripts" / "soak.py").exists()
