"""The layering of the code base, checked by scanning the imports of every module (AST, nothing executed).

Layers, bottom up:

- ``events``: the vocabulary (event classes, JSON Lines converter); imports nothing of ours but itself;
- the pure core ``negotiation.core.state``, ``machine``, ``timeline``, ``errors``: no I/O;
- the pure read models ``projections.*`` (all but the subpackage ``projections.persisted``): no I/O;
- the persisted read models ``projections.persisted.*``: all I/O of ``projections``; no read model imports the facade;
- the facade ``negotiation.application`` (with ``queries``, ``importer``, ``store``, ``config``, ``logs``);
- the command line ``negotiation.cli`` (a package): imported by nobody outside it, only run as the console script.

An import counts wherever it is written (module level or inside a function), except under
``if TYPE_CHECKING:``, which never runs. ``from package import name`` counts as an import of
``package.name`` when that is a module of ours, else of ``package``.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("events", "negotiation", "projections")
SCRIPT_DIRS = ("examples", "benchmarks")
"""Other code of the repository that must not import the CLI either (tests may)."""

FACADE_MODULES = frozenset(
    {"negotiation.application", "negotiation.cli", "negotiation.importer", "negotiation.queries"}
)
"""What no projections module may import: the facade, its importer and queries, the CLI.

The persisted read models work at the edge and read the event store itself
(``negotiation.store.eventstore``); the pure read models may not, which
``test_pure_modules_import_only_pure_modules_of_ours`` checks."""

PURE_CORE = frozenset(
    {
        "negotiation.core",
        "negotiation.core.state",
        "negotiation.core.machine",
        "negotiation.core.history",
        "negotiation.core.errors",
    }
)
IMPURE_PROJECTIONS = frozenset(
    {
        "projections.persisted",
        "projections.persisted.models",
        "projections.persisted.runner",
        "projections.persisted.tables",
        "projections.persisted.sql",
        "projections.persisted.sqlite",
        "projections.persisted.postgres",
        "projections.persisted.memory",
        "projections.persisted.indexed",
    }
)
"""The persisted read models and their runners: they write tables. Every other projections module is pure."""

IO_MODULES = frozenset(
    {
        # files, processes, the operating system
        "os",
        "io",
        "pathlib",
        "shutil",
        "tempfile",
        "glob",
        "fileinput",
        "mmap",
        "subprocess",
        "signal",
        "multiprocessing",
        "sys",
        # network
        "socket",
        "ssl",
        "select",
        "selectors",
        "asyncio",
        "urllib",
        "http",
        "requests",
        "httpx",
        # databases and the event store
        "sqlite3",
        "dbm",
        "shelve",
        "psycopg",
        "psycopg_pool",
        "eventsourcing",
        # output: logging and terminals
        "logging",
        "structlog",
        "click",
        "rich",
    }
)
"""Modules a pure module must not import (by top-level name). ``zoneinfo`` is allowed: it reads the
time zone database, which is static data the domain needs, not input or output of the program."""

IO_BUILTINS = frozenset({"open", "print", "input", "breakpoint"})
"""Builtins a pure module must not call."""


@dataclass(frozen=True)
class Import:
    """One import statement's target, as resolved against our modules."""

    source: str
    target: str
    line: int
    in_function: bool

    def __str__(self) -> str:
        where = " (inside a function)" if self.in_function else ""
        return f"{self.source} imports {self.target} at line {self.line}{where}"


def _module_name(path: Path, base: Path) -> str:
    parts = list(path.relative_to(base).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def our_modules() -> dict[str, Path]:
    """Module name -> file, for every module of the three packages."""
    return {_module_name(path, ROOT): path for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))}


@cache
def script_files() -> tuple[Path, ...]:
    """The Python files of examples/ and benchmarks/."""
    return tuple(path for d in SCRIPT_DIRS for path in sorted((ROOT / d).rglob("*.py")))


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


