"""AWS response dicts become typed models tolerantly: retired fields, missing optional fields, unknown enum values."""

from __future__ import annotations

from datetime import UTC, datetime

from reconciler.core.live import (
    AccountState,
    OperationStatus,
    PermissionModel,
    StackDriftStatus,
    StackInstanceDetailedStatus,
    StackInstanceStatus,
)
from reconciler.providers.aws import convert


def test_account_state_prefers_state_and_falls_back_to_the_retired_status() -> None:
    assert convert.account({"Id": "1", "State": "CLOSED", "Status": "SUSPENDED"}, "r-1").state is AccountState.CLOSED
    assert convert.account({"Id": "1", "Status": "SUSPENDED"}, "r-1").state is AccountState.SUSPENDED


def test_suspended_instance_without_stack_id_parses() -> None:
    row = convert.stack_instance("clumio-org", {
        "Account": "320000000004", "Region": "us-east-1", "Status": "OUTDATED",
        "StatusReason": "This account is suspended.",
        "StackInstanceStatus": {"DetailedStatus": "SKIPPED_SUSPENDED_ACCOUNT"}})
    assert row.stack_id is None and row.status is StackInstanceStatus.OUTDATED
    assert row.detailed_status is StackInstanceDetailedStatus.SKIPPED_SUSPENDED_ACCOUNT
    assert row.drift_status is StackDriftStatus.NOT_CHECKED and str(row.key) == "clumio-org/320000000004/us-east-1"


def test_unknown_statuses_do_not_break_reads() -> None:
    row = convert.stack_instance("s", {"Account": "1", "Region": "r", "Status": "NEW_STATUS",
                                       "StackInstanceStatus": {"DetailedStatus": "SOMETHING_NEW"}})
    assert row.status is StackInstanceStatus.OUTDATED and row.detailed_status is None
    op = convert.operation("s", {"OperationId": "o", "Status": "RUNNING", "Action": "UPDATE",
                                 "StatusDetails": {"FailedStackInstancesCount": 2},
                                 "CreationTimestamp": datetime(2026, 1, 1, tzinfo=UTC)})
    assert op.status is OperationStatus.RUNNING and op.failed_count == 2


def test_stack_set_without_optional_fields_reads_with_defaults() -> None:
    live = convert.stack_set({"StackSetName": "s", "Parameters": [{"ParameterKey": "ClumioToken",
                                                                    "ParameterValue": "****"}]})
    assert live.permission_model is PermissionModel.SELF_MANAGED  # AWS's default when omitted
    assert live.auto_deployment is None and live.regions == () and live.parameters == {"ClumioToken": "****"}
