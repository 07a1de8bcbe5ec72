"""Load a desired-state file's bytes (read by reconciler.files.config): parse with marks, interpolate, validate
with the schema, cross-check, build Desired."""

from __future__ import annotations

from collections.abc import Mapping

from reconciler.config.build import build_desired
from reconciler.config.checks import run_checks
from reconciler.config.diagnostics import Diagnostic, format_path, sort_diagnostics
from reconciler.config.encoding import decode
from reconciler.config.schema import schema_diagnostics
from reconciler.config.source import Document, read_document
from reconciler.core.desired import Desired
from reconciler.core.errors import ConfigError
from reconciler.core.terminal import terminal_safe

# plan and apply list this many problems of a broken file; validate lists them all.
LISTED_PROBLEMS = 20


def _read(name: str, raw: bytes | Diagnostic, env: Mapping[str, str]) -> Document:
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


def diagnostics_of_bytes(name: str, raw: bytes | Diagnostic, env: Mapping[str, str]) -> list[Diagnostic]:
    """Every problem in the file ``name`` whose bytes are ``raw`` (or the problem that kept them from being read),
    sorted by line and column; empty when the file is valid. Reading the file is reconciler.files.config's job."""
    return sort_diagnostics(_read(name, raw, env).diagnostics)


def desired_from_bytes(name: str, raw: bytes | Diagnostic, env: Mapping[str, str]) -> Desired:
    """The Desired model of a valid file, or ConfigError listing every problem (``.diagnostics``); ``env`` resolves
    ``${env:NAME}`` references."""
    doc = _read(name, raw, env)
    diagnostics = sort_diagnostics(doc.diagnostics)
    if diagnostics or not isinstance(doc.data, dict):
        raise config_error(name, diagnostics)
    places = tuple((format_path(at), line, column) for at, (line, column) in doc.values.items() if at)
    return build_desired(doc.data, name, places)


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
