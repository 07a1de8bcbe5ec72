"""The plan file: a Plan as versioned JSON (schemas/plan.schema.json), written atomically and read back exactly."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from reconciler.core.desired import Amount, ConcurrencyMode, RegionConcurrencyType
from reconciler.core.errors import ReconcilerError
from reconciler.core.keys import InstanceKey
from reconciler.core.live import PermissionModel
from reconciler.core.plan import (
    PLAN_FORMAT_VERSION,
    AccountFilterType,
    Action,
    Change,
    DeploymentTargets,
    Operation,
    OperationKind,
    OperationPreferences,
    Plan,
    PropertyChange,
    Skip,
    StackSetChange,
    StackSetDefinition,
    WavePlan,
)
from reconciler.plan.coverage import coverage_from_json, coverage_to_json
from reconciler.plan.guardrails.report import report_from_json, report_to_json
from reconciler.plan.targets import targets_from_json, targets_to_json


class PlanFileError(ReconcilerError):
    """A plan file that cannot be read: missing, not JSON, another format version, malformed, or edited."""


# Fields of the plan file its id does not cover: the id itself, when and from which path the plan was made. Every
# other byte is part of the contract (operation ids are left out too: they are derived from the plan id).
# ``overview`` (what `plan --format json` leads with) is derived from the rest and never read back.
_UNSEALED = ("plan_id", "created_at", "config_path", "overview")
PLAN_ID_LENGTH = 16


def contract_id(data: dict[str, Any]) -> str:
    """The plan id: 16 hex of SHA-256 over the plan file's whole content (canonical JSON) except its id, its time,
    its config path and the operation ids derived from the id. The same world, config and state give the same id
    (so a re-run finds its operations by their ids); an edit of anything apply would act on gives another."""
    sealed: dict[str, Any] = {k: v for k, v in data.items() if k not in _UNSEALED}
    operations = sealed.get("operations")
    if isinstance(operations, list):
        sealed["operations"] = [{k: v for k, v in o.items() if k != "operation_id"} if isinstance(o, dict) else o
                                for o in operations]
    text = json.dumps(sealed, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)
    return hashlib.sha256(text.encode()).hexdigest()[:PLAN_ID_LENGTH]


def operation_id(plan_id: str, index: int) -> str:
    """``clumio-org-<plan id>-<index:03d>``: AWS finds a re-sent operation by it (OperationIdAlreadyExists)."""
    return f"clumio-org-{plan_id}-{index:03d}"


def _definition(d: StackSetDefinition) -> dict[str, Any]:
    return {
        "name": d.name, "permission_model": d.permission_model.value, "description": d.description,
        "template_version": d.template_version, "template_sha256": d.template_sha256,
        "parameters": dict(d.parameters), "capabilities": list(d.capabilities), "tags": dict(d.tags),
        "auto_deployment": d.auto_deployment, "retain_stacks_on_account_removal": d.retain_stacks_on_account_removal,
        "managed_execution": d.managed_execution, "administration_role_arn": d.administration_role_arn,
        "execution_role_name": d.execution_role_name,
    }


def _preferences(p: OperationPreferences | None) -> dict[str, Any] | None:
    if p is None:
        return None
    return {
        "region_concurrency_type": p.region_concurrency_type.value, "region_order": list(p.region_order),
        "max_concurrent_count": p.max_concurrent_count, "max_concurrent_percentage": p.max_concurrent_percentage,
        "failure_tolerance_count": p.failure_tolerance_count,
        "failure_tolerance_percentage": p.failure_tolerance_percentage,
        "concurrency_mode": p.concurrency_mode.value,
    }


def _targets(t: DeploymentTargets | None) -> dict[str, Any] | None:
    if t is None:
        return None
    return {"organizational_unit_ids": list(t.organizational_unit_ids), "accounts": list(t.accounts),
            "account_filter_type": t.account_filter_type.value if t.account_filter_type else None}


def _operation(op: Operation) -> dict[str, Any]:
    return {
        "index": op.index, "operation_id": op.operation_id, "kind": op.kind.value, "stack_set": op.stack_set,
        "wave": op.wave, "regions": list(op.regions), "targets": _targets(op.targets), "accounts": list(op.accounts),
        "preferences": _preferences(op.preferences),
        "instances": [[k.account, k.region] for k in op.instances],
        "retain_stacks": op.retain_stacks, "estimate_seconds": op.estimate_seconds, "note": op.note,
    }


def _change(c: Change) -> dict[str, Any]:
    return {"stack_set": c.key.stack_set, "account": c.key.account, "region": c.key.region,
            "action": c.action.value, "reason": c.reason, "wave": c.wave, "ou_path": c.ou_path}


def plan_to_json(plan: Plan, *, rows: bool = True) -> dict[str, Any]:
    """The plan as a JSON-ready dict (schemas/plan.schema.json). Holds no secret: a plan never has one. With
    ``rows=False`` the long lists (changes, operations) are left empty, for the streamed writer to fill."""
    return {
        "format_version": plan.format_version,
        "plan_id": plan.plan_id,
        "created_at": plan.created_at,
        "config_path": plan.config_path,
        "desired_digest": plan.desired_digest,
        "live_fingerprint": plan.live_fingerprint,
        "state_serial": plan.state_serial,
        "state_lineage": plan.state_lineage,
        "summary": plan.summary(),
        "estimate_seconds": plan.estimate_seconds,
        "stack_set_changes": [
            {"stack_set": s.stack_set, "action": s.action.value, "definition": _definition(s.definition),
             "properties": [{"name": p.name, "before": p.before, "after": p.after} for p in s.properties]}
            for s in plan.stack_set_changes
        ],
        "changes": [_change(c) for c in plan.changes] if rows else [],
        "skipped": [{"account": s.account, "reason": s.reason, "stack_set": s.stack_set} for s in plan.skipped],
        "waves": [
            {"index": w.index, "name": w.name, "accounts": list(w.accounts), "max_concurrent": str(w.max_concurrent),
             "failure_tolerance": str(w.failure_tolerance), "concurrency_mode": w.concurrency_mode.value,
             "effective_concurrency": w.effective_concurrency, "estimate_seconds": w.estimate_seconds,
             "note": w.note}
            for w in plan.waves
        ],
        "operations": [_operation(op) for op in plan.operations] if rows else [],
        "warnings": list(plan.warnings),
        "targets": targets_to_json(plan.targets),
        "extra": {k: v for k, v in plan.extra},
        **coverage_to_json(plan.coverage, plan.coverage_counts),
        "guardrails": report_to_json(plan.guardrails),
    }


def _definition_from(d: dict[str, Any]) -> StackSetDefinition:
    return StackSetDefinition(
        name=d["name"], permission_model=PermissionModel(d["permission_model"]), description=d["description"],
        template_version=d["template_version"], template_sha256=d["template_sha256"],
        parameters=tuple(sorted(d["parameters"].items())), capabilities=tuple(d["capabilities"]),
        tags=tuple(sorted(d["tags"].items())), auto_deployment=d["auto_deployment"],
        retain_stacks_on_account_removal=d["retain_stacks_on_account_removal"],
        managed_execution=d["managed_execution"], administration_role_arn=d.get("administration_role_arn"),
        execution_role_name=d.get("execution_role_name"),
    )


def _operation_from(o: dict[str, Any]) -> Operation:
    t, p = o["targets"], o["preferences"]
    return Operation(
        index=o["index"], operation_id=o["operation_id"], kind=OperationKind(o["kind"]), stack_set=o["stack_set"],
        wave=o["wave"], regions=tuple(o["regions"]),
        targets=None if t is None else DeploymentTargets(
            tuple(t["organizational_unit_ids"]), tuple(t["accounts"]),
            AccountFilterType(t["account_filter_type"]) if t["account_filter_type"] else None),
        accounts=tuple(o["accounts"]),
        preferences=None if p is None else OperationPreferences(
            region_concurrency_type=RegionConcurrencyType(p["region_concurrency_type"]),
            region_order=tuple(p["region_order"]), max_concurrent_count=p["max_concurrent_count"],
            max_concurrent_percentage=p["max_concurrent_percentage"],
            failure_tolerance_count=p["failure_tolerance_count"],
            failure_tolerance_percentage=p["failure_tolerance_percentage"],
            concurrency_mode=ConcurrencyMode(p["concurrency_mode"])),
        instances=tuple(InstanceKey(o["stack_set"], a, r) for a, r in o["instances"]),
        retain_stacks=o["retain_stacks"], estimate_seconds=float(o["estimate_seconds"]), note=o["note"],
    )


def plan_from_json(data: dict[str, Any], source: str = "plan") -> Plan:
    """A Plan from its JSON form; refuses another format version with a clear error."""
    version = data.get("format_version") if isinstance(data, dict) else None
    if version != PLAN_FORMAT_VERSION:
        raise PlanFileError(
            f"{source} has plan format_version {version!r}; this clumio-org reads format_version {PLAN_FORMAT_VERSION}",
            hint="make the plan again with this version of clumio-org (`clumio-org plan --out PLANFILE`)",
        )
    try:
        return Plan(
            plan_id=data["plan_id"], created_at=data["created_at"], config_path=data["config_path"],
            desired_digest=data["desired_digest"], live_fingerprint=data["live_fingerprint"],
            state_serial=data["state_serial"], state_lineage=data["state_lineage"],
            stack_set_changes=tuple(
                StackSetChange(s["stack_set"], Action(s["action"]), _definition_from(s["definition"]),
                               tuple(PropertyChange(p["name"], p["before"], p["after"]) for p in s["properties"]))
                for s in data["stack_set_changes"]),
            changes=tuple(
                Change(InstanceKey(c["stack_set"], c["account"], c["region"]), Action(c["action"]), c["reason"],
                       c["wave"], c.get("ou_path"))
                for c in data["changes"]),
            skipped=tuple(Skip(s["account"], s["reason"], s.get("stack_set")) for s in data["skipped"]),
            waves=tuple(
                WavePlan(w["index"], w["name"], tuple(w["accounts"]), Amount.parse(w["max_concurrent"]),
                         Amount.parse(w["failure_tolerance"]),
                         ConcurrencyMode(w["concurrency_mode"]), w["effective_concurrency"],
                         float(w["estimate_seconds"]), w["note"])
                for w in data["waves"]),
            operations=tuple(_operation_from(o) for o in data["operations"]),
            estimate_seconds=float(data["estimate_seconds"]),
            warnings=tuple(data.get("warnings", ())),
            format_version=version,
            extra=tuple(sorted(data.get("extra", {}).items())),
            coverage=coverage_from_json(data)[0],
            coverage_counts=coverage_from_json(data)[1],
            targets=targets_from_json(data.get("targets")),
            guardrails=report_from_json(data.get("guardrails")),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise PlanFileError(f"{source} is not a valid clumio-org plan ({type(exc).__name__}: {exc})",
                            hint="make the plan again with `clumio-org plan --out PLANFILE`") from exc


# The long lists of a plan: written item by item, one item a line, so the file is streamed (no second copy of the
# plan as one string) with the C encoder (``json.dump(indent=...)`` runs the pure-Python one: ~2 s at 34,000 rows).
_ROWS: dict[str, Callable[[Any], dict[str, Any]]] = {"changes": _change, "operations": _operation}


def stream_plan(plan: Plan, fh: Any) -> None:
    """Write the plan file's JSON to the text sink ``fh`` (reconciler.files.planfile opens the file): every key of
    :func:`plan_to_json`, in its order; the rows of the long lists one a line."""
    head = plan_to_json(plan, rows=False)
    sources: dict[str, Any] = {"changes": plan.changes, "operations": plan.operations}
    fh.write("{")
    for n, (key, value) in enumerate(head.items()):
        fh.write(f"{',' if n else ''}\n {json.dumps(key)}: ")
        if key in _ROWS:
            encode = _ROWS[key]
            fh.write("[")
            for i, item in enumerate(sources[key]):
                fh.write(("," if i else "") + "\n  " + json.dumps(encode(item), ensure_ascii=False))
            fh.write("\n ]" if sources[key] else "]")
        else:
            fh.write(json.dumps(value, ensure_ascii=False))
    fh.write("\n}\n")


def plan_from_bytes(raw: bytes, source: str) -> Plan:
    """The plan in a plan file's bytes (``source`` names it in messages), refusing one whose content no longer
    matches its plan id (an edited id, or an edit of anything the id covers)."""
    again = "make the plan again with `clumio-org plan --out PLANFILE`"
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PlanFileError(f"{source} is not a clumio-org plan: byte {exc.start} is not UTF-8 text "
                            "(a binary file?)", hint=again) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PlanFileError(f"{source} is not JSON (line {exc.lineno}: {exc.msg})", hint=again) from exc
    except RecursionError:
        raise PlanFileError(f"{source} is not a clumio-org plan (JSON nested too deeply)",
                            hint=again) from None
    plan = plan_from_json(data, source)
    check_sealed(data, source)
    return plan


def check_sealed(data: dict[str, Any], source: str) -> None:
    """Refuse a plan whose content does not hash to its plan id, or whose operation ids are not derived from it."""
    try:
        expected = contract_id(data)
    except (TypeError, ValueError) as exc:
        raise PlanFileError(f"{source} is not a valid clumio-org plan ({exc})",
                            hint="make the plan again with `clumio-org plan --out PLANFILE`") from None
    plan_id = data.get("plan_id")
    ids = [(o.get("index"), o.get("operation_id")) for o in data.get("operations", [])]
    if plan_id != expected or any(op_id != operation_id(expected, i) for i, op_id in ids):
        raise PlanFileError(
            f"{source} was edited after `clumio-org plan` wrote it: its content does not match its plan id "
            f"{plan_id!s:.40}", hint="apply only the file plan wrote; make a new plan (`clumio-org plan --out "
                                  "PLANFILE`) and have it reviewed")
