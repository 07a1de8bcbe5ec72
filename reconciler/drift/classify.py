"""Classify drift: Desired × Live (+ State) → findings, one rule per category, no I/O."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from reconciler.core.coverage import CoverageRow
from reconciler.core.desired import Desired, SuspendedAccounts
from reconciler.core.keys import InstanceKey
from reconciler.core.live import (
    AccountState,
    ConnectionStatus,
    Live,
    LiveInstance,
    PermissionModel,
    StackDriftStatus,
    StackInstanceDetailedStatus,
    StackInstanceStatus,
)
from reconciler.core.recorded import Recorded
from reconciler.drift.model import Category, Finding, Severity, sort_findings
from reconciler.drift.versions import version_findings
from reconciler.plan.coverage import made_elsewhere, stack_name_of
from reconciler.plan.expand import Expansion
from reconciler.plan.targets import leak_of, live_ou_list, scope_for, widening

ResourceDrifts = Mapping[InstanceKey, Sequence[Mapping[str, str]]]

RETAIN_HINT = "remove it with DeleteStackInstances RetainStacks=true (clumio-org apply --allow-destroy)"


@dataclass(frozen=True)
class DriftInputs:
    """Everything classification needs, gathered by the CLI (or a test) beforehand.

    ``resource_drifts`` holds ListStackInstanceResourceDrifts rows for instances a detection found DRIFTED;
    ``connecting_seconds`` is how long a connection may stay ``connecting`` before it counts as stuck.
    """

    desired: Desired
    live: Live
    expansion: Expansion
    now: datetime
    state: Recorded | None = None
    resource_drifts: ResourceDrifts = field(default_factory=dict)
    connecting_seconds: float = 900.0
    coverage: tuple[CoverageRow, ...] = ()  # what the plan found covering desired pairs (reconciler.plan.coverage)


def managed_stack_sets(desired: Desired) -> tuple[str, ...]:
    """The StackSets this config owns: the service-managed one, and the management account's when onboarded."""
    names = [desired.stack_set.name]
    if desired.management_account.onboard:
        names.append(desired.management_account.stack_set_name)
    return tuple(names)


def classify(inputs: DriftInputs) -> tuple[Finding, ...]:
    """Every finding, worst first."""
    findings: list[Finding] = []
    suspended: set[InstanceKey] = set()
    findings += membership_findings(inputs, suspended)
    findings += status_findings(inputs, suspended)
    findings += version_findings(inputs.desired, inputs.live, managed_stack_sets(inputs.desired), inputs.state)
    findings += resource_findings(inputs)
    findings += clumio_findings(inputs)
    return sort_findings(findings)


def _desired_keys(inputs: DriftInputs) -> dict[InstanceKey, str | None]:
    keys: dict[InstanceKey, str | None] = dict(inputs.expansion.targets)
    keys.update({k: None for k in inputs.expansion.management_keys})
    return keys


def _managed_instances(inputs: DriftInputs) -> list[LiveInstance]:
    names = set(managed_stack_sets(inputs.desired))
    return [inst for key, inst in sorted(inputs.live.instances.items()) if key.stack_set in names]


def membership_findings(inputs: DriftInputs, suspended: set[InstanceKey]) -> list[Finding]:
    """Missing instances (auto-deployment missed an account), instances outside the desired set, and accounts the
    org suspended or closed that still carry an instance. ``suspended`` collects the latter so the status rule does
    not report the same instance twice (its OUTDATED/SKIPPED_SUSPENDED_ACCOUNT is the consequence, not news)."""
    live, org = inputs.live, inputs.live.org
    desired_keys = _desired_keys(inputs)
    findings: list[Finding] = []
    missing_sets = sorted({k.stack_set for k in desired_keys} - set(live.stack_sets))
    for name in missing_sets:
        count = sum(1 for k in desired_keys if k.stack_set == name)
        findings.append(Finding(Category.MEMBERSHIP, Severity.ERROR,
                                f"StackSet {name} does not exist; {count} stack instances are desired",
                                stack_set=name, details=(("hint", "run clumio-org plan and apply"),)))
    for key, wave in sorted(desired_keys.items()):
        if key in live.instances or key.stack_set in missing_sets:
            continue
        acct = org.accounts.get(key.account)
        path = org.path_of(acct.parent_id) if acct else "?"
        details: list[tuple[str, str]] = [("ou_path", path)]
        if acct is not None:
            details.append(("account_name", acct.name))
        if wave:
            details.append(("wave", wave))
        reason = _missing_reason(inputs, key, path)
        findings.append(Finding(Category.MEMBERSHIP, Severity.ERROR, reason, key.stack_set, key.account,
                                key.region, tuple(details)))
    findings += _wide_targets(inputs)
    desired_accounts = {(k.stack_set, k.account) for k in desired_keys}
    for inst in _managed_instances(inputs):
        key = inst.key
        if key in desired_keys:
            continue
        acct = org.accounts.get(key.account)
        details = [("status", _status_text(inst))]
        if inst.status_reason:
            details.append(("status_reason", inst.status_reason))
        if acct is None:
            reason = "stack instance for an account that is no longer in the organization"
            severity = Severity.WARNING
        elif acct.state is not AccountState.ACTIVE:
            suspended.add(key)
            if inputs.desired.targets.suspended_accounts is SuspendedAccounts.KEEP:
                continue  # kept on purpose: AWS skips it; information() lists it
            reason = f"account is {acct.state.value} but still has a stack instance"
            severity = Severity.WARNING
            details.append(("hint", RETAIN_HINT))
        elif (key.stack_set, key.account) in desired_accounts:
            reason = f"stack instance in region {key.region}, which is not a desired region"
            severity = Severity.WARNING
        elif _leak_of(inputs, key.account) is not None:
            continue  # an accepted leak (targets.auto_deployment_reach: any): expected; information() lists it
        else:
            reason = f"stack instance outside the desired targets (account in {org.path_of(acct.parent_id)})"
            severity = Severity.WARNING
        findings.append(Finding(Category.MEMBERSHIP, severity, reason, key.stack_set, key.account, key.region,
                                tuple(details)))
    return findings


