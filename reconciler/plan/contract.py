"""A saved plan against the plan the same config and the live world give now: the first difference, in the plan
file's own field names, so ``apply PLANFILE`` can say exactly what it refuses."""

from __future__ import annotations

from typing import Any

from reconciler.core.plan import Plan
from reconciler.plan.planfile import plan_to_json

# What apply acts on, in the order a difference is looked for: the StackSet definitions (template version and
# hash, parameters…), then every operation field, then the instance rows, skips and waves the run reports.
_OPERATION_FIELDS = ("kind", "stack_set", "wave", "regions", "targets", "accounts", "preferences", "instances",
                     "retain_stacks")
_SHOWN = 120


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _SHOWN else text[:_SHOWN - 1] + "…"


def _first(path: str, saved: Any, fresh: Any) -> tuple[str, Any, Any] | None:
    """The first (field path, saved value, fresh value) where two JSON values differ, depth first."""
    if isinstance(saved, dict) and isinstance(fresh, dict):
        for key in sorted(set(saved) | set(fresh)):
            found = _first(f"{path}.{key}" if path else key, saved.get(key), fresh.get(key))
            if found:
                return found
        return None
    if saved != fresh:
        return path, saved, fresh
    return None


def _operation_name(op: dict[str, Any]) -> str:
    wave = f", wave {op['wave']}" if op.get("wave") else ""
    return f"operation {op.get('index')} ({op.get('kind')} on {op.get('stack_set')}{wave})"


def _definitions(saved: dict[str, Any], fresh: dict[str, Any]) -> str | None:
    before = {s["stack_set"]: s for s in saved["stack_set_changes"]}
    after = {s["stack_set"]: s for s in fresh["stack_set_changes"]}
    for name in sorted(set(before) | set(after)):
        if name not in after:
            return f"the plan file changes StackSet {name}, but now nothing about it needs to change"
        if name not in before:
            props = ", ".join(p["name"] for p in after[name]["properties"]) or after[name]["action"]
            return f"StackSet {name} now needs a change the plan file does not have ({props})"
        found = _first("", before[name], after[name])
        if found:
            field, was, now = found
            return f"StackSet {name}: {field} is {_short(was)} in the plan file, but {_short(now)} now"
    return None


def _operations(saved: dict[str, Any], fresh: dict[str, Any]) -> str | None:
    before, after = saved["operations"], fresh["operations"]
    for was, now in zip(before, after, strict=False):
        for field in _OPERATION_FIELDS:
            found = _first(field, was.get(field), now.get(field))
            if found:
                path, a, b = found
                return f"{_operation_name(was)}: {path} is {_short(a)} in the plan file, but {_short(b)} now"
    if len(before) > len(after):
        return f"the plan file has {len(before)} operations, but only {len(after)} are needed now " \
               f"(first extra: {_operation_name(before[len(after)])})"
    if len(after) > len(before):
        return f"the plan file has {len(before)} operations, but {len(after)} are needed now " \
               f"(first missing: {_operation_name(after[len(before)])})"
    return None


def _rows(saved: dict[str, Any], fresh: dict[str, Any]) -> str | None:
    for section in ("changes", "skipped", "waves"):
        for i, (was, now) in enumerate(zip(saved[section], fresh[section], strict=False)):
            found = _first("", was, now)
            if found:
                field, a, b = found
                return f"{section}[{i}].{field} is {_short(a)} in the plan file, but {_short(b)} now"
        if len(saved[section]) != len(fresh[section]):
            return f"the plan file lists {len(saved[section])} {section}, but there are {len(fresh[section])} now"
    return None


def first_difference(saved: Plan, fresh: Plan) -> str | None:
    """None when ``saved`` is exactly what ``fresh`` (made now from the same config, world and state) says to do;
    otherwise the first difference, naming the StackSet or operation and the field, with both values."""
    if saved.plan_id == fresh.plan_id:
        return None  # the id covers the whole content: equal ids, equal plans
    a, b = plan_to_json(saved), plan_to_json(fresh)
    return _definitions(a, b) or _operations(a, b) or _rows(a, b) or _first_of_rest(a, b)


def _first_of_rest(saved: dict[str, Any], fresh: dict[str, Any]) -> str | None:
    skip = {"plan_id", "created_at", "config_path", "operations", "stack_set_changes", "changes", "skipped", "waves"}
    found = _first("", {k: v for k, v in saved.items() if k not in skip},
                   {k: v for k, v in fresh.items() if k not in skip})
    if found:
        field, was, now = found
        return f"{field} is {_short(was)} in the plan file, but {_short(now)} now"
    return None
