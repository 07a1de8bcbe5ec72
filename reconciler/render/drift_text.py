"""The drift report as plain text for a terminal or a CI log: one line per finding, worst first."""

from __future__ import annotations

from reconciler.drift.classify import human_age
from reconciler.drift.model import Detection, DriftReport, Severity


def counts_line(report: DriftReport) -> str:
    return " · ".join(f"{c.value} {n}" for c, n in report.summary().items())


def severity_counts(report: DriftReport) -> str:
    counts = {s: 0 for s in Severity}
    for f in report.findings:
        counts[f.severity] += 1
    return ", ".join(f"{n} {s.value}{'s' if n != 1 else ''}" for s, n in counts.items() if n)


def detection_line(d: Detection) -> str:
    if d.status == "NOT_CHECKED":
        return f"resource drift on {d.stack_set}: never checked (run `clumio-org drift --detect`)"
    when = "just now" if d.started_here else f"{human_age(d.age_seconds)} ago"
    return f"resource drift on {d.stack_set}: detection {d.status} {when}"


def render_drift_text(report: DriftReport) -> str:
    lines: list[str] = []
    if not report.findings:
        lines.append(f"No drift: the organization, its StackSets and Clumio match {report.config_path}.")
    else:
        lines.append(f"Drift: {len(report.findings)} finding{'s' if len(report.findings) != 1 else ''} "
                     f"({severity_counts(report)})")
        lines.append(f"  {counts_line(report)}")
        lines.append("")
        width = max(len(f.where) for f in report.findings)
        for f in report.findings:
            mark = "" if f.category in report.fail_on else "  (not counted: --fail-on)"
            lines.append(f"{f.severity.value.upper():<8}{f.category.value:<11}{f.where:<{width}}  {f.reason}{mark}")
            for name, value in f.details:
                if name in ("hint", "status_reason") or name.startswith("resource "):
                    lines.append(f"{'':<19}{name}: {value}")
    if report.ignored:
        lines.append("")
        lines.append(f"Ignored ({len(report.ignored)}, by the ignore file):")
        for i in report.ignored:
            lines.append(f"  {i.finding.category.value:<11}{i.finding.where}  {i.finding.reason}"
                         f"  [{i.entry_reason}; owner {i.owner}; until {i.expires}]")
    if report.detections or report.notes:
        lines.append("")
    lines += [detection_line(d) for d in report.detections]
    lines += list(report.notes)
    if report.findings and not report.drifted:
        counted = ", ".join(sorted(c.value for c in report.fail_on)) or "none"
        lines.append(f"(no finding in the categories that count: {counted})")
    return "\n".join(lines) + "\n"

