"""The code's shape, checked from its source: file and function sizes, pure packages, import cycles.

Read with `ast` only (nothing is imported), so it runs in well under a second. Today's violations are listed in the
allowlists below with their current size: a listed violation may shrink but not grow, a new one fails, and an entry
that is fixed must be removed (the test says so), so the lists only get shorter.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ROOT / "reconciler"

MAX_FILE_LINES = 400
MAX_FUNCTION_LINES = 60
PURE_PACKAGES = ("core", "config", "plan", "drift")
IMPURE_IMPORTS = frozenset({"boto3", "botocore", "requests", "urllib3", "typer", "rich"})

# File path (relative to the repository) -> its line count today.
FILES_ALLOWED: dict[str, int] = {}

# "path::qualified.name" -> the function's length in lines today (from `def` to its last line).
FUNCTIONS_ALLOWED: dict[str, int] = {}

# Import cycles tolerated today, each as the set of modules in it; a cycle found must lie inside one of these.
CYCLES_ALLOWED: list[frozenset[str]] = []


@dataclass(frozen=True)
class Module:
    name: str  # dotted, e.g. reconciler.plan.diff
    path: Path
    tree: ast.Module

    @property
    def rel(self) -> str:
        return self.path.relative_to(ROOT).as_posix()

    @property
    def is_package(self) -> bool:
        return self.path.name == "__init__.py"


def _modules() -> dict[str, Module]:
    modules: dict[str, Module] = {}
    for path in sorted(PRODUCT.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        name = ".".join(parts)
        modules[name] = Module(name, path, ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
    return modules


MODULES = _modules()


def _functions(tree: ast.AST, prefix: str = "") -> Iterator[tuple[str, int]]:
    """(qualified name, length in lines) of every function and method, nested ones included."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            name = f"{prefix}{node.name}"
            yield name, (node.end_lineno or node.lineno) - node.lineno + 1
            yield from _functions(node, f"{name}.")
        elif isinstance(node, ast.ClassDef):
            yield from _functions(node, f"{prefix}{node.name}.")
        else:
            yield from _functions(node, prefix)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _module_level_imports(statements: list[ast.stmt]) -> Iterator[ast.Import | ast.ImportFrom]:
    """Imports that run (or, under TYPE_CHECKING, are read) when the module loads; imports inside functions not."""
    for statement in statements:
        if isinstance(statement, ast.Import | ast.ImportFrom):
            yield statement
        elif isinstance(statement, ast.If):
            yield from _module_level_imports(statement.body)
            yield from _module_level_imports(statement.orelse)
        elif isinstance(statement, ast.Try):
            for block in (statement.body, statement.orelse, statement.finalbody,
                          *(handler.body for handler in statement.handlers)):
                yield from _module_level_imports(block)


def _targets(module: Module, node: ast.Import | ast.ImportFrom) -> set[str]:
    """The reconciler modules an import statement names (a package's __init__ when it names the package)."""
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names if alias.name in MODULES}
    base = node.module or ""
    if node.level:
        package = module.name.split(".") if module.is_package else module.name.split(".")[:-1]
        package = package[:len(package) - (node.level - 1)]
        base = ".".join([*package, *([node.module] if node.module else [])])
    found: set[str] = set()
    for alias in node.names:
        submodule = f"{base}.{alias.name}"
        if submodule in MODULES:
            found.add(submodule)
        elif base in MODULES:
            found.add(base)
    return found


def import_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for module in MODULES.values():
        edges: set[str] = set()
        for node in _module_level_imports(module.tree.body):
            edges |= _targets(module, node)
        edges.discard(module.name)
        graph[module.name] = edges
    return graph


