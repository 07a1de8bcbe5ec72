"""``clumio-org apply [PLANFILE]``: make the desired state true, wave by wave, verified in Clumio."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from reconciler.cli import common
from reconciler.cli._click import Abort
from reconciler.cli.common import ConfigOption, load_config
from reconciler.core.plan import Action, Plan

EXIT_HELP = ("Exit codes: 0 done or nothing to do, 1 error or refused, 3 finished with failed accounts, 4 stopped "
             "because credentials expired or an endpoint went away (run again to resume), 130 Ctrl-C.")
# A plan that touches more accounts than this (or removes anything) is approved by typing the organization id,
# not by `y`: a reflex answer should not roll out to a whole organization.
TYPED_CONFIRMATION_ACCOUNTS = 25


def needs_typed_confirmation(plan: Plan, threshold: int = TYPED_CONFIRMATION_ACCOUNTS) -> str | None:
    """Why approving ``plan`` takes typing the organization id, or None when `y` is enough."""
    removals = sum(1 for c in plan.changes if c.action is Action.REMOVE)
    if removals:
        return f"it removes {removals} stack instance(s)"
    accounts = {c.key.account for c in plan.changes}
    if len(accounts) > threshold:
        return f"it touches {len(accounts)} accounts (more than {threshold})"
    return None


class TerminalUI:
    """Rich live display on a terminal; one plain line per event otherwise (CI logs)."""

    def __init__(self, *, org_id: str, heartbeat_seconds: float, now: Callable[[], float]) -> None:
        """``heartbeat_seconds`` from the run's settings, ``now`` its clock in seconds (``Timing.now``)."""
        from reconciler.apply.progress import PlainProgress, Progress

        self.org_id = org_id
        self.interactive = sys.stdin.isatty() and sys.stdout.isatty() and not os.environ.get("CI")
        self.color = common.options.color_for()
        self.progress: Progress
        if self.interactive:
            from rich.console import Console

            from reconciler.apply.progress_rich import RichProgress

            self.progress = RichProgress(Console(highlight=False, no_color=not self.color))
        else:
            # In CI nothing else shows a long wave is alive: a line per running operation at a steady interval.
            self.progress = PlainProgress(self.echo, heartbeat=None if common.options.quiet else heartbeat_seconds,
                                          now=now)

    @classmethod
    def of(cls, ctx: Any) -> TerminalUI:
        """The terminal of the run ``ctx`` (a ``reconciler.usecases.context.Context``): its settings' heartbeat,
        its clock."""
        return cls(org_id=ctx.desired.organization.id, heartbeat_seconds=ctx.settings.heartbeat_seconds,
                   now=ctx.timing().now)

    def echo(self, text: str) -> None:
        stop = getattr(self.progress, "stop", None)
        if stop is not None and text == "":
            stop()
        typer.echo(text)

    def confirm(self, question: str) -> bool:
        return bool(typer.confirm(question, default=False))

    def confirm_plan(self, plan: Plan, question: str) -> bool:
        """`y` for a small plan; the organization id typed back for one that removes or reaches many accounts."""
        why = needs_typed_confirmation(plan)
        if why is None:
            return self.confirm(question)
        typer.echo(f"This plan needs a typed confirmation: {why}.")
        answer = typer.prompt(f"Type the organization id ({self.org_id}) to apply, anything else to cancel",
                              default="", show_default=False)
        return bool(answer.strip() == self.org_id)

    def confirm_stop(self, operation_id: str) -> bool:
        """Ctrl-C: on a terminal ask whether to stop the running operation; in CI stop it, and say so."""
        stop = getattr(self.progress, "stop", None)
        if stop is not None:
            stop()
        if self.interactive:
            try:
                return bool(typer.confirm(f"\nStop the running StackSet operation {operation_id} in AWS "
                                          "(StopStackSetOperation)?", default=True))
            except (Abort, KeyboardInterrupt, EOFError):
                return True  # a second Ctrl-C means "stop everything"
        typer.echo(f"interrupted without a terminal: stopping {operation_id} (StopStackSetOperation)")
        return True


def register(app: typer.Typer) -> None:
    @app.command(epilog=EXIT_HELP)
    def apply(
        planfile: Path | None = typer.Argument(None, help="A plan file from `clumio-org plan --out`; without one, "
                                                          "apply plans, shows the plan and asks."),
        config: Path | None = ConfigOption,
        auto_approve: bool = typer.Option(False, "--auto-approve",
                                          help="Do not ask for approval, not even the typed one (CI)."),
        allow_destroy: bool = typer.Option(False, "--allow-destroy", help="Allow removing stack instances."),
        max_destroy: int | None = typer.Option(None, "--max-destroy", min=0,
                                               help="Refuse if the plan removes more than N stack instances."),
        rotate_credentials: bool = typer.Option(False, "--rotate-credentials",
                                                help="Send fresh ClumioToken/RoleExternalId values from Clumio "
                                                     "instead of keeping the deployed ones."),
        adopt: bool = typer.Option(False, "--adopt", help="There is no state yet, but the StackSet is managed by "
                                                          "another state: take it over (the new state takes its "
                                                          "lineage)."),
        force: bool = typer.Option(False, "--force", help="The state has another lineage than the StackSet: re-link "
                                                          "it to the StackSet on purpose."),
    ) -> None:
        """Run the plan's StackSet operations in waves; gate each wave on Clumio `connected`.

        A killed apply is resumed by the next one (its operations are found by their ids, never submitted twice).
        """
        from reconciler.usecases.apply import ApplyRequest, run_apply

        desired = load_config(config or common.config_of_plan(planfile))
        ctx = common.run_context(desired)
        ui = TerminalUI.of(ctx)  # the settings are parsed here: a bad value stops the run before any API call
        request = ApplyRequest(desired=desired, plan_path=planfile, auto_approve=auto_approve,
                               allow_destroy=allow_destroy, max_destroy=max_destroy,
                               rotate_credentials=rotate_credentials, adopt=adopt, force=force)
        try:
            code = run_apply(request, ui, ctx)
        finally:
            stop = getattr(ui.progress, "stop", None)
            if stop is not None:
                stop()
        if code:
            raise typer.Exit(code)
