"""Diff: the desired StackSets and instances (an Expansion) against what discovery read → StackSet and instance
changes, each with the reason a reviewer needs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from deepdiff import DeepDiff

from reconciler.core.desired import Desired, SuspendedAccounts
from reconciler.core.errors import ReconcilerError
from reconciler.core.keys import InstanceKey
from reconciler.core.live import (
    AccountState,
    ConnectionStatus,
    Live,
    LiveInstance,
    LiveStackSet,
    PermissionModel,
    StackInstanceDetailedStatus,
    StackInstanceStatus,
)
from reconciler.core.plan import Action, Change, PropertyChange, StackSetChange, StackSetDefinition, TargetsPlan
from reconciler.core.ports import ClumioTemplate
from reconciler.core.recorded import Recorded
from reconciler.core.template import SECRET_PARAMETERS
from reconciler.plan.expand import Expansion
from reconciler.plan.targets import (
    Narrowing,
    leak_of,
    left_connections,
    live_ou_list,
    narrowing_for,
    targets_plan,
)

SENSITIVE = "(sensitive)"
_BAD_DETAIL = frozenset({StackInstanceDetailedStatus.FAILED, StackInstanceDetailedStatus.CANCELLED,
                         StackInstanceDetailedStatus.INOPERABLE, StackInstanceDetailedStatus.FAILED_IMPORT})
_GONE_STATES = frozenset({AccountState.SUSPENDED, AccountState.CLOSED, AccountState.PENDING_CLOSURE})
MAX_NOTICES = 20


@dataclass(frozen=True)
class Diff:
    """Everything that differs, before scheduling.

    ``push`` names StackSets whose template or parameters change: every existing instance must be updated, wave by
    wave. ``definition_only`` names StackSets where only StackSet-level properties change (one whole-set update).
    ``retain`` holds removals that must keep their stacks (suspended/closed/departed accounts, INOPERABLE instances).
    ``kept`` holds the instances of SUSPENDED/CLOSED accounts left alone (``targets.suspended_accounts: keep``): AWS
    skips them, so they are information, not a change. ``narrowing`` says how a live OU list wider than the cover
    is narrowed; ``targets`` is the plan's targets section.
    """

    definitions: dict[str, StackSetDefinition]
    stack_set_changes: tuple[StackSetChange, ...]
    changes: tuple[Change, ...]
    retain: frozenset[InstanceKey]
    push: frozenset[str]
    definition_only: frozenset[str]
    notices: tuple[str, ...]
    kept: frozenset[InstanceKey] = frozenset()  # suspended kept, and leaked under an accepted leak
    narrowing: Narrowing = field(default_factory=Narrowing)
    targets: TargetsPlan | None = None


def resolve_template(desired: Desired, live: LiveStackSet | None, template: ClumioTemplate) -> tuple[str, str]:
    """(version, sha256) the StackSet should run, with the pinned ``template_version`` semantics: Clumio serves only
    its latest template, so a pin holds the StackSet where it is, moves it only when the latest is the pin, and is an
    error otherwise."""
    pin = desired.clumio.template_version
    if pin in ("", "latest"):
        return template.version, template.sha256
    if live is not None and live.template_version == pin:
        return pin, live.template_sha256
    if template.version == pin:
        return template.version, template.sha256
    raise ReconcilerError(
        f"pinned version {pin} is not offered by Clumio (latest is {template.version})",
        hint=f"set clumio.template_version to {template.version} or latest to deploy Clumio's current template",
    )


def desired_definitions(desired: Desired, live: Live, template: ClumioTemplate) -> dict[str, StackSetDefinition]:
    """The StackSets the desired state asks for: the service-managed one, plus the self-managed management-account
    one when ``management_account.onboard`` is set."""
    spec = desired.stack_set
    params = tuple(sorted(spec.template_parameters().items()))
    version, sha = resolve_template(desired, live.stack_sets.get(spec.name), template)
    out = {spec.name: StackSetDefinition(
        name=spec.name, permission_model=PermissionModel.SERVICE_MANAGED, description=spec.description,
        template_version=version, template_sha256=sha, parameters=params,
        capabilities=tuple(sorted(spec.capabilities)), tags=tuple(sorted(spec.tags)),
        auto_deployment=spec.auto_deployment, retain_stacks_on_account_removal=spec.retain_stacks_on_account_removal,
        managed_execution=spec.managed_execution,
    )}
    mgmt = desired.management_account
    if mgmt.onboard:
        version, sha = resolve_template(desired, live.stack_sets.get(mgmt.stack_set_name), template)
        account = live.org.management_account
        out[mgmt.stack_set_name] = StackSetDefinition(
            name=mgmt.stack_set_name, permission_model=PermissionModel.SELF_MANAGED,
            description=f"{spec.description} (management account)", template_version=version,
            template_sha256=sha, parameters=params, capabilities=tuple(sorted(spec.capabilities)),
            tags=tuple(sorted(spec.tags)), auto_deployment=None, retain_stacks_on_account_removal=None,
            managed_execution=spec.managed_execution,
            administration_role_arn=f"arn:aws:iam::{account}:role/{mgmt.administration_role_name}",
            execution_role_name=mgmt.execution_role_name,
        )
    return out


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
    """The StackSet properties that differ (deepdiff over a flat view), secrets by fingerprint and name only."""
    before, after = _flat_live(ss, d), _flat_desired(d)
    if d.template_sha256 == ss.template_sha256:
        after["template"] = before["template"]
    changed = DeepDiff(before, after, ignore_order=True).affected_root_keys
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


def _repair_reason(inst: LiveInstance) -> str | None:
    detailed = inst.detailed_status
    if inst.status is StackInstanceStatus.CURRENT and detailed not in _BAD_DETAIL:
        return None
    label = inst.status.value
    if detailed is not None and detailed is not StackInstanceDetailedStatus.SUCCEEDED:
        label += f" ({detailed.value})"
    return f"repair: {label}: {inst.status_reason}" if inst.status_reason else f"repair: {label}"


def _push_reason(props: tuple[PropertyChange, ...]) -> str | None:
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


class _Paths:
    """OU path of an account's parent, cached: 100,000 instances share a few hundred OUs."""

    def __init__(self, live: Live) -> None:
        self.live = live
        self.cache: dict[str, str] = {}

    def of(self, account: str) -> str | None:
        acct = self.live.org.accounts.get(account)
        if acct is None:
            return None
        parent = acct.parent_id
        if parent not in self.cache:
            self.cache[parent] = self.live.org.path_of(parent)
        return self.cache[parent]


