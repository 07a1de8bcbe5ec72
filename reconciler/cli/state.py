"""``clumio-org state``: show, list, pull, push and unlock the state the config's ``state:`` block points at."""

from __future__ import annotations

import enum
import json
from pathlib import Path

import typer

from reconciler.cli.common import ConfigOption, load_config
from reconciler.state import StateBackend, open_backend, state_to_text


class OutputFormat(enum.StrEnum):
    text = "text"
    json = "json"


FormatOption = typer.Option(OutputFormat.text, "--format", "-f", help="Output format.")


def _backend(config: Path | None) -> StateBackend:
    return open_backend(load_config(config))


def register(app: typer.Typer) -> None:
    state_app = typer.Typer(name="state", help="Inspect and manage the state (where it lives, lock, backups).",
                            no_args_is_help=True)
    app.add_typer(state_app, name="state")
    _register_reads(state_app)
    _register_writes(state_app)


def _register_reads(state_app: typer.Typer) -> None:
    @state_app.command("show")
    def show(config: Path | None = ConfigOption, output: OutputFormat = FormatOption) -> None:
        """Summary: StackSets, instances by status, last apply, lineage, serial, lock, where the state lives.

        Refuses (exit 1) a state whose lineage is not the one the managed StackSet carries."""
        from reconciler.render.state_text import render_state_show
        from reconciler.usecases.state import show_data

        desired = load_config(config)
        data = show_data(desired, open_backend(desired))
        text = json.dumps(data, indent=2, sort_keys=True) if output is OutputFormat.json else render_state_show(data)
        typer.echo(text)

    @state_app.command("list")
    def list_(
        config: Path | None = ConfigOption,
        output: OutputFormat = FormatOption,
        status: list[str] = typer.Option([], "--status", help="Only rows with this status (repeatable)."),
        account: list[str] = typer.Option([], "--account", help="Only rows of this account (repeatable)."),
    ) -> None:
        """One row per (StackSet, account, region) with its last known status."""
        from reconciler.render.state_text import render_state_list
        from reconciler.usecases.state import list_rows, require_state

        rows = [row for row in list_rows(require_state(_backend(config)))
                if (not status or row["status"] in status) and (not account or row["account"] in account)]
        text = json.dumps(rows, indent=2, sort_keys=True) if output is OutputFormat.json else render_state_list(rows)
        typer.echo(text)

    @state_app.command("pull")
    def pull(config: Path | None = ConfigOption) -> None:
        """Print the state as JSON on stdout (current format; e.g. `state pull > backup.json`)."""
        from reconciler.usecases.state import require_state

        typer.echo(state_to_text(require_state(_backend(config))), nl=False)



def _register_writes(state_app: typer.Typer) -> None:
    @state_app.command("push")
    def push(
        file: Path = typer.Argument(..., help="A state JSON file (as `state pull` prints it)."),
        config: Path | None = ConfigOption,
        force: bool = typer.Option(False, "--force", help="Overwrite even another lineage or a newer serial."),
    ) -> None:
        """Replace the stored state with FILE, under the lock; refuses a lineage change or a stale serial."""
        from reconciler.usecases.state import check_push, read_push_file

        pushed = read_push_file(file)
        backend = _backend(config)
        with backend.lock(f"clumio-org state push {file.name}"):
            if not force:  # forced, the stored state is not even read: that is how a corrupt one is replaced
                check_push(pushed, backend.read(), backend.describe())
            stored = backend.write(pushed, force=True)
        typer.echo(f"pushed {file} to {backend.describe()} (serial {stored.serial}, lineage {stored.lineage})")

    @state_app.command("unlock")
    def unlock(
        lock_id: str = typer.Argument(..., metavar="LOCK_ID", help="The id the lock error printed."),
        config: Path | None = ConfigOption,
    ) -> None:
        """Release a lock left by a run that died. Make sure that run is really gone first."""
        backend = _backend(config)
        holder = backend.unlock(lock_id)
        typer.echo(f"released lock {holder.id} at {backend.describe()} (held by {holder.describe()})")
