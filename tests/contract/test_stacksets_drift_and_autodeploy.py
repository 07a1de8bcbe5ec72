"""Contract: drift detection (aws-stacksets.md §A8) and auto-deployment to accounts that join (§A2, §A3, §A5)."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.contract.sandbox_helpers import (
    APP_ONE,
    DEEP,
    NESTED,
    OTHER,
    OU_APPS,
    OU_NESTED,
    OU_OTHER,
    create_clumio_stack_set,
    deploy,
    instances,
    wait_for_operation,
    world_spec,
)

REGIONS = ["us-east-1", "us-west-2"]


@pytest.fixture
def deployed(sandbox_factory):
    sandbox = sandbox_factory(world_spec())
    cf = create_clumio_stack_set(sandbox)
    deploy(sandbox, cf, [OU_APPS], REGIONS, OperationPreferences={"MaxConcurrentCount": 10,
                                                                   "FailureToleranceCount": 9})
    return sandbox, cf


def test_drift_detection_runs_over_time_and_reports_the_drifted_instance(deployed):
    """§A8: DetectStackSetDrift is an operation (Action DETECT_DRIFT); instances get DriftStatus and
    LastDriftCheckTimestamp; DescribeStackSet carries StackSetDriftDetectionDetails."""
    sandbox, cf = deployed
    sandbox.world.apply_event("drift-stack", {"account": NESTED, "region": "us-west-2"})
    op_id = cf.detect_stack_set_drift(StackSetName="clumio",
                                      OperationPreferences={"MaxConcurrentCount": 10})["OperationId"]
    running = cf.describe_stack_set_operation(StackSetName="clumio", OperationId=op_id)["StackSetOperation"]
    assert running["Action"] == "DETECT_DRIFT" and running["Status"] == "RUNNING"
    assert cf.describe_stack_set(StackSetName="clumio")["StackSet"]["StackSetDriftDetectionDetails"][
        "DriftDetectionStatus"] == "IN_PROGRESS"
    wait_for_operation(sandbox, cf, op_id)
    summaries = instances(cf)
    assert summaries[(NESTED, "us-west-2")]["DriftStatus"] == "DRIFTED"
    assert summaries[(NESTED, "us-east-1")]["DriftStatus"] == "IN_SYNC"
    assert "LastDriftCheckTimestamp" in summaries[(APP_ONE, "us-east-1")]
    details = cf.describe_stack_set(StackSetName="clumio")["StackSet"]["StackSetDriftDetectionDetails"]
    assert details["DriftStatus"] == "DRIFTED"
    assert details["DriftDetectionStatus"] == "COMPLETED"
    assert details["DriftedStackInstancesCount"] == 1
    assert details["InSyncStackInstancesCount"] == 7  # 4 active accounts × 2 regions, minus the drifted one
    drifted = cf.list_stack_instances(StackSetName="clumio", Filters=[
        {"Name": "DRIFT_STATUS", "Values": "DRIFTED"}])["Summaries"]
    assert [(s["Account"], s["Region"]) for s in drifted] == [(NESTED, "us-west-2")]


def test_resource_drifts_name_the_modified_resource(deployed):
    """§A8: ListStackInstanceResourceDrifts returns the drifted resources of an instance."""
    sandbox, cf = deployed
    sandbox.world.apply_event("drift-stack", {"account": DEEP, "region": "us-east-1",
                                              "resource": "ClumioInventoryTopic"})
    op_id = cf.detect_stack_set_drift(StackSetName="clumio",
                                      OperationPreferences={"MaxConcurrentCount": 10})["OperationId"]
    wait_for_operation(sandbox, cf, op_id)
    rows = cf.list_stack_instance_resource_drifts(
        StackSetName="clumio", StackInstanceAccount=DEEP, StackInstanceRegion="us-east-1", OperationId=op_id,
        StackInstanceResourceDriftStatuses=["MODIFIED"])["Summaries"]
    assert [(r["LogicalResourceId"], r["ResourceType"]) for r in rows] == [
        ("ClumioInventoryTopic", "AWS::SNS::Topic")]
    assert rows[0]["PropertyDifferences"]


def test_only_one_drift_detection_at_a_time(deployed):
    """§A8: only one drift operation per StackSet at a time."""
    _, cf = deployed
    cf.detect_stack_set_drift(StackSetName="clumio")
    with pytest.raises(ClientError) as error:
        cf.detect_stack_set_drift(StackSetName="clumio")
    assert error.value.response["Error"]["Code"] == "OperationInProgressException"


def test_account_moved_into_a_targeted_ou_gets_instances_in_every_region(deployed):
    """§A2/§A3: auto-deployment gives an account that joins a targeted OU (even a nested one) instances in all
    the StackSet's regions."""
    sandbox, cf = deployed
    result = sandbox.world.apply_event("move-account", {"account": OTHER, "ou": OU_NESTED})
    assert result["operations"]
    op = cf.describe_stack_set_operation(StackSetName="clumio",
                                         OperationId=result["operations"][0])["StackSetOperation"]
    assert op["Action"] == "CREATE"
    wait_for_operation(sandbox, cf, op["OperationId"])
    summaries = instances(cf)
    assert {summaries[(OTHER, r)]["Status"] for r in REGIONS} == {"CURRENT"}
    assert summaries[(OTHER, "us-east-1")]["OrganizationalUnitId"] == OU_APPS
    assert sandbox.world.connection_status(OTHER, "us-west-2") in ("connecting", "connected")


