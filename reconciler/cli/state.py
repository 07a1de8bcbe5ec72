"""``clumio-org state``: show, list, pull, push and unlock the state the config's ``state:`` block points at."""

from __future__ import annotations

import enum
import json
from pathlib import Path
from typing import Any

import typer

from reconciler.cli.common import ConfigOption, load_config
from reconciler.core.desired import Desired
from reconciler.core.errors import ReconcilerError, StateError
from reconciler.state import (
    FORMAT_VERSION,
    StateBackend,
    format_age,
    open_backend,
    state_from_text,
    state_to_json,
    state_to_text,
)
from reconciler.state.model import State


class OutputFormat(enum.StrEnum):
    text = "text"
    json = "json"


FormatOption = typer.Option(OutputFormat.text, "--format", "-f", help="Output format.")


def _backend(config: Path | None) -> StateBackend:
    return open_backend(load_config(config))


def stack_set_lineage(desired: Desired, state: State | None, backend: StateBackend) -> dict[str, Any]:
    """Whether the managed StackSets' lineage tag names this state: one DescribeStackSet each, with few retries, so
    ``state show`` stays usable without AWS (then it says the link was not checked). A state of another lineage
    than a StackSet's is refused (LineageError), as plan, apply and drift refuse it."""
    from reconciler.state.lineage import check_lineage, stack_set_lineages

    if state is None:
        return {"checked": False, "why": "no state"}
    names = [desired.stack_set.name]
    if desired.management_account.onboard:
        names.append(desired.management_account.stack_set_name)
    try:
        found = _describe_stack_sets(desired, names)
    except ReconcilerError as exc:
        return {"checked": False, "why": exc.message}
    check_lineage(found, state, backend.describe(), command="apply")
    return {"checked": True, "stack_sets": stack_set_lineages(found)}


def _describe_stack_sets(desired: Desired, names: list[str]) -> dict[str, Any]:
    from botocore.config import Config

    from reconciler.core.desired import CallAs
    from reconciler.providers.aws.session import CLIENT_CONFIG, make_session
    from reconciler.providers.aws.stacksets import AwsStackSets

    quick = CLIENT_CONFIG.merge(Config(retries={"mode": "standard", "max_attempts": 2}, connect_timeout=5,
                                       read_timeout=20))
    org = desired.organization
    session = make_session(org.home_region, org.assume_role_arn)
    cfn = session.client("cloudformation", region_name=org.home_region, config=quick)
    found: dict[str, Any] = {}
    for name in names:
        call_as = org.call_as if name == desired.stack_set.name else CallAs.SELF
        found[name] = AwsStackSets(cfn, call_as).describe_stack_set(name)
    return found


def _require(backend: StateBackend) -> State:
    state = backend.read()
    if state is None:
        raise StateError(f"there is no state at {backend.describe()} yet",
                         hint="`clumio-org apply` creates it; or `clumio-org state push FILE` to restore one")
    return state


def summary(state: State | None, backend: StateBackend) -> dict[str, Any]:
    """What ``state show`` reports, as data (the JSON output and the text are both made from it)."""
    lock = backend.current_lock()
    data: dict[str, Any] = {
        "location": backend.describe(),
        "exists": state is not None,
        "lock": None if lock is None else {
            "id": lock.id, "who": lock.who, "pid": lock.pid, "operation": lock.operation, "where": lock.where,
            "created_at": lock.created_at, "age_seconds": int(lock.age_seconds()),
            "holder_is_dead": lock.holder_is_dead(),
        },
    }
    if state is None:
        return data
    data.update({
        "lineage": state.lineage,
        "serial": state.serial,
        "format_version": state.format_version,
        "stack_sets": {
            name: {"template_version": r.template_version, "template_sha256": r.template_sha256,
                   "permission_model": r.permission_model, "updated_at": r.updated_at,
                   "instances": sum(1 for key in state.instances if key.stack_set == name)}
            for name, r in sorted(state.stack_sets.items())
        },
        "instances": {"total": len(state.instances), "by_status": state.instance_counts()},
        "last_apply": state.last_apply,
        "unfinished_operations": [
            {"operation_id": e.operation_id, "status": e.status.value, "kind": e.kind, "wave": e.wave}
            for e in state.unfinished_operations()
        ],
    })
    return data


