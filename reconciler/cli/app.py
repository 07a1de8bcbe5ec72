"""The typer application, global options, and the one place errors become exit codes."""

from __future__ import annotations

import importlib
import logging
import sys
import traceback
from collections.abc import Sequence
from typing import Any

import typer
import typer.main

from reconciler import __version__
from reconciler.cli._click import Abort, ClickException, Exit
from reconciler.core.errors import ReconcilerError

app = typer.Typer(
    name="clumio-org",
    help="Onboard every account of an AWS Organization to Clumio through one CloudFormation StackSet.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

# Each command module exposes ``register(app)``; a module that is not built yet is simply absent.
COMMAND_MODULES = ("validate", "plan", "apply", "drift", "state", "sandbox", "demo")

_debug = False


def _version(value: bool) -> None:
    if value:
        typer.echo(f"clumio-org {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
    debug: bool = typer.Option(False, "--debug", help="Log verbosely and show tracebacks of internal errors."),
) -> None:
    global _debug
    _debug = debug
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


def _register_commands() -> None:
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"reconciler.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"reconciler.cli.{name}":
                continue
            raise
        module.register(app)


_register_commands()


_COMMAND: Any = None


def _command() -> Any:
    """The click command tree, built once per process (tests call ``main`` many times)."""
    global _COMMAND
    if _COMMAND is None:
        _COMMAND = typer.main.get_command(app)
    return _COMMAND


def print_error(err: ReconcilerError) -> None:
    """Print ``error:`` and ``hint:`` lines on stderr, the format every command shares."""
    typer.echo(f"error: {err.message}", err=True)
    if err.hint:
        typer.echo(f"hint: {err.hint}", err=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return its exit code; user errors exit 1 with a message, never a traceback."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        result = _command().main(args=args, prog_name="clumio-org", standalone_mode=False)
    except Exit as exc:
        return int(exc.exit_code)
    except Abort:
        typer.echo("aborted", err=True)
        return 1
    except ClickException as exc:  # usage errors: a user mistake, so exit 1 like every other
        exc.show()
        return 1
    except ReconcilerError as exc:
        print_error(exc)
        return 1
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        return 130
    except Exception as exc:  # a bug: say so plainly, show the traceback only with --debug
        if _debug or "--debug" in args:
            traceback.print_exc()
        typer.echo(f"error: internal error: {type(exc).__name__}: {exc}", err=True)
        typer.echo("hint: this is a bug in clumio-org; re-run with --debug and report the traceback", err=True)
        return 1
    return int(result) if isinstance(result, int) else 0
