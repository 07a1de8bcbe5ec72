"""`clumio-org validate FILE…` without typer, for plain arguments: in a CI loop start-up is most of what a validate
costs, and typer's import and command tree are about a third of it. Files, ``--format`` and ``--config`` are read
here and the report printed exactly as the typer command prints it (both use :func:`report_lines`); anything else —
no file named, help, a global option, a usage mistake, an error while reading — goes to the typer command, which
says it as it always has."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from reconciler.config.diagnostics import Diagnostic

FORMATS = ("text", "json")
_VALUED = {"--format": "format", "-f": "format", "--config": "config", "-c": "config"}


def report_lines(results: Sequence[tuple[str, Sequence[Diagnostic]]], output: str) -> Iterator[str]:
    """What `validate` prints, one echo at a time: a JSON document, or ``FILE: ok`` / each diagnostic."""
    if output == "json":
        document = {
            "format_version": 1,
            "valid": all(not diagnostics for _, diagnostics in results),
            "files": [
                {"file": name, "valid": not diagnostics, "diagnostics": [d.to_json() for d in diagnostics]}
                for name, diagnostics in results
            ],
        }
        yield json.dumps(document, indent=2)
        return
    for name, diagnostics in results:
        if not diagnostics:
            yield f"{name}: ok"
        for diagnostic in diagnostics:
            yield diagnostic.render()


def plain_arguments(args: Sequence[str]) -> tuple[list[str], str] | None:
    """(files, format) when ``args`` are ``validate`` with files, ``--format``/``-f`` and ``--config``/``-c`` only
    (as click reads them: interleaved, the last value wins, ``--name=value``); None for anything else."""
    if not args or args[0] != "validate":
        return None
    files: list[str] = []
    values = {"format": "text", "config": ""}
    tokens = iter(args[1:])
    for token in tokens:
        if not token.startswith("-"):
            files.append(token)
            continue
        name, equals, value = token.partition("=")
        if name not in _VALUED or (equals and not name.startswith("--")):
            return None
        if not equals:
            following = next(tokens, None)
            if following is None or following.startswith("-"):
                return None
            value = following
        if not value:
            return None
        values[_VALUED[name]] = value
    if values["config"]:
        files.append(values["config"])
    if not files or values["format"] not in FORMATS:
        return None
    # typer refuses an empty or unreadable path with its own message; click strips escape sequences it prints.
    if any(not f or "\x1b" in f or (os.path.exists(f) and not os.access(f, os.R_OK)) for f in files):
        return None
    return files, values["format"]


def run_plain(args: Sequence[str]) -> int | None:
    """Run `validate` for plain arguments and return its exit code; None when the typer command must run it."""
    parsed = plain_arguments(args)
    if parsed is None:
        return None
    files, output = parsed
    from reconciler.files.config import validate_file

    try:
        results = [(str(Path(name)), validate_file(Path(name))) for name in files]
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130
    except Exception:  # noqa: BLE001 - the typer command runs it again and reports it as it always has
        return None
    text = "".join(line + "\n" for line in report_lines(results, output))
    stream = sys.stdout
    try:
        text.encode(getattr(stream, "encoding", None) or "utf-8", getattr(stream, "errors", None) or "strict")
    except (UnicodeError, LookupError):
        return None
    if "\x1b" in text:
        return None
    stream.write(text)
    stream.flush()
    return 1 if any(diagnostics for _, diagnostics in results) else 0
