"""Read a desired-state file from disk (bounded, a plain file) and hand its bytes to the pure config loader."""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from reconciler.config.diagnostics import Diagnostic
from reconciler.config.encoding import MAX_BYTES
from reconciler.config.loader import desired_from_bytes, diagnostics_of_bytes

if TYPE_CHECKING:
    from reconciler.core.desired import Desired


def read_config_bytes(path: Path) -> bytes | Diagnostic:
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


def validate_file(path: Path | str, env: Mapping[str, str] | None = None) -> list[Diagnostic]:
    """Every problem in the file, sorted by line and column; empty when the file is valid."""
    source = Path(path)
    return diagnostics_of_bytes(str(source), read_config_bytes(source), os.environ if env is None else env)


def load_desired(path: Path | str, env: Mapping[str, str] | None = None) -> Desired:
    """The Desired model of a valid file, or ConfigError listing every problem (``.diagnostics``).

    ``env`` (default ``os.environ``) resolves ``${env:NAME}`` references.
    """
    source = Path(path)
    return desired_from_bytes(str(path), read_config_bytes(source), os.environ if env is None else env)