def _wide_targets(inputs: DriftInputs) -> list[Finding]:
    """The StackSet's live OU list reaches accounts the file does not want (auto-deployment would deploy there)."""
    desired, live = inputs.desired, inputs.live
    ss = live.stack_sets.get(desired.stack_set.name)
    if ss is None or not ss.auto_deployment:
        return []
    ous = live_ou_list(ss.organizational_unit_ids, (i.organizational_unit_id for i in live.instances.values()
                                                    if i.key.stack_set == ss.name))
    wide = widening(live.org, scope_for(desired, live.org), ous, inputs.expansion.cover)
    return [Finding(Category.MEMBERSHIP, Severity.WARNING,
                    f"the StackSet targets {live.org.path_of(ou)} ({ou}), which is not wholly desired: "
                    "auto-deployment will deploy to accounts that join it", ss.name,
                    details=(("ou_id", ou), ("hint", "run clumio-org plan: it narrows the StackSet's targets")))
            for ou in wide]


def _missing_reason(inputs: DriftInputs, key: InstanceKey, path: str) -> str:
    """The likely cause of a missing instance, from what drift can see: a stack clumio-org applied (state) or that
    Clumio saw connected was deleted out of band; an account in a watched OU that auto-deployment did not reach; or
    an account that is simply not deployed yet."""
    live, org = inputs.live, inputs.live.org
    records = inputs.state.instances if inputs.state is not None else {}
    conn = live.connections.get((key.account, key.region))
    unlinked = conn is not None and conn.status is ConnectionStatus.UNLINKED
    if key in records or unlinked:
        seen = "the state records it as applied" if key in records else "its Clumio connection is unlinked"
        return f"no stack instance: deleted out of band ({seen}; account in {path}); apply creates it again"
    ss = live.stack_sets[key.stack_set]
    acct = org.accounts.get(key.account)
    watched = (ss.permission_model is PermissionModel.SERVICE_MANAGED and bool(ss.auto_deployment)
               and acct is not None and bool(set(org.ancestors(key.account)) & set(ss.organizational_unit_ids)))
    if watched:
        return (f"no stack instance: auto-deployment did not reach this account in {path} (it joined or moved "
                "into a targeted OU; apply creates it)")
    return f"no stack instance: account in {path} is targeted but not deployed (run apply)"


def _leak_of(inputs: DriftInputs, account: str) -> str | None:
    """The accepted-leak OU an account sits under, if any."""
    return leak_of(inputs.live.org, inputs.expansion.cover, account)


