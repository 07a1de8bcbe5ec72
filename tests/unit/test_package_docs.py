"""Every package says what it is for in its opening docstring (DEVELOPERS-NOTES's data flow names them): a newcomer
reading `reconciler/<package>/__init__.py` learns its job, not just its name."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = sorted(path.parent for path in (ROOT / "reconciler").rglob("__init__.py"))


@pytest.mark.parametrize("package", PACKAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_each_package_opens_with_a_docstring_saying_what_it_is_for(package: Path) -> None:
    doc = ast.get_docstring(ast.parse((package / "__init__.py").read_text(encoding="utf-8")))
    assert doc, f"{package.relative_to(ROOT)} has no docstring"
    words = doc.split()
    # More than its own name: at least a sentence.
    assert len(words) >= 8, f"{package.relative_to(ROOT)}: {doc!r} says no more than its name"



def test_the_architecture_note_names_every_top_level_package() -> None:
    text = (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8")
    top = sorted(p.name for p in PACKAGES if p.parent == ROOT / "reconciler")
    assert [name for name in top if f"`{name}/`" not in text] == []
