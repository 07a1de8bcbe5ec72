"""One ``destroy`` from start to end (docs/reference/brownfield.md §5, Clumio's off-boarding order): lock, settle
what a killed run left, plan what is left, confirm, delete the stack instances through apply's executor and
journal, then the StackSets, then the Clumio connections the deleted stacks leave behind. The CLI supplies the
terminal (echo, progress, the typed confirmation and how the plan is shown); tests supply their own."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol

from reconciler.apply.executor import Executor
from reconciler.apply.journal import Journal
from reconciler.apply.model import Outcome
from reconciler.apply.options import ApplyOptions
from reconciler.apply.progress import Progress, summary_lines
from reconciler.apply.redact import redacted_logs
from reconciler.apply.resume import settle_unfinished
from reconciler.apply.runtime import Runtime
from reconciler.apply.timing import Timing
from reconciler.core.desired import Desired
from reconciler.core.errors import ReconcilerError
from reconciler.core.ports import StackSetNotFound, StackSets
from reconciler.plan.destroy import DestroyPlan, make_destroy_plan


@dataclass(frozen=True)
class DestroyRequest:
    """What the user asked for on the command line."""

    desired: Desired
    allow_destroy: bool = False
    auto_approve: bool = False
    retain_stacks: bool = False


class DestroyUI(Protocol):
    interactive: bool
    progress: Progress

    def echo(self, text: str) -> None: ...
    def show_plan(self, dplan: DestroyPlan) -> None: ...
    def prompt(self, question: str) -> str: ...
    def confirm_stop(self, operation_id: str) -> bool: ...


def run_destroy(request: DestroyRequest, ui: DestroyUI, *, ports: Any = None, backend: Any = None,
                timing: Timing | None = None) -> int:
    """Run one destroy and return its exit code (0 done or nothing to destroy, 1 refused or cancelled, the
    executor's code when the instance deletions stopped — the next run resumes)."""
    desired = request.desired
    if ports is None:
        from reconciler.providers.factory import build_ports

        ports = build_ports(desired)
    if backend is None:
        from reconciler.state import open_backend

        backend = open_backend(desired)
    timing = timing or Timing()
    with backend.lock("destroy"), redacted_logs():
        return _locked_destroy(request, ui, ports, backend, timing)


def _locked_destroy(request: DestroyRequest, ui: DestroyUI, ports: Any, backend: Any, timing: Timing) -> int:
    from reconciler.discover.live import discover

    desired = request.desired
    port_for = _stack_set_port(desired, ports)
    journal = Journal(backend, backend.read())
    # An interrupted destroy left its operation running: follow it first, then plan what is left.
    settle_unfinished(journal, port_for, Runtime(timing, ui.progress))
    dplan = make_destroy_plan(desired, discover(desired, ports), retain_stacks=request.retain_stacks,
                              remembered=frozenset(journal.state.offboarding))
    ui.show_plan(dplan)
    if dplan.empty:
        _forget(journal, dplan.stack_sets)
        ui.echo("Nothing to destroy: no StackSet, stack instance or connection of this config is left.")
        return 0
    _check_allowed(dplan, request.allow_destroy)
    if not _confirm(desired, ui, request.auto_approve):
        ui.echo("Destroy cancelled; nothing was changed.")
        return 1
    _remember(journal, dplan.removes)
    code = _delete_instances(desired, dplan, ports, journal, timing, ui)
    if code:
        return code
    _delete_stack_sets(dplan.stack_sets, port_for, ui)
    for connection_id in dplan.connections:
        ports.clumio.delete_connection(connection_id)
    _forget(journal, dplan.stack_sets)
    ui.echo(f"Destroy complete: {len(dplan.plan.changes)} stack instance(s), {len(dplan.stack_sets)} "
            f"StackSet(s) and {len(dplan.connections)} Clumio connection(s) removed.")
    return 0


def _stack_set_port(desired: Desired, ports: Any) -> Callable[[str], StackSets]:
    from reconciler.discover.live import stack_set_ports

    by_name = stack_set_ports(desired, ports)
    return lambda stack_set: by_name.get(stack_set, ports.stacksets)


def _check_allowed(dplan: DestroyPlan, allow_destroy: bool) -> None:
    if not allow_destroy:
        raise ReconcilerError(
            f"destroy removes {len(dplan.plan.changes)} stack instance(s), {len(dplan.stack_sets)} StackSet(s) "
            f"and {len(dplan.connections)} Clumio connection(s); refusing without --allow-destroy",
            hint="review the plan above, then run `clumio-org destroy --allow-destroy`")


def _confirm(desired: Desired, ui: DestroyUI, auto_approve: bool) -> bool:
    if auto_approve:
        return True
    if not ui.interactive:
        raise ReconcilerError("destroy needs a typed confirmation, but there is no terminal to ask on",
                              hint="in CI pass --auto-approve (with --allow-destroy)")
    typed = ui.prompt(f"Type the organization id ({desired.organization.id}) to destroy its Clumio integration")
    return str(typed).strip() == desired.organization.id


def _delete_instances(desired: Desired, dplan: DestroyPlan, ports: Any, journal: Journal, timing: Timing,
                      ui: DestroyUI) -> int:
    """The DeleteStackInstances waves, run (and resumed) like an apply; 0 when they all succeeded."""
    options = ApplyOptions(org_id=desired.organization.id, asset_types=desired.clumio.asset_types,
                           management_stack_set=desired.management_account.stack_set_name
                           if desired.management_account.onboard else None)
    result = Executor(dplan.plan, ports, journal, options, timing=timing, progress=ui.progress,
                      confirm_stop=ui.confirm_stop).run()
    if result.waves:
        ui.echo("")
        for line in summary_lines(result):
            ui.echo(line)
    if result.outcome in (Outcome.SUCCEEDED, Outcome.NOTHING_TO_DO):
        return 0
    ui.echo("Destroy stopped before the StackSets and connections; run `clumio-org destroy` again to "
            "continue (it follows its own operations, never submits them twice).")
    return result.outcome.exit_code


def _delete_stack_sets(names: tuple[str, ...], port_for: Callable[[str], StackSets], ui: DestroyUI) -> None:
    for name in names:
        with contextlib.suppress(StackSetNotFound):  # deleted by the interrupted run already
            port_for(name).delete_stack_set(name)
        ui.echo(f"deleted StackSet {name}")


def _remember(journal: Journal, pairs: tuple[tuple[str, str], ...]) -> None:
    """Written before the first deletion: the (account, region)s whose connections this destroy deletes at the
    end, so a re-run after a kill finds them again (a connection need not name its stack, clumio-api.md §3.3)."""
    state = journal.state
    remembered = tuple(sorted(set(state.offboarding) | set(pairs)))
    if remembered != state.offboarding:
        journal.state = journal.backend.write(replace(state, offboarding=remembered))


def _forget(journal: Journal, names: tuple[str, ...]) -> None:
    """Once the connections are gone: the state no longer records the deleted StackSets, nor what the destroy was
    removing (the journal stays, for the record)."""
    state = journal.state
    if not state.offboarding and not any(n in state.stack_sets for n in names):
        return
    journal.state = journal.backend.write(replace(
        state, offboarding=(), stack_sets={k: v for k, v in state.stack_sets.items() if k not in names},
        instances={k: v for k, v in state.instances.items() if k.stack_set not in names}))
