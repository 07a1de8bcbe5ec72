"""Assemble a drift report: classify, apply the ignore file, decide which categories count for the exit code."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from reconciler.core.errors import ReconcilerError
from reconciler.drift.classify import DriftInputs, classify
from reconciler.drift.ignore import IgnoreEntry, apply_ignores
from reconciler.drift.model import Category, Detection, DriftReport, sort_findings


def parse_categories(values: Iterable[str]) -> frozenset[Category]:
    """``--fail-on`` values (repeatable, comma-separated allowed) → categories; none given means all."""
    names = [part.strip().lower() for value in values for part in value.split(",") if part.strip()]
    if not names:
        return frozenset(Category)
    known = {c.value: c for c in Category}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ReconcilerError(f"unknown drift category {', '.join(unknown)} for --fail-on",
                              hint=f"categories: {', '.join(known)}")
    return frozenset(known[n] for n in names)


def build_report(inputs: DriftInputs, *, config_path: str, ignore_entries: Iterable[IgnoreEntry] = (),
                 fail_on: frozenset[Category] | None = None, detections: Iterable[Detection] = (),
                 notes: Iterable[str] = (), generated_at: datetime | None = None) -> DriftReport:
    """Findings worst first after the ignore file; ``generated_at`` defaults to ``inputs.now``."""
    when = generated_at or inputs.now
    reported, ignored = apply_ignores(classify(inputs), ignore_entries, when.date())
    return DriftReport(
        generated_at=when,
        config_path=config_path,
        findings=sort_findings(reported),
        ignored=tuple(sorted(ignored, key=lambda i: i.finding.sort_key())),
        detections=tuple(detections),
        fail_on=fail_on if fail_on is not None else frozenset(Category),
        notes=tuple(notes),
    )
