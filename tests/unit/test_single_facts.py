"""Each fact about Clumio's template is defined once (STYLE.md "A fact lives in one place"): the
ClumioTemplateVersion pattern, the secret parameter names and the template hash live in reconciler/core/template.py;
every other product module imports them. The sandbox is an independent emulator and is not scanned."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "reconciler"
HOME = ROOT / "core" / "template.py"
SECRET_NAMES = frozenset({"ClumioToken", "RoleExternalId"})
_RE_CALLS = frozenset({"compile", "search", "match", "fullmatch", "findall", "finditer", "sub"})


def _product_files() -> list[Path]:
    return sorted(p for p in ROOT.rglob("*.py") if "sandbox" not in p.relative_to(ROOT).parts and p != HOME)


def _docstrings(tree: ast.AST) -> set[int]:
    ids: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                ids.add(id(first.value))
    return ids


def _callee(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


def _copies(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    docs = _docstrings(tree)
    where = path.relative_to(ROOT.parent)
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
            if node.value in SECRET_NAMES:
                found.append(f"{where}:{node.lineno}: the secret parameter name {node.value!r}")
            if node.value == "ClumioTemplateVersion":
                found.append(f"{where}:{node.lineno}: the ClumioTemplateVersion key")
        if not isinstance(node, ast.Call):
            continue
        name = _callee(node)
        args = " ".join(ast.unparse(a) for a in node.args)
        if name in _RE_CALLS and "ClumioTemplateVersion" in args:
            found.append(f"{where}:{node.lineno}: a ClumioTemplateVersion pattern")
        if name == "sha256" and ("body" in args or "template" in args):
            found.append(f"{where}:{node.lineno}: a template body's SHA-256")
    return found


def test_template_facts_are_defined_only_in_core_template() -> None:
    copies = [line for path in _product_files() for line in _copies(path)]
    assert copies == [], "import these from reconciler.core.template instead:\n" + "\n".join(copies)


def test_the_home_defines_each_fact() -> None:
    # The scan above proves nothing if the home moved: it must hold the pattern, the names and the hash.
    home = HOME.read_text()
    assert "ClumioTemplateVersion" in home and "hashlib.sha256(" in home
    assert all(f'"{name}"' in home for name in SECRET_NAMES)
