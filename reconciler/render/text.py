"""Plan as terminal text: Terraform-like ``+ ~ -`` rows grouped by wave, then StackSet, account and region."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from reconciler.core.plan import Action, Change, Operation, OperationKind, Plan, StackSetChange, WavePlan
from reconciler.render.coverage import coverage_text
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


def _wave_header(w: WavePlan, rows: list[Change], total: int) -> str:
    # The accounts that change, not the wave's members: a template update may touch a few of many.
    changing = len({c.key.account for c in rows})
    head = (f"Wave {w.index}/{total} {w.name!r}: {_plural(len(rows), 'change')} in "
            f"{_plural(changing, 'account')}; MaxConcurrent {w.max_concurrent}, "
            f"FailureTolerance {w.failure_tolerance}, {w.concurrency_mode.value} → "
            f"{w.effective_concurrency} at a time per region; ~{duration(w.estimate_seconds)}")
    return head


def render_plan(plan: Plan, *, color: bool = False) -> str:
    """The whole plan as text, ending with the summary line."""
    bold = (lambda s: f"{_BOLD}{s}{_RESET}") if color else (lambda s: s)
    out: list[str] = [bold(f"clumio-org plan {plan.plan_id}") + f"  (config {plan.config_path or '-'}, "
                      f"state serial {plan.state_serial if plan.state_serial is not None else 'none'})", ""]
    for ch in plan.stack_set_changes:
        out += _stack_set_block(ch, color)
        out.append("")
    by_wave: dict[str | None, list[Change]] = defaultdict(list)
    for c in plan.changes:
        by_wave[c.wave].append(c)
    for w in plan.waves:
        rows = by_wave.get(w.name, [])
        if not rows:
            continue
        out.append(bold(_wave_header(w, rows, len(plan.waves))))
        if w.note:
            out.append(f"  note: {w.note}")
        out += _rows(rows, color)
        out.append("")
    known = {w.name for w in plan.waves}
    removals = [c for wave, rows in by_wave.items() if wave not in known for c in rows]
    if removals:
        out.append(bold(f"Removals (apply needs --allow-destroy; see Operations for when): "
                        f"{_plural(len(removals), 'instance')}"))
        out += _rows(sorted(removals, key=lambda c: (c.key.stack_set, c.key.account, c.key.region)), color)
        out.append("")
    out += coverage_text(plan)
    if plan.skipped:
        out.append(bold(f"Skipped accounts ({len(plan.skipped)}):"))
        out += [f"  {s.account}  {s.reason}" for s in plan.skipped]
        out.append("")
    out += targets_text(plan)
    if plan.operations:
        out.append(bold(f"Operations ({len(plan.operations)}, estimated {duration(plan.estimate_seconds)} "
                        f"including Clumio connection checks):"))
        first_wave = next((op.index for op in plan.operations if op.wave), None)
        for op in plan.operations:
            before = first_wave is not None and op.index < first_wave
            wave = f"wave {op.wave}" if op.wave else ("before waves" if before else "after waves")
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
    out.append(summary_line(plan))
    return "\n".join(out) + "\n"
