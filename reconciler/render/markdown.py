"""Plan as a sticky pull-request comment: the summary, StackSet changes, waves, OU × region matrix, removals,
grouped changes, skipped accounts and operations always; per-instance rows folded in ``<details>`` and cut first.
Never over GitHub's 65,536-character comment limit, always balanced markup, and it says what it left out and where
the full plan is."""

from __future__ import annotations

from collections.abc import Sequence

from reconciler.core.plan import Action, Change, Plan
from reconciler.plan.overview import AFTER_WAVES, ChangeGroup, Overview, overview
from reconciler.render.coverage import coverage_markdown
from reconciler.render.guardrails import guardrail_markdown, guardrail_markdown_summary
from reconciler.render.targets import targets_markdown
from reconciler.render.text import (
    accounts_text,
    describe_targets,
    duration,
    op_wave,
    summary_line,
    targets_summary,
    wave_counts,
)

GITHUB_COMMENT_LIMIT = 65_536
MAX_CHARS = GITHUB_COMMENT_LIMIT
# A marker the CI recipe finds to update the same comment instead of adding a new one each push.
STICKY_MARKER = "<!-- clumio-org plan -->"
_GROUPS_PER_WAVE = 60  # beyond this a wave's grouped lines are counted, not listed (the plan file has them all)
_CHANGE_HEAD = ("| | StackSet | Account | Region | Reason |", "|---|---|---|---|---|")


def _cell(text: object) -> str:
    return str(text if text is not None else "").replace("|", "\\|").replace("\n", " ").replace("<", "&lt;")


def _group_row(g: ChangeGroup) -> str:
    ous = ", ".join(f"`{_cell(o)}`" for o in g.ous[:3]) + (f" +{len(g.ous) - 3}" if len(g.ous) > 3 else "")
    return (f"| {g.action.symbol} | {g.instances} | {_cell(g.reason)} | {len(g.accounts)} × {len(g.regions)} "
            f"({', '.join(g.regions)}) | {ous} | {_cell(accounts_text(g.accounts, 3))} |")


_GROUP_HEAD = ("| | Instances | Change | Accounts × regions | OUs | Accounts |", "|---|---|---|---|---|---|")


def _groups_table(groups: Sequence[ChangeGroup], where: str) -> list[str]:
    rows = [_group_row(g) for g in groups[:_GROUPS_PER_WAVE]]
    out = [*_GROUP_HEAD, *rows]
    if len(groups) > _GROUPS_PER_WAVE:
        rest = groups[_GROUPS_PER_WAVE:]
        out.append(f"| … | {sum(g.instances for g in rest)} | {len(rest)} more kinds of change ({where}) | | | |")
    return [*out, ""]


def _summary(plan: Plan, view: Overview) -> list[str]:
    s = plan.summary()
    out = [STICKY_MARKER, f"### clumio-org plan `{plan.plan_id}`", "", f"**{summary_line(plan)}**", "",
           f"{s['skipped']} account(s) skipped · {len(plan.operations)} StackSet operation(s) in "
           f"{len(plan.waves)} wave(s) · estimated {duration(plan.estimate_seconds)}", ""]
    if view.removals:
        n = sum(g.instances for g in view.removals)
        out += [f"> [!CAUTION]\n> {n} stack instance(s) would be **removed**; `apply` refuses without "
                "`--allow-destroy`.", ""]
    targets = targets_summary(plan)
    if targets:
        out += [f"StackSet {_cell(targets)}", ""]
    guardrails = guardrail_markdown_summary(plan)
    if guardrails:
        out += [f"> [!WARNING]\n> {guardrails}: see **Guardrails** below.", ""]
    if plan.warnings:
        out += [f"> [!WARNING]\n> {len(plan.warnings)} warning(s): see **Warnings** below.", ""]
    out += ["#### Waves", "| # | Wave | Changes | Accounts | At a time per region | Estimate |",
            "|---|---|---|---|---|---|"]
    for w in view.waves:
        if w.plan is None:
            out.append(f"| – | removals (see Operations for when) | {wave_counts(w)} | {w.accounts} | | |")
        else:
            out.append(f"| {w.plan.index} | **{_cell(w.name)}** | {wave_counts(w)} | {w.accounts} | "
                       f"{w.plan.effective_concurrency} | ~{duration(w.plan.estimate_seconds)} |")
    out.append("")
    return out


