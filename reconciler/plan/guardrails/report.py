"""The guardrail report as the plan file's JSON (schemas/plan.schema.json ``guardrails``) and back."""

from __future__ import annotations

from typing import Any

from reconciler.core.guardrails import GuardrailFinding, GuardrailMode, GuardrailReport, GuardrailSource, Verdict
from reconciler.core.keys import InstanceKey


def report_to_json(report: GuardrailReport) -> dict[str, Any]:
    return {
        "checked": report.checked,
        "on_deny": report.mode.value,
        "summary": report.counts(),
        "findings": [{
            "stack_set": f.key.stack_set, "account": f.key.account, "region": f.key.region,
            "verdict": f.verdict.value, "reason": f.reason, "source": f.source.value,
            "policy_id": f.policy_id, "policy_name": f.policy_name, "target": f.target, "action": f.action,
            "skipped": f.skipped,
        } for f in report.findings],
        "notes": list(report.notes),
    }


def report_from_json(data: dict[str, Any] | None) -> GuardrailReport:
    """A plan file without the section (made before guardrails were checked) reads as not checked."""
    if not data:
        return GuardrailReport(checked=False)
    findings = tuple(GuardrailFinding(
        key=InstanceKey(f["stack_set"], f["account"], f["region"]), verdict=Verdict(f["verdict"]),
        reason=f["reason"], source=GuardrailSource(f.get("source", "scp")), policy_id=f.get("policy_id"),
        policy_name=f.get("policy_name"), target=f.get("target"), action=f.get("action"),
        skipped=bool(f.get("skipped", False))) for f in data.get("findings", ()))
    return GuardrailReport(mode=GuardrailMode(data.get("on_deny", "warn")), findings=findings,
                           notes=tuple(data.get("notes", ())), checked=bool(data.get("checked", True)))


def finding_lines(report: GuardrailReport, limit: int | None = None) -> list[str]:
    """``account  region  reason [skipped]`` rows, sorted by key, for text output."""
    rows = [f"{f.key.account}  {f.key.region:<15} {f.reason}{'  [skipped]' if f.skipped else ''}"
            for f in report.findings]
    if limit is not None and len(rows) > limit:
        rows = [*rows[:limit], f"… and {len(rows) - limit} more (see --format json)"]
    return rows


def summary_text(report: GuardrailReport) -> str:
    """``Guardrails: 3 will fail (3 skipped), 1 unknown.``"""
    counts = report.counts()
    text = f"Guardrails: {counts['will_fail']} will fail"
    if counts["skipped"]:
        text += f" ({counts['skipped']} skipped)"
    return text + f", {counts['unknown']} unknown."
