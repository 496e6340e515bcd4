"""docs/architecture.md stays true: every file and name it mentions exists, and its read-model recipe runs."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "architecture.md"
TEXT = DOC.read_text(encoding="utf-8")

_CODE = re.findall(r"`([^`\n]+)`", TEXT)
PATHS = sorted({c for c in _CODE if re.fullmatch(r"[\w./]+(\.py|/)", c)})
NAMES = sorted({c for c in _CODE if re.fullmatch(r"(events|negotiation|projections)(\.\w+)+", c)})


def _picture_paths() -> list[str]:
    """The files and folders of the layer picture: bare names are relative to the last folder on their line."""
    paths = set()
    for line in TEXT.split("```", 2)[1].splitlines():
        base = ""
        for token in re.findall(r"[\w./]+", line):
            if not token.endswith((".py", "/")):
                continue
            path = token if "/" in token.rstrip("/") or not base else base + token
            paths.add(path)
            if "/" in path and ("/" in token.rstrip("/") or not base):  # from the root: the line's folder from here
                base = path if path.endswith("/") else path.rpartition("/")[0] + "/"
    return sorted(paths)


PICTURE_PATHS = _picture_paths()


def test_the_doc_names_files_and_names() -> None:
    """The scan below finds what it should (a doc without references would pass vacuously)."""
    assert "events/time.py" in PATHS
    assert "negotiation.queries.Queries" in NAMES
    assert "negotiation/core/history/index.py" in PATHS
    assert {"events/time.py", "negotiation/core/history/", "projections/gap.py"} <= set(PICTURE_PATHS)


@pytest.mark.parametrize("path", PATHS)
def test_every_file_the_doc_names_exists(path: str) -> None:
    """Each `path.py` or `folder/` in backticks is a file or folder of the repository."""
    assert (ROOT / path).exists(), f"docs/architecture.md names {path}, which does not exist"


@pytest.mark.parametrize("path", PICTURE_PATHS)
def test_every_file_in_the_picture_exists(path: str) -> None:
    """The layer picture's paths exist (file names after a folder are relative to the line's folder)."""
    assert (ROOT / path).exists(), f"the layer picture names {path}, which does not exist"


@pytest.mark.parametrize("name", NAMES)
def test_every_dotted_name_the_doc_names_exists(name: str) -> None:
    """Each dotted name in backticks is a module, or an attribute of the longest importable module prefix."""
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj: object = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attr in parts[cut:]:
            assert hasattr(obj, attr), f"docs/architecture.md names {name}: no {attr} in {obj!r}"
            obj = getattr(obj, attr)
        return
    pytest.fail(f"docs/architecture.md names {name}: no such module")


def test_the_read_model_recipe_runs() -> None:
    """The recipe's code (a Fold folded through History) runs as written; its asserts hold."""
    blocks = re.findall(r"```python\n(.*?)```", TEXT, flags=re.DOTALL)
    assert len(blocks) == 1
    exec(compile(blocks[0], str(DOC), "exec"), {})  # noqa: S102 - our own documentation
