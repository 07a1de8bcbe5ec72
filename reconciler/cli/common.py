"""Options and steps every command shares: the global options (``--debug``, ``--no-color``, ``--quiet``,
``--profile``, ``--region``), finding the desired-state file, loading it."""

from __future__ import annotations

import os
import sys
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from reconciler.core.errors import ReconcilerError
from reconciler.core.terminal import terminal_safe

if TYPE_CHECKING:
    from reconciler.core.clock import Clock
    from reconciler.core.desired import Desired
    from reconciler.usecases.context import Context

CONFIG_ENV = "CLUMIO_ORG_CONFIG"
DEFAULT_CONFIG = "clumio-org.yaml"


@dataclass
class GlobalOptions:
    """What the options every command accepts (before or after the command name) asked for, for this run.

    ``profile`` is the AWS CLI's ``--profile`` (the same as ``AWS_PROFILE``); ``region`` is the AWS CLI's
    ``--region``: the region the StackSet lives in and the AWS calls go to, over ``organization.home_region``.
    """

    debug: bool = False
    no_color: bool = False
    quiet: bool = False
    profile: str | None = None
    region: str | None = None

    def color_for(self, stream: object = None) -> bool:
        """ANSI colour only on a terminal, never with ``--no-color`` or ``$NO_COLOR``."""
        target = stream if stream is not None else sys.stdout
        isatty = getattr(target, "isatty", None)
        return not self.no_color and "NO_COLOR" not in os.environ and bool(isatty and isatty())


# Reset by ``main`` at the start of every run (tests call it many times in one process).
options = GlobalOptions()

ConfigOption = typer.Option(
    None,
    "--config",
    "-c",
    metavar="FILE",
    help=f"Desired-state file. Default: ${CONFIG_ENV}, then ./{DEFAULT_CONFIG}.",
    show_default=False,
)


def _what_is_there(path: Path) -> str:
    if path.is_dir():
        return "is a directory"
    return "is not a regular file" if path.exists() else "not found"


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
            f"desired-state file {path} {_what_is_there(path)} ({where})",
            hint=f"pass --config FILE, set {CONFIG_ENV}, or create ./{DEFAULT_CONFIG} (see examples/minimal.yaml)",
        )
    return path


def config_of_plan(planfile: Path | None) -> Path | None:
    """For ``apply PLANFILE`` with neither ``--config`` nor ``$CLUMIO_ORG_CONFIG`` nor ``./clumio-org.yaml``: the
    desired-state file the plan was made from (its ``config_path``), when it is still there — like ``terraform
    apply PLANFILE``, which needs nothing else. The plan's desired digest is still checked against it."""
    if planfile is None or os.environ.get(CONFIG_ENV) or Path(DEFAULT_CONFIG).is_file():
        return None
    import json

    try:
        with planfile.open(encoding="utf-8") as handle:
            recorded = json.load(handle).get("config_path")
    except (OSError, ValueError, AttributeError):
        return None  # the plan file's own reader says what is wrong with it
    path = Path(recorded) if isinstance(recorded, str) and recorded else None
    return path if path is not None and path.is_file() else None


def load_config(config: Path | None) -> Desired:
    """Resolve and load the desired-state file; validation errors are raised as one ConfigError. ``--region``
    replaces ``organization.home_region`` for this run."""
    from reconciler.files.config import load_desired

    desired = load_desired(resolve_config_path(config))
    if options.region and options.region != desired.organization.home_region:
        desired = replace(desired, organization=replace(desired.organization, home_region=options.region))
    return desired


@dataclass(frozen=True)
class Injected:
    """What ``main`` was handed for this run (tests and benchmarks: the sandbox's virtual clock); click carries it
    to every command as the context object."""

    clock: Clock | None = None


def injected_clock() -> Clock:
    """The clock ``main`` was given for this run, else the system clock."""
    from reconciler.cli._click import get_current_context
    from reconciler.providers.clock import SystemClock

    current = get_current_context(silent=True)
    given = getattr(current.find_root().obj, "clock", None) if current is not None else None
    clock: Clock = given if given is not None else SystemClock()
    return clock


def run_context(desired: Desired, **given: Any) -> Context:
    """The one context of this command's run: settings parsed once (a bad value stops here, before any API call),
    the injected clock, notes on stderr."""
    from reconciler.usecases.context import Context

    return Context.for_run(desired, clock=injected_clock(), note=lambda text: typer.echo(text, err=True), **given)


def error_lines(message: str, hint: str | None = None) -> list[str]:
    """``error: …`` and ``hint: …`` as printed, with control and invisible characters escaped: messages quote file
    names, config values and AWS/Clumio answers, none of which may move the cursor or reorder the line. Line breaks
    stay only where a message lists one located problem per line (every such line is indented)."""
    lines = [f"error: {terminal_safe(message, keep_newlines=True)}"]
    if hint:
        lines.append(f"hint: {terminal_safe(hint)}")
    return lines


def check_output_file(path: Path, option: str) -> None:
    """Refuse an output path the command could not write, before any work is done (a plan of 10,000 accounts takes
    minutes to make): a directory, a path under a file, a folder we cannot create files in."""
    hint = f"give {option} a file path in a folder you can write, e.g. {option} plan.json"
    if path.is_dir():
        raise ReconcilerError(f"{option} {path} is a directory, not a file", hint=hint)
    if path.exists() and not path.is_file():
        raise ReconcilerError(f"{option} {path} is not a regular file", hint=hint)
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent  # the plan writer creates the missing folders below the nearest existing one
    if not folder.is_dir():
        raise ReconcilerError(f"{option} {path}: {folder} is not a folder", hint=hint)
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise ReconcilerError(f"{option} {path}: cannot write in {folder} ({exc.strerror or type(exc).__name__})",
                              hint=hint) from None
