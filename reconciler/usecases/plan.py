"""The one plan builder: what `plan` shows and what `apply` (with or without a plan file) compares and runs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from reconciler.core.live import Live
from reconciler.core.plan import TIMESTAMP_FORMAT, Plan
from reconciler.core.ports import ClumioTemplate
from reconciler.core.recorded import Recorded
from reconciler.usecases.context import Context, collector_paused

if TYPE_CHECKING:
    from reconciler.state.model import State


@dataclass(frozen=True)
class Planned:
    """A plan with what it was made against: Live and the template (apply's guardrail recheck reads them), the
    state it was diffed with, and the lineage link to make (``link.note`` says it)."""

    plan: Plan
    live: Live
    template: ClumioTemplate
    state: Recorded | None
    link: Any


def build_plan(ctx: Context, state: State | None, *, adopt: bool = False, force: bool = False,
               command: str = "plan") -> Planned:
    """Discover, preflight, fetch the Clumio template, check the state's lineage, make the plan. A state of another
    lineage than the managed StackSet's is refused unless ``force`` (re-link) or, for no state, ``adopt``.

    Clumio's org-deployment parameters are read (once per run, through the context's ports) only when the state
    holds fingerprints of the secrets a live StackSet was given: then plan and apply alike show a credential change
    at Clumio as a ``parameters.ClumioToken`` row."""
    from reconciler.discover.observe import observe
    from reconciler.plan.build import make_plan
    from reconciler.state.lineage import check_lineage

    with collector_paused():
        live, template = observe(ctx.desired, ctx.ports)
        link = check_lineage(live.stack_sets, state, ctx.backend.describe(), adopt=adopt, force=force,
                             command=command)
        plan = make_plan(ctx.desired, live, template=template, state=state,
                         secret_fingerprints=_secret_fingerprints(ctx, live, state),
                         created_at=ctx.clock.now().strftime(TIMESTAMP_FORMAT))
    return Planned(plan, live, template, state, link)


def _secret_fingerprints(ctx: Context, live: Live, state: Recorded | None) -> dict[str, str] | None:
    """Fingerprints of the ClumioToken/RoleExternalId Clumio hands out now, when the plan can compare them."""
    if state is None or not any(record.secret_fingerprints for name, record in state.stack_sets.items()
                                if live.stack_sets.get(name) is not None):
        return None
    from reconciler.apply import redact
    from reconciler.apply.params import secrets_of

    deployment = ctx.ports.clumio.org_deployment_parameters(ctx.desired.organization.id)
    redact.remember(deployment.token, deployment.external_id)
    return {name: value.fingerprint() for name, value in secrets_of(deployment).items()}


def plan_command(ctx: Context, *, adopt: bool = False, force: bool = False) -> Plan:
    """`clumio-org plan`: the plan over the stored state, with log redaction of the secrets it reads."""
    import os

    from reconciler.apply import redact

    with redact.redacted_logs():
        redact.remember(os.environ.get(ctx.desired.clumio.token_env))
        planned = build_plan(ctx, ctx.backend.read(), adopt=adopt, force=force)
    if planned.link.note:
        ctx.note(f"note: {planned.link.note} (apply does it, with the same flag)")
    return planned.plan
