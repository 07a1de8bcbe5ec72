"""The drift report as versioned JSON (schemas/drift-report.schema.json), for dashboards and scripts."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from reconciler.core.plan import TIMESTAMP_FORMAT
from reconciler.drift.model import Detection, DriftReport, Finding


def _time(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime(TIMESTAMP_FORMAT)


def finding_to_json(finding: Finding, *, counted: bool) -> dict[str, Any]:
    return {
        "category": finding.category.value,
        "severity": finding.severity.value,
        "stack_set": finding.stack_set,
        "account": finding.account,
        "region": finding.region,
        "reason": finding.reason,
        "details": dict(finding.details),
        "counted": counted,
    }


def _detection(d: Detection) -> dict[str, Any]:
    return {
        "stack_set": d.stack_set,
        "started_here": d.started_here,
        "status": d.status,
        "last_check": _time(d.last_check),
        "age_seconds": None if d.age_seconds is None else round(d.age_seconds),
        "operation_id": d.operation_id,
    }


def report_to_json(report: DriftReport) -> dict[str, Any]:
    return {
        "format_version": report.format_version,
        "generated_at": _time(report.generated_at),
        "config": report.config_path,
        "drifted": report.drifted,
        "exit_code": report.exit_code,
        "fail_on": sorted(c.value for c in report.fail_on),
        "summary": {c.value: n for c, n in report.summary().items()},
        "findings": [finding_to_json(f, counted=f.category in report.fail_on) for f in report.findings],
        "ignored": [
            {**finding_to_json(i.finding, counted=False),
             "ignore": {"reason": i.entry_reason, "owner": i.owner, "expires": i.expires}}
            for i in report.ignored
        ],
        "detections": [_detection(d) for d in report.detections],
        "notes": list(report.notes),
    }


def render_drift_json(report: DriftReport) -> str:
    return json.dumps(report_to_json(report), indent=2, sort_keys=False) + "\n"
