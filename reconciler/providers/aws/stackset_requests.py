"""StackSet write requests built from our typed Operation / StackSetDefinition / TemplateParameter.

These functions return the exact keyword arguments boto3 receives, so contract tests check them against botocore's
own service model. Secret parameter values are revealed here, into the request, and nowhere else.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from reconciler.core.desired import CallAs
from reconciler.core.errors import ReconcilerError
from reconciler.core.live import PermissionModel
from reconciler.core.plan import (
    DeploymentTargets,
    Operation,
    OperationPreferences,
    StackSetDefinition,
)
from reconciler.core.ports import TemplateParameter
from reconciler.core.secrets import Secret

MAX_TEMPLATE_BODY_BYTES = 51_200  # §A2: larger bodies must go through TemplateURL
MAX_OUS_PER_CALL = 50  # §A3


def parameters(params: Sequence[TemplateParameter]) -> list[dict[str, Any]]:
    """``Parameters`` / ``ParameterOverrides``: a value, a revealed secret, or UsePreviousValue (never both)."""
    out: list[dict[str, Any]] = []
    for param in params:
        if param.use_previous:
            out.append({"ParameterKey": param.key, "UsePreviousValue": True})
        elif isinstance(param.value, Secret):
            out.append({"ParameterKey": param.key, "ParameterValue": param.value.reveal()})
        else:
            out.append({"ParameterKey": param.key, "ParameterValue": param.value or ""})
    return out


def preferences(prefs: OperationPreferences) -> dict[str, Any]:
    """OperationPreferences (§A5): one of count/percentage for each of concurrency and tolerance."""
    out: dict[str, Any] = {"RegionConcurrencyType": prefs.region_concurrency_type.value,
                           "ConcurrencyMode": prefs.concurrency_mode.value}
    if prefs.region_order:
        out["RegionOrder"] = list(prefs.region_order)
    if prefs.max_concurrent_percentage is not None:
        out["MaxConcurrentPercentage"] = prefs.max_concurrent_percentage
    elif prefs.max_concurrent_count is not None:
        out["MaxConcurrentCount"] = prefs.max_concurrent_count
    if prefs.failure_tolerance_percentage is not None:
        out["FailureTolerancePercentage"] = prefs.failure_tolerance_percentage
    elif prefs.failure_tolerance_count is not None:
        out["FailureToleranceCount"] = prefs.failure_tolerance_count
    return out


def deployment_targets(targets: DeploymentTargets) -> dict[str, Any]:
    if len(targets.organizational_unit_ids) > MAX_OUS_PER_CALL:
        raise ReconcilerError(f"{len(targets.organizational_unit_ids)} OUs in one StackSet call; AWS takes at most "
                              f"{MAX_OUS_PER_CALL}", hint="this is a scheduling bug: please report it")
    out: dict[str, Any] = {}
    if targets.organizational_unit_ids:
        out["OrganizationalUnitIds"] = list(targets.organizational_unit_ids)
    if targets.accounts:
        out["Accounts"] = list(targets.accounts)
    if targets.account_filter_type is not None:
        out["AccountFilterType"] = targets.account_filter_type.value
    return out


def _call_as(call_as: CallAs) -> dict[str, Any]:
    # CallAs exists only for SERVICE_MANAGED StackSets (§A1); SELF is the default, so it is sent only when needed.
    return {"CallAs": call_as.value} if call_as is CallAs.DELEGATED_ADMIN else {}


def _template_body(body: str) -> str:
    if len(body.encode()) > MAX_TEMPLATE_BODY_BYTES:
        raise ReconcilerError(
            f"the Clumio template is {len(body.encode())} bytes; a StackSet TemplateBody takes at most "
            f"{MAX_TEMPLATE_BODY_BYTES}", hint="select fewer clumio.asset_types, or report it to the clumio-org team")
    return body


def _targets(operation: Operation) -> dict[str, Any]:
    """Where an operation goes: DeploymentTargets (service-managed) or Accounts (self-managed), plus Regions."""
    out: dict[str, Any] = {}
    if operation.targets is not None:
        out["DeploymentTargets"] = deployment_targets(operation.targets)
    elif operation.accounts:
        out["Accounts"] = list(operation.accounts)
    if operation.regions:
        out["Regions"] = list(operation.regions)
    return out


def _operation_common(operation: Operation, call_as: CallAs) -> dict[str, Any]:
    out: dict[str, Any] = {"StackSetName": operation.stack_set, "OperationId": operation.operation_id}
    if operation.preferences is not None:
        out["OperationPreferences"] = preferences(operation.preferences)
    out.update(_call_as(call_as))
    return out


def _definition_fields(definition: StackSetDefinition) -> dict[str, Any]:
    out: dict[str, Any] = {
        "StackSetName": definition.name,
        "Description": definition.description,
        "Capabilities": list(definition.capabilities),
        "Tags": [{"Key": k, "Value": v} for k, v in definition.tags],
        "PermissionModel": definition.permission_model.value,
        "ManagedExecution": {"Active": definition.managed_execution},
    }
    if definition.permission_model is PermissionModel.SELF_MANAGED:
        if definition.administration_role_arn:
            out["AdministrationRoleARN"] = definition.administration_role_arn
        if definition.execution_role_name:
            out["ExecutionRoleName"] = definition.execution_role_name
    return out


def _auto_deployment(definition: StackSetDefinition) -> dict[str, Any]:
    auto: dict[str, Any] = {"Enabled": bool(definition.auto_deployment)}
    if definition.auto_deployment and definition.retain_stacks_on_account_removal is not None:
        auto["RetainStacksOnAccountRemoval"] = definition.retain_stacks_on_account_removal
    return auto


def create_stack_set(definition: StackSetDefinition, template_body: str, params: Sequence[TemplateParameter],
                     call_as: CallAs) -> dict[str, Any]:
    """CreateStackSet (§A2): creates no instances; AutoDeployment is required for SERVICE_MANAGED."""
    out = _definition_fields(definition)
    out["TemplateBody"] = _template_body(template_body)
    out["Parameters"] = parameters(params)
    if definition.permission_model is PermissionModel.SERVICE_MANAGED:
        out["AutoDeployment"] = _auto_deployment(definition)
        out.update(_call_as(call_as))
    return out


def update_stack_set(definition: StackSetDefinition, template_body: str, params: Sequence[TemplateParameter],
                     operation: Operation, call_as: CallAs) -> dict[str, Any]:
    """UpdateStackSet (§A4): all instances, or a subset when the operation names targets and regions.

    AutoDeployment may not travel with DeploymentTargets/Regions (§A2), so a subset update leaves it as it is.
    """
    out = _definition_fields(definition)
    out["TemplateBody"] = _template_body(template_body)
    out["Parameters"] = parameters(params)
    subset = _targets(operation)
    if subset and "Regions" not in subset:
        raise ReconcilerError(f"operation {operation.operation_id}: a subset UpdateStackSet needs regions too",
                              hint="this is a scheduling bug: please report it")
    out.update(subset)
    if definition.permission_model is PermissionModel.SERVICE_MANAGED and not subset:
        out["AutoDeployment"] = _auto_deployment(definition)
    out.update(_operation_common(operation, call_as if _service_managed(definition) else CallAs.SELF))
    return out


def _service_managed(definition: StackSetDefinition) -> bool:
    return definition.permission_model is PermissionModel.SERVICE_MANAGED


def create_stack_instances(operation: Operation, call_as: CallAs) -> dict[str, Any]:
    """CreateStackInstances (§A4): every (account × region) of the targets; Regions is required."""
    out = _operation_common(operation, call_as)
    out.update(_targets(operation))
    _require_targets(operation, out)
    return out


def update_stack_instances(operation: Operation, overrides: Sequence[TemplateParameter],
                           call_as: CallAs) -> dict[str, Any]:
    """UpdateStackInstances (§A4): parameter overrides on existing instances only."""
    out = _operation_common(operation, call_as)
    out.update(_targets(operation))
    out["ParameterOverrides"] = parameters(overrides)
    _require_targets(operation, out)
    return out


def delete_stack_instances(operation: Operation, call_as: CallAs) -> dict[str, Any]:
    """DeleteStackInstances (§A4): RetainStacks is required; True leaves the stacks running, disassociated."""
    out = _operation_common(operation, call_as)
    out.update(_targets(operation))
    out["RetainStacks"] = bool(operation.retain_stacks)
    _require_targets(operation, out)
    return out


def _require_targets(operation: Operation, request: dict[str, Any]) -> None:
    if "Regions" not in request or not ("DeploymentTargets" in request or "Accounts" in request):
        raise ReconcilerError(
            f"operation {operation.operation_id} ({operation.kind.value}) names no targets or no regions",
            hint="this is a scheduling bug: please report it")