def import_cycles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[frozenset[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component: set[str] = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    cycles.append(frozenset(component))
    return cycles


def _ratchet(kind: str, limit: int, measured: dict[str, int], allowed: dict[str, int]) -> list[str]:
    problems = []
    for key, size in sorted(measured.items()):
        if size <= limit:
            continue
        if key not in allowed:
            problems.append(f"{key}: {kind} has {size} lines (limit {limit}): split it")
        elif size > allowed[key]:
            problems.append(f"{key}: {kind} grew to {size} lines (allowlisted at {allowed[key]}, limit {limit})")
    for key in sorted(allowed):
        if measured.get(key, 0) <= limit:
            problems.append(f"{key}: now within {limit} lines (or gone): remove it from the allowlist")
    return problems


def test_no_product_file_is_over_400_lines() -> None:
    measured = {m.rel: len(m.path.read_text(encoding="utf-8").splitlines()) for m in MODULES.values()}
    assert _ratchet("file", MAX_FILE_LINES, measured, FILES_ALLOWED) == []


def test_no_product_function_is_over_60_lines() -> None:
    measured = {f"{m.rel}::{name}": size for m in MODULES.values() for name, size in _functions(m.tree)}
    assert _ratchet("function", MAX_FUNCTION_LINES, measured, FUNCTIONS_ALLOWED) == []


def impure_imports(tree: ast.Module) -> list[tuple[int, str]]:
    """(line, module) of every import of an I/O library, at any depth (a function-level import counts too)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            names = [node.module]
        else:
            continue
        found += [(node.lineno, name) for name in names if name.split(".")[0] in IMPURE_IMPORTS]
    return found


def test_pure_packages_import_no_io_libraries() -> None:
    offenders = [f"{module.rel}:{line}: imports {name}"
                 for module in MODULES.values() if module.name.split(".")[1:2] in ([p] for p in PURE_PACKAGES)
                 for line, name in impure_imports(module.tree)]
    assert offenders == []


def test_no_new_import_cycles() -> None:
    problems = []
    cycles = import_cycles(import_graph())
    for cycle in cycles:
        if not any(cycle <= allowed for allowed in CYCLES_ALLOWED):
            problems.append(f"import cycle among {sorted(cycle)}: move the shared part into a leaf module")
    for allowed in CYCLES_ALLOWED:
        if not any(cycle & allowed for cycle in cycles):
            problems.append(f"cycle {sorted(allowed)} is gone: remove it from the allowlist")
    assert problems == []


# The checker checks itself on small sources, so a broken walk cannot pass by finding nothing.
def _graph_of(sources: dict[str, str]) -> dict[str, set[str]]:
    saved = dict(MODULES)
    try:
        MODULES.clear()
        for name, text in sources.items():
            path = ROOT / (name.replace(".", "/") + ".py")
            dotted = name.removesuffix(".__init__")
            MODULES[dotted] = Module(dotted, path, ast.parse(text))
        return import_graph()
    finally:
        MODULES.clear()
        MODULES.update(saved)


@pytest.mark.parametrize(("b_source", "cycle"), [
    ("from reconciler.x import a\n", True),
    ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from reconciler.x.a import thing\n", True),
    ("from . import a\n", True),
    ("def f():\n    from reconciler.x import a\n", False),
    ("import os\n", False),
])
def test_cycle_finder_sees_module_level_imports_only(b_source: str, cycle: bool) -> None:
    graph = _graph_of({
        "reconciler.x.__init__": "",
        "reconciler.x.a": "from reconciler.x.b import thing\n",
        "reconciler.x.b": b_source,
    })
    assert bool(import_cycles(graph)) is cycle


def test_impure_imports_are_found_at_any_depth() -> None:
    tree = ast.parse("import os\nimport boto3.session\ndef f():\n    from rich.console import Console\n")
    assert impure_imports(tree) == [(2, "boto3.session"), (4, "rich.console")]


def test_function_sizes_include_methods_and_nested_functions() -> None:
    tree = ast.parse("class C:\n    def m(self):\n        def inner():\n            pass\n        return 1\n")
    assert dict(_functions(tree)) == {"C.m": 4, "C.m.inner": 2}


def test_ratchet_reports_new_grown_and_fixed_entries() -> None:
    problems = _ratchet("file", 400, {"new.py": 401, "grown.py": 420, "fixed.py": 300, "shrunk.py": 405},
                        {"grown.py": 410, "fixed.py": 410, "shrunk.py": 410})
    assert [p.split(":")[0] for p in problems] == ["grown.py", "new.py", "fixed.py"]
