"""The plan's "Existing Clumio deployments" section: every desired (account, region) another Clumio deployment
already covers, with the reason and the way forward; the connections the plan moves onto the StackSet, each with its
ordered steps; and the counts per class (text and markdown)."""

from __future__ import annotations

from reconciler.core.coverage import Coverage, CoverageRow
from reconciler.core.plan import Plan
from reconciler.plan.coverage import counts_text

MAX_ROWS = 50  # a review stays readable; `plan --format json` lists every row


def existing_rows(plan: Plan) -> list[CoverageRow]:
    return [r for r in plan.coverage if r.coverage is not Coverage.MOVE]


def moved_rows(plan: Plan) -> list[CoverageRow]:
    return [r for r in plan.coverage if r.coverage is Coverage.MOVE]


def shows_coverage(plan: Plan) -> bool:
    """Only brownfield plans get the section and the counts line: a greenfield plan reads as before."""
    return bool(plan.coverage)


def coverage_text(plan: Plan) -> list[str]:
    rows, moved = existing_rows(plan), moved_rows(plan)
    if not rows and not moved:
        return []
    out: list[str] = []
    if rows:
        out.append(f"Existing Clumio deployments ({len(rows)} desired (account, region) already covered; the plan "
                   "leaves them alone and deploys no second one):")
        for row in rows[:MAX_ROWS]:
            out.append(f"  = {row.account}/{row.region}  {row.coverage.value}: {row.reason}")
            out.append(f"      way forward: {row.way_forward}")
        if len(rows) > MAX_ROWS:
            out.append(f"  … and {len(rows) - MAX_ROWS} more (`clumio-org plan --format json` lists them all)")
    if moved:
        out.append(f"Connections moved onto the StackSet ({len(moved)}, targets.existing_connections: move), in "
                   "this order so the connection never stops:")
        out += [f"  {step}" for step in MOVE_STEPS]
        for (wave, source), pairs in _groups(moved):
            shown = ", ".join(pairs[:MAX_ROWS]) + (f" and {len(pairs) - MAX_ROWS} more" if len(pairs) > MAX_ROWS
                                                   else "")
            out.append(f"  ~ wave {wave}, from {source} ({len(pairs)}): {shown}")
        out.append("  (`clumio-org plan --format json` gives every connection's own steps and commands)")
    out += [f"  {counts_text(plan.coverage_counts)}", ""]
    return out


def coverage_markdown(plan: Plan) -> list[str]:
    rows, moved = existing_rows(plan), moved_rows(plan)
    if not rows and not moved:
        return []
    out: list[str] = []
    if rows:
        out += ["<details><summary>Existing Clumio deployments (" + str(len(rows)) + " left alone)</summary>", "",
                "| Account | Region | Class | Reason | Way forward |", "|---|---|---|---|---|"]
        out += [f"| `{r.account}` | {r.region} | {r.coverage.value} | {_cell(r.reason)} | {_cell(r.way_forward)} |"
                for r in rows[:MAX_ROWS]]
        if len(rows) > MAX_ROWS:
            out.append(f"| … | | | {len(rows) - MAX_ROWS} more | |")
        out += ["", "</details>", ""]
    if moved:
        out += ["<details><summary>Connections moved onto the StackSet (" + str(len(moved)) + ")</summary>", "",
                "In this order, so the connection never stops:", "", *MOVE_STEPS, "",
                "| Wave | From | Connections |", "|---|---|---|"]
        for (wave, source), pairs in _groups(moved):
            shown = ", ".join(f"`{p}`" for p in pairs[:MAX_ROWS]) + (
                f" and {len(pairs) - MAX_ROWS} more" if len(pairs) > MAX_ROWS else "")
            out.append(f"| {wave} | {_cell(source)} | {len(pairs)}: {shown} |")
        out += ["", "</details>", ""]
    out += [counts_text(plan.coverage_counts), ""]
    return out


# What every move does, in order (each connection's own steps, with its commands, are in the JSON plan).
MOVE_STEPS = (
    "1. in the account's wave, CreateStackInstances deploys the StackSet's stack next to the old one; both run "
    "and the Clumio connection stays connected",
    "2. that wave's gate waits until Clumio shows the connection running through the StackSet's stack (the old "
    "stack as retired); if it does not, the wave fails and nothing else changes: keep the old stack",
    "3. then you remove the old stack (or Terraform's state and roles): apply prints the commands, and plan and "
    "drift name each retired stack until Clumio stops listing it",
)


def _groups(moved: list[CoverageRow]) -> list[tuple[tuple[str, str], list[str]]]:
    """The moves by (wave, what they come from), in wave order of appearance: account/region pairs."""
    groups: dict[tuple[str, str], list[str]] = {}
    for row in moved:
        wave = row.wave or "(none)"
        source = f"stack {row.by}" if row.stack_arn else "Terraform's module (no stack)"
        groups.setdefault((wave, source), []).append(f"{row.account}/{row.region}")
    return list(groups.items())


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
