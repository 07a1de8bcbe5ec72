"""Apply's guardrail recheck before each wave: the SCPs of the wave's accounts are read again, and a denial the plan
did not name warns (``on_deny: warn``) or stops the run before the wave (``skip``/``refuse``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from reconciler.core.desired import Desired
from reconciler.core.guardrails import GuardrailMode, Verdict
from reconciler.core.live import Live
from reconciler.core.plan import Operation, OperationKind, Plan
from reconciler.discover.guardrails import read_guardrails
from reconciler.plan.guardrails.evaluate import evaluate
from reconciler.plan.guardrails.template import required_actions

_DEPLOYING = (OperationKind.CREATE_STACK_INSTANCES, OperationKind.UPDATE_STACK_INSTANCES,
              OperationKind.UPDATE_STACK_SET)
SHOWN = 5


class GuardrailRecheck:
    """Called by the executor with a wave's operations; returns why the run must stop before it, or None."""

    def __init__(self, desired: Desired, plan: Plan, reader: object, live: Live, template_body: str,
                 warn: Callable[[str], None]) -> None:
        self.desired = desired
        self.plan = plan
        self.reader = reader
        self.live = live
        spec = desired.stack_set
        self.actions = required_actions(template_body, spec.template_parameters(), spec.name)
        self.warn = warn
        self.known = {f.key for f in plan.guardrails.findings if f.verdict is Verdict.DENIED}

    def __call__(self, wave: str, ops: Sequence[Operation]) -> str | None:
        if self.live.guardrails is None or not self.live.guardrails.scp_readable or not self.plan.guardrails.checked:
            return None  # not read at plan time (the plan's warnings say why): nothing to recheck against
        keys = sorted({k for op in ops if op.kind in _DEPLOYING for k in op.instances
                       if k.stack_set == self.desired.stack_set.name})
        if not keys:
            return None
        fresh = read_guardrails(self.reader, self.live.org, {k.account for k in keys})  # type: ignore[arg-type]
        if not fresh.scp_readable:
            self.warn(f"wave {wave}: {fresh.scp_note}")
            return None
        new = [f for f in evaluate(self.live.org, fresh, keys, self.actions)
               if f.verdict is Verdict.DENIED and f.key not in self.known]
        if not new:
            return None
        named = "; ".join(f"{f.key.account}/{f.key.region}: {f.reason}" for f in new[:SHOWN])
        more = f"; … and {len(new) - SHOWN} more" if len(new) > SHOWN else ""
        text = (f"guardrails changed since the plan: {len(new)} (account, region) pair(s) of wave {wave} will now "
                f"fail ({named}{more})")
        if self.desired.guardrails.on_deny is GuardrailMode.WARN:
            self.warn(f"warning: {text}")
            return None
        return text + "; run `clumio-org plan` again"
