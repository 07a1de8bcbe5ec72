"""`clumio-org destroy`: off-board what the config manages, the way Clumio's off-boarding document orders it
(docs/reference/brownfield.md §5): a plan first, `--allow-destroy` and the organization id typed (or
`--auto-approve`), resumed after an interruption like apply. This module parses and prints; the run is
reconciler/apply/destroy.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from reconciler.cli.common import ConfigOption, load_config, run_context

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


class DestroyUI:
    """The apply terminal, plus a free-text prompt for the typed confirmation and the destroy plan's text."""

    def __init__(self, ctx: Any) -> None:
        from reconciler.cli.apply import TerminalUI

        self._ui = TerminalUI.of(ctx)
        self.interactive = self._ui.interactive
        self.color = self._ui.color
        self.progress = self._ui.progress
        self.echo = self._ui.echo
        self.confirm_stop = self._ui.confirm_stop

    def prompt(self, question: str) -> str:
        return str(typer.prompt(question, default="", show_default=False))

    def show_plan(self, dplan: Any) -> None:
        self.echo(render_destroy(dplan))


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
        from reconciler.apply.destroy import DestroyRequest, run_destroy

        desired = load_config(config)
        ctx = run_context(desired)
        ui = DestroyUI(ctx)
        code = run_destroy(DestroyRequest(desired, allow_destroy=allow_destroy, auto_approve=auto_approve,
                                          retain_stacks=retain_stacks), ui, timing=ctx.timing())
        if code:
            raise typer.Exit(code)
