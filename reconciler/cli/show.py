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
    part: int | None = typer.Option(None, "--part", min=1, metavar="N",
                                    help="Markdown: print part N of the comment (1 is the comment itself; parts 2… "
                                         "hold every per-instance row when the comment had to leave some out)."),
    parts: bool = typer.Option(False, "--parts", help="Markdown: print how many parts the comment has."),
) -> None:
    """Show a saved plan (text, markdown or json) exactly as `plan` showed it; reads only the file."""
    from reconciler.files.planfile import read_plan

    plan = read_plan(planfile)
    if part is not None or parts:
        from reconciler.core.errors import ReconcilerError
        from reconciler.render.markdown import render_plan_markdown_parts

        if fmt is not PlanFormat.markdown:
            raise ReconcilerError("--part and --parts are for the markdown comment", hint="add --format markdown")
        pieces = render_plan_markdown_parts(plan, plan_file=str(planfile))
        if parts:
            typer.echo(str(len(pieces)))
            return
        assert part is not None
        if part > len(pieces):
            raise ReconcilerError(f"the comment has {len(pieces)} part(s), not {part}",
                                  hint=f"`clumio-org show {planfile} --format markdown --parts` says how many")
        typer.echo(pieces[part - 1], nl=False)
        return
    color = fmt is PlanFormat.text and common.options.color_for()
    typer.echo(render(plan, fmt, color, source=str(planfile)), nl=False)


def register(app: typer.Typer) -> None:
    app.command("show")(show)
