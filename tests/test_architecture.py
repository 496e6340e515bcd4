"""The layering of the code base, checked by scanning the imports of every module (AST, nothing executed).

Layers, bottom up, by folder (docs/architecture.md draws them):

0. ``events``: the vocabulary (event classes, converter, ``events.time``); imports nothing of ours but itself;
1. ``negotiation.core``: the pure core (state, machine, history, errors);
2. ``negotiation.store``: the store adapter over eventsourcing (config, event store, errors, logs);
3. ``projections``: the pure read models (everything outside ``projections.persisted``);
4. ``projections.persisted``: the persisted read models, all of ``projections``' I/O; the
   ``projections`` package's own ``__init__`` sits here too (it re-exports the persisted names);
5. the facade: ``negotiation.application``, ``queries``, ``importer``, ``problems`` and the
   ``negotiation`` package's ``__init__``;
6. the interfaces: ``negotiation.cli``, ``negotiation.server``, ``negotiation.charts``; only other
   interfaces import them (the CLI is the console script).

A module may import modules of its own layer or below, never above. An import counts wherever it
is written (module level or inside a function), except under ``if TYPE_CHECKING:``, which never
runs. ``from package import name`` counts as an import of ``package.name`` when that is a module of
ours, else of ``package``. There are no import cycles between modules, function-level imports
included. Pure modules (layers 0, 1 and 3) do no I/O.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import tomllib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("events", "negotiation", "projections")
SCRIPT_DIRS = ("examples", "benchmarks")
"""Other code of the repository that must not import the CLI either (tests may)."""

LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("events", ("events",)),
    ("core", ("negotiation.core",)),
    ("store", ("negotiation.store",)),
    ("projections", ("projections",)),
    ("persisted", ("projections.persisted", "=projections")),
    ("facade", ("negotiation",)),
    ("interfaces", ("negotiation.cli", "negotiation.server", "negotiation.charts")),
)
"""Each layer with the packages/modules it holds, bottom up; ``=name`` is that module only (a package's __init__).

The most specific entry wins: ``negotiation`` itself and its top-level modules (``application``,
``queries``, ``importer``, ``problems``...) are the facade; ``negotiation.core``, ``negotiation.store``
and the interfaces are placed by their own entries."""

PURE_LAYERS = frozenset({"events", "core", "projections"})
INTERFACES = "interfaces"


def layer_of(module: str) -> str | None:
    """The layer a module belongs to: the most specific entry of ``LAYERS`` that holds it."""
    best: tuple[int, str] | None = None
    for layer, entries in LAYERS:
        for entry in entries:
            exact = entry.startswith("=")
            name = entry.lstrip("=")
            if (module == name) if exact else in_package(module, name):
                score = len(name) + (1 if exact else 0)
                if best is None or score > best[0]:
                    best = (score, layer)
    return None if best is None else best[1]


RANK = {layer: rank for rank, (layer, _) in enumerate(LAYERS)}


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
    """The modules that must do no I/O: the layers events, core and (pure) projections."""
    return layer_of(module) in PURE_LAYERS


def _modules(predicate: Callable[[str], bool] | None = None) -> list[str]:
    return [m for m in sorted(our_modules()) if predicate is None or predicate(m)]


# --- layering ------------------------------------------------------------------------------


def _target_module(target: str, known: Iterable[str]) -> str | None:
    """The module of ours an import target names (``import a.b.c`` of a name below module ``a.b``)."""
    names = set(known)
    while target and target not in names:
        target = target.rpartition(".")[0]
    return target or None


def layering_violations(imports: Iterable[Import]) -> list[str]:
    """Every import of a module of ours from a lower layer, or of an interface from outside the interfaces."""
    bad = []
    for i in imports:
        if not ours(i.target):
            continue
        source, target = layer_of(i.source), layer_of(i.target)
        if source is None or target is None:
            bad.append(f"{i}: not in any layer")
        elif RANK[target] > RANK[source]:
            bad.append(f"{i}: layer {source} may not import layer {target}")
    return bad


def test_every_module_is_in_a_layer() -> None:
    """No module of ours falls outside the layers (a new folder must be placed)."""
    assert [m for m in our_modules() if layer_of(m) is None] == []


@pytest.mark.parametrize("module", _modules())
def test_imports_respect_the_layers(module: str) -> None:
    """A module imports its own layer or those below, at module level and inside functions."""
    assert layering_violations(imports_of(module)) == []


def test_events_import_nothing_of_ours_but_events() -> None:
    """The vocabulary (events/) imports no other package of ours."""
    modules = _modules(lambda m: in_package(m, "events"))
    assert [
        str(i) for m in modules for i in imports_of(m) if ours(i.target) and not in_package(i.target, "events")
    ] == []


def test_only_interfaces_import_interfaces() -> None:
    """No module below the interfaces, example or benchmark imports the CLI; the console script is the CLI's."""
    bad = [
        str(i)
        for m in our_modules()
        if layer_of(m) != INTERFACES
        for i in imports_of(m)
        if ours(i.target) and layer_of(i.target) == INTERFACES
    ]
    for path in script_files():
        source = str(path.relative_to(ROOT))
        bad += [str(i) for i in _scan(path, source).imports if _is_cli(i.target)]
    assert bad == []
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    assert scripts == {"negotiation": "negotiation.cli:main"}


def test_only_the_cli_imports_the_server() -> None:
    """The HTTP service is an interface: only the CLI's ``serve`` command (and the server itself) imports it."""
    bad = [
        str(i)
        for m in our_modules()
        if not in_package(m, "negotiation.server") and m != "negotiation.cli.serve"
        for i in imports_of(m)
        if in_package(i.target, "negotiation.server")
    ]
    assert bad == []


def test_only_the_cli_imports_the_charts() -> None:
    """negotiation.charts is an interface over the facade: only the CLI, the HTTP service and the charts import it."""
    bad = [
        str(i)
        for m in our_modules()
        if not _is_cli(m) and not in_package(m, "negotiation.charts") and not in_package(m, "negotiation.server")
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


def _synthetic(tmp_path: Path, module: str, source: str) -> list[Import]:
    path = tmp_path / (module.replace(".", "_") + ".py")
    path.write_text(source, encoding="utf-8")
    return _scan(path, module).imports


def test_the_layering_check_catches_a_function_level_break(tmp_path: Path) -> None:
    """An upward import hidden in a function is caught; one under TYPE_CHECKING and a downward one are not."""
    imports = _synthetic(
        tmp_path,
        "negotiation.core.sample",
        "from typing import TYPE_CHECKING\n"
        "from events.time import When\n"
        "if TYPE_CHECKING:\n"
        "    from negotiation.application import Negotiations\n"
        "def answer():\n"
        "    from projections.status import status_of\n"
        "    return status_of\n",
    )
    assert layering_violations(imports) == [
        "negotiation.core.sample imports projections.status at line 6 (inside a function): "
        "layer core may not import layer projections"
    ]
    assert layering_violations(
        _synthetic(tmp_path, "projections.sample", "def f():\n    import negotiation.cli\n")
    ) == [
        "projections.sample imports negotiation.cli at line 2 (inside a function): "
        "layer projections may not import layer interfaces"
    ]


def test_the_layers_are_ordered_as_documented() -> None:
    """Spot checks of layer_of: package inits, the persisted folder, the interfaces."""
    assert [layer_of(m) for m in ("events.time", "negotiation.core.history.index", "negotiation.store.errors")] == [
        "events",
        "core",
        "store",
    ]
    assert [layer_of(m) for m in ("projections.status", "projections", "projections.persisted.sqlite")] == [
        "projections",
        "persisted",
        "persisted",
    ]
    assert [layer_of(m) for m in ("negotiation", "negotiation.queries", "negotiation.cli.main")] == [
        "facade",
        "facade",
        "interfaces",
    ]
    assert layer_of("negotiation.answers") == "facade"  # a new top-level module of negotiation/
    assert layer_of("elsewhere.module") is None


LOGGING_CONFIGURERS = frozenset({"negotiation.cli.group", "negotiation.server.accesslog"})
"""The two entry points: the command line's group, and the HTTP service's worker processes (its access log)."""
LOGGING_MODULES = frozenset({"negotiation.store.logs", *LOGGING_CONFIGURERS})
"""The library logs only through ``negotiation.store.logs``; only the entry points configure logging."""


def test_only_the_entry_points_configure_logging() -> None:
    """structlog is imported only by negotiation.store.logs and the entry points, which alone configure logging."""
    bad = [
        str(i)
        for m in our_modules()
        if m not in LOGGING_MODULES
        for i in imports_of(m)
        if i.target.partition(".")[0] == "structlog"
    ]
    for module in our_modules():
        if module in LOGGING_CONFIGURERS:
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


def import_graph(modules: Mapping[str, Iterable[Import]] | None = None) -> dict[str, set[str]]:
    """Module -> the modules of ours it imports (functions included, TYPE_CHECKING excluded)."""
    if modules is None:
        modules = {m: imports_of(m) for m in our_modules()}
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for module, imports in modules.items():
        for i in imports:
            target = _target_module(i.target, graph)
            if target:
                graph[module].add(target)
    return graph


def cycles_of(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import cycles: strongly connected components of more than one module, or a self-import."""
    return [c for c in strongly_connected(graph) if len(c) > 1 or c[0] in graph[c[0]]]


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
    cycles = cycles_of(graph)
    details = [
        f"{' <-> '.join(c)}: " + "; ".join(str(i) for m in c for i in imports_of(m) if i.target in c) for c in cycles
    ]
    assert details == []


def test_cycle_finder_finds_cycles() -> None:
    """The cycle check itself works: it finds a planted cycle and a self-import."""
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"d"}, "e": {"a"}}
    assert sorted(cycles_of(graph)) == [["a", "b", "c"], ["d"]]


def test_a_cycle_through_a_function_level_import_is_found(tmp_path: Path) -> None:
    """Two synthetic modules importing each other, one of them inside a function: a cycle."""
    modules = {
        "projections.status": _synthetic(tmp_path, "projections.status", "from projections import gap\n"),
        "projections.gap": _synthetic(tmp_path, "projections.gap", "def f():\n    from projections.status import x\n"),
        "projections.diff": _synthetic(tmp_path, "projections.diff", "import projections.gap\n"),
    }
    assert cycles_of(import_graph(modules)) == [["projections.gap", "projections.status"]]


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


HISTORY_INTERNALS = frozenset({"records", "order", "keys", "by_id", "retractions"})
"""``History``'s index lists: kept as read-only properties for old callers; our modules ask its queries."""


def test_no_module_reads_the_history_index_lists() -> None:
    """Outside ``negotiation.core.history``, code asks History's queries, never ``history.order`` and the like.

    A name check (``history``, ``entry.history``, ``self._history``...), as nothing is executed here.
    """
    bad = []
    for module, path in our_modules().items():
        if in_package(module, "negotiation.core.history"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Attribute) and node.attr in HISTORY_INTERNALS):
                continue
            owner = node.value
            name = owner.id if isinstance(owner, ast.Name) else owner.attr if isinstance(owner, ast.Attribute) else ""
            if name.lstrip("_").endswith("history"):
                bad.append(f"{module} reads {name}.{node.attr} at line {node.lineno}")
    assert bad == []


def test_every_import_of_ours_names_a_module_that_exists() -> None:
    """An import of ``events.*``, ``negotiation.*`` or ``projections.*`` that names no module is a failure here,
    not at run time: a function-level import of a module that a move left behind only breaks when it runs."""
    stale = [
        str(imp)
        for module in our_modules()
        for imp in imports_of(module)
        if ours(imp.target) and imp.target not in our_modules()
    ]
    assert stale == []
