"""The drift report as Markdown for an issue or a chat message: counts by category, worst first, details folded."""

from __future__ import annotations

from reconciler.drift.model import DriftReport, Finding
from reconciler.render.drift_text import detection_line, severity_counts

# Hidden marker a CI job searches for to update its one drift issue instead of opening a new one each night.
MARKER = "<!-- clumio-org:drift-report -->"
# GitHub refuses comments and issue bodies over 65,536 characters; stay well below.
DEFAULT_MAX_CHARS = 60_000
_ICON = {"error": "🔴", "warning": "🟠", "notice": "🔵"}


def _cell(text: str | None) -> str:
    # StatusReasons come from AWS verbatim: keep them from breaking the table or opening HTML tags.
    return (text or "—").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace(
        "|", "\\|").replace("\n", " ")


def _row(f: Finding) -> str:
    return (f"| {_ICON[f.severity.value]} {f.severity.value} | {_cell(f.stack_set)} | {_cell(f.account)} | "
            f"{_cell(f.region)} | {_cell(f.reason)} |")


def _details(f: Finding) -> str:
    items = "".join(f"<li><code>{_cell(k)}</code>: {_cell(v)}</li>" for k, v in f.details)
    return f"<li>{_cell(f.where)} — {_cell(f.reason)}<ul>{items}</ul></li>" if items else ""


def _tail(report: DriftReport) -> list[str]:
    """What follows the findings: the ignored ones (folded) and the notes."""
    tail: list[str] = []
    if report.ignored:
        tail.append(f"\n<details><summary>Ignored by the ignore file ({len(report.ignored)})</summary>\n")
        tail.append("| Category | Where | Reason | Ignored because | Owner | Until |")
        tail.append("|---|---|---|---|---|---|")
        for i in report.ignored[:200]:
            tail.append(f"| {i.finding.category.value} | {_cell(i.finding.where)} | {_cell(i.finding.reason)} | "
                        f"{_cell(i.entry_reason)} | {_cell(i.owner)} | {i.expires} |")
        if len(report.ignored) > 200:
            tail.append(f"\n…and {len(report.ignored) - 200} more.")
        tail.append("\n</details>")
    notes = [detection_line(d) for d in report.detections] + list(report.notes)
    if notes:
        tail.append("")
        tail += [f"- {n}" for n in notes]
    return tail


def render_drift_markdown(report: DriftReport, max_chars: int = DEFAULT_MAX_CHARS) -> str:
    head = [MARKER]
    if not report.findings:
        head.append(f"### ✅ clumio-org drift: no drift\n\nThe organization, its StackSets and Clumio match "
                    f"`{report.config_path}`.")
    else:
        verdict = "drift found" if report.drifted else "findings outside --fail-on"
        head.append(f"### ⚠️ clumio-org drift: {verdict} — {len(report.findings)} findings "
                    f"({severity_counts(report)})")
    head.append(f"\n_Generated {report.generated_at.strftime('%Y-%m-%d %H:%M UTC')}; exit code "
                f"{report.exit_code}._\n")
    summary = report.summary()
    head.append("| Category | Findings | Counts for exit code |")
    head.append("|---|---:|---|")
    for c in report.categories_worst_first():
        head.append(f"| {c.title} (`{c.value}`) | {summary[c]} | {'yes' if c in report.fail_on else 'no'} |")
    tail = _tail(report)
    budget = max_chars - len("\n".join(head + tail)) - 300
    body: list[str] = []
    omitted = 0
    for c in report.categories_worst_first():
        findings = [f for f in report.findings if f.category is c]
        if not findings:
            continue
        section = [f"\n#### {c.title} ({len(findings)})\n",
                   "| Severity | StackSet | Account | Region | Reason |", "|---|---|---|---|---|"]
        budget -= sum(len(line) + 1 for line in section)
        shown = 0
        for f in findings:
            row = _row(f)
            if budget < len(row) + 1:
                break
            section.append(row)
            budget -= len(row) + 1
            shown += 1
        if shown < len(findings):
            omitted += len(findings) - shown
            section.append(f"\n…{len(findings) - shown} more {c.value} findings not shown (size limit).")
        details = "".join(_details(f) for f in findings[:shown])
        block = f"\n<details><summary>Details</summary>\n\n<ul>{details}</ul>\n\n</details>"
        if details and budget > len(block):
            section.append(block)
            budget -= len(block)
        body += section
    if omitted:
        body.append(f"\n_{omitted} findings were left out to keep this message short; the JSON report "
                    "(`clumio-org drift --format json`) has them all._")
    return "\n".join(head + body + tail) + "\n"