def _removal(key: InstanceKey, inst: LiveInstance, live: Live, skip_reasons: Mapping[str, str],
             desired_regions: frozenset[str], paths: _Paths) -> tuple[str, bool]:
    acct = live.org.accounts.get(key.account)
    retain = inst.status is StackInstanceStatus.INOPERABLE
    if acct is None:
        return "account left the organization (RetainStacks: its roles are gone)", True
    if acct.state in _GONE_STATES:
        return (f"account is {acct.state.value} (RetainStacks: the stack cannot be deleted; "
                "targets.suspended_accounts: remove)"), True
    if key.account in skip_reasons:
        reason = skip_reasons[key.account]
    elif key.region not in desired_regions:
        reason = f"region {key.region} is no longer in regions"
    else:
        reason = f"account is no longer targeted (now in {paths.of(key.account)})"
    return (reason + " (RetainStacks: INOPERABLE)", True) if retain else (reason, False)


def diff(desired: Desired, live: Live, expansion: Expansion, template: ClumioTemplate, *,
         state: Recorded | None = None, secret_fingerprints: Mapping[str, str] | None = None) -> Diff:
    """Desired × Live → changes. Pure; O(instances) with dict lookups only, for 100,000 instances."""
    definitions = desired_definitions(desired, live, template)
    wanted: dict[str, Mapping[InstanceKey, str]] = {desired.stack_set.name: expansion.targets}
    if desired.management_account.onboard:
        wanted[desired.management_account.stack_set_name] = expansion.management_keys
    live_by_set: dict[str, list[LiveInstance]] = {name: [] for name in wanted}
    for inst in live.instances.values():
        if inst.key.stack_set in live_by_set:
            live_by_set[inst.key.stack_set].append(inst)

    ss_changes: list[StackSetChange] = []
    changes: list[Change] = []
    retain: set[InstanceKey] = set()
    push: set[str] = set()
    definition_only: set[str] = set()
    notices: list[str] = []
    manual: list[str] = []
    skip_reasons = {s.account: s.reason for s in expansion.skipped}
    paths = _Paths(live)
    desired_regions = frozenset(desired.regions)
    narrowing = narrowing_for(desired, live, expansion.cover, expansion.targets,
                              live_by_set.get(desired.stack_set.name, []))
    keep_gone = desired.targets.suspended_accounts is SuspendedAccounts.KEEP
    kept: set[InstanceKey] = set()
    leaked: set[InstanceKey] = set()
    for name, d in definitions.items():
        ss = live.stack_sets.get(name)
        push_reason: str | None = None
        if ss is None:
            ss_changes.append(StackSetChange(name, Action.ADD, d))
        else:
            if ss.permission_model is not d.permission_model:
                raise ReconcilerError(
                    f"StackSet {name} exists with permission model {ss.permission_model.value}, "
                    f"but clumio-org manages it as {d.permission_model.value}",
                    hint="the permission model cannot change while instances exist: pick another stack_set.name "
                    "or delete the old StackSet",
                )
            props = property_changes(ss, d, state=state, secret_fingerprints=secret_fingerprints)
            if props:
                ss_changes.append(StackSetChange(name, Action.CHANGE, d, props))
                push_reason = _push_reason(props)
                (push if push_reason else definition_only).add(name)
        targets = wanted[name]
        existing = {i.key: i for i in live_by_set[name]}
        live_accounts = {k.account for k in existing}
        for key, wave in targets.items():
            current = existing.get(key)
            if key in narrowing.moved:
                changes.append(Change(key, Action.REMOVE, _MOVE_REASON, None, paths.of(key.account)))
                changes.append(Change(key, Action.ADD, "created again under its cover OU after the StackSet's "
                                      "targets narrow", wave, paths.of(key.account)))
                continue
            if current is None:
                if key.account in live_accounts:
                    reason = f"new region {key.region}"
                else:
                    reason = f"new account in {paths.of(key.account)}"
                changes.append(Change(key, Action.ADD, reason, wave, paths.of(key.account)))
                continue
            if current.status is StackInstanceStatus.INOPERABLE:
                # AWS leaves INOPERABLE instances out of every UpdateStackSet (§A7), so no operation can repair one.
                manual.append(_inoperable_note(current))
                continue
            reasons = [r for r in (push_reason, _repair_reason(current)) if r]
            # A template update explains a connection that still runs the old version: no note then.
            conn = _connection_note(live, key, None if push_reason else d.template_version)
            if reasons:
                if conn:
                    reasons.append(f"Clumio: {conn}")
                changes.append(Change(key, Action.CHANGE, "; ".join(reasons), wave, paths.of(key.account)))
            elif conn:
                notices.append(f"{key.account}/{key.region}: Clumio {conn}")
        for key, gone in existing.items():
            if key in targets:
                continue
            acct = live.org.accounts.get(key.account)
            gone_state = acct is not None and acct.state in _GONE_STATES
            if gone_state and keep_gone and key not in narrowing.reached:
                kept.add(key)  # AWS skips it in every operation: information, not a change
                continue
            if (not gone_state and key.region in desired_regions
                    and leak_of(live.org, expansion.cover, key.account) is not None):
                leaked.add(key)  # auto-deployment under an accepted leak: expected, not a change
                continue
            reason, keep = _removal(key, gone, live, skip_reasons, desired_regions, paths)
            if key in narrowing.reached:
                reason += "; its OU leaves the StackSet's targets"
            if keep:
                retain.add(key)
            changes.append(Change(key, Action.REMOVE, reason, None, paths.of(key.account)))
    if live.instances and not live.connections:
        notices = [f"Clumio reports no connections for the {len(live.instances)} deployed instance(s)"]
    changes.sort(key=lambda c: (c.key.stack_set, c.key.account, c.key.region, c.action is Action.ADD))
    manual += left_connections(live, changes, retain)
    name = desired.stack_set.name
    ss = live.stack_sets.get(name)
    live_ous = live_ou_list(ss.organizational_unit_ids if ss else (),
                            (i.organizational_unit_id for i in live_by_set.get(name, [])))
    created = {c.key.account for c in changes if c.action is Action.ADD and c.key.stack_set == name}
    section = targets_plan(desired, live.org, expansion.cover, live_ous, narrowing, created, kept, leaked)
    return Diff(definitions, tuple(ss_changes), tuple(changes), frozenset(retain), frozenset(push),
                frozenset(definition_only), tuple(manual) + _summarize(notices), frozenset(kept | leaked), narrowing,
                section)