def _stack_sets(plan: Plan) -> list[str]:
    if not plan.stack_set_changes:
        return []
    out = ["#### StackSet changes"]
    for ch in plan.stack_set_changes:
        if ch.action is Action.ADD:
            d = ch.definition
            out += [f"- **+ `{ch.stack_set}` will be created**: {d.permission_model.value}, template "
                    f"{d.template_version} (sha256 `{d.template_sha256[:12]}`)"]
        else:
            out += [f"- **~ `{ch.stack_set}` will be updated in place**", "", "| Property | Before | After |",
                    "|---|---|---|"]
            out += [f"| `{_cell(p.name)}` | {_cell(p.before)} | {_cell(p.after)} |" for p in ch.properties]
    return [*out, ""]


def _matrix(view: Overview) -> list[str]:
    m = view.matrix
    if not m.rows:
        return []
    out = ["#### Changes by OU and region", "| OU | " + " | ".join(m.regions) + " |", "|---|" + "---|" * len(m.regions)]
    for ou, cells in m.rows:
        row = [" ".join(f"{a.symbol}{n}" for a, n in counts) or "·" for _, counts in cells]
        out.append(f"| `{_cell(ou)}` | " + " | ".join(row) + " |")
    return [*out, ""]


def _grouped(plan: Plan, view: Overview) -> list[str]:
    out: list[str] = []
    if view.removals:
        out += ["#### Removals", *_groups_table(view.removals, "removals")]
    total = len(plan.waves)
    for w in view.waves:
        groups = view.groups_of(w.name)
        if w.plan is None or not groups:
            continue
        note = f" — {_cell(w.plan.note)}" if w.plan.note else ""
        out += [f"#### Wave {w.plan.index}/{total} {_cell(w.name)}: {wave_counts(w)} in {w.accounts} account(s), "
                f"{w.plan.effective_concurrency} at a time per region, ~{duration(w.plan.estimate_seconds)}{note}",
                *_groups_table(groups, f"wave {w.name}")]
    return out


def _skipped(view: Overview) -> list[str]:
    if not view.skipped:
        return []
    n = sum(len(g.accounts) for g in view.skipped)
    out = [f"#### Skipped accounts ({n})", "| Reason | Accounts |", "|---|---|"]
    out += [f"| {_cell(g.reason)} | {len(g.accounts)}: {', '.join(f'`{a}`' for a in g.accounts)} |"
            for g in view.skipped]
    return [*out, ""]


def _operations(plan: Plan) -> list[str]:
    if not plan.operations:
        return []
    out = [f"#### Operations ({len(plan.operations)})",
           "| # | Call | StackSet | Wave | Instances | Targets | Estimate |", "|---|---|---|---|---|---|---|"]
    out += [f"| {op.index:03d} | {op.kind.value} | {op.stack_set} | {_cell(op_wave(plan, op))} | "
            f"{len(op.instances)} | {_cell(describe_targets(op))} | ~{duration(op.estimate_seconds)} |"
            for op in plan.operations]
    return [*out, ""]


def _warnings(plan: Plan) -> list[str]:
    if not plan.warnings:
        return []
    return ["#### Warnings", *[f"- {_cell(w)}" for w in plan.warnings], ""]


def _row(c: Change) -> str:
    return f"| {c.action.symbol} | {c.key.stack_set} | `{c.key.account}` | {c.key.region} | {_cell(c.reason)} |"


def _size(lines: Sequence[str]) -> int:
    return sum(len(line) + 1 for line in lines)


def _details(plan: Plan, view: Overview, budget: int) -> tuple[list[str], int, int]:
    """Per-instance rows per wave, each table folded in its own ``<details>``, as many rows as ``budget`` allows;
    returns the lines, the rows shown and the rows left out. A block is only opened when it can be closed."""
    known = {w.name for w in plan.waves}
    out: list[str] = []
    shown = left = 0
    for w in view.waves:
        rows = [c for c in plan.changes if (c.wave if c.wave in known else AFTER_WAVES) == w.name]
        if not rows:
            continue
        label = "Removals" if w.plan is None else f"Wave {w.plan.index} {_cell(w.name)}"
        opening = [f"<details><summary>{label}: every instance ({len(rows)})</summary>", "", *_CHANGE_HEAD]
        closing = ["", "</details>", ""]
        marker_room = 120
        if _size(out) + _size(opening) + _size(closing) + marker_room > budget:
            left += len(rows)
            continue
        block = list(opening)
        used = _size(out) + _size(opening) + _size(closing) + marker_room
        count = 0
        for c in rows:
            line = _row(c)
            if used + len(line) + 1 > budget:
                break
            block.append(line)
            used += len(line) + 1
            count += 1
        if count < len(rows):
            block.append(f"| … | | | | {len(rows) - count} more rows: see the full plan |")
        out += [*block, *closing]
        shown += count
        left += len(rows) - count
    return out, shown, left


