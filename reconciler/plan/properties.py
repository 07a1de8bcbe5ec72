"""StackSet properties, live against desired: the rows a plan shows under a StackSet change (secrets by name and
fingerprint only), and whether they make every instance update."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.core.live import LiveStackSet, PermissionModel
from reconciler.core.plan import PropertyChange, StackSetDefinition
from reconciler.core.recorded import Recorded
from reconciler.core.template import SECRET_PARAMETERS

SENSITIVE = "(sensitive)"
_ABSENT = object()  # a property one side does not have


def _template_label(version: str | None, sha: str) -> str:
    return f"{version or 'unknown version'} (sha256:{sha[:12]})"


def _flat_live(ss: LiveStackSet, d: StackSetDefinition) -> dict[str, Any]:
    flat: dict[str, Any] = {
        "description": ss.description,
        "template": _template_label(ss.template_version, ss.template_sha256),
        "capabilities": ", ".join(sorted(ss.capabilities)),
        "tags": ", ".join(f"{k}={v}" for k, v in sorted(ss.tags)),
        "managed_execution": ss.managed_execution,
    }
    if d.permission_model is PermissionModel.SERVICE_MANAGED:
        # None means the API did not say (an emulator gap): nothing to compare.
        flat["auto_deployment"] = ss.auto_deployment if ss.auto_deployment is not None else d.auto_deployment
        flat["retain_stacks_on_account_removal"] = (ss.retain_stacks_on_account_removal
                                                    if ss.retain_stacks_on_account_removal is not None
                                                    else d.retain_stacks_on_account_removal)
    else:
        flat["execution_role_name"] = ss.execution_role_name or d.execution_role_name
    for key, value in ss.parameters.items():
        if key not in SECRET_PARAMETERS:
            flat[f"parameters.{key}"] = value
    return flat


def _flat_desired(d: StackSetDefinition) -> dict[str, Any]:
    flat: dict[str, Any] = {
        "description": d.description,
        "template": _template_label(d.template_version, d.template_sha256),
        "capabilities": ", ".join(d.capabilities),
        "tags": ", ".join(f"{k}={v}" for k, v in d.tags),
        "managed_execution": d.managed_execution,
    }
    if d.permission_model is PermissionModel.SERVICE_MANAGED:
        flat["auto_deployment"] = d.auto_deployment
        flat["retain_stacks_on_account_removal"] = d.retain_stacks_on_account_removal
    else:
        flat["execution_role_name"] = d.execution_role_name
    flat.update({f"parameters.{k}": v for k, v in d.parameters})
    return flat


def _as_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def property_changes(ss: LiveStackSet, d: StackSetDefinition, *, state: Recorded | None,
                     secret_fingerprints: Mapping[str, str] | None) -> tuple[PropertyChange, ...]:
    """The StackSet properties that differ (a flat view of scalars on each side: a name on one side only differs
    too), secrets by fingerprint and name only."""
    before, after = _flat_live(ss, d), _flat_desired(d)
    if d.template_sha256 == ss.template_sha256:
        after["template"] = before["template"]
    changed = [name for name in before.keys() | after.keys() if before.get(name, _ABSENT) != after.get(name, _ABSENT)]
    rows = [PropertyChange(str(name), _as_text(before.get(name)), _as_text(after.get(name)))
            for name in changed]
    record = state.stack_sets.get(d.name) if state is not None else None
    for name in SECRET_PARAMETERS:
        if name not in ss.parameters:
            rows.append(PropertyChange(f"parameters.{name}", None, SENSITIVE))
        elif record is not None and secret_fingerprints is not None:
            old, new = record.secret_fingerprints.get(name), secret_fingerprints.get(name)
            if old is not None and new is not None and old != new:
                rows.append(PropertyChange(f"parameters.{name}", SENSITIVE, SENSITIVE))
    return tuple(sorted(rows, key=lambda r: r.name))


def push_reason_of(props: tuple[PropertyChange, ...]) -> str | None:
    """Why every instance must be updated (template, parameters), or None when only StackSet settings change."""
    names = [p.name for p in props]
    parts: list[str] = []
    template = next((p for p in props if p.name == "template"), None)
    if template is not None:
        before, after = (template.before or "").split(" ")[0], (template.after or "").split(" ")[0]
        parts.append(f"template {before} → {after}" if before != after else f"template {after} content changed")
    params = [n.removeprefix("parameters.") for n in names if n.startswith("parameters.")]
    if params:
        parts.append("parameters " + ", ".join(params))
    return "; ".join(parts) or None
