"""Drift: where the org, the StackSets and Clumio have moved from the desired state (pure, no I/O libraries)."""

from reconciler.drift.classify import DriftInputs, classify
from reconciler.drift.model import Category, Detection, DriftReport, Finding, IgnoredFinding, Severity
from reconciler.drift.report import build_report, parse_categories

__all__ = [
    "Category",
    "Detection",
    "DriftInputs",
    "DriftReport",
    "Finding",
    "IgnoredFinding",
    "Severity",
    "build_report",
    "classify",
    "parse_categories",
]
