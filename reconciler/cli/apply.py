"""``clumio-org apply [PLANFILE]``: make the desired state true, wave by wave, verified in Clumio."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer

from reconciler.cli._click import Abort
from reconciler.cli.common import ConfigOption, load_config

EXIT_HELP = "Exit codes: 0 done or nothing to do, 1 error or refused, 3 finished with failed accounts, 130 Ctrl-C."


class TerminalUI:
    """Rich live display on a terminal; one plain line per event otherwise (CI logs)."""

    def __init__(self, *, no_color: bool) -> None:
        from reconciler.apply.progress import PlainProgress, Progress

        self.interactive = sys.stdin.isatty() and sys.stdout.isatty() and not os.environ.get("CI")
        self.color = sys.stdout.isatty() and not no_color and not os.environ.get("NO_COLOR")
        self.progress: Progress
        if self.interactive:
            from rich.console import Console

            from reconciler.apply.progress_rich import RichProgress

            self.progress = RichProgress(Console(highlight=False, no_color=not self.color))
        else:
            self.progress = PlainProgress(self.echo)

    def echo(self, text: str) -> None:
        stop = getattr(self.progress, "stop", None)
        if stop is not None and text == "":
            stop()
        typer.echo(text)

    def confirm(self, question: str) -> bool:
        return bool(typer.confirm(question, default=False))

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
        auto_approve: bool = typer.Option(False, "--auto-approve", help="Do not ask for approval (CI)."),
        allow_destroy: bool = typer.Option(False, "--allow-destroy", help="Allow removing stack instances."),
        max_destroy: int | None = typer.Option(None, "--max-destroy", min=0,
                                               help="Refuse if the plan removes more than N stack instances."),
        rotate_credentials: bool = typer.Option(False, "--rotate-credentials",
                                                help="Send fresh ClumioToken/RoleExternalId values from Clumio "
                                                     "instead of keeping the deployed ones."),
        no_color: bool = typer.Option(False, "--no-color", help="Plain output without colour."),
    ) -> None:
        """Run the plan's StackSet operations in waves; gate each wave on Clumio `connected`.

        A killed apply is resumed by the next one (its operations are found by their ids, never submitted twice).
        """
        from reconciler.apply.run import ApplyRequest, run_apply

        desired = load_config(config)
        ui = TerminalUI(no_color=no_color)
        request = ApplyRequest(desired=desired, plan_path=planfile, auto_approve=auto_approve,
                               allow_destroy=allow_destroy, max_destroy=max_destroy,
                               rotate_credentials=rotate_credentials)
        try:
            code = run_apply(request, ui)
        finally:
            stop = getattr(ui.progress, "stop", None)
            if stop is not None:
                stop()
        if code:
            raise typer.Exit(code)