def information(inputs: DriftInputs) -> list[str]:
    """What drift reports once as expected rather than as drift: kept instances of SUSPENDED/CLOSED accounts,
    instances under an accepted leak, and Clumio connections left behind by removed instances."""
    out: list[str] = []
    org = inputs.live.org
    desired_keys = _desired_keys(inputs)
    desired_accounts = {k.account for k in desired_keys}
    kept: set[str] = set()
    leaked: dict[str, set[str]] = {}
    for inst in _managed_instances(inputs):
        if inst.key in desired_keys:
            continue
        acct = org.accounts.get(inst.key.account)
        if acct is not None and acct.state is not AccountState.ACTIVE:
            if inputs.desired.targets.suspended_accounts is SuspendedAccounts.KEEP:
                kept.add(acct.id)
        elif acct is not None and (leak := _leak_of(inputs, acct.id)) is not None:
            leaked.setdefault(leak, set()).add(acct.id)
    if kept:
        out.append(f"kept, not drift: instances of {len(kept)} SUSPENDED/CLOSED account(s) "
                   f"({', '.join(sorted(kept))}): AWS skips them (targets.suspended_accounts: remove removes them)")
    for path, accounts in sorted(leaked.items()):
        out.append(f"expected, not drift: auto-deployment deployed to {len(accounts)} account(s) under the accepted "
                   f"leak {path} ({', '.join(sorted(accounts))})")
    deployed = {(i.key.account, i.key.region) for i in _managed_instances(inputs)}
    left = sorted(c.id for (a, r), c in inputs.live.connections.items()
                  if (a, r) not in deployed and a not in desired_accounts and c.status is ConnectionStatus.UNLINKED)
    if left:
        out.append(f"not drift: {len(left)} unlinked Clumio connection(s) of removed stack instances "
                   f"({', '.join(left[:10])}{' …' if len(left) > 10 else ''}); delete them in Clumio when no longer "
                   "needed (DELETE /connections/aws/{id})")
    return out


def _status_text(inst: LiveInstance) -> str:
    if inst.detailed_status is None:
        return inst.status.value
    return f"{inst.status.value} ({inst.detailed_status.value})"


_IN_FLIGHT = (StackInstanceDetailedStatus.PENDING, StackInstanceDetailedStatus.RUNNING)
_BROKEN = (StackInstanceDetailedStatus.INOPERABLE, StackInstanceDetailedStatus.FAILED,
           StackInstanceDetailedStatus.FAILED_IMPORT)


def status_findings(inputs: DriftInputs, suspended: set[InstanceKey]) -> list[Finding]:
    """OUTDATED, FAILED, INOPERABLE and SKIPPED_SUSPENDED_ACCOUNT instances, each with AWS's StatusReason.
    Instances an operation is working on right now (PENDING/RUNNING) are not drift yet."""
    findings: list[Finding] = []
    desired_keys = _desired_keys(inputs)
    for inst in _managed_instances(inputs):
        if inst.key in suspended:
            continue
        if inst.key not in desired_keys and _leak_of(inputs, inst.key.account) is not None:
            continue  # expected under an accepted leak: information() lists it
        detailed = inst.detailed_status
        severity: Severity | None = None
        if inst.status is StackInstanceStatus.INOPERABLE or detailed in _BROKEN:
            severity = Severity.ERROR
        elif inst.status is StackInstanceStatus.OUTDATED and detailed not in _IN_FLIGHT:
            severity = Severity.WARNING
        if severity is None:
            continue
        label = detailed.value if detailed in (StackInstanceDetailedStatus.FAILED,
                                               StackInstanceDetailedStatus.SKIPPED_SUSPENDED_ACCOUNT,
                                               StackInstanceDetailedStatus.FAILED_IMPORT) else inst.status.value
        why = inst.status_reason or ("the last StackSet update did not reach this instance (run apply)"
                                     if inst.status is StackInstanceStatus.OUTDATED else None)
        reason = f"{label}: {why}" if why else label
        details = [("status", _status_text(inst))]
        if inst.status_reason:
            details.append(("status_reason", inst.status_reason))
        if inst.last_operation_id:
            details.append(("last_operation_id", inst.last_operation_id))
        if inst.status is StackInstanceStatus.INOPERABLE:
            details.append(("hint", RETAIN_HINT))
        findings.append(Finding(Category.STATUS, severity, reason, inst.key.stack_set, inst.key.account,
                                inst.key.region, tuple(details)))
    return findings


def _age(now: datetime, then: datetime | None) -> float | None:
    return None if then is None else max(0.0, (now - then).total_seconds())


def human_age(seconds: float | None) -> str:
    """``45 s``, ``12 min``, ``5 h``, ``3 d`` — for reasons and report headers."""
    if seconds is None:
        return "unknown"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.0f} d"


