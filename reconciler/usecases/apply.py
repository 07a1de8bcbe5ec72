"""One ``apply`` from start to end: lock, settle what a killed run left, plan (or check the saved plan), confirm,
execute, summarise. The run's Context supplies the ports, the state backend, the settings and the clock; the CLI
supplies the terminal (echo, confirm, progress); tests supply their own."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from reconciler.apply import redact
from reconciler.apply.executor import Executor
from reconciler.apply.guards import check_contract, check_destroy, check_fresh, check_spent
from reconciler.apply.journal import Journal
from reconciler.apply.model import ApplyResult, Outcome
from reconciler.apply.options import ApplyOptions
from reconciler.apply.progress import Progress, summary_lines
from reconciler.apply.redact import redacted_logs
from reconciler.apply.resume import settle_unfinished
from reconciler.apply.runtime import Runtime
from reconciler.apply.timing import Timing
from reconciler.core.desired import Desired
from reconciler.core.errors import ReconcilerError, Resumable
from reconciler.core.plan import Plan
from reconciler.core.ports import StackSets
from reconciler.usecases.context import Context
from reconciler.usecases.plan import build_plan


@dataclass(frozen=True)
class ApplyRequest:
    """What the user asked for on the command line."""

    desired: Desired
    plan_path: Path | None = None
    auto_approve: bool = False
    allow_destroy: bool = False
    max_destroy: int | None = None
    rotate_credentials: bool = False
    adopt: bool = False  # no state yet over a StackSet another state manages: take it over
    force: bool = False  # a state of another lineage than the StackSet's: re-link it


class ApplyUI(Protocol):
    """The terminal: plain or rich progress, a way to print, and a way to ask (only when ``interactive``)."""

    interactive: bool
    color: bool
    progress: Progress

    def echo(self, text: str) -> None: ...
    def confirm(self, question: str) -> bool: ...
    def confirm_stop(self, operation_id: str) -> bool: ...


def run_apply(request: ApplyRequest, ui: ApplyUI, ctx: Context) -> int:
    """Run one apply and return its exit code (0 done/nothing to do, 1 refused, 3 failed accounts, 4 stopped by
    expired credentials or a vanished endpoint — the next run resumes —, 130 Ctrl-C)."""
    from reconciler.files.planfile import read_plan

    desired = request.desired
    if request.plan_path is None and not request.auto_approve and not ui.interactive:
        raise ReconcilerError(
            "apply needs approval, but there is no terminal to ask on",
            hint="in CI pass --auto-approve, or better: apply the plan file a reviewer approved "
                 "(`clumio-org plan --out plan.json`, then `clumio-org apply plan.json`)",
        )
    saved = read_plan(request.plan_path) if request.plan_path is not None else None
    timing = ctx.timing()
    ports = ctx.ports
    management = desired.management_account.stack_set_name if desired.management_account.onboard else None

    def port_for(stack_set: str) -> StackSets:
        port: StackSets = ports.management_stacksets if management and stack_set == management else ports.stacksets
        return port

    try:
        return _locked_apply(request, ui, saved, ctx, timing, port_for, management)
    except ReconcilerError as exc:
        if not isinstance(exc, Resumable):
            raise
        # Before the executor ran (settling, discovery, the Clumio template) or while the lock was taken: nothing
        # was submitted by this run, and what earlier runs left is still in the journal.
        _stopped(ui, exc.message, exc.hint)
        return Outcome.SUSPENDED.exit_code


def _locked_apply(request: ApplyRequest, ui: ApplyUI, saved: Plan | None, ctx: Context, timing: Timing,
                  port_for: Any, management: str | None) -> int:
    desired, ports, backend = request.desired, ctx.ports, ctx.backend
    with backend.lock("apply"), redacted_logs():
        redact.remember(os.environ.get(desired.clumio.token_env))
        journal = Journal(backend, backend.read())
        resuming = saved is not None and journal.interrupted_plan() == saved.plan_id
        # Operations a killed apply left running are followed to their end *before* discovery, so the plan below
        # is made against a world where our own operations have finished (and never collides with them).
        settle_unfinished(journal, port_for, Runtime(timing, ui.progress),
                          except_plan=saved.plan_id if saved is not None and resuming else None)
        stored = backend.read()  # None until the first write: a plan made with no state recorded serial None
        planned = build_plan(ctx, stored, adopt=request.adopt, force=request.force, command="apply")
        fresh, live, template_body, link = planned.plan, planned.live, planned.template.body, planned.link
        if saved is not None:
            _check_saved(saved, fresh, request, ui, journal, stored, resuming=resuming)
            plan = saved
        else:
            plan = fresh
            from reconciler.render.text import render_plan

            ui.echo(render_plan(plan, color=ui.color))
        if link.lineage is not None:
            journal.relink(link.lineage)
            ui.echo(f"state: {link.note}")
        if not plan.operations:
            if saved is not None:  # a fresh plan's rendering already said so
                ui.echo("No changes. The organization matches the desired state; nothing to apply.")
            return 0
        check_destroy(plan, allow_destroy=request.allow_destroy, max_destroy=request.max_destroy)
        question = f"Apply this plan ({len(plan.operations)} operation(s))?"
        # A terminal UI may ask harder for a large or destructive plan (the CLI's typed confirmation).
        confirm_plan = getattr(ui, "confirm_plan", None)
        if saved is None and not request.auto_approve and not (
                confirm_plan(plan, question) if confirm_plan is not None else ui.confirm(question)):
            ui.echo("Apply cancelled; nothing was changed.")
            return 1
        options = ApplyOptions(
            org_id=desired.organization.id,
            asset_types=desired.clumio.asset_types,
            verify_connections_seconds=float(desired.rollout.verify_connections_seconds),
            rotate_credentials=request.rotate_credentials,
            management_stack_set=management,
        )
        from reconciler.apply.guardrails_recheck import GuardrailRecheck

        recheck = GuardrailRecheck(desired, plan, getattr(ports, "guardrails", None), live, template_body, ui.echo)
        executor = Executor(plan, ports, journal, options, timing=timing, progress=ui.progress,
                            confirm_stop=ui.confirm_stop, recheck=recheck)
        result = executor.run()
        _summarise(result, ui)
        for line in moved_lines(plan, result):
            ui.echo(line)
        from reconciler.render.guardrails import skipped_lines

        for line in skipped_lines(plan):
            ui.echo(line)
        return result.outcome.exit_code


def _check_saved(saved: Plan, fresh: Plan, request: ApplyRequest, ui: ApplyUI, journal: Journal, stored: Any, *,
                 resuming: bool) -> None:
    """The plan file is the contract: refused when spent, stale, or not what the config and the world give now
    (a resumed plan was checked by the run that started it, and its id covers its content)."""
    from reconciler.render.text import summary_line

    if not resuming:
        check_spent(saved, journal.applied(saved.plan_id), journal.backend.describe())
    notes = check_fresh(saved, request.desired, stored, fresh, resuming=resuming)
    if not resuming:
        check_contract(saved, fresh, str(request.plan_path))
    ui.echo(f"applying plan {saved.plan_id} from {request.plan_path} (made {saved.created_at}): "
            f"{summary_line(saved)}")
    if resuming:
        ui.echo(f"resuming plan {saved.plan_id}: an earlier apply of this plan was interrupted; "
                + "; ".join(notes or ["nothing moved"])
                + " — expected, because of that apply's own operations (see the journal in state)")


def _summarise(result: ApplyResult, ui: ApplyUI) -> None:
    ui.echo("")
    for line in summary_lines(result):
        ui.echo(line)
    if result.outcome is Outcome.SUCCEEDED:
        ui.echo(f"Apply complete in {int(result.seconds)}s: every (account, region) is deployed and connected.")
    elif result.outcome is Outcome.FAILED:
        ui.echo("Apply finished with failed accounts (exit 3). Fix the causes above, then run `clumio-org apply` "
                "again: the next plan retries only what is unfinished.")
    elif result.outcome is Outcome.INTERRUPTED:
        ui.echo(f"Apply interrupted (exit 130): {result.stop_reason}. Run `clumio-org apply` again to continue.")
    elif result.outcome is Outcome.SUSPENDED:
        _stopped(ui, result.stop_reason or "an endpoint or the credentials went away", None)


def moved_lines(plan: Plan, result: ApplyResult) -> list[str]:
    """After a run that moved connections onto the StackSet (targets.existing_connections: move): which moves the
    gate proved, with the old stack to delete now, and which must keep their old stack (brownfield.md §6)."""
    from reconciler.plan.coverage import moves

    moved = list(moves(plan.coverage).values())
    if not moved:
        return []
    ran = {w.name for w in result.waves if w.gate is not None}
    failed = {(f.account, f.region) for f in result.failures}
    done = [r for r in moved if r.wave in ran and (r.account, r.region) not in failed]
    out = [f"Moved onto the StackSet: {len(done)} of {len(moved)} connection(s); Clumio shows each one taken over."]
    if done:
        out.append("  Now remove what they ran on before (backups no longer use it):")
        out += [f"    {r.account}/{r.region}: {r.steps[-1].split(': ', 1)[-1]}" for r in done[:50]]
        if len(done) > 50:
            out.append(f"    … and {len(done) - 50} more (the JSON plan has each one's step 3; `clumio-org plan` "
                       "names every retired stack Clumio still lists)")
    left = len(moved) - len(done)
    if left:
        out.append(f"  {left} not moved yet: keep their old stacks; the next apply moves them.")
    return out


RESUME_HINT = ("nothing is lost: operations already submitted keep running in AWS and the journal in state records "
               "them; refresh the credentials (or wait for the endpoint), then run the same command again — it "
               "follows those operations and submits only what is left")


def _stopped(ui: ApplyUI, reason: str, hint: str | None) -> None:
    """The exit-4 message: why the run stopped, what to fix, and that re-running resumes."""
    ui.echo(f"Apply stopped (exit 4): {reason}")
    if hint:
        ui.echo(f"  fix: {hint}")
    ui.echo(f"  resume: {RESUME_HINT}")
