"""Contract: UpdateStackSet, UpdateStackInstances, DeleteStackInstances, DeleteStackSet (aws-stacksets.md §A2, §A4,
§A7, §A9)."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.contract.sandbox_helpers import (
    APP_ONE,
    APP_TWO,
    DEEP,
    NESTED,
    OTHER,
    OU_APPS,
    OU_NESTED,
    OU_OTHER,
    create_clumio_stack_set,
    deploy,
    detailed,
    instances,
    wait_for_operation,
    world_spec,
)


@pytest.fixture
def deployed(sandbox_factory):
    sandbox = sandbox_factory(world_spec())
    cf = create_clumio_stack_set(sandbox)
    deploy(sandbox, cf, [OU_APPS, OU_OTHER], ["us-east-1"], OperationPreferences={
        "MaxConcurrentCount": 10, "FailureToleranceCount": 9})
    return sandbox, cf


def _update_parameter(cf, value, **targets):
    return cf.update_stack_set(
        StackSetName="clumio", UsePreviousTemplate=True, Capabilities=["CAPABILITY_NAMED_IAM"],
        Parameters=[{"ParameterKey": "ClumioToken", "UsePreviousValue": True},
                    {"ParameterKey": "RoleExternalId", "UsePreviousValue": True},
                    {"ParameterKey": "SendCFTDeploymentEventsToClumio", "ParameterValue": value}],
        OperationPreferences={"MaxConcurrentCount": 10, "FailureToleranceCount": 9}, **targets)["OperationId"]


def test_subset_update_with_a_parameter_change_marks_every_instance_outdated(deployed):
    """§A4: a subset UpdateStackSet that changes parameters marks ALL instances OUTDATED; only the subset is
    updated and the rest stay OUTDATED."""
    sandbox, cf = deployed
    op_id = _update_parameter(cf, "False", DeploymentTargets={"OrganizationalUnitIds": [OU_OTHER]},
                              Regions=["us-east-1"])
    assert {v["Status"] for v in instances(cf).values()} == {"OUTDATED"}
    wait_for_operation(sandbox, cf, op_id)
    summaries = instances(cf)
    assert summaries[(OTHER, "us-east-1")]["Status"] == "CURRENT"
    assert summaries[(APP_ONE, "us-east-1")]["Status"] == "OUTDATED"


def test_subset_update_without_changes_leaves_other_instances_current(deployed):
    """§A4: when neither template nor parameters change, only the targeted instances are touched."""
    sandbox, cf = deployed
    op_id = cf.update_stack_set(StackSetName="clumio", UsePreviousTemplate=True,
                                Capabilities=["CAPABILITY_NAMED_IAM"],
                                Parameters=[{"ParameterKey": "ClumioToken", "UsePreviousValue": True},
                                            {"ParameterKey": "RoleExternalId", "UsePreviousValue": True}],
                                Tags=[{"Key": "team", "Value": "platform"}],
                                DeploymentTargets={"OrganizationalUnitIds": [OU_OTHER]},
                                Regions=["us-east-1"])["OperationId"]
    assert instances(cf)[(APP_ONE, "us-east-1")]["Status"] == "CURRENT"
    wait_for_operation(sandbox, cf, op_id)
    assert instances(cf)[(APP_ONE, "us-east-1")]["Status"] == "CURRENT"


def test_full_update_brings_every_instance_current_again(deployed):
    """§A4: UpdateStackSet without targets and regions updates all instances."""
    sandbox, cf = deployed
    wait_for_operation(sandbox, cf, _update_parameter(cf, "False"))
    statuses = {k: v["Status"] for k, v in instances(cf).items() if k[0] != "444444444444"}
    assert set(statuses.values()) == {"CURRENT"}


def test_update_stack_instances_on_an_ou_not_in_the_stack_set_is_rejected(deployed):
    """§A4 (terraform-provider-aws #27877): naming an OU that isn't a target → ValidationError."""
    _, cf = deployed
    with pytest.raises(ClientError) as error:
        cf.update_stack_instances(StackSetName="clumio", Regions=["us-east-1"],
                                  DeploymentTargets={"OrganizationalUnitIds": [OU_NESTED]},
                                  ParameterOverrides=[{"ParameterKey": "SendCFTDeploymentEventsToClumio",
                                                       "ParameterValue": "False"}])
    assert error.value.response["Error"]["Code"] == "ValidationError"
    assert f"Organizational unit {OU_NESTED} not found in StackSet" in error.value.response["Error"]["Message"]


def test_update_stack_instances_sets_parameter_overrides(deployed):
    """§A4/§A7: UpdateStackInstances changes overrides on existing instances; DescribeStackInstance shows them."""
    sandbox, cf = deployed
    op_id = cf.update_stack_instances(
        StackSetName="clumio", Regions=["us-east-1"],
        DeploymentTargets={"OrganizationalUnitIds": [OU_APPS], "Accounts": [APP_TWO],
                           "AccountFilterType": "INTERSECTION"},
        ParameterOverrides=[{"ParameterKey": "SendCFTDeploymentEventsToClumio", "ParameterValue": "False"}]
    )["OperationId"]
    wait_for_operation(sandbox, cf, op_id)
    two = cf.describe_stack_instance(StackSetName="clumio", StackInstanceAccount=APP_TWO,
                                     StackInstanceRegion="us-east-1")["StackInstance"]
    one = cf.describe_stack_instance(StackSetName="clumio", StackInstanceAccount=APP_ONE,
                                     StackInstanceRegion="us-east-1")["StackInstance"]
    assert two["ParameterOverrides"] == [{"ParameterKey": "SendCFTDeploymentEventsToClumio",
                                          "ParameterValue": "False"}]
    assert one["ParameterOverrides"] == []
    assert two["LastOperationId"] == op_id


def test_delete_with_retain_stacks_removes_instances_but_keeps_the_clumio_connection(deployed):
    """§A4: RetainStacks=true disassociates the stack and leaves it running (so Clumio stays connected)."""
    sandbox, cf = deployed
    op_id = cf.delete_stack_instances(StackSetName="clumio", Regions=["us-east-1"], RetainStacks=True,
                                      DeploymentTargets={"OrganizationalUnitIds": [OU_OTHER]})["OperationId"]
    wait_for_operation(sandbox, cf, op_id)
    assert (OTHER, "us-east-1") not in instances(cf)
    assert sandbox.world.connection_status(OTHER, "us-east-1") == "connected"


def test_delete_without_retain_removes_the_stack_and_unlinks_clumio(deployed):
    """§A4 + clumio-api.md §4: deleting the stack removes the instance; the connection becomes unlinked."""
    sandbox, cf = deployed
    op_id = cf.delete_stack_instances(StackSetName="clumio", Regions=["us-east-1"], RetainStacks=False,
                                      DeploymentTargets={"OrganizationalUnitIds": [OU_APPS], "Accounts": [DEEP],
                                                         "AccountFilterType": "INTERSECTION"})["OperationId"]
    op = wait_for_operation(sandbox, cf, op_id)
    assert op["Action"] == "DELETE" and op["RetainStacks"] is False
    assert (DEEP, "us-east-1") not in instances(cf)
    assert (NESTED, "us-east-1") in instances(cf)
    assert sandbox.world.connection_status(DEEP, "us-east-1") == "unlinked"


def test_failed_delete_leaves_an_inoperable_instance_that_retain_stacks_clears(deployed):
    """§A7: a failed delete makes the instance INOPERABLE; DeleteStackInstances(RetainStacks=true) fixes it even
    while the account is still broken, and INOPERABLE instances are excluded from later UpdateStackSet runs."""
    sandbox, cf = deployed
    sandbox.world.apply_event("fail-account", {"account": OTHER, "reason": "role was deleted by hand"})
    targets = {"OrganizationalUnitIds": [OU_OTHER]}
    op_id = cf.delete_stack_instances(StackSetName="clumio", Regions=["us-east-1"], RetainStacks=False,
                                      DeploymentTargets=targets)["OperationId"]
    wait_for_operation(sandbox, cf, op_id)
    summary = instances(cf)[(OTHER, "us-east-1")]
    assert summary["Status"] == "INOPERABLE"
    update = _update_parameter(cf, "False")
    rows = cf.list_stack_set_operation_results(StackSetName="clumio", OperationId=update)["Summaries"]
    assert OTHER not in {r["Account"] for r in rows}
    wait_for_operation(sandbox, cf, update)
    op_id = cf.delete_stack_instances(StackSetName="clumio", Regions=["us-east-1"], RetainStacks=True,
                                      DeploymentTargets=targets)["OperationId"]
    wait_for_operation(sandbox, cf, op_id)
    assert (OTHER, "us-east-1") not in instances(cf)


def test_delete_stack_set_with_instances_raises_not_empty(deployed):
    """§A9: DeleteStackSet while instances remain → StackSetNotEmptyException."""
    _, cf = deployed
    with pytest.raises(ClientError) as error:
        cf.delete_stack_set(StackSetName="clumio")
    assert error.value.response["Error"]["Code"] == "StackSetNotEmptyException"


def test_deleted_stack_set_is_gone_from_describe_and_list(sandbox_factory):
    """§A9: an empty StackSet can be deleted; it then only shows under ListStackSets(Status=DELETED)."""
    sandbox = sandbox_factory(world_spec())
    cf = create_clumio_stack_set(sandbox)
    cf.delete_stack_set(StackSetName="clumio")
    assert cf.list_stack_sets()["Summaries"] == []
    assert [s["StackSetName"] for s in cf.list_stack_sets(Status="DELETED")["Summaries"]] == ["clumio"]


def test_no_echo_parameters_are_returned_masked(deployed):
    """§A2: NoEcho parameter values (ClumioToken, RoleExternalId) come back as ****."""
    _, cf = deployed
    params = {p["ParameterKey"]: p["ParameterValue"]
              for p in cf.describe_stack_set(StackSetName="clumio")["StackSet"]["Parameters"]}
    assert params["ClumioToken"] == "****"
    assert params["RoleExternalId"] == "****"


def test_describe_stack_set_lists_ous_regions_and_auto_deployment(deployed):
    """§A7: DescribeStackSet returns OrganizationalUnitIds, Regions and AutoDeployment."""
    _, cf = deployed
    stack_set = cf.describe_stack_set(StackSetName="clumio")["StackSet"]
    assert sorted(stack_set["OrganizationalUnitIds"]) == sorted([OU_APPS, OU_OTHER])
    assert stack_set["Regions"] == ["us-east-1"]
    assert stack_set["AutoDeployment"] == {"Enabled": True, "RetainStacksOnAccountRemoval": False}
    assert stack_set["PermissionModel"] == "SERVICE_MANAGED"


def test_list_stack_instances_pages_and_filters(deployed):
    """§A7: MaxResults ≤ 100 with NextToken; Filters DETAILED_STATUS; StackInstanceAccount."""
    _, cf = deployed
    first = cf.list_stack_instances(StackSetName="clumio", MaxResults=2)
    assert len(first["Summaries"]) == 2 and first["NextToken"]
    second = cf.list_stack_instances(StackSetName="clumio", MaxResults=2, NextToken=first["NextToken"])
    assert {s["Account"] for s in second["Summaries"]}.isdisjoint({s["Account"] for s in first["Summaries"]})
    skipped = cf.list_stack_instances(StackSetName="clumio", Filters=[
        {"Name": "DETAILED_STATUS", "Values": "SKIPPED_SUSPENDED_ACCOUNT"}])["Summaries"]
    assert [s["Account"] for s in skipped] == ["444444444444"]
    mine = cf.list_stack_instances(StackSetName="clumio", StackInstanceAccount=APP_TWO)["Summaries"]
    assert [s["Account"] for s in mine] == [APP_TWO]
    assert detailed(instances(cf))  # the full walk through NextToken works


def test_describe_missing_instance_raises_stack_instance_not_found(deployed):
    """§A7: DescribeStackInstance raises StackInstanceNotFoundException (moto: AttributeError / HTTP 500, §C)."""
    _, cf = deployed
    with pytest.raises(ClientError) as error:
        cf.describe_stack_instance(StackSetName="clumio", StackInstanceAccount=APP_ONE,
                                   StackInstanceRegion="eu-west-1")
    assert error.value.response["Error"]["Code"] == "StackInstanceNotFoundException"


def test_suspended_account_instance_needs_retain_stacks_to_be_removed(deployed):
    """§A7/§D5: a suspended account's instance cannot be deleted for real; RetainStacks=true removes it."""
    sandbox, cf = deployed
    suspended = "444444444444"
    targets = {"OrganizationalUnitIds": [OU_APPS], "Accounts": [suspended], "AccountFilterType": "INTERSECTION"}
    wait_for_operation(sandbox, cf, cf.delete_stack_instances(
        StackSetName="clumio", Regions=["us-east-1"], RetainStacks=False, DeploymentTargets=targets)["OperationId"])
    assert instances(cf)[(suspended, "us-east-1")]["Status"] == "INOPERABLE"
    wait_for_operation(sandbox, cf, cf.delete_stack_instances(
        StackSetName="clumio", Regions=["us-east-1"], RetainStacks=True, DeploymentTargets=targets)["OperationId"])
    assert (suspended, "us-east-1") not in instances(cf)


def test_stack_set_definition_changes_even_when_the_update_operation_fails(sandbox_factory):
    """§A4: the StackSet definition is updated even if the operation fails."""
    sandbox = sandbox_factory(world_spec())
    cf = create_clumio_stack_set(sandbox)
    deploy(sandbox, cf, [OU_OTHER], ["us-east-1"])
    sandbox.world.apply_event("fail-account", {"account": OTHER, "reason": "access denied"})
    op_id = cf.update_stack_set(
        StackSetName="clumio", UsePreviousTemplate=True, Capabilities=["CAPABILITY_NAMED_IAM"],
        Parameters=[{"ParameterKey": "ClumioToken", "UsePreviousValue": True},
                    {"ParameterKey": "RoleExternalId", "UsePreviousValue": True},
                    {"ParameterKey": "SendCFTDeploymentEventsToClumio", "ParameterValue": "False"}])["OperationId"]
    op = wait_for_operation(sandbox, cf, op_id)
    assert op["Status"] == "FAILED"
    params = {p["ParameterKey"]: p["ParameterValue"]
              for p in cf.describe_stack_set(StackSetName="clumio")["StackSet"]["Parameters"]}
    assert params["SendCFTDeploymentEventsToClumio"] == "False"
    assert instances(cf)[(OTHER, "us-east-1")]["Status"] == "OUTDATED"


def test_retrying_with_a_new_operation_id_updates_the_outdated_instances(sandbox_factory):
    """§A4: re-running UpdateStackSet with a new OperationId retries every OUTDATED instance."""
    sandbox = sandbox_factory(world_spec())
    cf = create_clumio_stack_set(sandbox)
    deploy(sandbox, cf, [OU_OTHER], ["us-east-1"])
    sandbox.world.apply_event("fail-account", {"account": OTHER})
    wait_for_operation(sandbox, cf, _update_parameter(cf, "False"))
    sandbox.world.apply_event("heal-account", {"account": OTHER})
    retry = cf.update_stack_set(StackSetName="clumio", UsePreviousTemplate=True,
                                Capabilities=["CAPABILITY_NAMED_IAM"], OperationId="retry-2",
                                Parameters=[{"ParameterKey": k, "UsePreviousValue": True} for k in (
                                    "ClumioToken", "RoleExternalId", "SendCFTDeploymentEventsToClumio")])
    assert wait_for_operation(sandbox, cf, retry["OperationId"])["Status"] == "SUCCEEDED"
    assert instances(cf)[(OTHER, "us-east-1")]["Status"] == "CURRENT"


def test_managed_execution_cannot_change_while_an_operation_runs(deployed):
    """§A2: ManagedExecution can't be changed while operations are running or queued."""
    _, cf = deployed
    _update_parameter(cf, "False")
    with pytest.raises(ClientError) as error:
        cf.update_stack_set(StackSetName="clumio", UsePreviousTemplate=True, ManagedExecution={"Active": True},
                            Capabilities=["CAPABILITY_NAMED_IAM"],
                            Parameters=[{"ParameterKey": k, "UsePreviousValue": True} for k in (
                                "ClumioToken", "RoleExternalId")])
    assert error.value.response["Error"]["Code"] in ("ValidationError", "OperationInProgressException")


def test_permission_model_cannot_change_while_instances_exist(deployed):
    """§A2: PermissionModel can't be changed while the StackSet has instances."""
    _, cf = deployed
    with pytest.raises(ClientError) as error:
        cf.update_stack_set(StackSetName="clumio", UsePreviousTemplate=True, PermissionModel="SELF_MANAGED",
                            Capabilities=["CAPABILITY_NAMED_IAM"],
                            Parameters=[{"ParameterKey": k, "UsePreviousValue": True} for k in (
                                "ClumioToken", "RoleExternalId")])
    assert "PermissionModel" in error.value.response["Error"]["Message"]