def resource_findings(inputs: DriftInputs) -> list[Finding]:
    """Instances whose stack drifted from the template (DetectStackSetDrift), with the drifted resources."""
    findings: list[Finding] = []
    for inst in _managed_instances(inputs):
        if inst.drift_status not in (StackDriftStatus.DRIFTED, StackDriftStatus.UNKNOWN):
            continue
        age = _age(inputs.now, inst.last_drift_check)
        details: list[tuple[str, str]] = []
        if inst.last_drift_check is not None:
            details.append(("last_drift_check", inst.last_drift_check.isoformat()))
            details.append(("age", human_age(age)))
        if inst.drift_status is StackDriftStatus.UNKNOWN:
            findings.append(Finding(Category.RESOURCES, Severity.NOTICE,
                                    "drift detection could not check this stack instance (UNKNOWN)",
                                    inst.key.stack_set, inst.key.account, inst.key.region, tuple(details)))
            continue
        rows = inputs.resource_drifts.get(inst.key, ())
        for row in rows:
            name, kind, status, diff = resource_row(row)
            details.append((f"resource {name}", f"{kind} {status}" + (f": {diff}" if diff else "")))
        what = f"{len(rows)} resource(s) drifted" if rows else "resources drifted"
        findings.append(Finding(Category.RESOURCES, Severity.WARNING,
                                f"stack {what} from the StackSet template (checked {human_age(age)} ago)",
                                inst.key.stack_set, inst.key.account, inst.key.region, tuple(details)))
    return findings


def resource_row(row: Mapping[str, str]) -> tuple[str, str, str, str]:
    """(logical id, type, drift status, property differences) of a ListStackInstanceResourceDrifts row, whether the
    provider flattened it (``logical_resource_id``…) or it carries AWS's own member names."""
    name = row.get("logical_resource_id") or row.get("LogicalResourceId") or "?"
    kind = row.get("resource_type") or row.get("ResourceType") or "?"
    status = row.get("drift_status") or row.get("StackResourceDriftStatus") or "MODIFIED"
    return name, kind, status, row.get("differences", "")


def clumio_findings(inputs: DriftInputs) -> list[Finding]:
    """Connections missing for deployed instances, stuck ``connecting``, ``unlinked``, or with no instance."""
    live = inputs.live
    findings: list[Finding] = []
    deployed: dict[tuple[str, str], LiveInstance] = {}
    for inst in _managed_instances(inputs):
        deployed[(inst.key.account, inst.key.region)] = inst
    for (account, region), inst in sorted(deployed.items()):
        acct = live.org.accounts.get(account)
        if acct is None or acct.state is not AccountState.ACTIVE:
            continue  # membership already says so; Clumio cannot connect a suspended account
        succeeded = inst.detailed_status is StackInstanceDetailedStatus.SUCCEEDED and bool(inst.stack_id)
        if succeeded and (account, region) not in live.connections:
            findings.append(Finding(Category.CLUMIO, Severity.ERROR,
                                    "no Clumio connection although the stack instance succeeded",
                                    inst.key.stack_set, account, region,
                                    (("connection_id", inst.key.connection_id),)))
    elsewhere = {(r.account, r.region): r for r in inputs.coverage if r.coverage.blocks_deployment}
    desired_accounts = {k.account for k in _desired_keys(inputs)}
    for (account, region), conn in sorted(live.connections.items()):
        owner = deployed.get((account, region))
        stack_set = owner.key.stack_set if owner else None
        if owner is None and account not in desired_accounts and conn.status is ConnectionStatus.UNLINKED:
            continue  # left behind by a removed instance: information() says so once
        details: tuple[tuple[str, str], ...] = (("connection_id", conn.id), ("connection_status", conn.status.value))
        if conn.status is ConnectionStatus.UNLINKED:
            findings.append(Finding(Category.CLUMIO, Severity.ERROR, "Clumio connection is unlinked",
                                    stack_set, account, region, details))
        elif conn.status is ConnectionStatus.CONNECTING:
            age = _age(inputs.now, conn.created)
            if age is not None and age > inputs.connecting_seconds:
                findings.append(Finding(Category.CLUMIO, Severity.ERROR,
                                        f"Clumio connection stuck connecting for {human_age(age)} "
                                        f"(threshold {human_age(inputs.connecting_seconds)})",
                                        stack_set, account, region, details))
        # Another deployment's connection outside this config's targets is not this config's drift (drift notes
        # count them); one the managed StackSet may have left behind is.
        foreign = made_elsewhere(live, managed_stack_sets(inputs.desired), account, region)
        if owner is None and (account, region) not in elsewhere and foreign is None:
            findings.append(Finding(Category.CLUMIO, Severity.WARNING,
                                    "Clumio connection for an account and region with no stack instance"
                                    + _made_by(live, account, region), None, account, region, details))
    return findings


def _made_by(live: Live, account: str, region: str) -> str:
    """Why a connection has no managed instance, as far as its stack tells."""
    stack = stack_name_of(live.connections[(account, region)])
    return f" (made by stack {stack}: a stack instance retained or removed by hand?)" if stack else \
        " (made without a CloudFormation stack: Terraform or by hand)"
