"""Diagnostic: one problem found in a desired-state file, with where it is and how to fix it."""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from reconciler.core.terminal import terminal_safe

# A location inside the parsed document: mapping keys and list indexes from the root.
DocPath = tuple[str | int, ...]


@dataclass(frozen=True, order=True)
class Diagnostic:
    """A problem in ``path`` at ``line``:``column`` (1-based; ``None`` when it concerns the whole file).

    ``message`` says what is wrong in the file's own words (the key path, the value); ``hint`` says how to fix it
    when that is not obvious. Neither ever holds a secret: values under ``clumio`` that look like tokens are not
    echoed.
    """

    path: str
    line: int | None
    column: int | None
    message: str
    hint: str | None = None

    def sort_key(self) -> tuple[int, int, str]:
        return (self.line or 0, self.column or 0, self.message)

    def location(self) -> str:
        """``FILE:LINE:COL`` (or ``FILE`` for a whole-file problem), the prefix editors and CI annotators parse."""
        if self.line is None:
            return self.path
        return f"{self.path}:{self.line}:{self.column or 1}"

    def render(self) -> str:
        """The text form: ``FILE:LINE:COL: message`` on one line and, when there is one, an indented ``hint:`` line.
        Both are escaped: the file name and the values quoted come from the user and may hold any character."""
        text = terminal_safe(f"{self.location()}: {self.message}")
        if self.hint:
            text += f"\n  hint: {terminal_safe(self.hint)}"
        return text

    def to_json(self) -> dict[str, object]:
        return {
            "file": self.path,
            "line": self.line,
            "column": self.column,
            "message": self.message,
            "hint": self.hint,
        }


def sort_diagnostics(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    """Sorted by (line, column, message) with exact duplicates removed: one report, all problems, stable order."""
    return sorted(set(diagnostics), key=Diagnostic.sort_key)


def format_path(path: DocPath) -> str:
    """``rollout.waves[0].max_concurrent``: how messages name a place in the document."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text or "(top level)"


def show(value: object, limit: int = 60) -> str:
    """A value as it would be written in the file, shortened for messages."""
    if isinstance(value, str):
        text = json.dumps(value)
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif value is None:
        text = "null"
    elif isinstance(value, dict):
        text = "a mapping"
    elif isinstance(value, list):
        text = "a list"
    else:
        text = str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def did_you_mean(word: str, choices: Sequence[str]) -> str | None:
    """The closest choice (a case-insensitive exact match first), ``"a or b"`` when several are equally close,
    or None when nothing is close."""
    for choice in choices:
        if choice.lower() == word.lower():
            return choice
    scored = [(difflib.SequenceMatcher(None, word, choice).ratio(), choice) for choice in choices]
    best = max((score for score, _ in scored), default=0.0)
    if best < 0.6:
        return None
    return " or ".join(sorted(choice for score, choice in scored if score >= best - 1e-9)[:3])
