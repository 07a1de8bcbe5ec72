"""Checks that refuse a run before anything happens: a spent or stale plan file, a plan file that is not what the
config and the live world give, removals without --allow-destroy."""

from __future__ import annotations

from reconciler.core.desired import Desired
from reconciler.core.errors import PlanStaleError, ReconcilerError
from reconciler.core.plan import Action, Plan
from reconciler.plan.contract import first_difference
from reconciler.state import State

MAX_ROWS_SHOWN = 20


def check_destroy(plan: Plan, *, allow_destroy: bool, max_destroy: int | None) -> None:
    """Nothing destructive happens by default, not even partially: a plan that removes stack instances is refused
    unless ``--allow-destroy`` is given, and refused above ``--max-destroy N`` rows."""
    removals = [c for c in plan.changes if c.action is Action.REMOVE]
    if not removals:
        return
    rows = "\n".join(f"  - {c.key.stack_set} {c.key.account} {c.key.region}: {c.reason}"
                     for c in removals[:MAX_ROWS_SHOWN])
    more = f"\n  … and {len(removals) - MAX_ROWS_SHOWN} more" if len(removals) > MAX_ROWS_SHOWN else ""
    if not allow_destroy:
        raise ReconcilerError(
            f"the plan removes {len(removals)} stack instance(s); refusing without --allow-destroy:\n{rows}{more}",
            hint="review the removals, then re-run with --allow-destroy (and --max-destroy N to cap them)",
        )
    if max_destroy is not None and len(removals) > max_destroy:
        raise ReconcilerError(
            f"the plan removes {len(removals)} stack instance(s), more than --max-destroy {max_destroy}:\n"
            f"{rows}{more}",
            hint=f"raise --max-destroy to at least {len(removals)} if these removals are intended",
        )


def check_fresh(plan: Plan, desired: Desired, state: State | None, fresh: Plan | None, *,
                resuming: bool) -> list[str]:
    """Refuse (PlanStaleError) if the desired digest, the state serial or the live fingerprint moved since the plan
    was made, naming each that moved. When ``resuming`` the killed apply of this very plan, the serial and the live
    fingerprint moved because of its own operations: those two are expected to move and are reported as notes."""
    moved: list[str] = []
    notes: list[str] = []
    if plan.desired_digest != desired.digest:
        moved.append(f"the desired-state file {desired.source or plan.config_path} changed "
                     f"(digest {plan.desired_digest[:12]}… → {desired.digest[:12]}…)")
    serial = state.serial if state is not None else None
    lineage = state.lineage if state is not None else None
    if plan.state_lineage is not None and lineage is not None and plan.state_lineage != lineage:
        # Resuming, it is this plan's own re-link (apply --force/--adopt) that moved it.
        (notes if resuming else moved).append(f"the state is another deployment's (lineage {plan.state_lineage} → "
                                              f"{lineage})")
    if serial != plan.state_serial:
        text = f"the state serial moved ({_show(plan.state_serial)} → {_show(serial)})"
        (notes if resuming else moved).append(text)
    if fresh is not None and fresh.live_fingerprint != plan.live_fingerprint:
        text = (f"the live AWS/Clumio state changed (fingerprint {plan.live_fingerprint[:12]}… → "
                f"{fresh.live_fingerprint[:12]}…)")
        (notes if resuming else moved).append(text)
    if moved:
        raise PlanStaleError(
            "the plan is stale: " + "; ".join(moved),
            hint="make a new plan (`clumio-org plan --out PLANFILE`), review it, and apply that one",
        )
    return notes


def _show(serial: int | None) -> str:
    return "none" if serial is None else str(serial)


class PlanSpentError(PlanStaleError):
    """The plan file was applied already; a plan is applied once."""


class PlanContractError(PlanStaleError):
    """The plan file's operations are not what the config and the live world give now."""


def check_spent(plan: Plan, applied: tuple[str, int | None] | None, where: str) -> None:
    """Refuse a plan file an earlier apply ran to its end (``applied`` is that apply's outcome and serial)."""
    if applied is None:
        return
    outcome, serial = applied
    at = f"serial {serial}" if serial is not None else "see `clumio-org state show`"
    if outcome == "succeeded":
        message = f"this plan was already applied ({at}): plan {plan.plan_id} succeeded"
    else:
        message = f"this plan was already applied ({at}): plan {plan.plan_id} ended {outcome}"
    raise PlanSpentError(f"{message}; the state at {where} records it",
                         hint="a plan file is applied once: make a new plan (`clumio-org plan --out PLANFILE`) — "
                              "it holds only what is left to do")


def check_contract(plan: Plan, fresh: Plan, source: str) -> None:
    """Refuse unless every operation of the saved plan (kind, targets, regions, preferences, the StackSet's
    template hash and version, parameters…) is what the plan made now from the same config and world says."""
    difference = first_difference(plan, fresh)
    if difference is None:
        return
    raise PlanContractError(
        f"refusing plan {source}: it is not what the config and the live state give now — {difference}",
        hint="apply only a plan file `clumio-org plan --out` wrote for this config and world (a Clumio template "
             "released since the plan also changes it); make a new plan, review it, and apply that one",
    )
