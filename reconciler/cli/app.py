"""The typer application, global options, and the one place errors become exit codes."""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import sys
import traceback
from collections.abc import Iterator, Sequence
from typing import Any

import typer
import typer.main

from reconciler import __version__
from reconciler.cli import common
from reconciler.cli._click import Abort, ClickException, Exit
from reconciler.cli.common import GlobalOptions, error_lines
from reconciler.core.errors import ReconcilerError

app = typer.Typer(
    name="clumio-org",
    help="Onboard every account of an AWS Organization to Clumio through one CloudFormation StackSet.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,  # --show-completion SHELL / --install-completion SHELL (bash, zsh, fish, powershell)
    context_settings={"help_option_names": ["-h", "--help"]},
)

# Each command module exposes ``register(app)``; every one of them exists (a missing one is a packaging bug).
COMMAND_MODULES = ("validate", "plan", "show", "apply", "drift", "state", "sandbox", "demo", "init", "import_",
                   "destroy")

# Options that belong to the whole tool and may stand before or after the command name, as in the AWS CLI
# (``clumio-org plan --debug`` and ``clumio-org --debug plan`` mean the same). Those in the second set take a value.
GLOBAL_FLAGS = ("--debug", "--no-color", "--quiet", "-q")
GLOBAL_VALUED = ("--profile", "--region")


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
    no_color: bool = typer.Option(False, "--no-color", help="Plain output without ANSI colours (also $NO_COLOR)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Only results and errors: no notes, no progress lines."),
    profile: str | None = typer.Option(None, "--profile", metavar="NAME",
                                       help="AWS profile from ~/.aws/config (the same as AWS_PROFILE)."),
    region: str | None = typer.Option(None, "--region", metavar="REGION",
                                      help="AWS region of the StackSet and its calls (over organization.home_region)."),
) -> None:
    """Onboard every account of an AWS Organization to Clumio through one CloudFormation StackSet.

    Global options (--debug, --no-color, --quiet, --profile, --region) work before or after the command.
    """
    common.options = GlobalOptions(debug=debug, no_color=no_color, quiet=quiet, profile=profile, region=region)
    if profile:
        os.environ["AWS_PROFILE"] = profile  # restored by main() when the run ends
    level = logging.DEBUG if debug else (logging.ERROR if quiet else logging.WARNING)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger().setLevel(level)
    if not debug:
        # A down endpoint makes urllib3 log one "Retrying …" warning per attempt before botocore gives up; the
        # error that follows says it once, with a hint.
        logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)


def _register_commands() -> None:
    for name in COMMAND_MODULES:
        importlib.import_module(f"reconciler.cli.{name}").register(app)


_register_commands()


_COMMAND: Any = None


def _command() -> Any:
    """The click command tree, built once per process (tests call ``main`` many times)."""
    global _COMMAND
    if _COMMAND is None:
        _COMMAND = typer.main.get_command(app)
        _readable_metavars(_COMMAND)
    return _COMMAND


_METAVARS = {"path": "FILE", "str": "TEXT", "text": "TEXT", "int": "N", "float": "SECONDS", "bool": ""}


def _readable_metavars(command: Any) -> None:
    """Help shows ``--out FILE`` and ``--format text|json``, and nothing after a flag (typer would print
    ``<bool>``, ``<path>``)."""
    for param in getattr(command, "params", ()):
        if getattr(param, "param_type_name", "") == "argument" and hasattr(param, "display_type_rich"):
            param.display_type_rich = lambda ctx=None: None  # the argument's NAME says it; no `<str>` after it
            continue
        if getattr(param, "param_type_name", "") != "option" or param.metavar is not None:
            continue
        if getattr(param, "is_flag", False):
            param.metavar = ""
            continue
        display = getattr(param, "display_type", None)
        if display is None:  # an older typer prints click's own metavars, which read well
            continue
        try:
            label = str(display(None)).strip("<>")
        except Exception:  # noqa: BLE001 - help formatting must never break a command
            continue
        param.metavar = _METAVARS.get(label, label if "|" in label else label.upper())
    original = getattr(command, "get_help_option", None)
    if original is not None:
        def help_option(ctx: Any, _original: Any = original) -> Any:
            option = _original(ctx)
            if option is not None:
                option.metavar = ""
            return option

        command.get_help_option = help_option
    for sub in getattr(command, "commands", {}).values():
        _readable_metavars(sub)


def hoist_global_options(args: Sequence[str]) -> list[str]:
    """Move the global options found after the command name to the front, where click expects them."""
    front: list[str] = []
    rest: list[str] = []
    it = iter(args)
    for token in it:
        if token == "--":
            rest.append(token)
            rest.extend(it)
            break
        name = token.split("=", 1)[0]
        if token in GLOBAL_FLAGS:
            front.append(token)
        elif name in GLOBAL_VALUED:
            front.append(token)
            if "=" not in token:
                value = next(it, None)
                if value is not None:
                    front.append(value)
        else:
            rest.append(token)
    return front + rest


def print_error(err: ReconcilerError) -> None:
    """Print ``error:`` and ``hint:`` lines on stderr, the format every command shares."""
    for line in error_lines(err.message, err.hint):
        typer.echo(line, err=True)


def _usage_error(exc: Any) -> None:
    """A usage mistake (unknown option, bad choice, missing argument) in the same two lines as every other error."""
    message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
    message = message.replace("Value error, ", "")
    ctx = getattr(exc, "ctx", None)
    path = getattr(ctx, "command_path", None) or "clumio-org"
    for line in error_lines(message[:1].lower() + message[1:], f"see `{path} --help`"):
        typer.echo(line, err=True)


@contextlib.contextmanager
def _environment_kept() -> Iterator[None]:
    """``--profile`` sets AWS_PROFILE for this run only (tests run many commands in one process)."""
    saved = os.environ.get("AWS_PROFILE")
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("AWS_PROFILE", None)
        else:
            os.environ["AWS_PROFILE"] = saved


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return its exit code; user errors exit 1 with a message, never a traceback."""
    args = hoist_global_options(list(sys.argv[1:] if argv is None else argv))
    common.options = GlobalOptions()
    with _environment_kept():
        return _run(args)


def _run(args: list[str]) -> int:
    try:
        result = _command().main(args=args, prog_name="clumio-org", standalone_mode=False)
    except Exit as exc:
        return int(exc.exit_code)
    except Abort:
        typer.echo("aborted", err=True)
        return 1
    except ClickException as exc:  # usage errors: a user mistake, so exit 1 like every other
        _usage_error(exc)
        return 1
    except ReconcilerError as exc:
        print_error(exc)
        return 1
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        return 130
    except Exception as exc:  # a bug: say so plainly, show the traceback only with --debug
        if common.options.debug or "--debug" in args:
            traceback.print_exc()
        typer.echo(error_lines(f"internal error: {type(exc).__name__}: {exc}")[0], err=True)
        typer.echo("hint: this is a bug in clumio-org; re-run with --debug and report the traceback", err=True)
        return 1
    return int(result) if isinstance(result, int) else 0
