"""Helpers for config tests: a small valid desired-state file, and marked variants of it.

A case's YAML text carries a ``«`` where the diagnostic must point; the helper removes it and computes the 1-based
line and column, so a table row says *where* without hand-counted numbers.
"""

from __future__ import annotations

from pathlib import Path

MARK = "«"

VALID = """\
version: 1
organization:
  id: o-a1b2c3d4e5
  management_account: "111111111111"
  home_region: us-east-1
clumio:
  portal: west
targets:
  organization: true
regions: [us-east-1, us-west-2]
"""


def variant(*replacements: tuple[str, str], append: str = "", base: str = VALID) -> str:
    """VALID with each (old, new) replaced exactly once, plus ``append`` at the end."""
    text = base
    for old, new in replacements:
        assert text.count(old) == 1, f"{old!r} must occur once in the base document"
        text = text.replace(old, new)
    return text + append


def split_mark(text: str) -> tuple[str, int | None, int | None]:
    """The text without its mark, and the (line, column) of the mark (None, None when unmarked)."""
    if MARK not in text:
        return text, None, None
    before = text[: text.index(MARK)]
    line = before.count("\n") + 1
    column = len(before) - (before.rfind("\n") + 1) + 1
    return text.replace(MARK, ""), line, column


def write(tmp_path: Path, text: str, name: str = "clumio-org.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path
