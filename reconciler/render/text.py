"""Plan as terminal text: the summary first, identical changes grouped per wave, then Terraform-like ``+ ~ -``
rows per (StackSet, account, region)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence

from reconciler.core.plan import (
    Action,
    Change,
    Operation,
    OperationKind,
    OuTargetStatus,
    Plan,
    StackSetChange,
    WavePlan,
)
from reconciler.plan.guardrails.report import summary_text
from reconciler.plan.overview import AFTER_WAVES, ChangeGroup, Overview, WaveCount, overview
from reconciler.render.coverage import coverage_text
from reconciler.render.guardrails import guardrail_text
from reconciler.render.targets import targets_text

_COLORS = {Action.ADD: "\033[32m", Action.CHANGE: "\033[33m", Action.REMOVE: "\033[31m"}
_BOLD, _RESET = "\033[1m", "\033[0m"
NO_CHANGES = "No changes. The organization matches the desired state."


def duration(seconds: float) -> str:
    """``1h 05m``, ``12m 30s``, ``45s``: estimates read at a glance."""
    total = int(round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s" if secs else f"{minutes}m"
    return f"{secs}s"


def summary_line(plan: Plan) -> str:
    """The last line of every plan output: ``Plan: N to add, M to change, K to remove.`` or ``No changes. …``."""
    if plan.empty:
        return NO_CHANGES
    s = plan.summary()
    return f"Plan: {s['add']} to add, {s['change']} to change, {s['remove']} to remove."


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _sym(action: Action, color: bool) -> str:
    return f"{_COLORS[action]}{action.symbol}{_RESET}" if color else action.symbol


def describe_targets(op: Operation) -> str:
    """One line saying whom an operation reaches, in the API's own words."""
    if op.kind is OperationKind.CREATE_STACK_SET:
        return "no instances"
    parts: list[str] = []
    if op.targets is not None:
        t = op.targets
        ous = ", ".join(t.organizational_unit_ids[:3]) + (f" +{len(t.organizational_unit_ids) - 3}"
                                                          if len(t.organizational_unit_ids) > 3 else "")
        parts.append(f"OUs {ous}")
        if t.account_filter_type is not None:
            flt = t.account_filter_type.value
            parts.append(flt if not t.accounts else f"{flt} {_plural(len(t.accounts), 'account')}")
    elif op.accounts:
        parts.append("accounts " + ", ".join(op.accounts[:3]) + (f" +{len(op.accounts) - 3}"
                                                                  if len(op.accounts) > 3 else ""))
    else:
        parts.append("every instance")
    if op.regions:
        parts.append(f"{_plural(len(op.regions), 'region')} ({', '.join(op.regions)})")
    if op.retain_stacks:
        parts.append("RetainStacks")
    return "; ".join(parts)


def _stack_set_block(ch: StackSetChange, color: bool) -> list[str]:
    sym = _sym(ch.action, color)
    if ch.action is Action.ADD:
        d = ch.definition
        lines = [f"{sym} StackSet {ch.stack_set} will be created ({d.permission_model.value})",
                 f"    template        {d.template_version} (sha256:{d.template_sha256[:12]})",
                 f"    description     {d.description}"]
        lines += [f"    parameters.{k} = {v!r}" for k, v in d.parameters]
        lines.append("    parameters.ClumioToken, parameters.RoleExternalId = (sensitive, from Clumio at apply)")
        if d.auto_deployment is not None:
            lines.append(f"    auto_deployment {str(d.auto_deployment).lower()} "
                         f"(retain stacks on account removal: {str(d.retain_stacks_on_account_removal).lower()})")
        if d.tags:
            lines.append("    tags            " + ", ".join(f"{k}={v}" for k, v in d.tags))
        return lines
    lines = [f"{sym} StackSet {ch.stack_set} will be updated in place"]
    width = max((len(p.name) for p in ch.properties), default=0)
    for p in ch.properties:
        lines.append(f"    {p.name.ljust(width)}  {p.before if p.before is not None else '(none)'} → "
                     f"{p.after if p.after is not None else '(none)'}")
    return lines


def _rows(changes: Iterable[Change], color: bool) -> list[str]:
    by_set: dict[str, list[Change]] = defaultdict(list)
    for c in changes:
        by_set[c.key.stack_set].append(c)
    lines: list[str] = []
    for name in sorted(by_set):
        lines.append(f"  {name}")
        for c in by_set[name]:
            lines.append(f"    {_sym(c.action, color)} {c.key.account}  {c.key.region:<15} {c.reason}")
    return lines


