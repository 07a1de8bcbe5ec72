"""The CloudFormation StackSets API of the sandbox: validation, target expansion and response shapes."""

from __future__ import annotations

import re
import uuid
from typing import TYPE_CHECKING, Any

from reconciler.sandbox.api import AwsFault
from reconciler.sandbox.instances import StackInstance
from reconciler.sandbox.operations import STOPPED_REASON, Operation, Step, Target, to_datetime
from reconciler.sandbox.organizations import STACKSETS_PRINCIPAL
from reconciler.sandbox.stacksets import StackSet, new_stack_set_id
from reconciler.sandbox.stacksets_reads import READS
from reconciler.sandbox.stacksets_targets import resolve_accounts, resolve_regions
from reconciler.sandbox.template import parse_template, resolve_parameters

if TYPE_CHECKING:
    from reconciler.sandbox.worldstate import WorldState

NAME_RE = re.compile(r"^[a-zA-Z][-a-zA-Z0-9]{0,127}$")
OPERATION_ID_RE = re.compile(r"^[a-zA-Z0-9][-a-zA-Z0-9]{0,127}$")
MAX_INSTANCES = 100_000  # stack instances per StackSet (§A10)
MAX_TAGS = 50  # §A2


def owner_for(world: WorldState, caller: str, params: dict[str, Any]) -> str:
    """The account whose StackSets the call addresses: CallAs=DELEGATED_ADMIN means the management account."""
    if params.get("CallAs", "SELF") == "DELEGATED_ADMIN":
        org = world.org
        if caller not in org.delegated_admins or STACKSETS_PRINCIPAL not in org.trusted_services:
            raise AwsFault("ValidationError", "Account used is not a delegated administrator")
        return org.management_account
    return caller


def handle_cloudformation(world: WorldState, operation: str, params: dict[str, Any], caller: str,
                          region: str) -> dict[str, Any]:
    owner = owner_for(world, caller, params)
    if operation in READS:
        return READS[operation](world, params, owner, region)
    handler = WRITES.get(operation)
    if handler is None:
        raise AwsFault("InvalidAction", f"The sandbox does not implement cloudformation:{operation}.")
    world.engine.generation += 1
    return handler(world, params, owner, region, caller)


# --- templates and parameters --------------------------------------------------------------------------------

def _template_body(world: WorldState, params: dict[str, Any], previous: str | None = None) -> str:
    given = [k for k in ("TemplateBody", "TemplateURL") if params.get(k)]
    if params.get("UsePreviousTemplate"):
        given.append("UsePreviousTemplate")
    if len(given) != 1:
        raise AwsFault("ValidationError", "Exactly one of TemplateBody or TemplateUrl must be specified"
                       if previous is None else
                       "Exactly one of TemplateBody, TemplateURL or UsePreviousTemplate must be specified")
    if given[0] == "UsePreviousTemplate":
        assert previous is not None
        return previous
    if given[0] == "TemplateBody":
        return str(params["TemplateBody"])
    return world.fetch_template_url(str(params["TemplateURL"]))


