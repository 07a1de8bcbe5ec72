"""Plan as a sticky pull-request comment: summary, OU × region matrix, destructive rows first, details folded, and
never over GitHub's 65,536-character comment limit."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

from reconciler.core.plan import Action, Change, Plan
from reconciler.render.coverage import coverage_markdown
from reconciler.render.targets import targets_markdown
from reconciler.render.text import describe_targets, duration, summary_line

MAX_CHARS = 65_000
# A marker the CI recipe finds to update the same comment instead of adding a new one each push.
STICKY_MARKER = "<!-- clumio-org plan -->"
_RESERVE = 600  # room for the closing tags and the truncation note


def _cell(text: str | None) -> str:
    return (text or "").replace("|", "\\|").replace("\n", " ")


def _matrix(changes: Sequence[Change]) -> list[str]:
    regions = sorted({c.key.region for c in changes})
    cells: dict[str, dict[str, dict[Action, int]]] = defaultdict(lambda: defaultdict(lambda: defaultdict(int)))
    for c in changes:
        cells[c.ou_path or "(outside the organization)"][c.key.region][c.action] += 1
    lines = ["| OU | " + " | ".join(regions) + " |", "|---|" + "---|" * len(regions)]
    for ou in sorted(cells):
        row = []
        for region in regions:
            counts = cells[ou].get(region, {})
            row.append(" ".join(f"{a.symbol}{counts[a]}" for a in Action if counts.get(a)) or "·")
        lines.append(f"| `{_cell(ou)}` | " + " | ".join(row) + " |")
    return lines


def _change_rows(changes: Iterable[Change]) -> list[str]:
    return [f"| {c.action.symbol} | {c.key.stack_set} | `{c.key.account}` | {c.key.region} | {_cell(c.wave)} | "
            f"{_cell(c.reason)} |" for c in changes]


_CHANGE_HEAD = ["| | StackSet | Account | Region | Wave | Reason |", "|---|---|---|---|---|---|"]


class _Budget:
    """Appends lines until the character budget is spent, then counts what it had to leave out."""

    def __init__(self, limit: int) -> None:
        self.lines: list[str] = []
        self.size = 0
        self.limit = limit
        self.dropped = 0

    def fits(self, extra: int) -> bool:
        return self.size + extra <= self.limit

    def add(self, *lines: str) -> bool:
        cost = sum(len(x) + 1 for x in lines)
        if not self.fits(cost):
            return False
        self.lines.extend(lines)
        self.size += cost
        return True

    def table(self, head: Sequence[str], rows: Sequence[str], close: Sequence[str] = ()) -> None:
        """Head, then as many rows as fit while keeping room for ``close``; counts the rows left out."""
        closing = sum(len(x) + 1 for x in close) + 80
        if not self.fits(sum(len(x) + 1 for x in head) + closing):
            self.dropped += len(rows)
            # The reserve keeps room for closing tags, so an opened <details> is always closed.
            self.lines.extend(close)
            self.size += sum(len(x) + 1 for x in close)
            return
        self.add(*head)
        for i, row in enumerate(rows):
            if not self.fits(len(row) + 1 + closing):
                left = len(rows) - i
                self.dropped += left
                self.add(f"| … | {left} more rows not shown | | | | |")
                break
            self.add(row)
        self.add(*close)


def _details(b: _Budget, summary: str, head: Sequence[str], rows: Sequence[str]) -> None:
    """A folded table; left out whole (rows counted) when not even its header fits."""
    opening = [f"<details><summary>{summary}</summary>", ""]
    if not b.fits(sum(len(x) + 1 for x in [*opening, *head]) + 120):
        b.dropped += len(rows)
        return
    b.add(*opening)
    b.table(head, rows, ["", "</details>", ""])


def render_plan_markdown(plan: Plan, *, max_chars: int = MAX_CHARS, plan_file: str | None = None) -> str:
    """The plan as GitHub-flavoured Markdown, at most ``max_chars`` characters."""
    s = plan.summary()
    b = _Budget(max_chars - _RESERVE)
    b.add(STICKY_MARKER, f"### clumio-org plan `{plan.plan_id}`", "")
    b.add(f"**{summary_line(plan)}**", "")
    b.add(f"{s['skipped']} account(s) skipped · {len(plan.operations)} StackSet operation(s) in "
          f"{len(plan.waves)} wave(s) · estimated {duration(plan.estimate_seconds)}", "")
    removals = [c for c in plan.changes if c.action is Action.REMOVE]
    if removals:
        b.add(f"> [!CAUTION]\n> {len(removals)} stack instance(s) would be **removed**; `apply` refuses without "
              "`--allow-destroy`.", "")
        b.add("#### Removals")
        b.table(_CHANGE_HEAD, _change_rows(removals), [""])
    for ch in plan.stack_set_changes:
        verb = "created" if ch.action is Action.ADD else "updated in place"
        b.add(f"#### {ch.action.symbol} StackSet `{ch.stack_set}` will be {verb}")
        if ch.action is Action.ADD:
            d = ch.definition
            b.add(f"{d.permission_model.value}, template {d.template_version} (sha256 `{d.template_sha256[:12]}`)", "")
        else:
            b.table(["| Property | Before | After |", "|---|---|---|"],
                    [f"| `{p.name}` | {_cell(p.before)} | {_cell(p.after)} |" for p in ch.properties], [""])
    if plan.changes:
        b.add("#### Changes by OU and region")
        b.table(_matrix(plan.changes)[:2], _matrix(plan.changes)[2:], [""])
    for w in plan.waves:
        rows = [c for c in plan.changes if c.wave == w.name]
        if not rows:
            continue
        note = f" — {w.note}" if w.note else ""
        _details(b, f"Wave {w.index} <b>{w.name}</b>: {len(rows)} change(s) in {len({c.key.account for c in rows})} "
                 "account(s), "
                 f"{w.effective_concurrency} at a time per region, ~{duration(w.estimate_seconds)}{_cell(note)}",
                 _CHANGE_HEAD, _change_rows(rows))
    b.add(*coverage_markdown(plan))
    if plan.skipped:
        _details(b, f"Skipped accounts ({len(plan.skipped)})", ["| Account | Reason |", "|---|---|"],
                 [f"| `{x.account}` | {_cell(x.reason)} |" for x in plan.skipped])
    b.add(*targets_markdown(plan))
    if plan.operations:
        _details(b, f"Operations ({len(plan.operations)})",
                 ["| # | Call | StackSet | Wave | Instances | Targets | Estimate |", "|---|---|---|---|---|---|---|"],
                 [f"| {op.index:03d} | {op.kind.value} | {op.stack_set} | {_cell(op.wave) or 'after waves'} | "
                  f"{len(op.instances)} | {_cell(describe_targets(op))} | ~{duration(op.estimate_seconds)} |"
                  for op in plan.operations])
    if plan.warnings:
        b.add("#### Warnings")
        for warning in plan.warnings:
            if not b.add(f"- {_cell(warning)}"):
                b.dropped += 1
        b.add("")
    tail = []
    if b.dropped:
        tail.append(f"_Truncated: {b.dropped} row(s) not shown to stay under GitHub's comment limit; the full plan "
                    "is in the JSON plan file (`clumio-org plan --format json` or `--out`)._")
        tail.append("")
    tail.append(f"<sub>desired `{plan.desired_digest[:12]}` · live `{plan.live_fingerprint[7:19]}` · state serial "
                f"{plan.state_serial if plan.state_serial is not None else 'none'}</sub>")
    text = "\n".join(b.lines + tail) + "\n"
    return text[:max_chars]
