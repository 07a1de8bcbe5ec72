"""``clumio-org sandbox``: run the embedded AWS + Clumio emulator, point a shell at it, and change its world."""

from __future__ import annotations

import json
import re
import shlex
from typing import Any

import typer

from reconciler.core.errors import ReconcilerError
from reconciler.sandbox import runtime

sandbox_app = typer.Typer(
    name="sandbox",
    help="A local AWS (Organizations, StackSets, STS, S3) and Clumio API to try clumio-org without accounts.",
    no_args_is_help=True,
)

UrlOption = typer.Option(None, "--url", help="Sandbox URL (default: the one recorded by `sandbox start`).",
                         show_default=False)
FormatOption = typer.Option("text", "--format", "-f", help="Output format: text or json.")


def register(app: typer.Typer) -> None:
    app.add_typer(sandbox_app, name="sandbox")


def _check_format(output_format: str) -> str:
    if output_format not in ("text", "json"):
        raise ReconcilerError(f"unknown --format {output_format!r}", hint="use --format text or --format json")
    return output_format


def _export_lines(env: dict[str, str]) -> str:
    return "\n".join(f"export {name}={shlex.quote(value)}" for name, value in sorted(env.items()))


@sandbox_app.command("start")
def start(
    world: str = typer.Option(None, "--world", "-w", help="World file (YAML). Default: the packaged demo world.",
                              show_default=False),
    port: int = typer.Option(runtime.DEFAULT_PORT, "--port", "-p", help="Port to serve on (0 = any free port)."),
    host: str = typer.Option(runtime.DEFAULT_HOST, "--host", help="Address to serve on (keep it on loopback)."),
    time_scale: float = typer.Option(runtime.DEFAULT_TIME_SCALE, "--time-scale",
                                     help="Simulated seconds per real second."),
    detach: bool = typer.Option(False, "--detach", "-d", help="Run in the background and return once it answers."),
) -> None:
    """Serve the sandbox: in the foreground until Ctrl-C, or in the background with --detach."""
    if detach:
        record = runtime.start_detached(world, host, port, time_scale)
        typer.echo(f"sandbox running at {record.aws_url} (pid {record.pid}, time x{record.time_scale:g})")
        typer.echo('point this shell at it with: eval "$(clumio-org sandbox env)"')
        return

    def announce(sandbox: Any) -> None:
        typer.echo(f"sandbox serving AWS at {sandbox.aws_url} and Clumio at {sandbox.clumio_url} "
                   f"(time x{time_scale:g}); Ctrl-C stops it")
        typer.echo(_export_lines(sandbox.env()))

    runtime.serve_foreground(world, host, port, time_scale, announce=announce)


@sandbox_app.command("env")
def env(url: str = UrlOption, output_format: str = FormatOption) -> None:
    """Print the environment (export lines) that points boto3, the AWS CLI and clumio-org at the sandbox."""
    _check_format(output_format)
    values = runtime.call(runtime.resolve_url(url), "GET", "env")
    typer.echo(json.dumps(values, indent=2, sort_keys=True) if output_format == "json" else _export_lines(values))


@sandbox_app.command("status")
def status(url: str = UrlOption, output_format: str = FormatOption) -> None:
    """Show the running sandbox: where it serves, and its world (accounts, StackSets, operations, connections)."""
    _check_format(output_format)
    record = None if url else runtime.running_record()
    base = runtime.resolve_url(url)
    world_status = runtime.call(base, "GET", "status")
    if output_format == "json":
        payload = {"url": base, "world": world_status}
        if record is not None:
            payload.update(pid=record.pid, world_file=record.world, time_scale=record.time_scale,
                           started_at=record.started_at)
        typer.echo(json.dumps(payload, indent=2, sort_keys=True))
        return
    typer.echo(f"sandbox: {base}")
    if record is not None:
        typer.echo(f"pid {record.pid}, world {record.world}, time x{record.time_scale:g}, "
                   f"started {record.started_at}")
    try:
        typer.echo("\n".join(_status_lines(world_status)))
    except (KeyError, TypeError, AttributeError):  # a world status of another shape: show it as it is
        typer.echo(json.dumps(world_status, indent=2, sort_keys=True))


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{name} {count}" for name, count in sorted(counts.items())) or "none"


def _status_lines(world: dict[str, Any]) -> list[str]:
    org = world["organization"]
    lines = [
        f"simulated time: {world['now']}",
        f"organization {org['id']}: {org['accounts']} accounts ({_counts(org['accounts_by_state'])}) in "
        f"{org['ous']} OUs; management account {org['management_account']}",
        f"regions enabled: {len(world['regions'])}",
    ]
    stack_sets = world["stack_sets"]
    lines.append(f"StackSets: {len(stack_sets)}")
    for stack_set in stack_sets:
        running = stack_set.get("running_operation")
        queued = stack_set.get("queued_operations") or 0
        lines.append(f"  {stack_set['name']} ({stack_set['region']}, {stack_set['permission_model']}): "
                     f"{stack_set['instances']} instances — {_counts(stack_set['by_status'])}"
                     + (f"; running {running}" if running else "") + (f", {queued} queued" if queued else ""))
    lines.append(f"Clumio connections: {_counts(world['connections'])}")
    templates = world["clumio_templates"]
    lines.append(f"Clumio templates: {', '.join(templates['versions'])} (current {templates['current']})")
    return lines


