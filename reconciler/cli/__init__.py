"""The ``clumio-org`` command line: a thin typer app, one module per command."""

from reconciler.cli.app import app, main

__all__ = ["app", "main"]
