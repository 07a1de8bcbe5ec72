"""The typer application, global options, and the one place errors become exit codes.

Start-up is part of the interface (``--help`` and ``validate`` run in CI loops): the root group knows every command's
name and one-line help (``COMMANDS``) and imports a command's module only when that command runs, so ``--help`` and
``validate`` load neither boto3 nor the sandbox. Help is click's plain layout (``rich_markup_mode=None``): the same
text, readable in CI logs, and rich is imported only by the commands that draw progress.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import logging
import os
import sys
import traceback
from collections.abc import Iterator, MutableMapping, Sequence
from typing import Any

import typer
import typer.core
import typer.main

from reconciler import __version__
from reconciler.cli import common
from reconciler.cli._click import Abort, ClickException, Exit, is_no_args_help, plain_coercion
from reconciler.cli.common import GlobalOptions, error_lines
from reconciler.core.errors import ReconcilerError

# Every command: its name, the module whose ``register(app)`` adds it, and the one-line help ``--help`` lists
# (the first paragraph of the command's own help; tests/unit/cli/test_startup.py keeps the two equal).
COMMANDS: dict[str, tuple[str, str]] = {
    "validate": ("validate", "Check desired-state files against the schema and the cross-field rules; exit 0 when "
                             "all are valid, else 1."),
    "plan": ("plan", "Show what apply would change, per StackSet, account and region, grouped by wave."),
    "show": ("show", "Show a saved plan (text, markdown or json) exactly as `plan` showed it; reads only the file."),
    "apply": ("apply", "Run the plan's StackSet operations in waves; gate each wave on Clumio `connected`."),
    "drift": ("drift", "Report drift: membership, instance status, template/parameter versions, resources, Clumio "
                       "connections."),
    "demo": ("demo", "Run plan → apply → drift on the embedded sandbox (a ~30-account demo organization)."),
    "init": ("init", "Read the live organization (read only) and write a commented starter config."),
    "import": ("import_", "Adopt an existing Clumio StackSet: record what is live in state, change nothing in AWS, "
                          "and show what the next plan would change."),
    "destroy": ("destroy", "Off-board: stack instances wave by wave in reverse order, then the StackSets, then the "
                           "Clumio connections left behind. Shows the plan first; resumes after an interruption."),
    "state": ("state", "Inspect and manage the state (where it lives, lock, backups)."),
    "sandbox": ("sandbox", "A local AWS (Organizations, StackSets, STS, S3) and Clumio API to try clumio-org "
                           "without accounts."),
}
COMMAND_MODULES = tuple(dict.fromkeys(module for module, _ in COMMANDS.values()))


def load_command(name: str) -> Any:
    """Import the module of command ``name`` and build its click command (a group for ``state`` / ``sandbox``)."""
    module, _ = COMMANDS[name]
    holder = typer.Typer(rich_markup_mode=None, pretty_exceptions_enable=False, add_completion=False)
    importlib.import_module(f"reconciler.cli.{module}").register(holder)
    command = typer.main.get_group(holder).commands[name]
    _readable_metavars(command)
    return command


class _LazyCommands(MutableMapping[str, Any]):
    """The root group's ``commands``: every name is known up front, a command is built the first time it is read."""

    def __init__(self, built: MutableMapping[str, Any]) -> None:
        self._built = dict(built)

    def __getitem__(self, name: str) -> Any:
        if name not in self._built:
            if name not in COMMANDS:
                raise KeyError(name)
            self._built[name] = load_command(name)
        return self._built[name]

    def built(self) -> list[Any]:
        """The commands built so far (reading ``values()`` would import every command module)."""
        return list(self._built.values())

    def __setitem__(self, name: str, command: Any) -> None:
        self._built[name] = command

    def __delitem__(self, name: str) -> None:
        del self._built[name]

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys([*COMMANDS, *self._built]))

    def __len__(self) -> int:
        return len(set(COMMANDS) | set(self._built))


