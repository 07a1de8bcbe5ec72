"""``clumio-org show PLANFILE``: render a saved plan again, in any format, with no AWS or Clumio call."""

from __future__ import annotations

from pathlib import Path

import typer

from reconciler.cli import common
from reconciler.cli.plan import PlanFormat, render


def show(
    planfile: Path = typer.Argument(..., metavar="PLANFILE", help="A plan file from `clumio-org plan --out`.",
                                    show_default=False),
    fmt: PlanFormat = typer.Option(PlanFormat.text, "--format", "-f", help="Output format."),
) -> None:
    """Show a saved plan (text, markdown or json) exactly as `plan` showed it; reads only the file."""
    from reconciler.plan.planfile import read_plan

    plan = read_plan(planfile)
    color = fmt is PlanFormat.text and common.options.color_for()
    typer.echo(render(plan, fmt, color, source=str(planfile)), nl=False)


def register(app: typer.Typer) -> None:
    app.command("show")(show)
