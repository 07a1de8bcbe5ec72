"""At the scale the tool is for (100, 1,000 and 2,000 accounts × 4 regions; fresh, mixed, template update) the PR
comment fits GitHub's limit, is balanced markup, and keeps every section a reviewer needs; the text plan's first
screen holds the summary. Golden-free: each assertion is derived from the plan itself."""

from __future__ import annotations

import re
from functools import cache

import pytest
from markdown_it import MarkdownIt

from reconciler.core.live import AccountState, StackInstanceStatus
from reconciler.core.plan import Action, Plan
from reconciler.plan.build import make_plan
from reconciler.render.markdown import GITHUB_COMMENT_LIMIT, render_plan_markdown
from reconciler.render.text import render_plan, summary_line
from tests.fakes import OrgBuilder, connection, instance, live_stack_set, make_desired, make_live, make_template, wave

REGIONS = ("us-east-1", "us-west-2", "eu-west-1", "eu-central-1")
OUS = ("/Workloads/Prod", "/Workloads/Dev", "/Security", "/Data/Analytics", "/Sandbox")


@cache
def scale_plan(accounts: int, kind: str) -> Plan:
    b = OrgBuilder()
    ids = []
    for i in range(accounts):
        state = AccountState.SUSPENDED if i % 97 == 5 else AccountState.ACTIVE
        ids.append(b.account(f"5{i:011d}", OUS[i % len(OUS)], state=state))
    org = b.build()
    desired = make_desired(organization=True, exclude_ous=["/Sandbox"] if kind == "mixed" else [],
                           regions=REGIONS, org=org,
                           waves=[wave("canary", sample=2), wave("critical", ous=["/Workloads/Prod"],
                                                                 max_concurrent="10%", failure_tolerance="5%"),
                                  wave("rest", rest=True, max_concurrent="25%", failure_tolerance="10%")])
    new, old = make_template("24.4"), make_template("24.3")
    if kind == "fresh":
        return make_plan(desired, make_live(org), template=new)
    active = [a for a in ids if org.accounts[a].state is AccountState.ACTIVE]
    if kind == "update":
        insts = [instance("clumio-org", a, r) for a in active for r in REGIONS]
        conns = [connection(a, r, version="24.3") for a in active for r in REGIONS]
        live = make_live(org, stack_sets=[live_stack_set(desired, old)], instances=insts, connections=conns,
                         template=new)
        return make_plan(desired, live, template=new)
    # mixed: half deployed (some OUTDATED), /Sandbox deployed but now excluded (removals), the rest new
    insts, conns = [], []
    for n, a in enumerate(active):
        if n % 2 and org.accounts[a].parent_id:
            for r in REGIONS[: 2 + n % 3]:
                status = StackInstanceStatus.OUTDATED if n % 11 == 1 else StackInstanceStatus.CURRENT
                insts.append(instance("clumio-org", a, r, status))
                conns.append(connection(a, r))
    live = make_live(org, stack_sets=[live_stack_set(desired, new)], instances=insts, connections=conns,
                     template=new)
    return make_plan(desired, live, template=new)


CASES = [(n, kind) for n in (100, 1000, 2000) for kind in ("fresh", "mixed", "update")]


def _balanced(md: str) -> None:
    tokens = MarkdownIt("commonmark").enable("table").parse(md)
    assert sum(t.nesting for t in tokens) == 0
    html = "".join(t.content for t in tokens if t.type == "html_block") + "".join(
        c.content for t in tokens if t.children for c in t.children if c.type == "html_inline")
    for tag in ("details", "summary", "sub", "b"):
        assert len(re.findall(f"<{tag}>", html)) == len(re.findall(f"</{tag}>", html)), tag
    # Every table row has as many cells as its header: nothing was cut mid-row.
    table: int | None = None
    for line in md.splitlines():
        if line.startswith("|"):
            cells = len(re.findall(r"(?<!\\)\|", line))
            table = cells if table is None else table
            assert cells == table, line
        else:
            table = None


