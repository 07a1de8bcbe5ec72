"""The guardrail check of a plan: which planned (account, region) pairs will fail, and what ``guardrails.on_deny``
does with them (warn, skip, refuse). Pure: it works on what discovery read."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from reconciler.core.desired import Desired
from reconciler.core.errors import ReconcilerError
from reconciler.core.guardrails import GuardrailFinding, GuardrailMode, GuardrailReport, Guardrails, Verdict
from reconciler.core.keys import InstanceKey
from reconciler.core.live import (
    Live,
    LiveInstance,
    OrgTree,
    StackInstanceDetailedStatus,
    StackInstanceStatus,
)
from reconciler.core.plan import Action, Change
from reconciler.plan.expand import Expansion
from reconciler.plan.guardrails.evaluate import evaluate
from reconciler.plan.guardrails.template import required_actions

MAX_NAMED = 10


class GuardrailRefused(ReconcilerError):
    """``guardrails.on_deny: refuse`` and a guardrail denies planned pairs."""


def _named(items: list[str]) -> str:
    shown = ", ".join(items[:MAX_NAMED])
    return shown + (f" and {len(items) - MAX_NAMED} more" if len(items) > MAX_NAMED else "")


def control_tower_notes(guardrails: Guardrails, tree: OrgTree, desired: Desired,
                        accounts: Iterable[str]) -> list[str]:
    """Regions of the config that the landing zone does not govern, named with the OUs of the targeted accounts."""
    zone = guardrails.landing_zone
    if zone is None:
        return [guardrails.control_tower_note] if guardrails.control_tower_note else []
    ungoverned = [r for r in desired.regions if r not in zone.governed_regions]
    if not ungoverned:
        return []
    ous = sorted({tree.path_of(tree.accounts[a].parent_id) for a in accounts if a in tree.accounts})
    governed = ", ".join(zone.governed_regions) or "none"
    return [f"Control Tower landing zone {zone.version} does not govern region {region} (governed: {governed}): "
            f"its controls do not cover it in {_named(ous)}; if its region deny control is on, the SCP check names "
            "the pairs it blocks" for region in ungoverned]


def evaluate_keys(desired: Desired, live: Live, keys: Iterable[InstanceKey], template_body: str,
                  ) -> list[GuardrailFinding]:
    """Findings for the service-managed StackSet's ``keys`` (the management account's stack is exempt from SCPs)."""
    guardrails = live.guardrails
    if guardrails is None or not guardrails.scp_readable:
        return []
    spec = desired.stack_set
    actions = required_actions(template_body, spec.template_parameters(), spec.name)
    chosen = [k for k in keys if k.stack_set == spec.name]
    return evaluate(live.org, guardrails, chosen, actions)


def check_guardrails(desired: Desired, live: Live, changes: Iterable[Change], template_body: str,
                     ) -> GuardrailReport:
    """The plan's guardrail report for the pairs it would create or update; raises GuardrailRefused under
    ``on_deny: refuse`` when one will fail."""
    mode = desired.guardrails.on_deny
    guardrails = live.guardrails
    if guardrails is None:
        return GuardrailReport(mode=mode, checked=False)
    planned = [c.key for c in changes if c.action is not Action.REMOVE]
    findings = evaluate_keys(desired, live, planned, template_body)
    notes = [guardrails.scp_note] if guardrails.scp_note else []
    notes += control_tower_notes(guardrails, live.org, desired, {k.account for k in planned})
    if mode is GuardrailMode.SKIP:
        findings = [replace(f, skipped=True) if f.verdict is Verdict.DENIED else f for f in findings]
    denied = [f for f in findings if f.verdict is Verdict.DENIED]
    if mode is GuardrailMode.REFUSE and denied:
        lines = "\n".join(f"  {f.key.account}/{f.key.region}: {f.reason}" for f in denied[:20])
        more = f"\n  … and {len(denied) - 20} more" if len(denied) > 20 else ""
        raise GuardrailRefused(
            f"guardrails deny {len(denied)} planned (account, region) pair(s) and guardrails.on_deny is refuse:\n"
            f"{lines}{more}",
            hint="change the SCP (or exempt the StackSets execution role arn:aws:iam::*:role/stacksets-exec-*), "
                 "narrow targets/regions, or set guardrails.on_deny: skip to leave those pairs out")
    return GuardrailReport(mode=mode, findings=tuple(sorted(findings, key=lambda f: f.key)), notes=tuple(notes))


def without_skipped(changes: Iterable[Change], report: GuardrailReport) -> tuple[Change, ...]:
    """The changes minus every pair the report skips (neither created, repaired nor removed)."""
    skipped = report.skipped_keys
    return tuple(c for c in changes if c.key not in skipped)


def drift_view(desired: Desired, live: Live, expansion: Expansion) -> tuple[Live, Expansion]:
    """What drift compares under ``on_deny: skip``: the pairs a plan would skip (denied, and not deployed healthy)
    are neither expected nor reported, as the plan leaves them alone. Evaluated against the template the StackSet
    runs; without a StackSet there is nothing to leave out."""
    stack_set = live.stack_sets.get(desired.stack_set.name)
    if desired.guardrails.on_deny is not GuardrailMode.SKIP or live.guardrails is None or stack_set is None:
        return live, expansion
    pending = [k for k in expansion.targets if not _healthy(live.instances.get(k))]
    denied = {f.key for f in evaluate_keys(desired, live, pending, stack_set.template_body)
              if f.verdict is Verdict.DENIED}
    if not denied:
        return live, expansion
    targets = {k: w for k, w in expansion.targets.items() if k not in denied}
    instances = {k: i for k, i in live.instances.items() if k not in denied}
    return replace(live, instances=instances), replace(expansion, targets=targets)


def _healthy(instance: LiveInstance | None) -> bool:
    return (instance is not None and instance.status is StackInstanceStatus.CURRENT
            and instance.detailed_status in (None, StackInstanceDetailedStatus.SUCCEEDED))
