"""make_plan: Desired × Live (× State) → a Plan, the reviewed contract apply executes."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime

from reconciler.core.coverage import Coverage, CoverageRow
from reconciler.core.desired import Desired, ExistingConnections
from reconciler.core.live import Live
from reconciler.core.plan import TIMESTAMP_FORMAT, Action, Plan
from reconciler.core.ports import ClumioTemplate
from reconciler.core.recorded import Recorded
from reconciler.plan.coverage import (
    classify_coverage,
    coverage_counts,
    covered_elsewhere,
    moved_reasons,
    moves,
    not_moved,
    other_stack_set_notes,
    restrict,
    retired_stack_notes,
)
from reconciler.plan.diff import diff
from reconciler.plan.expand import Expansion, expand
from reconciler.plan.fingerprint import live_fingerprint
from reconciler.plan.guardrails.check import check_guardrails, without_skipped
from reconciler.plan.planfile import contract_id, operation_id, plan_to_json
from reconciler.plan.schedule import schedule


def compute_plan_id(desired_digest: str, fingerprint: str, state_serial: int | None) -> str:
    """A provisional id over what the plan was made against; the plan's own id is :func:`seal`'s, over its whole
    content."""
    seed = f"{desired_digest}|{fingerprint}|{state_serial if state_serial is not None else '-'}"
    return hashlib.sha256(seed.encode()).hexdigest()[:16]


def seal(plan: Plan) -> Plan:
    """The plan with its id set to :func:`contract_id` of its content and its operation ids derived from that id:
    the same inputs still give the same id (a re-run finds its own operations), and no edit of the plan file goes
    unnoticed."""
    plan_id = contract_id(plan_to_json(plan))
    return replace(plan, plan_id=plan_id, operations=tuple(
        replace(op, operation_id=operation_id(plan_id, op.index)) for op in plan.operations))


def make_plan(desired: Desired, live: Live, *, template: ClumioTemplate, state: Recorded | None = None,
              secret_fingerprints: Mapping[str, str] | None = None, created_at: str | None = None) -> Plan:
    """Expand, diff and schedule. ``secret_fingerprints`` (``{"ClumioToken": "sha256:…"}``) are the fingerprints of
    the values Clumio would hand out now; with ``state`` they reveal a rotated NoEcho parameter."""
    expansion, coverage, plain = expand_uncovered(desired, live)
    d = diff(desired, live, expansion, template, state=state, secret_fingerprints=secret_fingerprints)
    guardrails = check_guardrails(desired, live, d.changes, template.body)
    if guardrails.skipped_keys:
        d = replace(d, changes=without_skipped(d.changes, guardrails), retain=d.retain - guardrails.skipped_keys)
    if moves(coverage):
        coverage = not_moved(coverage, live, [c.key for c in d.changes if c.action is Action.ADD],
                             "a guardrail would deny its stack (see the guardrails section)")
        d = replace(d, changes=moved_reasons(d.changes, moves(coverage)))
    reached = set(expansion.reached) | {live.org.management_account}
    fingerprint = live_fingerprint(live, reached, d.definitions)
    serial = state.serial if state is not None else None
    plan_id = compute_plan_id(desired.digest, fingerprint, serial)
    sched = schedule(desired, live, expansion, d, plan_id)
    existing = tuple(sorted([*covered_elsewhere(coverage).values(), *moves(coverage).values()],
                            key=lambda r: (r.account, r.region)))
    retired = retired_stack_notes(live, [(k.account, k.region) for k in (*expansion.targets,
                                                                         *expansion.management_keys)])
    warnings = [*expansion.warnings, *d.notices, *other_stack_set_notes(live), *retired, *guardrails.notes]
    return seal(Plan(
        plan_id=plan_id,
        created_at=created_at or datetime.now(UTC).strftime(TIMESTAMP_FORMAT),
        config_path=desired.source,
        desired_digest=desired.digest,
        live_fingerprint=fingerprint,
        state_serial=serial,
        state_lineage=state.lineage if state is not None else None,
        stack_set_changes=d.stack_set_changes,
        changes=d.changes,
        skipped=expansion.skipped,
        waves=sched.waves,
        operations=sched.operations,
        estimate_seconds=sched.estimate_seconds,
        warnings=tuple(warnings),
        coverage=existing,
        targets=d.targets,
        # Counts only for a brownfield plan (something covered elsewhere): a greenfield plan reads as before.
        coverage_counts=tuple((c.value, n) for c, n in coverage_counts(coverage, plain).items()) if existing else (),
        guardrails=guardrails,
    ))


def expand_uncovered(desired: Desired, live: Live
                     ) -> tuple[Expansion, tuple[CoverageRow, ...], Mapping[Coverage, int]]:
    """The expansion minus the (account, region) pairs another Clumio deployment already covers, the coverage rows
    of the pairs something else covers (or that move onto the StackSet), and how many pairs are new and managed:
    what plan, apply and drift all start from, so none proposes a second deployment."""
    expansion = expand(desired, live.org)
    waves = {**expansion.targets, **expansion.management_keys}
    coverage, plain = classify_coverage(live, waves, waves=waves,
                                        move=desired.targets.existing_connections is ExistingConnections.MOVE)
    return restrict(expansion, coverage), coverage, plain
