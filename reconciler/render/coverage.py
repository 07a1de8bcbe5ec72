"""The plan's "Existing Clumio deployments" section: every desired (account, region) another Clumio deployment
already covers, with the reason and the way forward, and the counts per class (text and markdown)."""

from __future__ import annotations

from reconciler.core.coverage import CoverageRow
from reconciler.core.plan import Plan
from reconciler.plan.coverage import counts_text

MAX_ROWS = 50  # a review stays readable; `plan --format json` lists every row


def existing_rows(plan: Plan) -> list[CoverageRow]:
    return list(plan.coverage)


def shows_coverage(plan: Plan) -> bool:
    """Only brownfield plans get the section and the counts line: a greenfield plan reads as before."""
    return bool(existing_rows(plan))


def coverage_text(plan: Plan) -> list[str]:
    rows = existing_rows(plan)
    if not rows:
        return []
    out = [f"Existing Clumio deployments ({len(rows)} desired (account, region) already covered; the plan leaves "
           "them alone and deploys no second one):"]
    for row in rows[:MAX_ROWS]:
        out.append(f"  = {row.account}/{row.region}  {row.coverage.value}: {row.reason}")
        out.append(f"      way forward: {row.way_forward}")
    if len(rows) > MAX_ROWS:
        out.append(f"  … and {len(rows) - MAX_ROWS} more (`clumio-org plan --format json` lists them all)")
    out += [f"  {counts_text(plan.coverage_counts)}", ""]
    return out


def coverage_markdown(plan: Plan) -> list[str]:
    rows = existing_rows(plan)
    if not rows:
        return []
    out = ["<details><summary>Existing Clumio deployments (" + str(len(rows)) + " left alone)</summary>", "",
           "| Account | Region | Class | Reason | Way forward |", "|---|---|---|---|---|"]
    out += [f"| `{r.account}` | {r.region} | {r.coverage.value} | {_cell(r.reason)} | {_cell(r.way_forward)} |"
            for r in rows[:MAX_ROWS]]
    if len(rows) > MAX_ROWS:
        out.append(f"| … | | | {len(rows) - MAX_ROWS} more | |")
    out += ["", counts_text(plan.coverage_counts), "", "</details>", ""]
    return out


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
