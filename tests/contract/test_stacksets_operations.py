"""Contract: StackSet operations over simulated time (reference/aws-stacksets.md §A4, §A5, §A6, §A9)."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.contract.sandbox_helpers import (
    APP_ONE,
    APP_TWO,
    DEEP,
    NESTED,
    OU_APPS,
    OU_OTHER,
    create_clumio_stack_set,
    detailed,
    instances,
    wait_for_operation,
    world_spec,
)


def _world(sandbox_factory, **spec):
    sandbox = sandbox_factory(world_spec(**spec))
    return sandbox, create_clumio_stack_set(sandbox)


def _start(cf, regions=("us-east-1",), ous=(OU_APPS,), **prefs):
    return cf.create_stack_instances(StackSetName="clumio", DeploymentTargets={"OrganizationalUnitIds": list(ous)},
                                     Regions=list(regions), OperationPreferences=prefs)["OperationId"]


def _running(cf):
    return sorted(k for k, v in detailed(instances(cf)).items() if v == "RUNNING")


def test_operation_runs_over_simulated_time_and_then_succeeds(sandbox_factory):
    """§A6 + seed ("2 to 3 minutes per instance"): RUNNING while instances deploy, SUCCEEDED after."""
    sandbox, cf = _world(sandbox_factory)
    op_id = _start(cf, MaxConcurrentCount=10, FailureToleranceCount=9)
    op = cf.describe_stack_set_operation(StackSetName="clumio", OperationId=op_id)["StackSetOperation"]
    assert op["Status"] == "RUNNING"
    sandbox.world.clock.advance(99)
    assert cf.describe_stack_set_operation(StackSetName="clumio",
                                           OperationId=op_id)["StackSetOperation"]["Status"] == "RUNNING"
    sandbox.world.clock.advance(2)
    op = cf.describe_stack_set_operation(StackSetName="clumio", OperationId=op_id)["StackSetOperation"]
    assert op["Status"] == "SUCCEEDED"
    assert op["EndTimestamp"] > op["CreationTimestamp"]
    assert all(v["Status"] == "CURRENT" for k, v in instances(cf).items() if k[0] != "444444444444")


def test_second_operation_while_one_runs_raises_operation_in_progress(sandbox_factory):
    """§A9: one operation at a time per StackSet; the message names the running operation id (HTTP 409)."""
    _, cf = _world(sandbox_factory)
    running = _start(cf)
    with pytest.raises(ClientError) as error:
        _start(cf, regions=("us-west-2",))
    assert error.value.response["Error"]["Code"] == "OperationInProgressException"
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    assert running in error.value.response["Error"]["Message"]


def test_managed_execution_queues_operations_and_runs_them_in_order(sandbox_factory):
    """§A9: with ManagedExecution.Active a second operation is QUEUED and runs after the first."""
    sandbox = sandbox_factory(world_spec())
    cf = create_clumio_stack_set(sandbox, managed_execution=True)
    first = _start(cf)
    second = _start(cf, regions=("us-west-2",))
    status = cf.describe_stack_set_operation(StackSetName="clumio", OperationId=second)["StackSetOperation"]
    assert status["Status"] == "QUEUED"
    done_first = wait_for_operation(sandbox, cf, first)
    assert done_first["Status"] == "SUCCEEDED"
    done_second = wait_for_operation(sandbox, cf, second)
    assert done_second["Status"] == "SUCCEEDED"
    assert done_second["EndTimestamp"] > done_first["EndTimestamp"]


def test_reusing_an_operation_id_raises_operation_id_already_exists(sandbox_factory):
    """§A4/§A9: OperationId is an idempotency token; the same id again is OperationIdAlreadyExistsException."""
    sandbox, cf = _world(sandbox_factory)
    cf.create_stack_instances(StackSetName="clumio", DeploymentTargets={"OrganizationalUnitIds": [OU_OTHER]},
                              Regions=["us-east-1"], OperationId="plan-1-0")
    wait_for_operation(sandbox, cf, "plan-1-0")
    with pytest.raises(ClientError) as error:
        cf.create_stack_instances(StackSetName="clumio", DeploymentTargets={"OrganizationalUnitIds": [OU_OTHER]},
                                  Regions=["us-east-1"], OperationId="plan-1-0")
    assert error.value.response["Error"]["Code"] == "OperationIdAlreadyExistsException"


def test_max_concurrent_count_limits_accounts_at_once_per_region(sandbox_factory):
    """§A5: MaxConcurrentCount counts accounts at once per region (tolerance high enough not to cap it)."""
    _, cf = _world(sandbox_factory)
    _start(cf, MaxConcurrentCount=2, FailureToleranceCount=3)
    assert len(_running(cf)) == 2


def test_strict_failure_tolerance_zero_deploys_one_account_at_a_time(sandbox_factory):
    """§A5: under STRICT_FAILURE_TOLERANCE concurrency is min(MaxConcurrent, tolerance + 1) → 1 at tolerance 0."""
    _, cf = _world(sandbox_factory)
    _start(cf, MaxConcurrentCount=10, FailureToleranceCount=0)
    assert len(_running(cf)) == 1


def test_soft_failure_tolerance_runs_at_max_concurrent(sandbox_factory):
    """§A5: SOFT_FAILURE_TOLERANCE runs at MaxConcurrent regardless of the tolerance."""
    _, cf = _world(sandbox_factory)
    _start(cf, MaxConcurrentCount=3, FailureToleranceCount=0, ConcurrencyMode="SOFT_FAILURE_TOLERANCE")
    assert len(_running(cf)) == 3


def test_max_concurrent_percentage_rounds_down_but_never_below_one(sandbox_factory):
    """§A5: a percentage rounds down but never below 1 (5 targets × 10% → 1; × 50% → 2)."""
    _, cf = _world(sandbox_factory)
    _start(cf, MaxConcurrentPercentage=10, FailureTolerancePercentage=100)
    assert len(_running(cf)) == 1
    sandbox2, cf2 = _world(sandbox_factory)
    _start(cf2, MaxConcurrentPercentage=50, FailureTolerancePercentage=100)
    assert len(_running(cf2)) == 2


def test_sequential_regions_follow_region_order_one_region_at_a_time(sandbox_factory):
    """§A5: SEQUENTIAL (the default) deploys one region after another, in RegionOrder."""
    sandbox, cf = _world(sandbox_factory)
    _start(cf, regions=("us-east-1", "eu-west-1"), MaxConcurrentCount=10, FailureToleranceCount=9,
           RegionOrder=["eu-west-1", "us-east-1"])
    assert {r for _, r in _running(cf)} == {"eu-west-1"}
    sandbox.world.clock.advance(101)
    assert {r for _, r in _running(cf)} == {"us-east-1"}


def test_parallel_regions_deploy_at_the_same_time(sandbox_factory):
    """§A5: PARALLEL deploys every region at once."""
    _, cf = _world(sandbox_factory)
    _start(cf, regions=("us-east-1", "eu-west-1"), MaxConcurrentCount=10, FailureToleranceCount=9,
           RegionConcurrencyType="PARALLEL")
    assert {r for _, r in _running(cf)} == {"us-east-1", "eu-west-1"}


def test_exceeding_failure_tolerance_fails_the_operation_and_skips_later_regions(sandbox_factory):
    """§A5/§A6: failures counted per region; past the tolerance the region's remaining instances are CANCELLED,
    later regions are not attempted, and the operation is FAILED."""
    sandbox, cf = _world(sandbox_factory, faults={"failing_accounts": {
        APP_ONE: "ResourceLogicalId:ClumioIAMRole, ResourceType:AWS::IAM::Role, ResourceStatusReason:denied by SCP"}})
    op_id = _start(cf, regions=("us-east-1", "us-west-2"), MaxConcurrentCount=1, FailureToleranceCount=0)
    op = wait_for_operation(sandbox, cf, op_id)
    assert op["Status"] == "FAILED"
    assert op["StatusDetails"]["FailedStackInstancesCount"] == 1
    assert op["StatusReason"]
    states = detailed(instances(cf))
    assert states[(APP_ONE, "us-east-1")] == "FAILED"
    assert states[(APP_TWO, "us-east-1")] == "CANCELLED"
    assert {v for (a, r), v in states.items() if r == "us-west-2"} == {"CANCELLED"}
    results = cf.list_stack_set_operation_results(StackSetName="clumio", OperationId=op_id)["Summaries"]
    failed = [r for r in results if r["Status"] == "FAILED"]
    assert failed[0]["Account"] == APP_ONE and "denied by SCP" in failed[0]["StatusReason"]
    assert any("failure tolerance" in r.get("StatusReason", "") for r in results if r["Status"] == "CANCELLED")


def test_failures_within_tolerance_let_the_operation_succeed(sandbox_factory):
    """§A5: failures up to the tolerance do not stop the region; the operation SUCCEEDS with failed instances."""
    sandbox, cf = _world(sandbox_factory, faults={"failing_accounts": {APP_ONE: "boom"}})
    op = wait_for_operation(sandbox, cf, _start(cf, MaxConcurrentCount=1, FailureToleranceCount=1))
    assert op["Status"] == "SUCCEEDED"
    assert op["StatusDetails"]["FailedStackInstancesCount"] == 1
    states = detailed(instances(cf))
    assert states[(DEEP, "us-east-1")] == "SUCCEEDED"
    assert instances(cf)[(APP_ONE, "us-east-1")]["Status"] == "OUTDATED"


def test_stop_cancels_instances_not_started_and_ends_stopped(sandbox_factory):
    """§A6: StopStackSetOperation cancels what has not started, waits for running ones: STOPPING → STOPPED."""
    sandbox, cf = _world(sandbox_factory)
    op_id = _start(cf, MaxConcurrentCount=1)
    sandbox.world.clock.advance(10)
    cf.stop_stack_set_operation(StackSetName="clumio", OperationId=op_id)
    op = cf.describe_stack_set_operation(StackSetName="clumio", OperationId=op_id)["StackSetOperation"]
    assert op["Status"] == "STOPPING"
    op = wait_for_operation(sandbox, cf, op_id)
    assert op["Status"] == "STOPPED"
    states = detailed(instances(cf))
    assert states[(APP_ONE, "us-east-1")] == "SUCCEEDED"
    assert states[(NESTED, "us-east-1")] == "CANCELLED"
    with pytest.raises(ClientError) as error:
        cf.stop_stack_set_operation(StackSetName="clumio", OperationId=op_id)
    assert error.value.response["Error"]["Code"] == "InvalidOperationException"


def test_describe_operation_reports_preferences_targets_and_failed_count(sandbox_factory):
    """§A6: DescribeStackSetOperation carries OperationPreferences, DeploymentTargets, StatusDetails."""
    sandbox, cf = _world(sandbox_factory)
    op = wait_for_operation(sandbox, cf, _start(cf, MaxConcurrentCount=2, FailureToleranceCount=1))
    assert op["Action"] == "CREATE"
    assert op["OperationPreferences"]["MaxConcurrentCount"] == 2
    assert op["DeploymentTargets"]["OrganizationalUnitIds"] == [OU_APPS]
    assert op["StatusDetails"] == {"FailedStackInstancesCount": 0}


def test_operation_results_carry_account_gate_and_organizational_unit(sandbox_factory):
    """§A6: ListStackSetOperationResults: one row per account and region with AccountGateResult and OU id."""
    sandbox, cf = _world(sandbox_factory)
    op_id = _start(cf, regions=("us-east-1", "us-west-2"), MaxConcurrentCount=5, FailureToleranceCount=4)
    wait_for_operation(sandbox, cf, op_id)
    rows = cf.list_stack_set_operation_results(StackSetName="clumio", OperationId=op_id)["Summaries"]
    assert len(rows) == 10
    assert all(r["AccountGateResult"]["Status"] in ("SUCCEEDED", "FAILED", "SKIPPED") for r in rows)
    assert {r["OrganizationalUnitId"] for r in rows} == {OU_APPS}
    only_succeeded = cf.list_stack_set_operation_results(
        StackSetName="clumio", OperationId=op_id,
        Filters=[{"Name": "OPERATION_RESULT_STATUS", "Values": "SUCCEEDED"}])["Summaries"]
    assert {r["Status"] for r in only_succeeded} == {"SUCCEEDED"}


def test_unknown_operation_id_raises_operation_not_found(sandbox_factory):
    """§A9: OperationNotFoundException (moto answers ValidationError instead, §C)."""
    _, cf = _world(sandbox_factory)
    with pytest.raises(ClientError) as error:
        cf.describe_stack_set_operation(StackSetName="clumio", OperationId="nope")
    assert error.value.response["Error"]["Code"] == "OperationNotFoundException"


def test_list_operations_returns_newest_first_with_status(sandbox_factory):
    """§A6: ListStackSetOperations summarises every operation with Action and Status."""
    sandbox, cf = _world(sandbox_factory)
    first = wait_for_operation(sandbox, cf, _start(cf))["OperationId"]
    second = _start(cf, regions=("us-west-2",))
    summaries = cf.list_stack_set_operations(StackSetName="clumio")["Summaries"]
    assert [s["OperationId"] for s in summaries] == [second, first]
    assert [s["Status"] for s in summaries] == ["RUNNING", "SUCCEEDED"]


def test_stopping_a_queued_operation_cancels_it_before_it_starts(sandbox_factory):
    """§A6/§A9: a QUEUED operation (managed execution) that is stopped never runs: STOPPED, targets CANCELLED."""
    sandbox = sandbox_factory(world_spec())
    cf = create_clumio_stack_set(sandbox, managed_execution=True)
    first = _start(cf)
    queued = _start(cf, regions=("us-west-2",))
    cf.stop_stack_set_operation(StackSetName="clumio", OperationId=queued)
    assert wait_for_operation(sandbox, cf, queued)["Status"] == "STOPPED"
    assert wait_for_operation(sandbox, cf, first)["Status"] == "SUCCEEDED"
    west = {k: v for k, v in detailed(instances(cf)).items() if k[1] == "us-west-2"}
    assert set(west.values()) == {"CANCELLED"}