@sandbox_app.command("stop")
def stop() -> None:
    """Stop the sandbox recorded by `sandbox start`."""
    record = runtime.stop()
    typer.echo(f"sandbox at {record.aws_url} (pid {record.pid}) stopped")


_ACCOUNT_ID = re.compile(r"\d{12}")


def parse_event_args(pairs: list[str]) -> dict[str, Any]:
    """``KEY=VALUE`` pairs; values that read as JSON (numbers, true/false, lists) are typed, except 12-digit
    account ids, which stay strings."""
    args: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key:
            raise ReconcilerError(f"event argument {pair!r} is not KEY=VALUE",
                                  hint="e.g. clumio-org sandbox event move-account account=111122223333 ou=/Sandbox")
        value: Any = text
        if not _ACCOUNT_ID.fullmatch(text):
            try:
                value = json.loads(text)
            except ValueError:
                value = text
        args[key.replace("-", "_")] = value
    return args


def _send_event(name: str, args: dict[str, Any], url: str | None) -> None:
    result = runtime.call(runtime.resolve_url(url), "POST", f"events/{name}", {k: v for k, v in args.items()
                                                                              if v is not None})
    typer.echo(json.dumps(result, indent=2, sort_keys=True, default=str))


@sandbox_app.command("event")
def event(
    name: str = typer.Argument(..., help="move-account, add-account, suspend-account, close-account, drift-stack, "
                                         "release-template, unlink-connection, delete-stack, fail-account, "
                                         "heal-account, set-faults"),
    args: list[str] = typer.Argument(None, help="KEY=VALUE arguments of the event.", show_default=False),
    url: str = UrlOption,
) -> None:
    """Change the sandbox's world, e.g. `sandbox event move-account account=111122223333 ou=/Workloads/Prod`."""
    _send_event(name, parse_event_args(args or []), url)


@sandbox_app.command("advance")
def advance(seconds: float = typer.Argument(..., help="Simulated seconds to skip."), url: str = UrlOption) -> None:
    """Skip simulated time forward (operations and connections progress as if that time had passed)."""
    result = runtime.call(runtime.resolve_url(url), "POST", "clock/advance", {"seconds": seconds})
    typer.echo(f"sandbox time is now {result['now']}")


@sandbox_app.command("move-account")
def move_account(account: str, ou: str = typer.Argument(..., help="OU id or path like /Workloads/Prod."),
                 url: str = UrlOption) -> None:
    """Move an account to another OU (auto-deployment follows)."""
    _send_event("move-account", {"account": account, "ou": ou}, url)


@sandbox_app.command("add-account")
def add_account(name: str, ou: str = typer.Argument(..., help="OU id or path."),
                account_id: str = typer.Option(None, "--id", help="12-digit id (default: generated)."),
                url: str = UrlOption) -> None:
    """Add a new account to an OU."""
    _send_event("add-account", {"name": name, "ou": ou, "id": account_id}, url)


@sandbox_app.command("suspend-account")
def suspend_account(account: str, url: str = UrlOption) -> None:
    """Suspend an account (its instances become OUTDATED / SKIPPED_SUSPENDED_ACCOUNT on the next operation)."""
    _send_event("suspend-account", {"account": account}, url)


@sandbox_app.command("drift-stack")
def drift_stack(account: str, region: str,
                stack_set: str = typer.Option(None, "--stack-set", help="StackSet name (default: the only one)."),
                resource: str = typer.Option(None, "--resource", help="Logical id of the drifted resource."),
                url: str = UrlOption) -> None:
    """Change a stack instance's resource out of band, so drift detection finds it."""
    _send_event("drift-stack", {"account": account, "region": region, "stack_set": stack_set,
                                "resource": resource}, url)


@sandbox_app.command("release-template")
def release_template(version: str, url: str = UrlOption) -> None:
    """Publish a new Clumio template version and make it current."""
    _send_event("release-template", {"version": version}, url)


@sandbox_app.command("delete-stack")
def delete_stack(account: str, region: str,
                 stack_name: str = typer.Argument("ClumioService", help="The stack made outside any StackSet."),
                 url: str = UrlOption) -> None:
    """Delete a stack made outside any StackSet (the portal's ClumioService), as its account's owner would: its
    Clumio connection unlinks unless the StackSet has taken it over (then it only stops being listed as retired)."""
    _send_event("delete-stack", {"account": account, "region": region, "stack_name": stack_name}, url)


@sandbox_app.command("unlink-connection")
def unlink_connection(account: str, region: str, url: str = UrlOption) -> None:
    """Mark a Clumio connection unlinked, as if removed in the Clumio console."""
    _send_event("unlink-connection", {"account": account, "region": region}, url)