class LazyGroup(typer.core.TyperGroup):
    """The root group: lists every command and imports only the one that runs."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self.commands = _LazyCommands(self.commands)

    def list_commands(self, ctx: Any) -> list[str]:
        return list(self.commands)

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        """The command list from ``COMMANDS``, without importing a command module."""
        rows = [(name, summary) for name, (_, summary) in COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


app = typer.Typer(
    name="clumio-org",
    help="Onboard every account of an AWS Organization to Clumio through one CloudFormation StackSet.",
    cls=LazyGroup,
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    add_completion=True,  # --show-completion SHELL / --install-completion SHELL (bash, zsh, fish, powershell)
    context_settings={"help_option_names": ["-h", "--help"]},
)

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


_COMMAND: Any = None


def _command() -> Any:
    """The click command tree, built once per process (tests call ``main`` many times)."""
    global _COMMAND
    if _COMMAND is None:
        _COMMAND = typer.main.get_command(app)
        _readable_metavars(_COMMAND)  # the root's own options; each command gets it when it is loaded
    return _COMMAND


_METAVARS = {"path": "FILE", "str": "TEXT", "text": "TEXT", "int": "N", "float": "SECONDS", "bool": ""}


def _readable_metavars(command: Any) -> None:
    """Help shows ``--out FILE`` and ``--format text|json``, and nothing after a flag (typer would print
    ``<bool>``, ``<path>``)."""
    for param in getattr(command, "params", ()):
        plain_coercion(param)  # text and paths coerced without importing pydantic (see _click)
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
                plain_coercion(option)
            return option

        command.get_help_option = help_option
    subs = getattr(command, "commands", {})
    for sub in (subs.built() if isinstance(subs, _LazyCommands) else subs.values()):
        if not sub.short_help and sub.help:
            # A group's command list shows each command's whole first paragraph (click would cut it at ~45
            # characters with "...").
            sub.short_help = " ".join(sub.help.split("\n\n")[0].split())
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


# A plan over 10,000 accounts makes millions of objects that live until the run ends (the Live snapshot, the
# plan); with CPython's default first-generation threshold (700 allocations) the collector visits and promotes
# them again and again: 1.3-1.8 s of the 8 s of CPU a 2,000 × 17 plan took, measured. The models are trees that
# reference counting frees, so the first generation is collected every 10,000 allocations instead.
YOUNG_GENERATION_THRESHOLD = 10_000


@contextlib.contextmanager
def _collector_for_large_heaps() -> Iterator[None]:
    """The garbage collector's first-generation threshold raised for this run, restored after it, and what a plan
    phase froze (usecases/context.collector_paused) handed back to the collector: tests run many commands in one
    process."""
    saved = gc.get_threshold()
    gc.set_threshold(max(saved[0], YOUNG_GENERATION_THRESHOLD), *saved[1:])
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*saved)


def main(argv: Sequence[str] | None = None, *, clock: Any = None) -> int:
    """Run the CLI and return its exit code; user errors exit 1 with a message, never a traceback. ``clock``
    (a ``reconciler.core.clock.Clock``) replaces the system clock for this run: tests and benchmarks pass the
    sandbox's virtual one."""
    args = hoist_global_options(list(sys.argv[1:] if argv is None else argv))
    common.options = GlobalOptions()
    with _environment_kept(), _collector_for_large_heaps():
        return _run(args, common.Injected(clock=clock))


def _run(args: list[str], injected: common.Injected) -> int:
    try:
        result = _command().main(args=args, prog_name="clumio-org", standalone_mode=False, obj=injected)
    except Exit as exc:
        return int(exc.exit_code)
    except Abort:
        typer.echo("aborted", err=True)
        return 1
    except ClickException as exc:  # usage errors: a user mistake, so exit 1 like every other
        if is_no_args_help(exc):  # `clumio-org` or `clumio-org state` alone: the help, as before
            typer.echo(exc.format_message())
            return 1
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
