"""Load a desired-state file: parse with marks, interpolate, validate with the schema, cross-check, build Desired."""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path

from reconciler.config.build import build_desired
from reconciler.config.checks import run_checks
from reconciler.config.diagnostics import Diagnostic, format_path, sort_diagnostics
from reconciler.config.encoding import MAX_BYTES, decode
from reconciler.config.schema import schema_diagnostics
from reconciler.config.source import Document, read_document
from reconciler.core.desired import Desired
from reconciler.core.errors import ConfigError
from reconciler.core.terminal import terminal_safe

# plan and apply list this many problems of a broken file; validate lists them all.
LISTED_PROBLEMS = 20


def _read_bytes(path: Path) -> bytes | Diagnostic:
    """The file's bytes, or the whole-file problem that keeps us from reading them (the only diagnostics that carry
    no line: there is no text to point into)."""
    name = str(path)
    try:
        info = path.stat()
        if stat.S_ISDIR(info.st_mode):
            return Diagnostic(name, None, None, "is a directory, not a desired-state file", "name the YAML file in it")
        if not stat.S_ISREG(info.st_mode):
            # A FIFO or device would block or never end; a desired state is a plain file.
            return Diagnostic(name, None, None, "is not a regular file", "name a YAML file")
        if info.st_size > MAX_BYTES:
            return Diagnostic(name, None, None, f"the file is {info.st_size:,} bytes; a desired-state file is at most "
                              f"{MAX_BYTES:,}", "check that this is the desired-state file")
        with path.open("rb") as handle:
            raw = handle.read(MAX_BYTES + 1)
    except FileNotFoundError:
        return Diagnostic(name, None, None, "file not found", "check the path")
    except OSError as exc:
        return Diagnostic(name, None, None, f"cannot read the file: {exc.strerror or type(exc).__name__}")
    if len(raw) > MAX_BYTES:  # grew while we looked
        return Diagnostic(name, None, None, f"the file is over {MAX_BYTES:,} bytes", "check the path")
    return raw


def _read(path: Path, env: Mapping[str, str]) -> Document:
    name = str(path)
    raw = _read_bytes(path)
    if isinstance(raw, Diagnostic):
        doc = Document(name)
        doc.diagnostics.append(raw)
        return doc
    decoded = decode(name, raw)
    if decoded.text is None:
        doc = Document(name)
        doc.diagnostics.extend(decoded.diagnostics)
        return doc
    doc = read_document(name, decoded.text, env)
    if isinstance(doc.data, dict):
        schema_diagnostics(doc)
        run_checks(doc)
    return doc


def validate_file(path: Path | str, env: Mapping[str, str] | None = None) -> list[Diagnostic]:
    """Every problem in the file, sorted by line and column; empty when the file is valid."""
    doc = _read(Path(path), os.environ if env is None else env)
    return sort_diagnostics(doc.diagnostics)


def load_desired(path: Path | str, env: Mapping[str, str] | None = None) -> Desired:
    """The Desired model of a valid file, or ConfigError listing every problem (``.diagnostics``).

    ``env`` (default ``os.environ``) resolves ``${env:NAME}`` references.
    """
    doc = _read(Path(path), os.environ if env is None else env)
    diagnostics = sort_diagnostics(doc.diagnostics)
    if diagnostics or not isinstance(doc.data, dict):
        raise config_error(str(path), diagnostics)
    places = tuple((format_path(at), line, column) for at, (line, column) in doc.values.items() if at)
    return build_desired(doc.data, str(path), places)


def config_error(path: str, diagnostics: list[Diagnostic]) -> ConfigError:
    """One ConfigError whose message lists every diagnostic (commands other than validate print only it)."""
    count = len(diagnostics)
    lines = [f"{terminal_safe(path)}: {count} problem{'s' if count != 1 else ''} in the desired-state file"]
    lines += ["  " + d.render().replace("\n", "\n  ") for d in diagnostics[:LISTED_PROBLEMS]]
    if count > LISTED_PROBLEMS:
        lines.append(f"  ... and {count - LISTED_PROBLEMS} more (`clumio-org validate` lists every one)")
    return ConfigError(
        "\n".join(lines),
        hint=f"run `clumio-org validate {path}` after fixing; the schema is schemas/desired-state.schema.json",
        diagnostics=tuple(diagnostics),
    )
