"""`clumio-org plan`: read the org, the StackSets and Clumio, and show what apply would change, per account and
region."""

from __future__ import annotations

import enum
from pathlib import Path

import typer

from reconciler.cli import common
from reconciler.cli.common import ConfigOption, load_config
from reconciler.core.errors import ReconcilerError
from reconciler.core.plan import Plan


class PlanFormat(enum.Enum):
    text = "text"
    markdown = "markdown"
    json = "json"


def render(plan: Plan, fmt: PlanFormat, color: bool, *, source: str | None = None) -> str:
    """The plan in ``fmt``; ``source`` is where the full plan lives (the plan file), for the markdown comment to
    point at when it leaves detail out."""
    if fmt is PlanFormat.json:
        from reconciler.render.json import render_plan_json

        return render_plan_json(plan)
    if fmt is PlanFormat.markdown:
        from reconciler.render.markdown import render_plan_markdown

        return render_plan_markdown(plan, plan_file=source)
    from reconciler.render.text import render_plan

    return render_plan(plan, color=color)


def plan_command(
    config: Path | None = ConfigOption,
    fmt: PlanFormat = typer.Option(PlanFormat.text, "--format", "-f", help="Output format."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Save the plan (JSON) for `clumio-org apply PLANFILE`."),
    detailed_exitcode: bool = typer.Option(
        False, "--detailed-exitcode", help="Exit 0 when there is nothing to do, 2 when there are changes."),
    adopt: bool = typer.Option(False, "--adopt", help="Plan over a StackSet another state manages, with no state "
                                                      "here yet (apply --adopt takes it over)."),
    force: bool = typer.Option(False, "--force", help="Plan with a state of another lineage than the StackSet's "
                                                      "(apply --force re-links it)."),
) -> int:
    """Show what apply would change, per StackSet, account and region, grouped by wave."""
    if out is not None:
        common.check_output_file(out, "--out")
    from reconciler.usecases.plan import plan_command as make

    plan = make(common.run_context(load_config(config)), adopt=adopt, force=force)
    if out is not None:
        from reconciler.files.planfile import write_plan

        try:
            write_plan(plan, out)
        except OSError as exc:  # the folder changed while the plan ran (checked above)
            raise ReconcilerError(f"cannot write the plan to {out}: {exc.strerror or type(exc).__name__}",
                                  hint="give --out a file path in a folder you can write") from None
    color = fmt is PlanFormat.text and common.options.color_for()
    typer.echo(render(plan, fmt, color, source=str(out) if out is not None else None), nl=False)
    if out is not None and not common.options.quiet:
        typer.echo(f"Saved the plan to {out}; run `clumio-org apply {out}` to apply exactly this plan.", err=True)
    code = 2 if detailed_exitcode and not plan.empty else 0
    if code:
        raise typer.Exit(code)
    return 0


def register(app: typer.Typer) -> None:
    app.command("plan")(plan_command)
