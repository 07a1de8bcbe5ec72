"""Diff: the desired StackSets and instances (an Expansion) against what discovery read → StackSet and instance
changes, each with the reason a reviewer needs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

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
from reconciler.core.plan import Action, Change, StackSetChange, StackSetDefinition, TargetsPlan
from reconciler.core.ports import ClumioTemplate
from reconciler.core.recorded import Recorded
from reconciler.plan.expand import Expansion
from reconciler.plan.properties import property_changes, push_reason_of
from reconciler.plan.targets import (
    Narrowing,
    leak_of,
    left_connections,
    live_ou_list,
    narrowing_for,
    targets_plan,
)

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


def _repair_reason(inst: LiveInstance) -> str | None:
    detailed = inst.detailed_status
    if inst.status is StackInstanceStatus.CURRENT and detailed not in _BAD_DETAIL:
        return None
    label = inst.status.value
    if detailed is not None and detailed is not StackInstanceDetailedStatus.SUCCEEDED:
        label += f" ({detailed.value})"
    return f"repair: {label}: {inst.status_reason}" if inst.status_reason else f"repair: {label}"


class _Paths:
    """OU path of an account's parent, cached per OU (100,000 instances share a few hundred OUs) and per account
    (asked once per region)."""

    def __init__(self, live: Live) -> None:
        self.live = live
        self.cache: dict[str, str] = {}
        self.accounts: dict[str, str | None] = {}

    def of(self, account: str) -> str | None:
        if account in self.accounts:
            return self.accounts[account]
        acct = self.live.org.accounts.get(account)
        path = None
        if acct is not None:
            parent = acct.parent_id
            if parent not in self.cache:
                self.cache[parent] = self.live.org.path_of(parent)
            path = self.cache[parent]
        self.accounts[account] = path
        return path


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
    narrowing = narrowing_for(desired, live, expansion.cover, expansion.targets,
                              live_by_set.get(desired.stack_set.name, []))
    run = _Differ(desired, live, expansion, narrowing)
    for name, d in definitions.items():
        push_reason = run.stack_set(name, d, state=state, secret_fingerprints=secret_fingerprints)
        existing = {i.key: i for i in live_by_set[name]}
        run.wanted_instances(d, wanted[name], existing, push_reason)
        run.unwanted_instances(wanted[name], existing)
    if live.instances and not live.connections:
        run.notices = [f"Clumio reports no connections for the {len(live.instances)} deployed instance(s)"]
    changes = sorted(run.changes, key=lambda c: (c.key.stack_set, c.key.account, c.key.region,
                                                 c.action is Action.ADD))
    manual = run.manual + left_connections(live, changes, run.retain)
    name = desired.stack_set.name
    ss = live.stack_sets.get(name)
    live_ous = live_ou_list(ss.organizational_unit_ids if ss else (),
                            (i.organizational_unit_id for i in live_by_set.get(name, [])))
    created = {c.key.account for c in changes if c.action is Action.ADD and c.key.stack_set == name}
    section = targets_plan(desired, live.org, expansion.cover, live_ous, narrowing, created, run.kept, run.leaked)
    return Diff(definitions, tuple(run.ss_changes), tuple(changes), frozenset(run.retain), frozenset(run.push),
                frozenset(run.definition_only), tuple(manual) + _summarize(run.notices),
                frozenset(run.kept | run.leaked), narrowing, section)


class _Differ:
    """One diff run's accumulators, filled StackSet by StackSet (the steps of ``diff``)."""

    def __init__(self, desired: Desired, live: Live, expansion: Expansion, narrowing: Narrowing) -> None:
        self.desired, self.live, self.expansion, self.narrowing = desired, live, expansion, narrowing
        self.skip_reasons = {s.account: s.reason for s in expansion.skipped}
        self.paths = _Paths(live)
        self.desired_regions = frozenset(desired.regions)
        self.keep_gone = desired.targets.suspended_accounts is SuspendedAccounts.KEEP
        self.ss_changes: list[StackSetChange] = []
        self.changes: list[Change] = []
        self.retain: set[InstanceKey] = set()
        self.push: set[str] = set()
        self.definition_only: set[str] = set()
        self.notices: list[str] = []
        self.manual: list[str] = []
        self.kept: set[InstanceKey] = set()
        self.leaked: set[InstanceKey] = set()

    def stack_set(self, name: str, d: StackSetDefinition, *, state: Recorded | None,
                  secret_fingerprints: Mapping[str, str] | None) -> str | None:
        """The StackSet's own change; returns why every instance must be updated (template/parameters), if so."""
        ss = self.live.stack_sets.get(name)
        if ss is None:
            self.ss_changes.append(StackSetChange(name, Action.ADD, d))
            return None
        if ss.permission_model is not d.permission_model:
            raise ReconcilerError(
                f"StackSet {name} exists with permission model {ss.permission_model.value}, "
                f"but clumio-org manages it as {d.permission_model.value}",
                hint="the permission model cannot change while instances exist: pick another stack_set.name "
                "or delete the old StackSet",
            )
        props = property_changes(ss, d, state=state, secret_fingerprints=secret_fingerprints)
        if not props:
            return None
        self.ss_changes.append(StackSetChange(name, Action.CHANGE, d, props))
        push_reason = push_reason_of(props)
        (self.push if push_reason else self.definition_only).add(name)
        return push_reason

    def wanted_instances(self, d: StackSetDefinition, targets: Mapping[InstanceKey, str],
                         existing: Mapping[InstanceKey, LiveInstance], push_reason: str | None) -> None:
        """Each desired instance: moved by a narrowing, new, left to a manual fix (INOPERABLE), or updated."""
        live_accounts = {k.account for k in existing}
        for key, wave in targets.items():
            current = existing.get(key)
            path = self.paths.of(key.account)
            if key in self.narrowing.moved:
                self.changes.append(Change(key, Action.REMOVE, _MOVE_REASON, None, path))
                self.changes.append(Change(key, Action.ADD, "created again under its cover OU after the StackSet's "
                                           "targets narrow", wave, path))
            elif current is None:
                reason = f"new region {key.region}" if key.account in live_accounts else f"new account in {path}"
                self.changes.append(Change(key, Action.ADD, reason, wave, path))
            elif current.status is StackInstanceStatus.INOPERABLE:
                # AWS leaves INOPERABLE instances out of every UpdateStackSet (§A7), so no operation can repair one.
                self.manual.append(_inoperable_note(current))
            else:
                self._update(key, current, wave, path, d, push_reason)

    def _update(self, key: InstanceKey, current: LiveInstance, wave: str, path: str | None, d: StackSetDefinition,
                push_reason: str | None) -> None:
        reasons = [r for r in (push_reason, _repair_reason(current)) if r]
        # A template update explains a connection that still runs the old version: no note then.
        conn = _connection_note(self.live, key, None if push_reason else d.template_version)
        if reasons:
            if conn:
                reasons.append(f"Clumio: {conn}")
            self.changes.append(Change(key, Action.CHANGE, "; ".join(reasons), wave, path))
        elif conn:
            self.notices.append(f"{key.account}/{key.region}: Clumio {conn}")

    def unwanted_instances(self, targets: Mapping[InstanceKey, str],
                           existing: Mapping[InstanceKey, LiveInstance]) -> None:
        """Each live instance the targets no longer reach: kept (suspended, kept), leaked (accepted), or removed."""
        live = self.live
        for key, gone in existing.items():
            if key in targets:
                continue
            acct = live.org.accounts.get(key.account)
            gone_state = acct is not None and acct.state in _GONE_STATES
            if gone_state and self.keep_gone and key not in self.narrowing.reached:
                self.kept.add(key)  # AWS skips it in every operation: information, not a change
                continue
            if (not gone_state and key.region in self.desired_regions
                    and leak_of(live.org, self.expansion.cover, key.account) is not None):
                self.leaked.add(key)  # auto-deployment under an accepted leak: expected, not a change
                continue
            reason, keep = _removal(key, gone, live, self.skip_reasons, self.desired_regions, self.paths)
            if key in self.narrowing.reached:
                reason += "; its OU leaves the StackSet's targets"
            if keep:
                self.retain.add(key)
            self.changes.append(Change(key, Action.REMOVE, reason, None, self.paths.of(key.account)))


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
