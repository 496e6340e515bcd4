"""The Python in the documentation runs as written: every ```python block of the README, docs/api.md, docs/tutorial.md.

Each block runs in a fresh namespace, from a temporary working directory that
holds a copy of ``examples/`` (blocks read ``examples/*.jsonl`` as a reader at
the repository root would; ``REPO_ROOT`` is in the namespace too), with
``NEGOTIATION_DB`` unset. Blocks may configure logging, as an application
would: the standard library's and structlog's configuration are restored
after each block.
"""

from __future__ import annotations

import logging
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import structlog

ROOT = Path(__file__).resolve().parents[1]
DOCS = ("README.md", "docs/api.md", "docs/tutorial.md")
LINKED_DOCS = ("docs/api.md", "docs/tutorial.md", "docs/reference.md")
"""The documents whose relative links must resolve (the others are being written by others)."""

_FENCE = re.compile(r"^```(\S*)[^\n]*\n(.*?)^```\s*$", re.M | re.S)


def python_blocks(path: Path) -> list[tuple[int, str]]:
    """(first line number, code) of each ```python block of a Markdown file."""
    text = path.read_text(encoding="utf-8")
    return [
        (text.count("\n", 0, match.start()) + 2, match.group(2))
        for match in _FENCE.finditer(text)
        if match.group(1) == "python"
    ]


def _cases() -> list[object]:
    return [
        pytest.param(doc, line, code, id=f"{doc}:{line}")
        for doc in DOCS
        if (ROOT / doc).exists()
        for line, code in python_blocks(ROOT / doc)
    ]


@contextmanager
def logging_restored() -> Iterator[None]:
    """Undo whatever a block does to the standard library's loggers and to structlog's configuration."""
    manager = logging.Logger.manager
    before = {name: logger for name, logger in manager.loggerDict.items() if isinstance(logger, logging.Logger)}
    saved = {
        logger: (logger.level, list(logger.handlers), logger.propagate, logger.disabled)
        for logger in [logging.getLogger(), *before.values()]
    }
    configured = structlog.is_configured()
    config = structlog.get_config()
    try:
        yield
    finally:
        for name, logger in list(manager.loggerDict.items()):
            if isinstance(logger, logging.Logger) and name not in before:
                logger.setLevel(logging.NOTSET)
                logger.handlers.clear()
        for logger, (level, handlers, propagate, disabled) in saved.items():
            logger.setLevel(level)
            logger.handlers[:] = handlers
            logger.propagate = propagate
            logger.disabled = disabled
        if configured:
            structlog.configure(**config)
        else:
            structlog.reset_defaults()


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary working directory with a copy of ``examples/``."""
    shutil.copytree(ROOT / "examples", tmp_path / "examples", ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NEGOTIATION_DB", raising=False)
    return tmp_path


@pytest.mark.parametrize(("doc", "line", "code"), _cases())
def test_python_block_runs(doc: str, line: int, code: str, workdir: Path) -> None:
    """The ```python block runs without error in a fresh namespace."""
    namespace = {"__name__": "__doc_block__", "REPO_ROOT": ROOT}
    with logging_restored():
        exec(compile(code, f"{doc}:{line}", "exec"), namespace)  # noqa: S102 - the docs are ours


@pytest.mark.parametrize("doc", DOCS)
def test_docs_have_python_blocks(doc: str) -> None:
    """Each of these documents exists and shows Python, so the test above is not vacuous."""
    assert python_blocks(ROOT / doc)


def test_block_extraction(tmp_path: Path) -> None:
    """Only ```python blocks are extracted, each with the line number of its first line of code."""
    doc = tmp_path / "doc.md"
    doc.write_text("# t\n\n```python\nx = 1\n```\n\n```sh\nls\n```\n\n```python\ny = 2\nz = 3\n```\n", encoding="utf-8")
    assert python_blocks(doc) == [(4, "x = 1\n"), (12, "y = 2\nz = 3\n")]


@pytest.mark.parametrize("doc", LINKED_DOCS)
def test_relative_links_resolve(doc: str) -> None:
    """Every relative link of the document points at an existing file (and, with an #anchor, an existing heading)."""
    path = ROOT / doc
    text = path.read_text(encoding="utf-8")
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):
            continue
        file, _, anchor = target.partition("#")
        linked = (path.parent / file).resolve() if file else path
        if not linked.exists() or (anchor and linked.suffix == ".md" and anchor not in _anchors(linked)):
            broken.append(target)
    assert broken == []


def _anchors(path: Path) -> set[str]:
    """GitHub's anchors for the headings of a Markdown file."""
    anchors = set()
    for heading in re.findall(r"^#+ (.+)$", path.read_text(encoding="utf-8"), re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        anchors.add(slug)
    return anchors
