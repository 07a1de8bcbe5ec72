"""AWS response dicts → our typed models, once, at the provider edge (field names as botocore's model spells them)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from sys import intern
from typing import Any

from reconciler.core.keys import InstanceKey
from reconciler.core.live import (
    LINEAGE_TAG,
    Account,
    AccountState,
    LiveInstance,
    LiveStackSet,
    OperationResult,
    OperationResultStatus,
    OperationStatus,
    OperationView,
    OrganizationalUnit,
    PermissionModel,
    StackDriftStatus,
    StackInstanceDetailedStatus,
    StackInstanceStatus,
    StackSetDriftDetails,
)
from reconciler.core.ports import OrganizationInfo


def _enum(kind: Any, value: Any, default: Any) -> Any:
    try:
        return kind(value)
    except ValueError:
        return default


def organization(raw: Mapping[str, Any]) -> OrganizationInfo:
    return OrganizationInfo(id=raw["Id"], management_account=raw["MasterAccountId"],
                            feature_set=raw.get("FeatureSet", "ALL"))


def account(raw: Mapping[str, Any], parent_id: str) -> Account:
    # ``State`` replaces ``Status`` (retired 2026-09-09, §B); older endpoints send only Status.
    state = raw.get("State") or raw.get("Status") or "ACTIVE"
    return Account(id=raw["Id"], name=raw.get("Name", ""), parent_id=parent_id,
                   state=_enum(AccountState, state, AccountState.ACTIVE))


def organizational_unit(raw: Mapping[str, Any], parent_id: str) -> OrganizationalUnit:
    return OrganizationalUnit(id=raw["Id"], name=raw.get("Name", raw["Id"]), parent_id=parent_id)


def _drift_details(raw: Mapping[str, Any] | None) -> StackSetDriftDetails | None:
    if not raw:
        return None
    return StackSetDriftDetails(
        drift_status=raw.get("DriftStatus", "NOT_CHECKED"),
        detection_status=raw.get("DriftDetectionStatus"),
        last_check=raw.get("LastDriftCheckTimestamp"),
        drifted_count=int(raw.get("DriftedStackInstancesCount", 0)),
        in_sync_count=int(raw.get("InSyncStackInstancesCount", 0)),
        failed_count=int(raw.get("FailedStackInstancesCount", 0)),
        total_count=int(raw.get("TotalStackInstancesCount", 0)),
    )


def stack_set(raw: Mapping[str, Any]) -> LiveStackSet:
    """DescribeStackSet.StackSet. NoEcho values arrive masked, so ``parameters`` holds no secret."""
    auto = raw.get("AutoDeployment")
    return LiveStackSet(
        name=raw["StackSetName"],
        stack_set_id=raw.get("StackSetId", ""),
        status=raw.get("Status", "ACTIVE"),
        permission_model=_enum(PermissionModel, raw.get("PermissionModel", "SELF_MANAGED"),
                               PermissionModel.SELF_MANAGED),
        description=raw.get("Description", ""),
        template_body=raw.get("TemplateBody", ""),
        parameters={p["ParameterKey"]: p.get("ParameterValue", "") for p in raw.get("Parameters", [])},
        capabilities=tuple(sorted(raw.get("Capabilities", []))),
        tags=tuple(sorted((t["Key"], t["Value"]) for t in raw.get("Tags", []) if t["Key"] != LINEAGE_TAG)),
        auto_deployment=auto.get("Enabled") if auto else None,
        retain_stacks_on_account_removal=auto.get("RetainStacksOnAccountRemoval") if auto else None,
        managed_execution=bool((raw.get("ManagedExecution") or {}).get("Active", False)),
        organizational_unit_ids=tuple(sorted(raw.get("OrganizationalUnitIds", []))),
        regions=tuple(sorted(raw.get("Regions", []))),
        administration_role_arn=raw.get("AdministrationRoleARN"),
        execution_role_name=raw.get("ExecutionRoleName"),
        drift=_drift_details(raw.get("StackSetDriftDetectionDetails")),
        lineage=next((t["Value"] for t in raw.get("Tags", []) if t["Key"] == LINEAGE_TAG), None),
    )


# Enum lookups by value, built once: a plain dict read costs a fraction of ``Enum(value)`` with its try/except,
# and ListStackInstances brings one row per (account, region), 170,000 at 10,000 accounts × 17 regions.
_INSTANCE_STATUS = {e.value: e for e in StackInstanceStatus}
_DETAILED_STATUS = {e.value: e for e in StackInstanceDetailedStatus}
_DRIFT_STATUS = {e.value: e for e in StackDriftStatus}


def stack_instance(stack_set_name: str, raw: Mapping[str, Any]) -> LiveInstance:
    """A StackInstanceSummary; suspended accounts carry no StackId (§A7), so nothing here requires it.

    The account, region and OU ids repeat across rows (and the connections): they are interned, so 170,000
    instances share one string per account and per region instead of holding a copy each."""
    get = raw.get
    detailed = (get("StackInstanceStatus") or {}).get("DetailedStatus")
    ou = get("OrganizationalUnitId")
    stack_id = get("StackId")
    return LiveInstance(
        key=InstanceKey(intern(stack_set_name), intern(raw["Account"]), intern(raw["Region"])),
        status=_INSTANCE_STATUS.get(get("Status", "CURRENT"), StackInstanceStatus.OUTDATED),
        detailed_status=_DETAILED_STATUS.get(detailed) if detailed else None,
        status_reason=get("StatusReason"),
        # Interned too: Clumio's connection for the same account and region names the same stack (stack_arn), and
        # then both hold one string (providers/clumio/client.py interns it on its side).
        stack_id=intern(stack_id) if stack_id else None,
        organizational_unit_id=intern(ou) if ou else None,
        drift_status=_DRIFT_STATUS.get(get("DriftStatus", "NOT_CHECKED"), StackDriftStatus.UNKNOWN),
        last_drift_check=get("LastDriftCheckTimestamp"),
        last_operation_id=get("LastOperationId"),
    )


def operation(stack_set_name: str, raw: Mapping[str, Any]) -> OperationView:
    """A StackSetOperation (Describe) or StackSetOperationSummary (List)."""
    details = raw.get("StatusDetails") or {}
    ended: datetime | None = raw.get("EndTimestamp")
    return OperationView(
        operation_id=raw["OperationId"],
        stack_set=stack_set_name,
        action=raw.get("Action", ""),
        status=_enum(OperationStatus, raw.get("Status", "RUNNING"), OperationStatus.RUNNING),
        status_reason=raw.get("StatusReason"),
        failed_count=int(details.get("FailedStackInstancesCount", 0)),
        created=raw.get("CreationTimestamp"),
        ended=ended,
    )


def operation_result(raw: Mapping[str, Any]) -> OperationResult:
    return OperationResult(
        account=raw.get("Account", ""),
        region=raw.get("Region", ""),
        # A status this model does not know is read as not finished yet: the result is polled again.
        status=_enum(OperationResultStatus, raw.get("Status", "PENDING"), OperationResultStatus.PENDING),
        status_reason=raw.get("StatusReason"),
        organizational_unit_id=raw.get("OrganizationalUnitId"),
    )


def resource_drift(raw: Mapping[str, Any]) -> dict[str, str]:
    """A StackInstanceResourceDriftsSummary, flattened to strings for the drift report."""
    return {
        "logical_resource_id": str(raw.get("LogicalResourceId", "")),
        "physical_resource_id": str(raw.get("PhysicalResourceId", "")),
        "resource_type": str(raw.get("ResourceType", "")),
        "drift_status": str(raw.get("StackResourceDriftStatus", "")),
        "timestamp": raw["Timestamp"].isoformat() if isinstance(raw.get("Timestamp"), datetime)
        else str(raw.get("Timestamp", "")),
        "differences": "; ".join(
            f"{d.get('PropertyPath', '')} {d.get('DifferenceType', '')}".strip()
            for d in raw.get("PropertyDifferences", [])),
    }