def test_added_account_is_deployed_automatically(deployed):
    """§A2: auto-deployment reaches an account created in a targeted OU (path form accepted by the event)."""
    sandbox, cf = deployed
    result = sandbox.world.apply_event("add-account", {"name": "new-app", "ou": "/Apps/Nested/Deep"})
    wait_for_operation(sandbox, cf, result["operations"][0])
    assert {instances(cf)[(result["account"], r)]["Status"] for r in REGIONS} == {"CURRENT"}


def test_account_moved_out_of_targeted_ous_loses_its_instances(deployed):
    """§A2: an account that leaves every targeted OU is removed (stacks deleted unless
    RetainStacksOnAccountRemoval), and its Clumio connection is unlinked."""
    sandbox, cf = deployed
    result = sandbox.world.apply_event("move-account", {"account": DEEP, "ou": OU_OTHER})
    op = wait_for_operation(sandbox, cf, result["operations"][0])
    assert op["Action"] == "DELETE"
    assert not any(a == DEEP for a, _ in instances(cf))
    assert sandbox.world.connection_status(DEEP, "us-east-1") == "unlinked"


def test_auto_deployment_ignores_the_account_filter_used_on_create(sandbox_factory):
    """§A3: new accounts in a targeted OU get stacks even if the OU was targeted with INTERSECTION."""
    sandbox = sandbox_factory(world_spec())
    cf = create_clumio_stack_set(sandbox)
    deploy(sandbox, cf, [OU_APPS], ["us-east-1"], targets={"Accounts": [APP_ONE],
                                                            "AccountFilterType": "INTERSECTION"})
    result = sandbox.world.apply_event("move-account", {"account": OTHER, "ou": OU_APPS})
    wait_for_operation(sandbox, cf, result["operations"][0])
    assert (OTHER, "us-east-1") in instances(cf)


def test_automatic_operation_is_queued_behind_a_running_one(deployed):
    """§A6: QUEUED is documented for automatic deployments that wait for another operation."""
    sandbox, cf = deployed
    cf.detect_stack_set_drift(StackSetName="clumio")
    result = sandbox.world.apply_event("move-account", {"account": OTHER, "ou": OU_APPS})
    op = cf.describe_stack_set_operation(StackSetName="clumio",
                                         OperationId=result["operations"][0])["StackSetOperation"]
    assert op["Status"] == "QUEUED"
    assert wait_for_operation(sandbox, cf, op["OperationId"])["Status"] == "SUCCEEDED"


def test_auto_deployment_targets_list_the_watched_ous_and_regions(deployed):
    """§A2/§C: ListStackSetAutoDeploymentTargets shows the OUs auto-deployment watches (moto: NotImplemented)."""
    _, cf = deployed
    summaries = cf.list_stack_set_auto_deployment_targets(StackSetName="clumio")["Summaries"]
    assert summaries == [{"OrganizationalUnitId": OU_APPS, "Regions": REGIONS}]


def test_retain_stacks_on_account_removal_keeps_the_stack_and_its_connection(sandbox_factory):
    """§A2: with RetainStacksOnAccountRemoval the instance leaves the StackSet but its stack keeps running."""
    sandbox = sandbox_factory(world_spec())
    cf = create_clumio_stack_set(sandbox, retain_on_removal=True)
    deploy(sandbox, cf, [OU_NESTED], ["us-east-1"])
    sandbox.world.clock.advance(30)
    result = sandbox.world.apply_event("move-account", {"account": DEEP, "ou": OU_OTHER})
    op = wait_for_operation(sandbox, cf, result["operations"][0])
    assert op["Action"] == "DELETE" and op["RetainStacks"] is True
    assert (DEEP, "us-east-1") not in instances(cf)
    assert sandbox.world.connection_status(DEEP, "us-east-1") == "connected"
