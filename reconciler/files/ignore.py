"""Read the drift ignore file and write its baseline (atomically); the entries are reconciler.drift.ignore's (pure)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from reconciler.config.encoding import MAX_BYTES
from reconciler.core.errors import ConfigError
from reconciler.drift.ignore import BASELINE_DAYS, IGNORE_FILE_NAME, IgnoreEntry, baseline_count, baseline_text
from reconciler.drift.ignore import entries_from_bytes as _entries

if TYPE_CHECKING:
    from reconciler.drift.model import Finding


def load_ignore_file(path: Path, *, required: bool = False) -> tuple[IgnoreEntry, ...]:
    """Read and check an ignore file; every problem is a ConfigError naming the entry. An absent default file means
    no exceptions; an absent file the user named (``required``) is an error, never a silent pass."""
    if not path.is_file():
        if not required and not path.exists():
            return ()
        what = "is a directory" if path.is_dir() else "is not a regular file" if path.exists() else "not found"
        raise ConfigError(f"ignore file {path} {what}", hint="check --ignore-file, or leave it out to use "
                          f"{IGNORE_FILE_NAME} next to the desired-state file")
    try:
        raw = path.read_bytes()[: MAX_BYTES + 1]
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the ignore file: {exc.strerror or type(exc).__name__}") from None
    return _entries(str(path), raw)


def write_baseline(path: Path, findings: Iterable[Finding], today: date, days: int = BASELINE_DAYS) -> int:
    """Write the baseline file (a temporary file, then a rename); returns how many entries it holds."""
    text = baseline_text(findings, today, days)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)
    return baseline_count(text)