def _where(plan_file: str | None) -> str:
    if plan_file:
        return (f"the plan file `{plan_file}` (the job's artifact) has every row: "
                f"`clumio-org show {plan_file}` prints it all")
    return "`clumio-org plan --out PLANFILE` saves every row; `clumio-org show PLANFILE` prints it all"


def render_plan_markdown(plan: Plan, *, max_chars: int = MAX_CHARS, plan_file: str | None = None) -> str:
    """The plan as GitHub-flavoured Markdown of at most ``max_chars`` characters. The summary sections are always
    whole; the per-instance detail fills what room is left, and the comment says how much of it was left out and
    where the full plan is."""
    view = overview(plan)
    head = [*_summary(plan, view), *_stack_sets(plan), *_matrix(view), *_grouped(plan, view), *_skipped(view),
            *targets_markdown(plan), *guardrail_markdown(plan), *_operations(plan), *_warnings(plan),
            *coverage_markdown(plan)]
    footer = [f"<sub>desired `{plan.desired_digest[:12]}` · live `{plan.live_fingerprint[7:19]}` · state serial "
              f"{plan.state_serial if plan.state_serial is not None else 'none'}</sub>"]
    note_room = 400
    budget = max_chars - _size(head) - _size(footer) - note_room
    if budget < 0:  # pathological: even the summary is too long; keep its opening and say so
        head = _shrink(head, max_chars - _size(footer) - note_room)
        budget = 0
    details, shown, left = _details(plan, view, budget)
    note: list[str] = []
    if left:
        note = [f"_Per-instance detail: {shown} of {shown + left} rows shown, {left} left out to fit a GitHub "
                f"comment; every section above is complete. {_where(plan_file)}._", ""]
    text = "\n".join([*head, *details, *note, *footer]) + "\n"
    assert len(text) <= max_chars, len(text)  # the budget above guarantees it; a bug otherwise
    return text


def _shrink(lines: list[str], room: int) -> list[str]:
    """Keep whole lines up to ``room`` characters, closing a table cleanly, then a line saying what was cut."""
    kept: list[str] = []
    for line in lines:
        if _size(kept) + len(line) + 1 > room - 200:
            break
        kept.append(line)
    return [*kept, "", f"_The summary alone is over the comment limit: {len(lines) - len(kept)} line(s) of it are "
            "not shown; `clumio-org show PLANFILE` prints the whole plan._", ""]


def render_plan_markdown_parts(plan: Plan, *, max_chars: int = MAX_CHARS, plan_file: str | None = None) -> list[str]:
    """The comment as numbered parts, each at most ``max_chars``: part 1 is :func:`render_plan_markdown`; parts 2…n,
    present only when part 1 had to leave rows out, carry every per-instance row, wave by wave, for a recipe that
    wants the whole plan in the pull request."""
    first = render_plan_markdown(plan, max_chars=max_chars, plan_file=plan_file)
    if "left out to fit a GitHub comment" not in first:
        return [first]
    view = overview(plan)
    known = {w.name for w in plan.waves}
    sections: list[tuple[str, list[str]]] = []
    for w in view.waves:
        rows = [_row(c) for c in plan.changes if (c.wave if c.wave in known else AFTER_WAVES) == w.name]
        if rows:
            sections.append(("Removals" if w.plan is None else f"Wave {w.plan.index} {_cell(w.name)}", rows))
    room = max_chars - 400  # the part's heading, marker and closing line
    chunks: list[list[str]] = []
    current: list[str] = []
    for label, rows in sections:
        start = 0
        while start < len(rows):
            heading = [f"#### {label} ({len(rows)} instances)" + (" — continued" if start else ""), *_CHANGE_HEAD]
            if _size(current) + _size(heading) + 200 > room:
                chunks.append(current)
                current = []
            current += heading
            while start < len(rows) and _size(current) + len(rows[start]) + 1 <= room:
                current.append(rows[start])
                start += 1
            current.append("")
            if start < len(rows):
                chunks.append(current)
                current = []
    if current:
        chunks.append(current)
    total = len(chunks) + 1
    parts = [first.replace("left out to fit a GitHub comment;",
                           f"left out to fit a GitHub comment (parts 2–{total} list them all);", 1)]
    for number, chunk in enumerate(chunks, start=2):
        head = [f"<!-- clumio-org plan part {number} -->",
                f"### clumio-org plan `{plan.plan_id}` — per-instance detail, part {number} of {total}", ""]
        parts.append("\n".join([*head, *chunk]) + "\n")
    assert all(len(part) <= max_chars for part in parts)
    return parts
