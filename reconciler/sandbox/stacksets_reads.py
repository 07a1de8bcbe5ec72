"""Read calls of the sandbox's StackSets API (Describe*/List*), with AWS page sizes and NextToken."""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING, Any

from reconciler.sandbox.api import AwsFault
from reconciler.sandbox.instances import StackInstance
from reconciler.sandbox.operations import Operation, Step, to_datetime
from reconciler.sandbox.stacksets import NOT_CHECKED, StackSet
from reconciler.sandbox.template import load_template_document

if TYPE_CHECKING:
    from reconciler.sandbox.worldstate import WorldState

MASK = "****"  # how AWS returns NoEcho parameter values


def _token(data: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode()


def _untoken(token: str) -> Any:
    try:
        return json.loads(base64.urlsafe_b64decode(token.encode()))
    except ValueError:
        raise AwsFault("ValidationError", "Invalid NextToken") from None


def _max_results(params: dict[str, Any], limit: int = 100) -> int:
    value = params.get("MaxResults") or limit
    if not 1 <= value <= limit:
        raise AwsFault("ValidationError", f"MaxResults must be between 1 and {limit}")
    return int(value)


def _slice(items: list[Any], params: dict[str, Any], key: str) -> dict[str, Any]:
    size = _max_results(params)
    start = int(_untoken(params["NextToken"])) if params.get("NextToken") else 0
    out: dict[str, Any] = {key: items[start:start + size]}
    if start + size < len(items):
        out["NextToken"] = _token(start + size)
    return out


def _masked(stack_set: StackSet, values: dict[str, str]) -> list[dict[str, Any]]:
    params = stack_set.template.parameters
    return [{"ParameterKey": k, "ParameterValue": MASK if params.get(k) and params[k].no_echo else v}
            for k, v in sorted(values.items())]


def stack_set_shape(world: WorldState, stack_set: StackSet) -> dict[str, Any]:
    shape: dict[str, Any] = {
        "StackSetName": stack_set.name, "StackSetId": stack_set.id, "Status": stack_set.status,
        "TemplateBody": stack_set.template_body, "Parameters": _masked(stack_set, stack_set.parameters),
        "Capabilities": stack_set.capabilities, "Tags": stack_set.tags, "StackSetARN": stack_set.arn,
        "PermissionModel": stack_set.permission_model,
        "ManagedExecution": {"Active": stack_set.managed_execution},
        "StackSetDriftDetectionDetails": stack_set.drift_details or dict(NOT_CHECKED),
        "Regions": stack_set.instances.regions(),
    }
    if stack_set.description is not None:
        shape["Description"] = stack_set.description
    if stack_set.service_managed:
        shape["AutoDeployment"] = stack_set.auto_deployment or {"Enabled": False}
        shape["OrganizationalUnitIds"] = list(stack_set.ou_ids)
    else:
        shape["AdministrationRoleARN"] = stack_set.admin_role_arn
        shape["ExecutionRoleName"] = stack_set.execution_role_name
    return shape


def instance_summary(stack_set: StackSet, instance: StackInstance) -> dict[str, Any]:
    out: dict[str, Any] = {
        "StackSetId": stack_set.id, "Region": instance.region, "Account": instance.account,
        "Status": instance.status, "StackInstanceStatus": {"DetailedStatus": instance.detailed},
        "DriftStatus": instance.drift_status,
    }
    # Suspended accounts never got a stack: StackId is absent, not empty (§A7).
    if instance.stack_id is not None:
        out["StackId"] = instance.stack_id
    if instance.reason is not None:
        out["StatusReason"] = instance.reason
    if instance.ou_id is not None:
        out["OrganizationalUnitId"] = instance.ou_id
    if instance.last_drift_check is not None:
        out["LastDriftCheckTimestamp"] = instance.last_drift_check
    if instance.last_operation_id is not None:
        out["LastOperationId"] = instance.last_operation_id
    return out


def operation_shape(world: WorldState, stack_set: StackSet, op: Operation, summary: bool = False) -> dict[str, Any]:
    now = world.now_ts()
    status = op.status(now)
    out: dict[str, Any] = {"OperationId": op.id, "Action": op.action, "Status": status,
                           "CreationTimestamp": op.created,
                           "StatusDetails": {"FailedStackInstancesCount": op.failed_count()}}
    if status in ("SUCCEEDED", "FAILED", "STOPPED"):
        out["EndTimestamp"] = to_datetime(op.end_at if op.end_at is not None else op.stopped_at)
    if status == "FAILED":
        out["StatusReason"] = "The Operation failed to complete in one or more regions because failure tolerance " \
                              "was exceeded"
    elif op.automatic:
        out["StatusReason"] = "Automatic deployment triggered by an AWS Organizations change"
    if op.preferences:
        out["OperationPreferences"] = op.preferences
    if summary:
        return out
    out["StackSetId"] = stack_set.id
    if op.targets_param is not None:
        out["DeploymentTargets"] = op.targets_param
    if op.retain_stacks is not None:
        out["RetainStacks"] = op.retain_stacks
    if not stack_set.service_managed:
        out["AdministrationRoleARN"] = stack_set.admin_role_arn
        out["ExecutionRoleName"] = stack_set.execution_role_name
    if op.action == "DETECT_DRIFT" and op.drift_summary and "details" in op.drift_summary:
        out["StackSetDriftDetectionDetails"] = op.drift_summary["details"]
    return out


def describe_stack_set(world: WorldState, params: dict[str, Any], owner: str, region: str) -> dict[str, Any]:
    stack_set = world.engine.find(owner, region, params["StackSetName"], deleted_ok=True)
    return {"StackSet": stack_set_shape(world, stack_set)}


def list_stack_sets(world: WorldState, params: dict[str, Any], owner: str, region: str) -> dict[str, Any]:
    wanted = params.get("Status")
    items = []
    for stack_set in world.engine.all():
        if stack_set.owner != owner or stack_set.region != region:
            continue
        if (wanted and stack_set.status != wanted) or (not wanted and stack_set.status == "DELETED"):
            continue
        summary: dict[str, Any] = {
            "StackSetName": stack_set.name, "StackSetId": stack_set.id, "Status": stack_set.status,
            "PermissionModel": stack_set.permission_model,
            "ManagedExecution": {"Active": stack_set.managed_execution},
            "DriftStatus": (stack_set.drift_details or {}).get("DriftStatus", "NOT_CHECKED")}
        last_check = (stack_set.drift_details or {}).get("LastDriftCheckTimestamp")
        if last_check is not None:
            summary["LastDriftCheckTimestamp"] = last_check
        if stack_set.description is not None:
            summary["Description"] = stack_set.description
        if stack_set.service_managed:
            summary["AutoDeployment"] = stack_set.auto_deployment or {"Enabled": False}
        items.append(summary)
    return _slice(items, params, "Summaries")


_FILTER_FIELDS = {"DETAILED_STATUS": "detailed", "LAST_OPERATION_ID": "last_operation_id",
                  "DRIFT_STATUS": "drift_status"}


def list_stack_instances(world: WorldState, params: dict[str, Any], owner: str, region: str) -> dict[str, Any]:
    stack_set = world.engine.find(owner, region, params["StackSetName"])
    size = _max_results(params)
    filters = params.get("Filters") or []
    if len(filters) > 3:
        raise AwsFault("ValidationError", "At most 3 filters may be specified")
    checks: list[tuple[str, str]] = []
    for f in filters:
        if f.get("Name") not in _FILTER_FIELDS:
            raise AwsFault("ValidationError", f"Unknown filter name {f.get('Name')}")
        checks.append((_FILTER_FIELDS[f["Name"]], str(f.get("Values", ""))))
    region_filter = params.get("StackInstanceRegion")

    def keep(instance: StackInstance) -> bool:
        if region_filter and instance.region != region_filter:
            return False
        return all(getattr(instance, attr) == value for attr, value in checks)

    after = tuple(_untoken(params["NextToken"])) if params.get("NextToken") else None
    account = params.get("StackInstanceAccount")
    if (checks or region_filter) and not account:
        signature = (tuple(checks), region_filter)
        page, last = stack_set.instances.filtered_page(signature, keep, world.engine.generation, after, size)
    else:
        page, last = stack_set.instances.page(after, size, keep if (checks or region_filter) else None,
                                              account=account)
    out: dict[str, Any] = {"Summaries": [instance_summary(stack_set, i) for i in page]}
    if last is not None:
        out["NextToken"] = _token(list(last))
    return out


def describe_stack_instance(world: WorldState, params: dict[str, Any], owner: str, region: str) -> dict[str, Any]:
    stack_set = world.engine.find(owner, region, params["StackSetName"])
    instance = stack_set.instances.get((params["StackInstanceAccount"], params["StackInstanceRegion"]))
    if instance is None:
        raise AwsFault("StackInstanceNotFoundException",
                       f"Stack instance for account {params['StackInstanceAccount']} and region "
                       f"{params['StackInstanceRegion']} not found in StackSet {stack_set.name}", 404)
    shape = instance_summary(stack_set, instance)
    shape["ParameterOverrides"] = _masked(stack_set, instance.overrides)
    return {"StackInstance": shape}


def _operation(stack_set: StackSet, op_id: str) -> Operation:
    op = stack_set.operations.get(op_id)
    if op is None:
        raise AwsFault("OperationNotFoundException", f"Operation {op_id} not found", 404)
    return op


def describe_operation(world: WorldState, params: dict[str, Any], owner: str, region: str) -> dict[str, Any]:
    stack_set = world.engine.find(owner, region, params["StackSetName"], deleted_ok=True)
    op = _operation(stack_set, params["OperationId"])
    return {"StackSetOperation": operation_shape(world, stack_set, op)}


def list_operations(world: WorldState, params: dict[str, Any], owner: str, region: str) -> dict[str, Any]:
    stack_set = world.engine.find(owner, region, params["StackSetName"], deleted_ok=True)
    ops = sorted(stack_set.operations.values(), key=lambda o: o.created, reverse=True)
    return _slice([operation_shape(world, stack_set, o, summary=True) for o in ops], params, "Summaries")


def _result_row(step: Step, status: str) -> dict[str, Any]:
    row: dict[str, Any] = {"Account": step.account, "Region": step.region, "Status": status}
    if status in ("FAILED", "CANCELLED") or (step.outcome == "SKIPPED" and status == "SUCCEEDED"):
        row["StatusReason"] = step.reason
    # No account gate function is configured, so AWS reports the gate as skipped.
    row["AccountGateResult"] = {
        "Status": "SKIPPED",
        "StatusReason": f"Function not found: arn:aws:lambda:{step.region}:{step.account}:function:"
                        f"AWSCloudFormationStackSetAccountGate"}
    if step.ou_id is not None:
        row["OrganizationalUnitId"] = step.ou_id
    return row


def list_operation_results(world: WorldState, params: dict[str, Any], owner: str, region: str) -> dict[str, Any]:
    stack_set = world.engine.find(owner, region, params["StackSetName"], deleted_ok=True)
    op = _operation(stack_set, params["OperationId"])
    now = world.now_ts()
    size = _max_results(params)
    wanted = {str(f.get("Values")) for f in params.get("Filters") or [] if f.get("Name") == "OPERATION_RESULT_STATUS"}
    steps = op.steps
    if len(op.result_order) != len(steps):  # sorted once per operation: pages stay cheap at 100,000 steps
        op.result_order = sorted(range(len(steps)), key=lambda i: (steps[i].account, steps[i].region))
    position = int(_untoken(params["NextToken"])) if params.get("NextToken") else 0
    rows: list[dict[str, Any]] = []
    order = op.result_order
    while position < len(order) and len(rows) < size:
        step = steps[order[position]]
        position += 1
        status = step.result_status(now)
        if not wanted or status in wanted:
            rows.append(_result_row(step, status))
    out: dict[str, Any] = {"Summaries": rows}
    if position < len(order):
        out["NextToken"] = _token(position)
    return out


def list_resource_drifts(world: WorldState, params: dict[str, Any], owner: str, region: str) -> dict[str, Any]:
    stack_set = world.engine.find(owner, region, params["StackSetName"])
    instance = stack_set.instances.get((params["StackInstanceAccount"], params["StackInstanceRegion"]))
    if instance is None:
        raise AwsFault("StackInstanceNotFoundException", "Stack instance not found", 404)
    _operation(stack_set, params["OperationId"])
    wanted = set(params.get("StackInstanceResourceDriftStatuses") or [])
    rows = []
    if instance.drift_results_op == params["OperationId"]:
        for logical_id, status, prop in instance.drift_results:
            if wanted and status not in wanted:
                continue
            row: dict[str, Any] = {
                "StackId": instance.stack_id, "LogicalResourceId": logical_id,
                "PhysicalResourceId": f"{logical_id}-{instance.account}-{instance.region}",
                "ResourceType": stack_set.template.resources.get(logical_id, "AWS::CloudFormation::CustomResource"),
                "StackResourceDriftStatus": status, "Timestamp": instance.last_drift_check}
            if status == "MODIFIED":
                actual = instance.drifted.get(logical_id, (prop or "", ""))[1]
                row["PropertyDifferences"] = [{"PropertyPath": f"/{prop}", "ExpectedValue": "(template value)",
                                               "ActualValue": actual, "DifferenceType": "NOT_EQUAL"}]
            rows.append(row)
    return _slice(rows, params, "Summaries")


def list_auto_deployment_targets(world: WorldState, params: dict[str, Any], owner: str,
                                 region: str) -> dict[str, Any]:
    """The OUs auto-deployment watches, with the regions new accounts there get."""
    stack_set = world.engine.find(owner, region, params["StackSetName"])
    regions = stack_set.instances.regions()
    items = [{"OrganizationalUnitId": ou, "Regions": regions} for ou in stack_set.ou_ids]
    return _slice(items if (stack_set.auto_deployment or {}).get("Enabled") else [], params, "Summaries")


# GetTemplateSummary (docs/reference/sandbox-fidelity.md §3): what a template asks of its caller.
_NAMED_IAM = {"AWS::IAM::Role": "RoleName", "AWS::IAM::User": "UserName", "AWS::IAM::Group": "GroupName",
              "AWS::IAM::ManagedPolicy": "ManagedPolicyName", "AWS::IAM::InstanceProfile": "InstanceProfileName"}


def get_template_summary(world: WorldState, params: dict[str, Any], owner: str, region: str) -> dict[str, Any]:
    """The parameters, capabilities and resource types of a StackSet's stored template (or of a given one)."""
    given = [k for k in ("StackSetName", "TemplateBody", "TemplateURL", "StackName") if params.get(k)]
    if len(given) != 1:
        raise AwsFault("ValidationError", "Exactly one of StackSetName, StackName, TemplateBody or TemplateURL "
                                          "must be specified")
    if given[0] == "StackName":
        raise AwsFault("ValidationError", f"Stack with id {params['StackName']} does not exist")
    if given[0] == "StackSetName":
        body = world.engine.find(owner, region, params["StackSetName"]).template_body
    elif given[0] == "TemplateBody":
        body = str(params["TemplateBody"])
    else:
        body = world.fetch_template_url(str(params["TemplateURL"]))
    return template_summary(load_template_document(body))


def template_summary(doc: dict[str, Any]) -> dict[str, Any]:
    resources = {n: r for n, r in (doc.get("Resources") or {}).items() if isinstance(r, dict)}
    types: list[str] = []
    for resource in resources.values():
        kind = str(resource.get("Type", ""))
        if kind and kind not in types:
            types.append(kind)
    iam = sorted({str(r.get("Type")) for r in resources.values() if str(r.get("Type", "")).startswith("AWS::IAM::")})
    named = any(_NAMED_IAM.get(str(r.get("Type"))) in (r.get("Properties") or {}) for r in resources.values())
    capabilities = (["CAPABILITY_NAMED_IAM"] if named else ["CAPABILITY_IAM"]) if iam else []
    transforms = doc.get("Transform")
    if transforms:
        capabilities.append("CAPABILITY_AUTO_EXPAND")
    parameters = []
    for name, decl in (doc.get("Parameters") or {}).items():
        decl = decl if isinstance(decl, dict) else {}
        parameter: dict[str, Any] = {"ParameterKey": name, "ParameterType": str(decl.get("Type", "String")),
                                     "NoEcho": str(decl.get("NoEcho", "false")).lower() == "true"}
        if decl.get("Default") is not None:
            parameter["DefaultValue"] = str(decl["Default"])
        if decl.get("Description") is not None:
            parameter["Description"] = str(decl["Description"])
        # AWS always sends ParameterConstraints, empty when the parameter declares no AllowedValues.
        parameter["ParameterConstraints"] = (
            {"AllowedValues": [str(v) for v in decl["AllowedValues"]]} if decl.get("AllowedValues") else {})
        parameters.append(parameter)
    out: dict[str, Any] = {"Parameters": parameters, "Capabilities": capabilities, "ResourceTypes": types,
                           "Version": str(doc.get("AWSTemplateFormatVersion", "2010-09-09"))}
    if iam:
        out["CapabilitiesReason"] = f"The following resource(s) require capabilities: [{', '.join(iam)}]"
    if doc.get("Description") is not None:
        out["Description"] = str(doc["Description"])
    if isinstance(doc.get("Metadata"), dict):
        out["Metadata"] = json.dumps(doc["Metadata"], default=str)
    if transforms:
        out["DeclaredTransforms"] = [transforms] if isinstance(transforms, str) else list(transforms)
    return out


READS = {
    "DescribeStackSet": describe_stack_set,
    "ListStackSets": list_stack_sets,
    "ListStackInstances": list_stack_instances,
    "DescribeStackInstance": describe_stack_instance,
    "DescribeStackSetOperation": describe_operation,
    "ListStackSetOperations": list_operations,
    "ListStackSetOperationResults": list_operation_results,
    "ListStackInstanceResourceDrifts": list_resource_drifts,
    "ListStackSetAutoDeploymentTargets": list_auto_deployment_targets,
    "GetTemplateSummary": get_template_summary,
}
