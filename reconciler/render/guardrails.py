"""The guardrail section of a plan (text and Markdown): which (account, region) pairs will fail, and why."""

from __future__ import annotations

from reconciler.core.plan import Plan
from reconciler.plan.guardrails.report import finding_lines, summary_text

TEXT_LIMIT = 200
MARKDOWN_HEAD = ["| Account | Region | Guardrail | Skipped |", "|---|---|---|---|"]


def guardrail_text(plan: Plan) -> list[str]:
    """Lines for the text plan (empty when nothing will fail and nothing is unknown)."""
    report = plan.guardrails
    if not report.findings:
        return []
    lines = [f"{summary_text(report)} (guardrails.on_deny: {report.mode.value})"]
    lines += [f"  {row}" for row in finding_lines(report, TEXT_LIMIT)]
    return [*lines, ""]


def guardrail_markdown_summary(plan: Plan) -> str | None:
    report = plan.guardrails
    if not report.findings:
        return None
    return f"{summary_text(report)} (`guardrails.on_deny: {report.mode.value}`)"


MARKDOWN_ROWS = 50


def guardrail_markdown(plan: Plan) -> list[str]:
    """The Markdown section: the counts, then the first pairs (all of them are in the JSON plan)."""
    summary = guardrail_markdown_summary(plan)
    if summary is None:
        return []
    rows = guardrail_markdown_rows(plan)
    shown = rows[:MARKDOWN_ROWS]
    more = [f"_… and {len(rows) - len(shown)} more; every pair is in the JSON plan (`guardrails.findings`)._"
            ] if len(rows) > len(shown) else []
    return ["#### Guardrails", summary, "", *MARKDOWN_HEAD, *shown, *more, ""]


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def guardrail_markdown_rows(plan: Plan) -> list[str]:
    return [f"| `{f.key.account}` | {f.key.region} | {_cell(f.reason)} | {'yes' if f.skipped else ''} |"
            for f in plan.guardrails.findings]


def skipped_lines(plan: Plan) -> list[str]:
    """What apply prints at the end about pairs it left out under ``guardrails.on_deny: skip``."""
    skipped = [f for f in plan.guardrails.findings if f.skipped]
    if not skipped:
        return []
    lines = [f"Skipped by guardrails (guardrails.on_deny: skip): {len(skipped)} (account, region) pair(s), not "
             "deployed:"]
    lines += [f"  {f.key.account}  {f.key.region:<15} {f.reason}" for f in skipped[:TEXT_LIMIT]]
    if len(skipped) > TEXT_LIMIT:
        lines.append(f"  … and {len(skipped) - TEXT_LIMIT} more")
    return lines
