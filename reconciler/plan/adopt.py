"""Adopt: what ``clumio-org import`` records in state for a Clumio StackSet that already runs, without touching AWS
(pure: Live → state records; docs/reference/brownfield.md §4).

Adopting changes nothing in AWS: the StackSet keeps its template, parameters and instances. State gets the live
template version and hash, the non-secret parameters, and no secret fingerprints — the deployed ClumioToken and
RoleExternalId cannot be read back (NoEcho), and without fingerprints apply never decides they rotated: it sends them
as UsePreviousValue until ``--rotate-credentials`` says otherwise.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace

from reconciler.core.desired import Desired
from reconciler.core.errors import ReconcilerError
from reconciler.core.live import ConnectionStatus, Live, LiveStackSet, PermissionModel
from reconciler.plan.diff import SECRET_PARAMETERS, template_version_of
from reconciler.plan.discover_existing import is_clumio_stack_set
from reconciler.state.model import InstanceRecord, StackSetRecord, State


def adoptable_names(desired: Desired) -> dict[str, PermissionModel]:
    """The StackSets the config manages, each with the permission model it must have."""
    names = {desired.stack_set.name: PermissionModel.SERVICE_MANAGED}
    if desired.management_account.onboard:
        names[desired.management_account.stack_set_name] = PermissionModel.SELF_MANAGED
    return names


def check_adoptable(desired: Desired, live: Live, name: str) -> LiveStackSet:
    """The live StackSet ``name``, if the config manages that name and it is a Clumio StackSet of the right
    permission model; otherwise the error that says what to change."""
    wanted = adoptable_names(desired)
    if name not in wanted:
        raise ReconcilerError(
            f"import --stack-set {name}: the config manages StackSet {desired.stack_set.name}, not {name}",
            hint=f"StackSets cannot be renamed: to manage {name} under its own name set `stack_set.name: {name}` in "
                 f"{desired.source}, then run `clumio-org import --stack-set {name}` again")
    ss = live.stack_sets.get(name)
    if ss is None:
        others = ", ".join(sorted(live.other_clumio_stack_sets)) or "none"
        raise ReconcilerError(
            f"StackSet {name} does not exist in {desired.organization.home_region} (Clumio StackSets found: {others})",
            hint="check organization.home_region and organization.call_as; a StackSet lives in one region")
    if not is_clumio_stack_set(ss):
        raise ReconcilerError(
            f"StackSet {name} does not carry Clumio's template (no ClumioTemplateVersion metadata, or no "
            "ClumioToken / RoleExternalId parameters)",
            hint="import adopts only Clumio StackSets; pick another stack_set.name for clumio-org's own")
    if ss.permission_model is not wanted[name]:
        raise ReconcilerError(
            f"StackSet {name} is {ss.permission_model.value}, but clumio-org manages it as {wanted[name].value}",
            hint="the permission model cannot change while instances exist; adopt a StackSet of the right model")
    return ss


def adopt(state: State, live: Live, ss: LiveStackSet, now: str) -> State:
    """``state`` with the StackSet and every instance it has now recorded as they are."""
    record = StackSetRecord(
        template_version=template_version_of(ss.template_body) or "unknown",
        template_sha256=hashlib.sha256(ss.template_body.encode()).hexdigest(),
        parameters={k: v for k, v in sorted(ss.parameters.items()) if k not in SECRET_PARAMETERS},
        secret_fingerprints={}, permission_model=ss.permission_model.value, updated_at=now)
    adopted = state.with_stack_set(ss.name, record)
    instances = dict(adopted.instances)
    version = record.template_version
    for key, inst in live.instances.items():
        if key.stack_set != ss.name:
            continue
        conn = live.connections.get((key.account, key.region))
        instances[key] = InstanceRecord(
            status=inst.status.value, last_operation_id=inst.last_operation_id, template_version=version,
            connected=None if conn is None else conn.status is ConnectionStatus.CONNECTED, updated_at=now)
    return replace(adopted, instances=instances)
