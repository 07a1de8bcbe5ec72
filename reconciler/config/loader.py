"""Load a desired-state file: parse with marks, interpolate, validate with the schema, cross-check, build Desired."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from reconciler.config.build import build_desired
from reconciler.config.checks import run_checks
from reconciler.config.diagnostics import Diagnostic, sort_diagnostics
from reconciler.config.schema import schema_diagnostics
from reconciler.config.source import Document, read_document
from reconciler.core.desired import Desired
from reconciler.core.errors import ConfigError


def _read(path: Path, env: Mapping[str, str]) -> Document:
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        doc = Document(name)
        doc.diagnostics.append(Diagnostic(name, None, None, "file not found", "check the path"))
        return doc
    except IsADirectoryError:
        doc = Document(name)
        doc.diagnostics.append(Diagnostic(name, None, None, "is a directory, not a desired-state file"))
        return doc
    except (OSError, UnicodeDecodeError) as exc:
        doc = Document(name)
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        doc.diagnostics.append(Diagnostic(name, None, None, f"cannot read the file: {reason}"))
        return doc
    doc = read_document(name, text, env)
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
    return build_desired(doc.data, str(path))


def config_error(path: str, diagnostics: list[Diagnostic]) -> ConfigError:
    """One ConfigError whose message lists every diagnostic (commands other than validate print only it)."""
    count = len(diagnostics)
    lines = [f"{path}: {count} problem{'s' if count != 1 else ''} in the desired-state file"]
    lines += ["  " + d.render().replace("\n", "\n  ") for d in diagnostics]
    return ConfigError(
        "\n".join(lines),
        hint=f"run `clumio-org validate {path}` after fixing; the schema is schemas/desired-state.schema.json",
        diagnostics=tuple(diagnostics),
    )
