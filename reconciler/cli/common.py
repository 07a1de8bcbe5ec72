"""Options and steps every config-reading command shares: finding the desired-state file, loading it."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from reconciler.core.desired import Desired
from reconciler.core.errors import ReconcilerError

CONFIG_ENV = "CLUMIO_ORG_CONFIG"
DEFAULT_CONFIG = "clumio-org.yaml"

ConfigOption = typer.Option(
    None,
    "--config",
    "-c",
    help=f"Desired-state file. Default: ${CONFIG_ENV}, then ./{DEFAULT_CONFIG}.",
    show_default=False,
)


def resolve_config_path(config: Path | None) -> Path:
    """``--config``, else ``$CLUMIO_ORG_CONFIG``, else ``./clumio-org.yaml``; a clear error when none exists."""
    if config is not None:
        path = config
    elif os.environ.get(CONFIG_ENV):
        path = Path(os.environ[CONFIG_ENV])
    else:
        path = Path(DEFAULT_CONFIG)
    if not path.is_file():
        where = "--config" if config is not None else (f"${CONFIG_ENV}" if os.environ.get(CONFIG_ENV) else "default")
        raise ReconcilerError(
            f"desired-state file {path} not found ({where})",
            hint=f"pass --config FILE, set {CONFIG_ENV}, or create ./{DEFAULT_CONFIG} (see examples/minimal.yaml)",
        )
    return path


def load_config(config: Path | None) -> Desired:
    """Resolve and load the desired-state file; validation errors are raised as one ConfigError."""
    from reconciler.config import load_desired

    return load_desired(resolve_config_path(config))