def _wave_header(w: WavePlan, rows: Sequence[Change], total: int) -> str:
    # The accounts that change, not the wave's members: a template update may touch a few of many.
    changing = len({c.key.account for c in rows})
    head = (f"Wave {w.index}/{total} {w.name!r}: {_plural(len(rows), 'change')} in "
            f"{_plural(changing, 'account')}; MaxConcurrent {w.max_concurrent}, "
            f"FailureTolerance {w.failure_tolerance}, {w.concurrency_mode.value} → "
            f"{w.effective_concurrency} at a time per region; ~{duration(w.estimate_seconds)}")
    return head


def op_wave(plan: Plan, op: Operation) -> str:
    """``wave canary``, or when a StackSet-level operation runs: before the first wave or after the last."""
    if op.wave:
        return f"wave {op.wave}"
    first_wave = next((o.index for o in plan.operations if o.wave), None)
    return "before waves" if first_wave is not None and op.index < first_wave else "after waves"


def targets_summary(plan: Plan) -> str | None:
    """One line for the StackSet's OU targets: how many after apply and now, gained, dropped, accepted leaks."""
    t = plan.targets
    if t is None or not (t.ous or t.live_ous or t.leaks):
        return None
    gained = sum(1 for o in t.ous if o.status is OuTargetStatus.ADD)
    dropped = sum(1 for o in t.ous if o.status is OuTargetStatus.REMOVE)
    line = (f"targets {t.stack_set}: {len(t.desired_ous)} OU(s) after apply ({len(t.live_ous)} now; +{gained} "
            f"-{dropped}); auto-deployment {'on' if t.auto_deployment else 'off'}")
    if t.leaks:
        line += f"; {len(t.leaks)} accepted leak(s): " + ", ".join(x.path for x in t.leaks[:3])
    return line


def accounts_text(accounts: Sequence[str], limit: int = 4) -> str:
    """``111111111111, 222222222222 +12``: the first few accounts and how many more."""
    shown = ", ".join(accounts[:limit])
    return shown + (f" +{len(accounts) - limit}" if len(accounts) > limit else "")


def group_line(g: ChangeGroup) -> str:
    """One line for identical changes: count, reason, and the accounts / regions / OUs they cover."""
    where = f"{_plural(len(g.accounts), 'account')} × {_plural(len(g.regions), 'region')}"
    ous = ", ".join(g.ous[:3]) + (f" +{len(g.ous) - 3} OUs" if len(g.ous) > 3 else "")
    return (f"{g.instances} × {g.reason} [{g.stack_set}] — {where} ({', '.join(g.regions)}); in {ous}: "
            f"{accounts_text(g.accounts)}")


def wave_counts(w: WaveCount) -> str:
    parts = [f"{a.symbol}{w.count(a)}" for a in Action if w.count(a)]
    return " ".join(parts) or "no changes"


def summary_block(plan: Plan, view: Overview, bold: Callable[[str], str]) -> list[str]:
    """The first screen: the verdict, then one line per StackSet change, wave, removal, skip reason, warning."""
    s = plan.summary()
    out = [bold(summary_line(plan)),
           f"  {_plural(s['skipped'], 'account')} skipped · {_plural(len(plan.operations), 'StackSet operation')} in "
           f"{_plural(len(plan.waves), 'wave')} · estimated {duration(plan.estimate_seconds)}"]
    for ch in plan.stack_set_changes:
        if ch.action is Action.ADD:
            out.append(f"  + StackSet {ch.stack_set}: created, template {ch.definition.template_version}")
        else:
            props = "; ".join(f"{p.name} {p.before if p.before is not None else '(none)'} → "
                              f"{p.after if p.after is not None else '(none)'}" for p in ch.properties[:4])
            more = f"; +{len(ch.properties) - 4} more" if len(ch.properties) > 4 else ""
            out.append(f"  ~ StackSet {ch.stack_set}: {props}{more}")
    targets = targets_summary(plan)
    if targets:
        out.append(f"  {targets}")
    if plan.guardrails.findings:
        out.append(f"  {summary_text(plan.guardrails)} (listed below)")
    total = len(plan.waves)
    for w in view.waves:
        if w.plan is None:
            out.append(f"  Removals: {wave_counts(w)} in {_plural(w.accounts, 'account')} "
                       "(apply needs --allow-destroy; see Operations for when)")
        else:
            out.append(f"  Wave {w.plan.index}/{total} {w.name!r}: {wave_counts(w)} in "
                       f"{_plural(w.accounts, 'account')}; {w.plan.effective_concurrency} at a time per region; "
                       f"~{duration(w.plan.estimate_seconds)}")
    if view.skipped:
        out.append("  Skipped: " + "; ".join(f"{len(g.accounts)} {g.reason.split(':')[0]}" for g in view.skipped[:4])
                   + (f"; +{len(view.skipped) - 4} more reasons" if len(view.skipped) > 4 else ""))
    if plan.warnings:
        out.append(f"  Warnings: {len(plan.warnings)} (listed below)")
    return out