@pytest.mark.parametrize(("accounts", "kind"), CASES)
def test_the_comment_fits_is_balanced_and_keeps_every_section(accounts: int, kind: str) -> None:
    plan = scale_plan(accounts, kind)
    md = render_plan_markdown(plan, plan_file="plan.json")
    assert len(md) <= GITHUB_COMMENT_LIMIT
    _balanced(md)
    assert f"**{summary_line(plan)}**" in md
    for ch in plan.stack_set_changes:
        assert f"`{ch.stack_set}` will be" in md
        for prop in ch.properties:
            assert f"`{prop.name}`" in md
    waves_with_changes = {c.wave for c in plan.changes}
    for w in plan.waves:
        assert f"| **{w.name}** |" in md  # in the waves table, changes or not
        if w.name in waves_with_changes:
            assert f"#### Wave {w.index}/{len(plan.waves)} {w.name}:" in md
    assert f"#### Operations ({len(plan.operations)})" in md
    for op in plan.operations:
        assert f"| {op.index:03d} | {op.kind.value} |" in md
    removals = [c for c in plan.changes if c.action is Action.REMOVE]
    if removals:
        assert "#### Removals" in md and f"{len(removals)} stack instance(s) would be **removed**" in md
    assert plan.skipped
    for s in plan.skipped:
        assert f"`{s.account}`" in md
    rows = md.count("\n| + |") + md.count("\n| ~ |") + md.count("\n| - |")
    if "left out" in md:
        assert "`clumio-org show plan.json`" in md
    else:
        assert rows >= len(plan.changes)


@pytest.mark.parametrize(("accounts", "kind"), CASES)
def test_the_text_plan_opens_with_the_summary(accounts: int, kind: str) -> None:
    plan = scale_plan(accounts, kind)
    first_screen = render_plan(plan).splitlines()[:24]
    assert summary_line(plan) in first_screen
    for w in plan.waves:
        if any(c.wave == w.name for c in plan.changes):
            assert any(line.startswith(f"  Wave {w.index}/{len(plan.waves)} {w.name!r}") for line in first_screen)
    if any(c.action is Action.REMOVE for c in plan.changes):
        assert any(line.startswith("  Removals: ") for line in first_screen)
    assert any(line.startswith("  Skipped: ") for line in first_screen)


@pytest.mark.parametrize("kind", ["fresh", "mixed"])
def test_numbered_parts_carry_every_row_each_within_the_limit(kind: str) -> None:
    from reconciler.render.markdown import render_plan_markdown_parts

    plan = scale_plan(2000, kind)
    parts = render_plan_markdown_parts(plan, plan_file="plan.json")
    assert len(parts) >= 2
    assert parts[0].startswith("<!-- clumio-org plan -->") and f"parts 2–{len(parts)} list them all" in parts[0]
    for number, part in enumerate(parts[1:], start=2):
        assert len(part) <= GITHUB_COMMENT_LIMIT
        assert part.startswith(f"<!-- clumio-org plan part {number} -->")
        assert f"part {number} of {len(parts)}" in part
        _balanced(part)
    rows = [line for part in parts[1:] for line in part.splitlines() if re.match(r"\| [+~-] \| clumio-org \|", line)]
    assert len(rows) == len(plan.changes)
    assert {re.search(r"`(\d{12})` \| ([a-z0-9-]+) \|", r).groups() for r in rows} == {
        (c.key.account, c.key.region) for c in plan.changes}


def test_what_will_fail_is_in_the_summary_of_every_format() -> None:
    import json
    from dataclasses import replace

    from reconciler.core.guardrails import GuardrailFinding, GuardrailReport, Verdict
    from reconciler.render.json import render_plan_json

    plan = scale_plan(1000, "mixed")
    denied = [c.key for c in plan.changes if c.ou_path == "/Security"][:300]
    findings = tuple(GuardrailFinding(k, Verdict.DENIED, "SCP p-deny (no-iam) on /Security denies iam:CreateRole")
                     for k in denied)
    plan = replace(plan, guardrails=GuardrailReport(findings=findings))
    first_screen = render_plan(plan).splitlines()[:24]
    assert any(line.strip().startswith("Guardrails: 300 will fail") for line in first_screen)
    md = render_plan_markdown(plan, plan_file="plan.json")
    assert len(md) <= GITHUB_COMMENT_LIMIT and "#### Guardrails" in md
    assert md.index("Guardrails: 300 will fail") < md.index("#### Waves")  # in the summary, not only below
    _balanced(md)
    assert json.loads(render_plan_json(plan))["overview"]["guardrails"]["will_fail"] == 300
