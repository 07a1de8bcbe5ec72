"""The plan's targets section (the StackSet's OU list, accepted leaks, kept suspended instances), in text and
markdown; one module so the plan renderers only call it."""

from __future__ import annotations

from reconciler.core.plan import OuTargetStatus, Plan, TargetsPlan

MAX_ROWS = 30
_SYMBOL = {OuTargetStatus.KEEP: "=", OuTargetStatus.ADD: "+", OuTargetStatus.REMOVE: "-"}


def _header(t: TargetsPlan) -> str:
    auto = "on" if t.auto_deployment else "off"
    return (f"StackSet targets ({t.stack_set}; auto-deployment {auto}, reach {t.reach}): "
            f"{len(t.desired_ous)} OU(s) after apply, {len(t.live_ous)} now")


def _leak_line(path: str, excluded: tuple[str, ...], accounts: tuple[str, ...]) -> str:
    text = f"accepted leak {path}: auto-deployment deploys to every account that joins it"
    if excluded:
        text += ", including the excluded " + ", ".join(excluded)
    if accounts:
        shown = ", ".join(accounts[:10]) + (f" +{len(accounts) - 10}" if len(accounts) > 10 else "")
        text += f"; there now without a stack: {shown}"
    return text


def _kept_line(t: TargetsPlan) -> str:
    accounts = sorted({k.account for k in t.kept_suspended})
    return (f"kept: {len(t.kept_suspended)} instance(s) of {len(accounts)} SUSPENDED/CLOSED account(s) "
            f"({', '.join(accounts[:10])}{' …' if len(accounts) > 10 else ''}): AWS skips them; information, not a "
            "change (targets.suspended_accounts: remove removes them with RetainStacks)")


def _leaked_line(t: TargetsPlan) -> str:
    accounts = sorted({k.account for k in t.leaked})
    return (f"expected: {len(t.leaked)} instance(s) auto-deployment made in {len(accounts)} account(s) under the "
            f"accepted leak ({', '.join(accounts[:10])}{' …' if len(accounts) > 10 else ''}); not a change")


def _interesting(t: TargetsPlan) -> bool:
    return bool(t.ous or t.live_ous or t.leaks or t.kept_suspended or t.notes)


def targets_text(plan: Plan) -> list[str]:
    """Lines for the text plan (empty when there is nothing to say)."""
    t = plan.targets
    if t is None or not _interesting(t):
        return []
    out = [_header(t)]
    for row in t.ous[:MAX_ROWS]:
        count = f"{row.accounts} account(s)" if row.status is not OuTargetStatus.REMOVE else ""
        note = f"  ({row.note})" if row.note else ""
        out.append(f"  {_SYMBOL[row.status]} {row.ou_id:<24} {row.path:<30} {count}{note}".rstrip())
    if len(t.ous) > MAX_ROWS:
        out.append(f"  … and {len(t.ous) - MAX_ROWS} more OUs (the JSON plan lists every one)")
    out += [f"  ! {_leak_line(x.path, x.excluded_ous, x.accounts)}" for x in t.leaks]
    if t.leaked:
        out.append(f"  i {_leaked_line(t)}")
    if t.kept_suspended:
        out.append(f"  i {_kept_line(t)}")
    out += [f"  i {note}" for note in t.notes[:MAX_ROWS]]
    out += [f"  assumes: {a}" for a in t.assumptions]
    return [*out, ""]


def targets_markdown(plan: Plan) -> list[str]:
    """A folded section for the PR comment (empty when there is nothing to say)."""
    t = plan.targets
    if t is None or not _interesting(t):
        return []
    rows = ["<details><summary>" + _header(t) + "</summary>", "", "| | OU | Path | Accounts | Note |",
            "|---|---|---|---|---|"]
    for row in t.ous[:MAX_ROWS]:
        rows.append(f"| {_SYMBOL[row.status]} | `{row.ou_id}` | {row.path} | {row.accounts} | "
                    f"{(row.note or '').replace('|', '/')} |")
    rows.append("")
    rows += [f"- ⚠️ {_leak_line(x.path, x.excluded_ous, x.accounts)}" for x in t.leaks]
    if t.leaked:
        rows.append(f"- {_leaked_line(t)}")
    if t.kept_suspended:
        rows.append(f"- {_kept_line(t)}")
    rows += [f"- {note}" for note in t.notes[:MAX_ROWS]]
    rows += [f"- _assumes:_ {a}" for a in t.assumptions]
    return [*rows, "", "</details>", ""]