def matrix_lines(view: Overview) -> list[str]:
    m = view.matrix
    if not m.rows:
        return []
    width = max(len(ou) for ou, _ in m.rows)
    cols = [max(len(r), 12) for r in m.regions]
    out = ["Changes by OU and region:", "  " + "OU".ljust(width) + "  " + "  ".join(
        r.ljust(c) for r, c in zip(m.regions, cols, strict=True))]
    for ou, cells in m.rows:
        row = ["".join(" ".join(f"{a.symbol}{n}" for a, n in counts) or "·").ljust(c)
               for (_, counts), c in zip(cells, cols, strict=True)]
        out.append("  " + ou.ljust(width) + "  " + "  ".join(row).rstrip())
    return out


def render_plan(plan: Plan, *, color: bool = False) -> str:
    """The whole plan as text: the summary first (one screen), then grouped changes per wave, removals, skipped
    accounts, operations and warnings, then every per-instance row; the summary line closes it, as in Terraform."""
    bold = (lambda s: f"{_BOLD}{s}{_RESET}") if color else (lambda s: s)
    view = overview(plan)
    out: list[str] = [bold(f"clumio-org plan {plan.plan_id}") + f"  (config {plan.config_path or '-'}, "
                      f"state serial {plan.state_serial if plan.state_serial is not None else 'none'})", ""]
    out += summary_block(plan, view, bold)
    out.append("")
    for ch in plan.stack_set_changes:
        out += _stack_set_block(ch, color)
        out.append("")
    if view.removals:
        out.append(bold(f"Removals (apply needs --allow-destroy; see Operations for when): "
                        f"{_plural(sum(g.instances for g in view.removals), 'instance')}"))
        out += [f"  {_sym(Action.REMOVE, color)} {group_line(g)}" for g in view.removals]
        out.append("")
    matrix = matrix_lines(view)
    if matrix:
        out += [bold(matrix[0]), *matrix[1:], ""]
    for w in view.waves:
        if w.plan is None or not view.groups_of(w.name):
            continue
        rows = [c for c in plan.changes if c.wave == w.name]
        out.append(bold(_wave_header(w.plan, rows, len(plan.waves))))
        if w.plan.note:
            out.append(f"  note: {w.plan.note}")
        out += [f"  {_sym(g.action, color)} {group_line(g)}" for g in view.groups_of(w.name)]
        out.append("")
    out += coverage_text(plan)
    out += guardrail_text(plan)
    if view.skipped:
        out.append(bold(f"Skipped accounts ({len(plan.skipped)}):"))
        for g in view.skipped:
            out.append(f"  {g.reason} ({_plural(len(g.accounts), 'account')}): {', '.join(g.accounts)}")
        out.append("")
    out += targets_text(plan)
    if plan.operations:
        out.append(bold(f"Operations ({len(plan.operations)}, estimated {duration(plan.estimate_seconds)} "
                        f"including Clumio connection checks):"))
        for op in plan.operations:
            wave = op_wave(plan, op)
            out.append(f"  {op.index:03d} {op.kind.value:<21} {op.stack_set}  {wave}; "
                       f"{_plural(len(op.instances), 'instance')}; {describe_targets(op)}; "
                       f"~{duration(op.estimate_seconds)}")
            if op.note:
                out.append(f"      note: {op.note}")
        out.append("")
    if plan.warnings:
        out.append(bold("Warnings:"))
        out += [f"  ! {w}" for w in plan.warnings]
        out.append("")
    out += _instance_rows(plan, view, color, bold)
    out.append(summary_line(plan))
    return "\n".join(out) + "\n"


def _instance_rows(plan: Plan, view: Overview, color: bool, bold: Callable[[str], str]) -> list[str]:
    """Every (StackSet, account, region) row, per wave then removals: the detail behind the groups above."""
    if not plan.changes:
        return []
    by_wave: dict[str, list[Change]] = defaultdict(list)
    known = {w.name for w in plan.waves}
    for c in plan.changes:
        by_wave[c.wave if c.wave in known and c.wave is not None else AFTER_WAVES].append(c)
    out = [bold(f"Per-instance detail ({_plural(len(plan.changes), 'change')}):")]
    for w in view.waves:
        rows = by_wave.get(w.name, [])
        if rows:
            out.append(f" {'Removals' if w.plan is None else 'Wave ' + repr(w.name)}")
            out += _rows(rows, color)
    out.append("")
    return out
