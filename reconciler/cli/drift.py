"""``clumio-org drift``: report where the org, its StackSets and Clumio moved away from the desired state.

Exit codes, the same in every format: 0 no drift, 2 drift found (in the categories ``--fail-on`` counts), 1 error.
"""

from __future__ import annotations

import enum
import sys
from pathlib import Path

import typer

from reconciler.cli.common import ConfigOption, load_config, resolve_config_path, run_context
from reconciler.drift.model import DriftReport
from reconciler.files.ignore import write_baseline

DEFAULT_DETECT_TIMEOUT = 1800.0


class Format(enum.Enum):
    TEXT = "text"
    MARKDOWN = "markdown"
    JSON = "json"
    JUNIT = "junit"


def render(report: DriftReport, fmt: Format) -> str:
    if fmt is Format.JSON:
        from reconciler.render.drift_json import render_drift_json

        return render_drift_json(report)
    if fmt is Format.MARKDOWN:
        from reconciler.render.drift_markdown import render_drift_markdown

        return render_drift_markdown(report)
    if fmt is Format.JUNIT:
        from reconciler.render.drift_junit import render_drift_junit

        return render_drift_junit(report)
    from reconciler.render.drift_text import render_drift_text

    return render_drift_text(report)


EXIT_HELP = ("Exit codes, the same in every format: 0 no drift, 2 drift found (in the --fail-on categories), "
             "1 error. An ignore entry past its expiry silences nothing and is itself drift (category ignore).")


def register(app: typer.Typer) -> None:
    @app.command(epilog=EXIT_HELP)
    def drift(
        config: Path | None = ConfigOption,
        fmt: Format = typer.Option(Format.TEXT, "--format", "-f", case_sensitive=False,
                                   help="text | markdown (issue/chat) | json (schemas/drift-report.schema.json) "
                                        "| junit (CI dashboards)."),
        out: Path | None = typer.Option(None, "--out", "-o", help="Write the report to FILE instead of stdout."),
        markdown_out: Path | None = typer.Option(None, "--markdown-out", metavar="FILE",
                                                 help="Also write the Markdown report to FILE (an issue body or "
                                                      "chat message) from the same run."),
        detect_drift: bool = typer.Option(False, "--detect", help="Start DetectStackSetDrift and wait for it; "
                                          "otherwise report the last detection and its age."),
        timeout: float = typer.Option(DEFAULT_DETECT_TIMEOUT, "--timeout", min=0,
                                      help="Seconds to wait for --detect before reporting the last result."),
        fail_on: list[str] = typer.Option([], "--fail-on", metavar="CATEGORY",
                                          help="Only these categories count for exit code 2 (repeat or comma "
                                               "separate: membership,status,version,resources,clumio,ignore); "
                                               "the others are still reported."),
        ignore_file: Path | None = typer.Option(None, "--ignore-file",
                                                help="Ignore file. Default: .clumio-org-ignore.yaml next to the "
                                                     "config."),
        write_ignore: Path | None = typer.Option(None, "--write-ignore", metavar="FILE",
                                                 help="Write the current findings to FILE as an ignore baseline "
                                                      "to review (placeholder owner, expiry in 30 days)."),
    ) -> None:
        """Report drift: membership, instance status, template/parameter versions, resources, Clumio connections."""
        config_path = resolve_config_path(config)
        desired = load_config(config_path)
        from reconciler.usecases.drift import run_drift

        report = run_drift(run_context(desired), config_path=config_path, detect_drift=detect_drift,
                           timeout=timeout, fail_on=fail_on, ignore_file=ignore_file)
        if write_ignore is not None:
            count = write_baseline(write_ignore, report.findings, report.generated_at.date())
            typer.echo(f"wrote {count} ignore entries to {write_ignore}: set each reason and owner before "
                       "committing it", err=True)
        text = render(report, fmt)
        if markdown_out is not None:
            markdown_out.parent.mkdir(parents=True, exist_ok=True)
            markdown_out.write_text(render(report, Format.MARKDOWN))
        if out is None:
            sys.stdout.write(text)
            sys.stdout.flush()
        else:
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(text)
            verdict = "drift found" if report.drifted else "no drift"
            typer.echo(f"drift: {verdict} ({len(report.findings)} findings, {len(report.ignored)} ignored); "
                       f"{fmt.value} report written to {out}")
        raise typer.Exit(report.exit_code)