_MOVE_REASON = ("its OU target is narrowed: deleted, then created again under its cover OU (AWS has no call that "
                "re-targets an instance in place)")


def _inoperable_note(inst: LiveInstance) -> str:
    why = f" ({inst.status_reason})" if inst.status_reason else ""
    return (f"{inst.key.account}/{inst.key.region}: INOPERABLE{why}: AWS skips it in every update, so apply cannot "
            "repair it. Fix the stack in that account by hand, remove the instance with DeleteStackInstances "
            "RetainStacks=true, and the next plan adds it again")


def _connection_note(live: Live, key: InstanceKey, version: str | None) -> str | None:
    if not live.connections:
        return None
    conn = live.connections.get((key.account, key.region))
    if conn is None:
        return "connection missing"
    if conn.status is not ConnectionStatus.CONNECTED:
        return f"connection {conn.status.value}"
    if version and conn.installed_template_version and conn.installed_template_version != version:
        return f"connection runs template {conn.installed_template_version}, desired {version}"
    return None


def _summarize(notices: list[str]) -> tuple[str, ...]:
    if len(notices) <= MAX_NOTICES:
        return tuple(notices)
    return (*notices[:MAX_NOTICES], f"… and {len(notices) - MAX_NOTICES} more Clumio connection notices")
