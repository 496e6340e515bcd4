"""The read models stay pure: no facade, CLI or store imports, and no import cycles at start-up."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import projections

ROOT = Path(__file__).resolve().parents[2]
READ_MODELS = ("status", "positions", "gap", "timeline", "catalog", "diff", "answers", "errors", "__init__")
FORBIDDEN = ("negotiation.application", "negotiation.cli", "negotiation.store.eventstore", "negotiation.queries")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("module", READ_MODELS)
def test_read_models_do_not_import_the_facade(module: str) -> None:
    """A read model imports only events, the pure core and other read models."""
    imported = _imports(ROOT / "projections" / f"{module}.py")
    assert not {name for name in imported if name.startswith(FORBIDDEN)}


@pytest.mark.parametrize("first", ["projections", "negotiation", "negotiation.queries", "projections.answers"])
def test_any_import_order_works(first: str) -> None:
    """Importing either package first works: the facade imports the read models lazily."""
    code = f"import {first}; import negotiation, projections; print(negotiation.Negotiations.status)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=False)
    assert result.returncode == 0, result.stderr


def test_public_names_are_exported() -> None:
    """Every name in ``projections.__all__`` exists."""
    assert all(hasattr(projections, name) for name in projections.__all__)