def _show_text(data: dict[str, Any]) -> str:
    lines = [f"State:      {data['location']}"]
    if not data["exists"]:
        lines.append("            (none yet: nothing has been applied)")
    else:
        stored_in = f"format {data['format_version']}"
        if data["format_version"] != FORMAT_VERSION:
            stored_in += f"; the next write upgrades it to format {FORMAT_VERSION}"
        lines += [f"Lineage:    {data['lineage']}", f"Serial:     {data['serial']} ({stored_in})"]
        lines.append("StackSets:" + ("" if data["stack_sets"] else "  (none recorded)"))
        for name, r in data["stack_sets"].items():
            lines.append(f"  {name}: template {r['template_version']} (sha256 {r['template_sha256'][:12]}), "
                         f"{r['permission_model']}, {r['instances']} instances, updated {r['updated_at'] or '?'}")
        by_status = ", ".join(f"{status} {count}" for status, count in data["instances"]["by_status"].items())
        lines.append(f"Instances:  {data['instances']['total']}" + (f" ({by_status})" if by_status else ""))
        last = data["last_apply"]
        if last:
            lines.append(f"Last apply: plan {last.get('plan_id') or '?'}, {last.get('outcome') or '?'}, "
                         f"started {last.get('started_at') or '?'}, finished {last.get('finished_at') or '-'}")
        else:
            lines.append("Last apply: never")
        for op in data["unfinished_operations"]:
            lines.append(f"Unfinished: {op['operation_id']} {op['kind']} ({op['status']}): "
                         "the next apply follows it instead of submitting it again")
    link = data.get("stack_set_link") or {}
    if data["exists"]:
        if link.get("checked"):
            tagged = link.get("stack_sets") or {}
            lines.append("Link:       " + (", ".join(f"StackSet {n} carries this lineage" for n in tagged)
                                           or "no managed StackSet carries a lineage yet (the next apply tags it)"))
        else:
            lines.append(f"Link:       not checked against the StackSet ({link.get('why', '?')})")
    lock = data["lock"]
    if lock is None:
        lines.append("Lock:       free")
    else:
        dead = ", process no longer running" if lock["holder_is_dead"] else ""
        where = f", CI run {lock['where']}" if lock["where"] else ""
        lines.append(f"Lock:       held by {lock['who']} (pid {lock['pid']}{dead}) for `{lock['operation']}` "
                     f"since {lock['created_at']} ({format_age(lock['age_seconds'])} ago){where}; id {lock['id']}")
    return "\n".join(lines)


def _list_rows(state: State) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = state_to_json(state)["instances"]
    return rows


def _list_text(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "no stack instances recorded"
    header = ("STACK SET", "ACCOUNT", "REGION", "STATUS", "CONNECTED", "LAST OPERATION", "UPDATED")
    table = [header] + [
        (r["stack_set"], r["account"], r["region"], r["status"],
         {True: "yes", False: "no", None: "-"}[r["connected"]], r["last_operation_id"] or "-", r["updated_at"] or "-")
        for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in table)


def _read_push_file(path: Path) -> State:
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise ReconcilerError(f"cannot read {path}: {exc.strerror}") from None
    return state_from_text(text, source=str(path))


def _check_push(pushed: State, current: State | None, where: str) -> None:
    if current is None:
        return
    if pushed.lineage != current.lineage:
        raise StateError(f"refusing to push: {where} has lineage {current.lineage}, the file has {pushed.lineage}",
                         hint="it is another deployment's state; pass --force only if you mean to replace it")
    if pushed.serial <= current.serial:
        raise StateError(f"refusing to push: the file's serial {pushed.serial} is not newer than the stored "
                         f"serial {current.serial} at {where}",
                         hint="`state pull` the latest and re-apply your edit (set a higher serial), "
                              "or pass --force to overwrite")


def register(app: typer.Typer) -> None:
    state_app = typer.Typer(name="state", help="Inspect and manage the state (where it lives, lock, backups).",
                            no_args_is_help=True)
    app.add_typer(state_app, name="state")

    @state_app.command("show")
    def show(config: Path | None = ConfigOption, output: OutputFormat = FormatOption) -> None:
        """Summary: StackSets, instances by status, last apply, lineage, serial, lock, where the state lives.

        Refuses (exit 1) a state whose lineage is not the one the managed StackSet carries."""
        desired = load_config(config)
        backend = open_backend(desired)
        state = backend.read()
        link = stack_set_lineage(desired, state, backend)
        data = summary(state, backend)
        data["stack_set_link"] = link
        typer.echo(json.dumps(data, indent=2, sort_keys=True) if output is OutputFormat.json else _show_text(data))

    @state_app.command("list")
    def list_(
        config: Path | None = ConfigOption,
        output: OutputFormat = FormatOption,
        status: list[str] = typer.Option([], "--status", help="Only rows with this status (repeatable)."),
        account: list[str] = typer.Option([], "--account", help="Only rows of this account (repeatable)."),
    ) -> None:
        """One row per (StackSet, account, region) with its last known status."""
        rows = [row for row in _list_rows(_require(_backend(config)))
                if (not status or row["status"] in status) and (not account or row["account"] in account)]
        typer.echo(json.dumps(rows, indent=2, sort_keys=True) if output is OutputFormat.json else _list_text(rows))

    @state_app.command("pull")
    def pull(config: Path | None = ConfigOption) -> None:
        """Print the state as JSON on stdout (current format; e.g. `state pull > backup.json`)."""
        typer.echo(state_to_text(_require(_backend(config))), nl=False)

    @state_app.command("push")
    def push(
        file: Path = typer.Argument(..., help="A state JSON file (as `state pull` prints it)."),
        config: Path | None = ConfigOption,
        force: bool = typer.Option(False, "--force", help="Overwrite even another lineage or a newer serial."),
    ) -> None:
        """Replace the stored state with FILE, under the lock; refuses a lineage change or a stale serial."""
        pushed = _read_push_file(file)
        backend = _backend(config)
        with backend.lock(f"clumio-org state push {file.name}"):
            if not force:  # forced, the stored state is not even read: that is how a corrupt one is replaced
                _check_push(pushed, backend.read(), backend.describe())
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