class _ImportCollector(ast.NodeVisitor):
    """Collects imports (skipping ``if TYPE_CHECKING:`` bodies) and calls of I/O builtins."""

    def __init__(self, source: str, is_package: bool) -> None:
        self.source = source
        self.is_package = is_package
        self.imports: list[Import] = []
        self.io_calls: list[tuple[str, int]] = []
        self._depth = 0

    def visit_If(self, node: ast.If) -> None:
        if _is_type_checking(node.test):
            for child in node.orelse:
                self.visit(child)
            return
        self.generic_visit(node)

    def _in_function(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> None:
        self._depth += 1
        self.generic_visit(node)
        self._depth -= 1

    visit_FunctionDef = _in_function
    visit_AsyncFunctionDef = _in_function
    visit_Lambda = _in_function

    def _add(self, target: str, node: ast.stmt) -> None:
        self.imports.append(Import(self.source, target, node.lineno, self._depth > 0))

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(alias.name, node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = node.module or ""
        if node.level:
            package = self.source if self.is_package else self.source.rpartition(".")[0]
            for _ in range(node.level - 1):
                package = package.rpartition(".")[0]
            base = f"{package}.{base}" if base else package
        for alias in node.names:
            submodule = f"{base}.{alias.name}"
            self._add(submodule if submodule in our_modules() else base, node)

    def visit_Call(self, node: ast.Call) -> None:
        if isinstance(node.func, ast.Name) and node.func.id in IO_BUILTINS:
            self.io_calls.append((node.func.id, node.lineno))
        self.generic_visit(node)


@cache
def _scan(path: Path, source: str) -> _ImportCollector:
    collector = _ImportCollector(source, is_package=path.name == "__init__.py")
    collector.visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
    return collector


def imports_of(module: str) -> list[Import]:
    """Every import the module makes that can run (TYPE_CHECKING blocks left out)."""
    return _scan(our_modules()[module], module).imports


def in_package(name: str, package: str) -> bool:
    """Whether ``name`` is ``package`` or a module below it."""
    return name == package or name.startswith(package + ".")


def ours(target: str) -> bool:
    """Whether an imported name is one of our modules (or below one)."""
    return target.partition(".")[0] in PACKAGES


def is_pure(module: str) -> bool:
    """The modules that must do no I/O."""
    package = module.partition(".")[0]
    if package == "events":
        return True
    if package == "projections":
        # The package's __init__ is its front door, not a read model: it re-exports the
        # persisted read models lazily (PEP 562 ``__getattr__``).
        return module != "projections" and module not in IMPURE_PROJECTIONS
    return module in PURE_CORE


def _modules(predicate: Callable[[str], bool] | None = None) -> list[str]:
    return [m for m in sorted(our_modules()) if predicate is None or predicate(m)]


# --- layering ------------------------------------------------------------------------------


@pytest.mark.parametrize("module", _modules(lambda m: in_package(m, "events")))
def test_events_import_nothing_of_ours_but_events(module: str) -> None:
    """The vocabulary (events/) imports no other package of ours."""
    bad = [str(i) for i in imports_of(module) if ours(i.target) and not in_package(i.target, "events")]
    assert bad == []


@pytest.mark.parametrize("module", _modules(lambda m: in_package(m, "projections")))
def test_projections_do_not_import_the_facade(module: str) -> None:
    """No projections module imports negotiation.application, cli, importer or queries."""
    bad = [str(i) for i in imports_of(module) if any(in_package(i.target, f) for f in FACADE_MODULES)]
    assert bad == []


def test_nothing_imports_the_cli() -> None:
    """Only the console script refers to negotiation.cli: no module of ours, example or benchmark imports it."""
    bad = [str(i) for m in our_modules() if not _is_cli(m) for i in imports_of(m) if _is_cli(i.target)]
    for path in script_files():
        source = str(path.relative_to(ROOT))
        bad += [str(i) for i in _scan(path, source).imports if _is_cli(i.target)]
    assert bad == []
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    assert scripts == {"negotiation": "negotiation.cli:main"}


def test_only_the_cli_imports_the_charts() -> None:
    """negotiation.charts is an interface over the facade: only the CLI (and the charts themselves) import it."""
    bad = [
        str(i)
        for m in our_modules()
        if not _is_cli(m) and not in_package(m, "negotiation.charts")
        for i in imports_of(m)
        if in_package(i.target, "negotiation.charts")
    ]
    assert bad == []


def test_charts_import_altair_lazily() -> None:
    """altair and vl-convert (the optional ``charts`` extra) are imported inside functions only."""
    bad = [
        str(i)
        for m in our_modules()
        for i in imports_of(m)
        if i.target.partition(".")[0] in {"altair", "vl_convert"} and not i.in_function
    ]
    assert bad == []


def _is_cli(target: str) -> bool:
    return in_package(target, "negotiation.cli")


@pytest.mark.parametrize("module", _modules(is_pure))
def test_pure_modules_do_no_io(module: str) -> None:
    """Pure modules import no I/O module and call no I/O builtin (open, print, input)."""
    scan = _scan(our_modules()[module], module)
    bad = [str(i) for i in scan.imports if i.target.partition(".")[0] in IO_MODULES]
    bad += [f"{module} calls {name}() at line {line}" for name, line in scan.io_calls]
    assert bad == []


@pytest.mark.parametrize("module", _modules(is_pure))
def test_pure_modules_import_only_pure_modules_of_ours(module: str) -> None:
    """A pure module's imports of our own code stay within the pure modules."""
    bad = [str(i) for i in imports_of(module) if ours(i.target) and not is_pure(i.target)]
    assert bad == []


LOGGING_MODULES = frozenset({"negotiation.store.logs", "negotiation.cli.group"})
"""The library logs only through ``negotiation.store.logs``; only the command line's group configures logging."""


def test_only_the_cli_configures_logging() -> None:
    """structlog is imported only by negotiation.store.logs and the CLI's group, which alone configures logging."""
    bad = [
        str(i)
        for m in our_modules()
        if m not in LOGGING_MODULES
        for i in imports_of(m)
        if i.target.partition(".")[0] == "structlog"
    ]
    for module in our_modules():
        if module == "negotiation.cli.group":
            continue
        tree = ast.parse(our_modules()[module].read_text(encoding="utf-8"))
        bad += [
            f"{module} calls {node.func.value.id}.{node.func.attr}() at line {node.lineno}"
            for node in ast.walk(tree)
            if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and (node.func.value.id, node.func.attr) in {("structlog", "configure"), ("logging", "basicConfig")}
        ]
    assert bad == []


# --- cycles ------------------------------------------------------------------------------------


def import_graph() -> dict[str, set[str]]:
    """Module -> the modules of ours it imports (functions included, TYPE_CHECKING excluded)."""
    graph: dict[str, set[str]] = {m: set() for m in our_modules()}
    for module in our_modules():
        for i in imports_of(module):
            target = i.target
            while target and target not in graph:  # ``import negotiation.x.y`` of a name below a module
                target = target.rpartition(".")[0]
            if target:
                graph[module].add(target)
    return graph


def strongly_connected(graph: dict[str, set[str]]) -> Iterator[list[str]]:
    """Tarjan's strongly connected components (iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                yield sorted(component)


def test_no_import_cycles() -> None:
    """The import graph of our modules is a DAG, counting imports inside functions too."""
    graph = import_graph()
    cycles = [c for c in strongly_connected(graph) if len(c) > 1 or c[0] in graph[c[0]]]
    details = [
        f"{' <-> '.join(c)}: " + "; ".join(str(i) for m in c for i in imports_of(m) if i.target in c) for c in cycles
    ]
    assert details == []


def test_cycle_finder_finds_cycles() -> None:
    """The cycle check itself works: it finds a planted cycle and a self-import."""
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"d"}, "e": {"a"}}
    components = [c for c in strongly_connected(graph) if len(c) > 1 or c[0] in graph[c[0]]]
    assert sorted(components) == [["a", "b", "c"], ["d"]]


# --- packages and public names ------------------------------------------------------------


@pytest.mark.parametrize("package", PACKAGES)
def test_packages_are_typed_and_declare_all(package: str) -> None:
    """Every package ships py.typed and an ``__all__`` (a literal list of unique names) in its __init__."""
    assert (ROOT / package / "py.typed").is_file()
    tree = ast.parse((ROOT / package / "__init__.py").read_text(encoding="utf-8"))
    values = [
        node.value
        for node in tree.body
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets)
    ]
    assert len(values) == 1, f"{package}/__init__.py must assign __all__ once"
    names = ast.literal_eval(values[0])
    assert isinstance(names, list | tuple)
    assert all(isinstance(name, str) for name in names)
    assert len(set(names)) == len(names), "duplicates in __all__"


def _all_of(module: str) -> list[str] | None:
    return getattr(importlib.import_module(module), "__all__", None)


@pytest.mark.parametrize("module", _modules())
def test_all_lists_only_existing_names(module: str) -> None:
    """Every name in a module's ``__all__`` exists in that module."""
    names = _all_of(module)
    if names is None:
        pytest.skip(f"{module} has no __all__")
    mod = importlib.import_module(module)
    assert [name for name in names if not hasattr(mod, name)] == []


@pytest.mark.parametrize("module", _modules())
def test_public_functions_and_classes_have_docstrings(module: str) -> None:
    """Every function and class a module lists in ``__all__`` has a docstring of its own."""
    names = _all_of(module)
    if names is None:
        pytest.skip(f"{module} has no __all__")
    mod = importlib.import_module(module)
    missing = []
    for name in names:
        obj = getattr(mod, name, None)
        if inspect.isclass(obj):
            doc = obj.__dict__.get("__doc__")
        elif inspect.isfunction(obj) or inspect.isbuiltin(obj):
            doc = obj.__doc__
        else:
            continue  # constants, type aliases, instances
        if not (doc and doc.strip()):
            missing.append(name)
    assert missing == []


def test_scanner_sees_function_and_type_checking_imports(tmp_path: Path) -> None:
    """The scanner counts imports inside functions and skips those under ``if TYPE_CHECKING:``."""
    path = tmp_path / "sample.py"
    path.write_text(
        "from typing import TYPE_CHECKING\n"
        "import os\n"
        "if TYPE_CHECKING:\n"
        "    from negotiation.application import Negotiations\n"
        "else:\n"
        "    import sqlite3\n"
        "def f():\n"
        "    from negotiation import cli\n"
        "    print(open('x'))\n",
        encoding="utf-8",
    )
    scan = _scan(path, "sample")
    assert [(i.target, i.in_function) for i in scan.imports] == [
        ("typing", False),
        ("os", False),
        ("sqlite3", False),
        ("negotiation.cli", True),
    ]
    assert sorted(name for name, _ in scan.io_calls) == ["open", "print"]