def _merge_parameters(given: list[dict[str, Any]] | None, previous: dict[str, str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for p in given or []:
        key = p["ParameterKey"]
        if p.get("UsePreviousValue"):
            if "ParameterValue" in p:
                raise AwsFault("ValidationError", f"Parameter {key} cannot set both UsePreviousValue and a value")
            if key not in previous:
                raise AwsFault("ValidationError", f"Parameter {key} has no previous value to use")
            values[key] = previous[key]
        else:
            values[key] = str(p.get("ParameterValue", ""))
    return values


def _check_capabilities(stack_set_template: Any, capabilities: list[str]) -> None:
    types = set(stack_set_template.resources.values())
    iam = {"AWS::IAM::Role", "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::User"}
    if types & iam and not set(capabilities) & {"CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"}:
        raise AwsFault("InsufficientCapabilitiesException", "Requires capabilities : [CAPABILITY_NAMED_IAM]")


# --- writes --------------------------------------------------------------------------------------------------

def _check_can_operate(world: WorldState, stack_set: StackSet, params: dict[str, Any]) -> str:
    op_id = params.get("OperationId") or str(uuid.uuid4())
    if not OPERATION_ID_RE.match(op_id):
        raise AwsFault("ValidationError", f"OperationId {op_id} does not match [a-zA-Z0-9][-a-zA-Z0-9]*")
    if op_id in stack_set.operations:
        raise AwsFault("OperationIdAlreadyExistsException", f"The operation id {op_id} already exists", 409)
    running = world.engine.running(stack_set)
    if running is not None and not stack_set.managed_execution:
        raise AwsFault("OperationInProgressException",
                       f"Another Operation on StackSet {stack_set.arn} is in progress: {running.id}", 409)
    _check_preferences(params.get("OperationPreferences") or {})
    return op_id


def _check_preferences(prefs: dict[str, Any]) -> None:
    for a, b in (("FailureToleranceCount", "FailureTolerancePercentage"),
                 ("MaxConcurrentCount", "MaxConcurrentPercentage")):
        if prefs.get(a) is not None and prefs.get(b) is not None:
            raise AwsFault("ValidationError", f"Only one of {a} or {b} may be specified")


def _new_operation(world: WorldState, op_id: str, action: str, params: dict[str, Any],
                   targets: list[Target], **extra: Any) -> Operation:
    return Operation(op_id, action, world.clock.now(), dict(params.get("OperationPreferences") or {}),
                     params.get("DeploymentTargets"), params.get("RetainStacks") if action == "DELETE" else None,
                     targets, **extra)


def create_stack_set(world: WorldState, params: dict[str, Any], owner: str, region: str, caller: str) -> dict[str, Any]:
    name = params["StackSetName"]
    if not NAME_RE.match(name):
        raise AwsFault("ValidationError", f"StackSetName {name} must match [a-zA-Z][-a-zA-Z0-9]* (max 128)")
    existing = world.engine.stack_sets.get((owner, region, name))
    if existing is not None and existing.status == "ACTIVE":
        raise AwsFault("NameAlreadyExistsException", f"StackSet {name} already exists", 409)
    model = params.get("PermissionModel") or "SELF_MANAGED"
    auto = params.get("AutoDeployment")
    if model == "SERVICE_MANAGED":
        if owner != world.org.management_account:
            # AWS's words (seen from a delegated admin that forgot CallAs=DELEGATED_ADMIN).
            raise AwsFault("ValidationError", "You must be the management account or delegated admin account of an "
                                              "organization before operating a SERVICE_MANAGED stack set")
        if STACKSETS_PRINCIPAL not in world.org.trusted_services:
            raise AwsFault("ValidationError", "You must enable organizations access to operate a service managed "
                                              "stack set")
        if auto is None:
            raise AwsFault("ValidationError", "AutoDeployment must be specified for SERVICE_MANAGED stack sets")
        if params.get("AdministrationRoleARN") or params.get("ExecutionRoleName"):
            raise AwsFault("ValidationError", "AdministrationRoleARN and ExecutionRoleName are only valid for "
                                              "SELF_MANAGED stack sets")
    elif params.get("CallAs") == "DELEGATED_ADMIN":
        raise AwsFault("ValidationError", "CallAs is only supported for SERVICE_MANAGED stack sets")
    body = _template_body(world, params)
    template = parse_template(body)
    values = _merge_parameters(params.get("Parameters"), {})
    resolve_parameters(template, values)
    capabilities = list(params.get("Capabilities") or [])
    _check_capabilities(template, capabilities)
    if len(params.get("Tags") or []) > MAX_TAGS:
        raise AwsFault("ValidationError", f"A stack set can have at most {MAX_TAGS} tags")
    now = world.clock.now()
    stack_set = StackSet(
        name, new_stack_set_id(name, owner, region, now), owner, region, params.get("Description"), body, template,
        values, capabilities, list(params.get("Tags") or []), model,
        {**auto} if auto is not None else None, bool((params.get("ManagedExecution") or {}).get("Active")),
        None if model == "SERVICE_MANAGED" else params.get("AdministrationRoleARN")
        or f"arn:aws:iam::{owner}:role/AWSCloudFormationStackSetAdministrationRole",
        None if model == "SERVICE_MANAGED" else params.get("ExecutionRoleName")
        or "AWSCloudFormationStackSetExecutionRole")
    world.engine.stack_sets[(owner, region, name)] = stack_set
    return {"StackSetId": stack_set.id}


def create_stack_instances(world: WorldState, params: dict[str, Any], owner: str, region: str,
                           caller: str) -> dict[str, Any]:
    stack_set = world.engine.find(owner, region, params["StackSetName"])
    op_id = _check_can_operate(world, stack_set, params)
    regions = resolve_regions(world, params, required=True)
    pairs = resolve_accounts(world, stack_set, params, "create")
    overrides = _merge_parameters(params.get("ParameterOverrides"), {})
    resolve_parameters(stack_set.template, {**stack_set.parameters, **overrides})
    new = sum(1 for a, _ in pairs for r in regions if (a, r) not in stack_set.instances)
    if len(stack_set.instances) + new > MAX_INSTANCES:  # quota: stack instances per StackSet (§A10)
        raise AwsFault("LimitExceededException", f"The StackSet would exceed {MAX_INSTANCES} stack instances")
    targets: list[Target] = []
    for account, ou_id in pairs:
        for r in regions:
            instance = stack_set.instances.get((account, r))
            if instance is None:
                instance = stack_set.instances.add(StackInstance(account, r, ou_id))
            _apply_overrides(instance, params.get("ParameterOverrides"))
            instance.status, instance.detailed, instance.reason = "OUTDATED", "PENDING", None
            instance.last_operation_id = op_id
            targets.append(Target(account, r, ou_id))
    if stack_set.service_managed:
        for ou in (params.get("DeploymentTargets") or {}).get("OrganizationalUnitIds") or []:
            if ou not in stack_set.ou_ids:
                stack_set.ou_ids.append(ou)
    op = _new_operation(world, op_id, "CREATE", params, targets)
    world.engine.submit(stack_set, op, world.now_ts())
    return {"OperationId": op_id}


def _apply_overrides(instance: StackInstance, given: list[dict[str, Any]] | None) -> None:
    """ParameterOverrides rules (§A4): omitted → unchanged; listed keys set or kept; unlisted keys revert."""
    if given is None:
        return
    instance.overrides = _merge_parameters(given, instance.overrides)


def _existing_targets(world: WorldState, stack_set: StackSet, params: dict[str, Any], regions: list[str],
                      call: str) -> list[Target]:
    pairs = resolve_accounts(world, stack_set, params, call)
    regions = regions or stack_set.instances.regions()
    targets = []
    for account, ou_id in pairs:
        for r in regions:
            instance = stack_set.instances.get((account, r))
            if instance is None:
                if not stack_set.service_managed:
                    raise AwsFault("StackInstanceNotFoundException", f"Stack instance for account {account} and "
                                   f"region {r} not found in StackSet {stack_set.name}", 404)
                continue
            targets.append(Target(account, r, instance.ou_id or ou_id))
    return targets


def update_stack_instances(world: WorldState, params: dict[str, Any], owner: str, region: str,
                           caller: str) -> dict[str, Any]:
    stack_set = world.engine.find(owner, region, params["StackSetName"])
    op_id = _check_can_operate(world, stack_set, params)
    regions = resolve_regions(world, params, required=True)
    if stack_set.service_managed:
        for ou in (params.get("DeploymentTargets") or {}).get("OrganizationalUnitIds") or []:
            if ou not in stack_set.ou_ids:  # terraform-provider-aws #27877 (§A4)
                raise AwsFault("ValidationError", f"Organizational unit {ou} not found in StackSet")
    overrides = _merge_parameters(params.get("ParameterOverrides"), {})
    resolve_parameters(stack_set.template, {**stack_set.parameters, **overrides})
    targets = _existing_targets(world, stack_set, params, regions, "update")
    for t in targets:
        instance = stack_set.instances.get((t.account, t.region))
        assert instance is not None
        _apply_overrides(instance, params.get("ParameterOverrides"))
    op = _new_operation(world, op_id, "UPDATE", params, targets)
    world.engine.submit(stack_set, op, world.now_ts())
    return {"OperationId": op_id}


def delete_stack_instances(world: WorldState, params: dict[str, Any], owner: str, region: str,
                           caller: str) -> dict[str, Any]:
    stack_set = world.engine.find(owner, region, params["StackSetName"])
    if params.get("RetainStacks") is None:
        raise AwsFault("ValidationError", "RetainStacks is required")
    op_id = _check_can_operate(world, stack_set, params)
    regions = resolve_regions(world, params, required=True)
    targets = _existing_targets(world, stack_set, params, regions, "delete")
    deployment = params.get("DeploymentTargets") or {}
    if stack_set.service_managed and deployment.get("AccountFilterType", "UNION") in ("NONE", "UNION") \
            and set(regions) >= set(stack_set.instances.regions()):
        # The whole OU leaves the StackSet: auto-deployment stops watching it.
        gone = set(deployment.get("OrganizationalUnitIds") or [])
        stack_set.ou_ids = [ou for ou in stack_set.ou_ids if ou not in gone]
    op = _new_operation(world, op_id, "DELETE", params, targets)
    world.engine.submit(stack_set, op, world.now_ts())
    return {"OperationId": op_id}


def update_stack_set(world: WorldState, params: dict[str, Any], owner: str, region: str, caller: str) -> dict[str, Any]:
    stack_set = world.engine.find(owner, region, params["StackSetName"])
    op_id = _check_can_operate(world, stack_set, params)
    if params.get("AutoDeployment") is not None and (params.get("DeploymentTargets") or params.get("Regions")):
        raise AwsFault("ValidationError", "AutoDeployment cannot be updated together with DeploymentTargets or "
                                          "Regions")
    if params.get("ManagedExecution") is not None and world.engine.running(stack_set) is not None:
        raise AwsFault("ValidationError", "ManagedExecution cannot be changed while operations are running or "
                                          "queued")
    model = params.get("PermissionModel")
    if model and model != stack_set.permission_model and len(stack_set.instances):
        raise AwsFault("ValidationError", "PermissionModel cannot be changed while the stack set has instances")
    body = _template_body(world, params, stack_set.template_body)
    template = parse_template(body)
    values = _merge_parameters(params.get("Parameters"), stack_set.parameters)
    resolve_parameters(template, values)
    capabilities = list(params.get("Capabilities") or [])
    _check_capabilities(template, capabilities)
    if len(params.get("Tags") or []) > MAX_TAGS:
        raise AwsFault("ValidationError", f"A stack set can have at most {MAX_TAGS} tags")
    changed = body != stack_set.template_body or values != stack_set.parameters
    subset = params.get("Accounts") is not None or params.get("DeploymentTargets") is not None
    if subset:
        if not params.get("Regions"):
            raise AwsFault("ValidationError", "Regions must be specified with Accounts or DeploymentTargets")
        targets = _existing_targets(world, stack_set, params, resolve_regions(world, params, True), "update")
    else:
        if params.get("Regions"):
            raise AwsFault("ValidationError", "Regions can only be specified with Accounts or DeploymentTargets")
        targets = [Target(i.account, i.region, i.ou_id) for i in stack_set.instances if i.status != "INOPERABLE"]
    # The definition changes now, even if the operation later fails (§A4).
    stack_set.template_body, stack_set.template, stack_set.parameters = body, template, values
    stack_set.capabilities = capabilities
    if params.get("Description") is not None:
        stack_set.description = params["Description"]
    if params.get("Tags") is not None:
        stack_set.tags = list(params["Tags"])
    if params.get("AutoDeployment") is not None:
        stack_set.auto_deployment = {**(stack_set.auto_deployment or {}), **params["AutoDeployment"]}
    if params.get("ManagedExecution") is not None:
        stack_set.managed_execution = bool(params["ManagedExecution"].get("Active"))
    if model:
        stack_set.permission_model = model
    op = _new_operation(world, op_id, "UPDATE", params, targets, outdate_all=subset and changed)
    world.engine.submit(stack_set, op, world.now_ts())
    return {"OperationId": op_id}


def delete_stack_set(world: WorldState, params: dict[str, Any], owner: str, region: str, caller: str) -> dict[str, Any]:
    stack_set = world.engine.find(owner, region, params["StackSetName"])
    running = world.engine.running(stack_set)
    if running is not None:
        raise AwsFault("OperationInProgressException",
                       f"Another Operation on StackSet {stack_set.arn} is in progress: {running.id}", 409)
    if len(stack_set.instances):
        raise AwsFault("StackSetNotEmptyException", f"StackSet {stack_set.name} is not empty", 409)
    stack_set.status = "DELETED"
    return {}


def stop_operation(world: WorldState, params: dict[str, Any], owner: str, region: str, caller: str) -> dict[str, Any]:
    stack_set = world.engine.find(owner, region, params["StackSetName"])
    op = stack_set.operations.get(params["OperationId"])
    if op is None:
        raise AwsFault("OperationNotFoundException", f"Operation {params['OperationId']} not found", 404)
    now = world.now_ts()
    status = op.status(now)
    if status == "QUEUED":
        # Nothing started: every target is cancelled at once and the operation is STOPPED.
        op.steps = [Step(t.account, t.region, t.ou_id, now, now, "CANCELLED", STOPPED_REASON, True, True)
                    for t in op.pending_targets]
        op.pending_targets = []
        op.started_at = op.end_at = op.stopped_at = now
        op.finished = True
        stack_set.queue.remove(op)
        for step in op.steps:
            instance = stack_set.instances.get((step.account, step.region))
            if instance is not None and instance.detailed == "PENDING":
                instance.status, instance.detailed, instance.reason = "OUTDATED", "CANCELLED", STOPPED_REASON
        return {}
    if status != "RUNNING":
        raise AwsFault("InvalidOperationException", f"Operation {op.id} is {status} and cannot be stopped")
    op.stop(now)
    world.engine.settle(now)
    return {}


def detect_drift(world: WorldState, params: dict[str, Any], owner: str, region: str, caller: str) -> dict[str, Any]:
    stack_set = world.engine.find(owner, region, params["StackSetName"])
    running = world.engine.running(stack_set)
    if running is not None and running.action == "DETECT_DRIFT":  # one drift run at a time (§A8)
        raise AwsFault("OperationInProgressException",
                       f"Another Operation on StackSet {stack_set.arn} is in progress: {running.id}", 409)
    op_id = _check_can_operate(world, stack_set, params)
    targets = [Target(i.account, i.region, i.ou_id) for i in stack_set.instances if i.stack_id is not None]
    op = _new_operation(world, op_id, "DETECT_DRIFT", params, targets)
    op.drift_summary = {"resources": dict(stack_set.template.resources)}
    world.engine.submit(stack_set, op, world.now_ts())
    return {"OperationId": op_id}


WRITES = {
    "CreateStackSet": create_stack_set,
    "UpdateStackSet": update_stack_set,
    "DeleteStackSet": delete_stack_set,
    "CreateStackInstances": create_stack_instances,
    "UpdateStackInstances": update_stack_instances,
    "DeleteStackInstances": delete_stack_instances,
    "StopStackSetOperation": stop_operation,
    "DetectStackSetDrift": detect_drift,
}

__all__ = ["handle_cloudformation", "to_datetime"]
