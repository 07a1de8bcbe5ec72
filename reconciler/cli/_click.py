"""The exceptions typer raises for exits and usage errors, whichever typer is installed.

typer ≥ 0.26 vendors click as ``typer._click`` (and click is no longer installed with it); older typer re-exports
click's own. ``typer.Exit`` and ``typer.Abort`` are public in both.
"""

from __future__ import annotations

from typing import Any

import typer

ClickException: Any  # the vendored or the installed click class
try:  # pragma: no cover - which branch runs depends on the installed typer
    from typer._click.exceptions import ClickException
except ImportError:  # pragma: no cover
    from click.exceptions import ClickException  # type: ignore[no-redef,import-not-found,assignment,unused-ignore]

Abort = typer.Abort
Exit = typer.Exit

__all__ = ["Abort", "ClickException", "Exit"]
