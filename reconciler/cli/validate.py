"""``clumio-org validate FILE…``: check desired-state files and report every problem with its line and column."""

from __future__ import annotations

from pathlib import Path

import typer

from reconciler.cli.common import ConfigOption, resolve_config_path
from reconciler.cli.validate_plain import FORMATS, report_lines
from reconciler.core.errors import ReconcilerError
from reconciler.files.config import validate_file


def validate(
    files: list[Path] | None = typer.Argument(
        None, metavar="FILE", help="Desired-state files to check.", show_default=False
    ),
    output: str = typer.Option(
        "text", "--format", "-f", metavar="text|json", help="text: FILE: ok / FILE:LINE:COL: message; json: a document."
    ),
    config: Path | None = ConfigOption,
) -> int:
    """Check desired-state files against the schema and the cross-field rules; exit 0 when all are valid, else 1.

    No AWS or Clumio call is made; ${env:NAME} references are resolved from the environment. Without FILE, checks
    the file every other command would read: --config, else $CLUMIO_ORG_CONFIG, else ./clumio-org.yaml.
    """
    files = [*(files or []), *([config] if config is not None else [])]
    if not files:
        files = [resolve_config_path(None)]
    # Checked here rather than by typer so a usage mistake reads like every other error (error:/hint:, exit 1).
    if output not in FORMATS:
        raise ReconcilerError(f"unknown --format {output!r}", hint="use --format text or --format json")
    results = [(str(path), validate_file(path)) for path in files]
    for line in report_lines(results, output):
        typer.echo(line)
    failed = any(diagnostics for _, diagnostics in results)
    if failed:
        raise typer.Exit(1)
    return 0


def register(app: typer.Typer) -> None:
    app.command(name="validate")(validate)
