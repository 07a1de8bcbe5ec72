"""The desired-state file: parse its YAML with line/column marks, validate it, and produce the typed Desired model
(pure: reconciler.files.config reads the file and hands over its bytes)."""

from reconciler.config.diagnostics import Diagnostic
from reconciler.config.loader import desired_from_bytes, diagnostics_of_bytes

__all__ = ["Diagnostic", "desired_from_bytes", "diagnostics_of_bytes"]
