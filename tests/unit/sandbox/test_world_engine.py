"""The sandbox world driven in-process (no HTTP): world files, clocks, scheduling, scale."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from reconciler.core.errors import ConfigError
from reconciler.sandbox.api import AwsFault
from reconciler.sandbox.clock import ScaledClock, VirtualClock
from reconciler.sandbox.operations import Target, schedule
from reconciler.sandbox.template import render_clumio_template
from reconciler.sandbox.world import World
from reconciler.sandbox.worldfile import default_world_path, load_world_spec
from reconciler.sandbox.worldgen import generate_world_spec


def _aws(world, operation, **params):
    return world.handle_aws("cloudformation", operation, params, access_key="sandbox", region="us-east-1")


def _clumio_stack_set(world, name="clumio"):
    _aws(world, "CreateStackSet", StackSetName=name, TemplateBody=render_clumio_template("24.4"),
         PermissionModel="SERVICE_MANAGED", AutoDeployment={"Enabled": True}, Capabilities=["CAPABILITY_NAMED_IAM"],
         Parameters=[{"ParameterKey": "ClumioToken", "ParameterValue": world.clumio.token},
                     {"ParameterKey": "RoleExternalId", "ParameterValue": world.clumio.external_id}])


def test_demo_world_is_a_believable_company():
    spec = load_world_spec(default_world_path())
    world = World.from_spec(spec, VirtualClock())
    status = world.status()
    assert 28 <= status["organization"]["accounts"] <= 36
    assert status["organization"]["accounts_by_state"]["SUSPENDED"] == 1
    assert world.org.resolve_ou("/Sandbox")
    assert world.org.resolve_ou("/Workloads/Prod/Data")  # three levels deep
    assert world.org.delegated_admins


def test_world_file_error_names_file_and_line(tmp_path):
    path = tmp_path / "world.yaml"
    path.write_text("organization:\n  id: o-abcdefghij\n  management_account: '123456789012'\n"
                    "accounts:\n  - {id: '12345', name: short-id}\n")
    with pytest.raises(ConfigError) as error:
        load_world_spec(path)
    assert f"{path}:5" in error.value.message
    assert "accounts.0.id" in error.value.message


def test_world_file_that_is_not_yaml_is_a_config_error(tmp_path):
    path = tmp_path / "world.yaml"
    path.write_text("organization: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_world_spec(path)


def test_missing_world_file_is_a_config_error_with_a_hint(tmp_path):
    with pytest.raises(ConfigError) as error:
        load_world_spec(tmp_path / "nope.yaml")
    assert error.value.hint


def test_duplicate_account_is_rejected():
    spec = generate_world_spec(3)
    spec["accounts"] = [{"id": "100000000001", "name": "again"}]
    with pytest.raises(ConfigError, match="appears twice"):
        World.from_spec(spec, VirtualClock())


def test_virtual_clock_moves_only_forward_when_told():
    clock = VirtualClock(datetime(2026, 1, 1, tzinfo=UTC))
    assert clock.now() == clock.now()
    clock.advance(90)
    assert clock.now() == datetime(2026, 1, 1, 0, 1, 30, tzinfo=UTC)
    with pytest.raises(ValueError):
        clock.advance(-1)


def test_scaled_clock_runs_faster_than_wall_time():
    clock = ScaledClock(time_scale=1000)
    start = clock.now()
    time.sleep(0.01)
    assert (clock.now() - start).total_seconds() >= 5


def test_strict_schedule_shrinks_concurrency_as_failures_occur():
    targets = [Target(f"{i:012d}", "us-east-1", None, "FAILED" if i == 0 else "SUCCEEDED", "x") for i in range(6)]
    steps, failed = schedule(targets, {"MaxConcurrentCount": 3, "FailureToleranceCount": 2}, 0.0, 100.0)
    assert not failed
    starts = sorted(s.start for s in steps)
    assert starts[:3] == [0.0, 0.0, 0.0]  # min(3, 2 + 1) at first
    assert starts[3:5] == [100.0, 100.0]  # one failure: only 2 may run


def test_unknown_event_is_rejected_with_the_known_ones():
    world = World.from_spec(generate_world_spec(3), VirtualClock())
    with pytest.raises(AwsFault, match="move-account"):
        world.apply_event("explode", {})


def test_events_change_the_organization():
    world = World.from_spec(generate_world_spec(3, suspended=0), VirtualClock())
    added = world.apply_event("add-account", {"name": "fresh", "ou": "/UnitA/UnitA-A"})
    assert world.org.accounts[added["account"]].name == "fresh"
    world.apply_event("suspend-account", {"account": added["account"]})
    assert world.org.accounts[added["account"]].state == "SUSPENDED"
    faults = world.apply_event("set-faults", {"throttle_rate": 1.0})
    assert faults["throttle_rate"] == 1.0
    with pytest.raises(AwsFault) as error:
        _aws(world, "ListStackSets")
    assert error.value.code == "Throttling"


def test_two_thousand_accounts_in_seventeen_regions_load_and_roll_out_quickly():
    started = time.perf_counter()
    clock = VirtualClock()
    world = World.from_spec(generate_world_spec(2000), clock)
    _clumio_stack_set(world)
    op = _aws(world, "CreateStackInstances", StackSetName="clumio", Regions=world.enabled_regions,
              DeploymentTargets={"OrganizationalUnitIds": [world.org.root_id]},
              OperationPreferences={"MaxConcurrentPercentage": 100, "FailureTolerancePercentage": 10,
                                    "RegionConcurrencyType": "PARALLEL"})["OperationId"]
    clock.advance(3600)
    described = _aws(world, "DescribeStackSetOperation", StackSetName="clumio", OperationId=op)
    assert described["StackSetOperation"]["Status"] == "SUCCEEDED"
    assert len(world.stack_set("clumio").instances) == 2000 * 17
    assert time.perf_counter() - started < 20  # a few seconds on an idle machine


@pytest.mark.slow
def test_a_page_of_list_stack_instances_is_fast_at_100000_instances():
    world = World.from_spec(generate_world_spec(5883, deployed=True), VirtualClock())
    assert len(world.stack_set("clumio-org").instances) >= 100_000
    token = None
    timings = []
    for _ in range(20):
        params = {"StackSetName": "clumio-org", "MaxResults": 100, **({"NextToken": token} if token else {})}
        started = time.perf_counter()
        page = _aws(world, "ListStackInstances", **params)
        timings.append(time.perf_counter() - started)
        token = page["NextToken"]
        assert len(page["Summaries"]) == 100
    assert sorted(timings)[len(timings) // 2] < 0.020
    sparse = {"StackSetName": "clumio-org", "Filters": [{"Name": "DETAILED_STATUS",
                                                          "Values": "SKIPPED_SUSPENDED_ACCOUNT"}]}
    page = _aws(world, "ListStackInstances", **sparse)  # builds the filter's index once
    started = time.perf_counter()
    page = _aws(world, "ListStackInstances", **sparse, NextToken=page["NextToken"])
    assert time.perf_counter() - started < 0.020
    assert {s["StackInstanceStatus"]["DetailedStatus"] for s in page["Summaries"]} == {"SKIPPED_SUSPENDED_ACCOUNT"}


def test_filtered_instance_pages_follow_the_simulation():
    clock = VirtualClock()
    world = World.from_spec(generate_world_spec(30, regions=["us-east-1"], suspended=0), clock)
    _clumio_stack_set(world)
    _aws(world, "CreateStackInstances", StackSetName="clumio", Regions=["us-east-1"],
         DeploymentTargets={"OrganizationalUnitIds": [world.org.root_id]},
         OperationPreferences={"MaxConcurrentCount": 5, "FailureToleranceCount": 4})

    def running():
        page = _aws(world, "ListStackInstances", StackSetName="clumio",
                    Filters=[{"Name": "DETAILED_STATUS", "Values": "RUNNING"}])
        return [s["Account"] for s in page["Summaries"]]

    first = running()
    assert len(first) == 5
    clock.advance(150)
    second = running()
    assert len(second) == 5 and not set(first) & set(second)
    clock.advance(3600)
    assert running() == []


def test_brownfield_world_starts_with_a_deployed_connected_stack_set():
    world = World.from_file(default_world_path().with_name("upgrade.yaml"), VirtualClock())
    stack_set = world.stack_set("clumio-org")
    assert stack_set.template.clumio_version == "24.3"
    assert len(stack_set.instances) == 6 * 2  # 5 active + 1 suspended account, 2 regions
    assert world.connection_status("220000000009", "us-west-2") == "connected"
    assert world.instance("clumio-org", "230000000019", "us-east-1").detailed == "SKIPPED_SUSPENDED_ACCOUNT"
    assert world.instance("clumio-org", "240000000009", "us-east-1") is None  # Data OU not covered yet


def test_parallel_regions_stop_starting_work_once_any_region_exceeds_its_tolerance():
    east = [Target(f"{i:012d}", "us-east-1", None, "FAILED" if i == 0 else "SUCCEEDED", "x") for i in range(3)]
    west = [Target(f"{i:012d}", "us-west-2", None) for i in range(3)]
    steps, failed = schedule(east + west, {"RegionConcurrencyType": "PARALLEL"}, 0.0, 100.0)
    assert failed
    west_outcomes = [s.outcome for s in steps if s.region == "us-west-2"]
    assert west_outcomes == ["SUCCEEDED", "CANCELLED", "CANCELLED"]  # the first ran alongside the failure


def test_failure_tolerance_percentage_rounds_down():
    targets = [Target(f"{i:012d}", "us-east-1", None, "FAILED" if i < 2 else "SUCCEEDED", "x") for i in range(9)]
    # 9 × 25 % = 2.25 → 2 failures tolerated: the operation does not fail.
    _, failed = schedule(targets, {"FailureTolerancePercentage": 25, "MaxConcurrentCount": 9}, 0.0, 1.0)
    assert not failed
    _, failed = schedule(targets, {"FailureTolerancePercentage": 20, "MaxConcurrentCount": 9}, 0.0, 1.0)
    assert failed  # 9 × 20 % = 1.8 → 1


def test_instance_jitter_spreads_durations_between_two_and_three_minutes_repeatably():
    def rollout_end() -> timedelta:
        clock = VirtualClock()
        world = World.from_spec(generate_world_spec(12, regions=["us-east-1"], suspended=0, seed=7,
                                                    instance_seconds=120, instance_jitter_seconds=60), clock)
        _clumio_stack_set(world)
        op = _aws(world, "CreateStackInstances", StackSetName="clumio", Regions=["us-east-1"],
                  DeploymentTargets={"OrganizationalUnitIds": [world.org.root_id]},
                  OperationPreferences={"MaxConcurrentCount": 1, "FailureToleranceCount": 0})["OperationId"]
        clock.advance(12 * 180)
        end = _aws(world, "DescribeStackSetOperation", StackSetName="clumio", OperationId=op)["StackSetOperation"]
        return end["EndTimestamp"] - end["CreationTimestamp"]

    first, second = rollout_end(), rollout_end()
    assert first == second
    assert 12 * 120 < first.total_seconds() < 12 * 180


@pytest.mark.parametrize(("section", "value", "message"), [
    ("stacksets", {"delegated_admins": ["123123123123"]}, "delegated admin"),
    ("stacksets", {"existing": [{"name": "x", "regions": ["us-east-1"], "targets": ["/Nope"]}]}, "Nope"),
])
def test_world_cross_references_are_checked(section, value, message):
    spec = generate_world_spec(3)
    spec[section] = value
    with pytest.raises(ConfigError, match=message):
        World.from_spec(spec, VirtualClock())


def test_generated_world_has_the_asked_shape():
    spec = generate_world_spec(2000, regions=["us-east-1", "eu-west-1"], ou_depth=3, fanout=4, seed=3)
    world = World.from_spec(spec, VirtualClock())
    members = [a for a in world.org.accounts.values() if a.id != world.org.management_account]
    assert len(members) == 2000
    assert sum(1 for a in members if a.state == "SUSPENDED") == 20  # 1 % by default
    assert max(len(world.org.ancestors(a.parent_id)) for a in members) == 4  # 3 OU levels + the root
    assert world.enabled_regions == ["eu-west-1", "us-east-1"]
    assert generate_world_spec(50, seed=3) == generate_world_spec(50, seed=3)
