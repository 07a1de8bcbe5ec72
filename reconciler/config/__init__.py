"""The desired-state file: load YAML with line/column marks, validate it, and produce the typed Desired model."""

from reconciler.config.diagnostics import Diagnostic
from reconciler.config.loader import load_desired, validate_file

__all__ = ["Diagnostic", "load_desired", "validate_file"]
