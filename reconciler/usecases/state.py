"""The state use cases: what ``state show`` reports (with the StackSets' lineage link), the rows of ``state list``,
and the checks ``state push`` makes before it writes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reconciler.core.desired import Desired
from reconciler.core.errors import ReconcilerError, StateError
from reconciler.state import StateBackend, state_from_text, state_to_json
from reconciler.state.model import State


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


def require_state(backend: StateBackend) -> State:
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


def list_rows(state: State) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = state_to_json(state)["instances"]
    return rows


def read_push_file(path: Path) -> State:
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise ReconcilerError(f"cannot read {path}: {exc.strerror}") from None
    return state_from_text(text, source=str(path))


def check_push(pushed: State, current: State | None, where: str) -> None:
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


def show_data(desired: Desired, backend: StateBackend) -> dict[str, Any]:
    """``state show``: the summary of the stored state and its link to the managed StackSets (a state of another
    lineage is refused)."""
    state = backend.read()
    link = stack_set_lineage(desired, state, backend)
    data = summary(state, backend)
    data["stack_set_link"] = link
    return data
