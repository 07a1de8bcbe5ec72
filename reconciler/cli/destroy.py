"""`clumio-org destroy`: off-board what the config manages, the way Clumio's off-boarding document orders it
(docs/reference/brownfield.md §5): a plan first, `--allow-destroy` and the organization id typed (or
`--auto-approve`), resumed after an interruption like apply."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import typer

from reconciler.cli.common import ConfigOption, load_config
from reconciler.core.desired import Desired
from reconciler.core.errors import ReconcilerError

EXIT_HELP = "Exit codes: 0 done or nothing to destroy, 1 error or refused, 3 finished with failed accounts, 130 Ctrl-C."


def render_destroy(dplan: Any) -> str:
    from reconciler.render.text import render_plan

    lines = [render_plan(dplan.plan).rstrip("\n"), ""] if dplan.plan.operations else []
    lines.append("Then, after every stack instance is gone:")
    lines += [f"  DeleteStackSet {name}" for name in dplan.stack_sets] or ["  (no StackSet left to delete)"]
    lines.append(f"  delete {len(dplan.connections)} Clumio connection(s) the deleted stacks leave behind"
                 + (f": {', '.join(dplan.connections[:10])}{' …' if len(dplan.connections) > 10 else ''}"
                    if dplan.connections else ""))
    if dplan.retained:
        lines.append(f"  {len(dplan.retained)} stack instance(s) are removed with RetainStacks: their stacks and "
                     "Clumio connections keep running")
    return "\n".join(lines) + "\n"


def _confirm(desired: Desired, ui: Any, auto_approve: bool) -> bool:
    if auto_approve:
        return True
    if not ui.interactive:
        raise ReconcilerError("destroy needs a typed confirmation, but there is no terminal to ask on",
                              hint="in CI pass --auto-approve (with --allow-destroy)")
    typed = ui.prompt(f"Type the organization id ({desired.organization.id}) to destroy its Clumio integration")
    return str(typed).strip() == desired.organization.id


def run_destroy(desired: Desired, ui: Any, *, allow_destroy: bool, auto_approve: bool, retain_stacks: bool = False,
                ports: Any = None, backend: Any = None, timing: Any = None) -> int:
    from reconciler.apply.executor import Executor
    from reconciler.apply.journal import Journal
    from reconciler.apply.model import Outcome
    from reconciler.apply.options import ApplyOptions
    from reconciler.apply.progress import summary_lines
    from reconciler.apply.redact import redacted_logs
    from reconciler.apply.resume import settle_unfinished
    from reconciler.apply.runtime import Runtime
    from reconciler.apply.timing import Timing
    from reconciler.discover.live import discover, stack_set_ports
    from reconciler.plan.destroy import make_destroy_plan

    if ports is None:
        from reconciler.providers.factory import build_ports

        ports = build_ports(desired)
    if backend is None:
        from reconciler.state import open_backend

        backend = open_backend(desired)
    timing = timing or Timing.from_env()
    by_name = stack_set_ports(desired, ports)

    def port_for(stack_set: str) -> Any:
        return by_name.get(stack_set, ports.stacksets)

    with backend.lock("destroy"), redacted_logs():
        journal = Journal(backend, backend.read())
        # An interrupted destroy left its operation running: follow it first, then plan what is left.
        settle_unfinished(journal, port_for, Runtime(timing, ui.progress))
        dplan = make_destroy_plan(desired, discover(desired, ports), retain_stacks=retain_stacks)
        ui.echo(render_destroy(dplan))
        if dplan.empty:
            ui.echo("Nothing to destroy: no StackSet, stack instance or connection of this config is left.")
            return 0
        if not allow_destroy:
            raise ReconcilerError(
                f"destroy removes {len(dplan.plan.changes)} stack instance(s), {len(dplan.stack_sets)} StackSet(s) "
                f"and {len(dplan.connections)} Clumio connection(s); refusing without --allow-destroy",
                hint="review the plan above, then run `clumio-org destroy --allow-destroy`")
        if not _confirm(desired, ui, auto_approve):
            ui.echo("Destroy cancelled; nothing was changed.")
            return 1
        options = ApplyOptions(org_id=desired.organization.id, asset_types=desired.clumio.asset_types,
                               management_stack_set=desired.management_account.stack_set_name
                               if desired.management_account.onboard else None)
        result = Executor(dplan.plan, ports, journal, options, timing=timing, progress=ui.progress,
                          confirm_stop=ui.confirm_stop).run()
        if result.waves:
            ui.echo("")
            for line in summary_lines(result):
                ui.echo(line)
        if result.outcome not in (Outcome.SUCCEEDED, Outcome.NOTHING_TO_DO):
            ui.echo("Destroy stopped before the StackSets and connections; run `clumio-org destroy` again to "
                    "continue (it follows its own operations, never submits them twice).")
            return result.outcome.exit_code
        _delete_stack_sets(dplan.stack_sets, port_for, ui)
        _forget(backend, journal, dplan.stack_sets)
        for connection_id in dplan.connections:
            ports.clumio.delete_connection(connection_id)
        ui.echo(f"Destroy complete: {len(dplan.plan.changes)} stack instance(s), {len(dplan.stack_sets)} "
                f"StackSet(s) and {len(dplan.connections)} Clumio connection(s) removed.")
    return 0


def _delete_stack_sets(names: tuple[str, ...], port_for: Any, ui: Any) -> None:
    from reconciler.core.ports import StackSetNotFound

    for name in names:
        with contextlib.suppress(StackSetNotFound):  # deleted by the interrupted run already
            port_for(name).delete_stack_set(name)
        ui.echo(f"deleted StackSet {name}")


def _forget(backend: Any, journal: Any, names: tuple[str, ...]) -> None:
    """The state no longer records the deleted StackSets (the journal stays, for the record)."""
    from dataclasses import replace

    state = journal.state
    if state is None or not any(n in state.stack_sets for n in names):
        return
    backend.write(replace(state, stack_sets={k: v for k, v in state.stack_sets.items() if k not in names},
                          instances={k: v for k, v in state.instances.items() if k.stack_set not in names}))


class DestroyUI:
    """The apply terminal, plus a free-text prompt for the typed confirmation."""

    def __init__(self, *, org_id: str) -> None:
        from reconciler.cli.apply import TerminalUI

        self._ui = TerminalUI(org_id=org_id)
        self.interactive = self._ui.interactive
        self.color = self._ui.color
        self.progress = self._ui.progress
        self.echo = self._ui.echo
        self.confirm_stop = self._ui.confirm_stop

    def prompt(self, question: str) -> str:
        return str(typer.prompt(question, default="", show_default=False))


def register(app: typer.Typer) -> None:
    @app.command("destroy", epilog=EXIT_HELP)
    def destroy_command(
        config: Path | None = ConfigOption,
        allow_destroy: bool = typer.Option(False, "--allow-destroy", help="Required: allow removing everything."),
        auto_approve: bool = typer.Option(False, "--auto-approve", help="Do not ask for the typed organization id "
                                                                        "(CI)."),
        retain_stacks: bool = typer.Option(False, "--retain-stacks", help="Remove the stack instances with "
                                                                          "RetainStacks: stacks keep running."),
    ) -> None:
        """Off-board: stack instances wave by wave in reverse order, then the StackSets, then the Clumio connections
        left behind. Shows the plan first; resumes after an interruption."""
        desired = load_config(config)
        ui = DestroyUI(org_id=desired.organization.id)
        code = run_destroy(desired, ui, allow_destroy=allow_destroy, auto_approve=auto_approve,
                           retain_stacks=retain_stacks)
        if code:
            raise typer.Exit(code)
