"""Scheduling: changes → waves → the fewest StackSet operations AWS allows, with preferences, ids and estimates."""

from __future__ import annotations

import re
from dataclasses import replace

from reconciler.core.desired import ConcurrencyMode, RegionConcurrencyType
from reconciler.core.keys import InstanceKey
from reconciler.core.plan import AccountFilterType, OperationKind
from reconciler.plan.build import make_plan
from reconciler.plan.expand import expand
from reconciler.plan.schedule import MAX_OUS_PER_OPERATION
from tests.fakes import (
    REGIONS,
    OrgBuilder,
    connection,
    demo_org,
    instance,
    live_stack_set,
    make_desired,
    make_live,
    make_template,
    wave,
)

T24_3, T24_4 = make_template("24.3"), make_template("24.4")


def kinds(plan):
    return [op.kind for op in plan.operations]


def deployed(desired, org, template):
    exp = expand(desired, org)
    return make_live(org, stack_sets=[live_stack_set(desired, template)],
                     instances=[instance(k.stack_set, k.account, k.region) for k in exp.targets],
                     connections=[connection(k.account, k.region) for k in exp.targets])


def test_fresh_rollout_is_one_create_call_per_wave_for_all_regions() -> None:
    desired = make_desired(organization=True, exclude_ous=["/Sandbox"],
                           waves=[wave("canary", accounts=["222200000001"]), wave("rest", rest=True)])
    plan = make_plan(desired, make_live(demo_org()), template=T24_4)
    assert kinds(plan) == [OperationKind.CREATE_STACK_SET, OperationKind.CREATE_STACK_INSTANCES,
                           OperationKind.CREATE_STACK_INSTANCES]
    canary, rest = plan.operations[1:]
    assert canary.regions == REGIONS and rest.regions == REGIONS
    assert canary.targets.account_filter_type is AccountFilterType.INTERSECTION
    assert canary.targets.accounts == ("222200000001",)
    # every instance the call reaches is listed, and nothing else
    assert set(rest.instances) == {k for k in expand(desired, demo_org()).targets if k.account != "222200000001"}
    assert all(op.targets.account_filter_type is not AccountFilterType.UNION for op in plan.operations[1:])


def test_wave_that_is_every_account_of_its_ous_uses_filter_none() -> None:
    plan = make_plan(make_desired(ous=["/Security"]), make_live(demo_org()), template=T24_4)
    op = plan.operations[1]
    assert op.targets.organizational_unit_ids == ("ou-fake-security",)
    assert op.targets.account_filter_type is AccountFilterType.NONE and op.targets.accounts == ()


def test_more_than_fifty_ous_are_chunked_into_calls_of_at_most_fifty() -> None:
    b = OrgBuilder()
    ous = [b.ou(f"/Team{i:02d}") for i in range(60)]
    for i in range(60):
        b.account(f"7777000000{i:02d}", f"/Team{i:02d}")
    plan = make_plan(make_desired(ous=[f"/Team{i:02d}" for i in range(60)]), make_live(b.build()), template=T24_4)
    creates = [op for op in plan.operations if op.kind is OperationKind.CREATE_STACK_INSTANCES]
    assert [len(op.targets.organizational_unit_ids) for op in creates] == [MAX_OUS_PER_OPERATION, 10]
    assert sorted(o for op in creates for o in op.targets.organizational_unit_ids) == sorted(ous)
    assert sum(len(op.instances) for op in creates) == 60 * len(REGIONS)


def test_accounts_missing_different_regions_get_exact_cross_product_calls() -> None:
    desired = make_desired(ous=["/Security"], regions=["us-east-1", "us-west-2", "eu-west-1"])
    org = demo_org()
    live = make_live(org, stack_sets=[live_stack_set(desired, T24_4)],
                     instances=[instance("clumio-org", "222200000001", "us-east-1")])
    plan = make_plan(desired, live, template=T24_4)
    shapes = sorted((op.regions, op.targets.accounts or ("all",)) for op in plan.operations)
    assert shapes == [(("eu-west-1", "us-east-1", "us-west-2"), ("222200000002",)),
                      (("eu-west-1", "us-west-2"), ("222200000001",))]
    for op in plan.operations:
        accounts = {k.account for k in op.instances}
        assert len(op.instances) == len(accounts) * len(op.regions)


def test_template_update_goes_to_the_canary_subset_first_then_the_rest() -> None:
    org = demo_org()
    waves = [wave("canary", accounts=["222200000001"]), wave("rest", rest=True)]
    desired = make_desired(ous=["/Security", "/Workloads/Prod"], waves=waves)
    plan = make_plan(desired, deployed(desired, org, T24_3), template=T24_4)
    assert kinds(plan) == [OperationKind.UPDATE_STACK_SET, OperationKind.UPDATE_STACK_SET]
    canary, rest = plan.operations
    assert canary.wave == "canary" and {k.account for k in canary.instances} == {"222200000001"}
    assert canary.targets.account_filter_type is AccountFilterType.INTERSECTION
    assert rest.wave == "rest" and "222200000001" not in {k.account for k in rest.instances}
    assert canary.regions == REGIONS


def test_single_wave_template_update_is_one_whole_stack_set_update() -> None:
    org = demo_org()
    desired = make_desired(organization=True)
    plan = make_plan(desired, deployed(desired, org, T24_3), template=T24_4)
    (op,) = plan.operations
    assert op.kind is OperationKind.UPDATE_STACK_SET and op.targets is None and op.regions == ()
    assert len(op.instances) == len(expand(desired, org).targets)


def test_new_canary_instances_get_the_new_template_before_later_waves() -> None:
    org = demo_org()
    waves = [wave("canary", accounts=["555500000001"]), wave("rest", rest=True)]
    old = make_desired(ous=["/Security"], waves=waves)
    desired = make_desired(ous=["/Security", "/Sandbox"], waves=waves)
    plan = make_plan(desired, deployed(old, org, T24_3), template=T24_4)
    first = plan.operations[:2]
    assert [op.kind for op in first] == [OperationKind.CREATE_STACK_INSTANCES, OperationKind.UPDATE_STACK_SET]
    assert all(op.wave == "canary" for op in first)
    assert plan.operations[2].wave == "rest"


def test_deletes_come_last_and_retained_ones_in_their_own_call() -> None:
    from reconciler.core.live import StackInstanceDetailedStatus, StackInstanceStatus

    org = demo_org()
    wide = make_desired(ous=["/Workloads/Dev", "/Sandbox"])
    live = deployed(wide, org, T24_4)
    for region in REGIONS:
        key = InstanceKey("clumio-org", "444400000002", region)
        inst = instance(key.stack_set, key.account, region, StackInstanceStatus.OUTDATED,
                        StackInstanceDetailedStatus.SKIPPED_SUSPENDED_ACCOUNT)
        live = replace(live, instances={**live.instances, key: inst})
    desired = make_desired(ous=["/Workloads/Dev", "/Security"], suspended="remove")
    plan = make_plan(desired, live, template=T24_4)
    assert kinds(plan) == [OperationKind.CREATE_STACK_INSTANCES, OperationKind.DELETE_STACK_INSTANCES,
                           OperationKind.DELETE_STACK_INSTANCES]
    plain, retained = plan.operations[1:]
    assert plain.retain_stacks is False and {k.account for k in plain.instances} == {"555500000001"}
    assert retained.retain_stacks is True and {k.account for k in retained.instances} == {"444400000002"}
    # even a whole OU is deleted by listed accounts: an account joining it later is never reached
    assert plain.targets.account_filter_type is AccountFilterType.INTERSECTION
    assert plain.targets.accounts == ("555500000001",)
    assert plain.wave is None


def test_strict_tolerance_zero_is_called_out_and_estimated_one_at_a_time() -> None:
    desired = make_desired(ous=["/Workloads"], regions=["us-east-1"],
                           waves=[wave("all", rest=True, max_concurrent=10, failure_tolerance=0)])
    plan = make_plan(desired, make_live(demo_org()), template=T24_4)
    (w,) = plan.waves
    assert w.effective_concurrency == 1
    assert w.note == "STRICT tolerance 0 forces one account at a time (MaxConcurrent 10 ignored)"
    create = plan.operations[1]
    assert create.estimate_seconds == 4 * 150  # 4 ACTIVE accounts, one at a time
    assert "one account at a time" in create.note


def test_soft_mode_runs_at_max_concurrent() -> None:
    soft = wave("all", rest=True, max_concurrent=10, mode=ConcurrencyMode.SOFT_FAILURE_TOLERANCE)
    desired = make_desired(ous=["/Workloads"], regions=["us-east-1"], waves=[soft])
    plan = make_plan(desired, make_live(demo_org()), template=T24_4)
    assert plan.waves[0].effective_concurrency == 10 and plan.waves[0].note is None
    assert plan.operations[1].estimate_seconds == 150


def test_sequential_regions_add_up_and_parallel_take_the_longest() -> None:
    def est(kind):
        desired = make_desired(ous=["/Security"], region_concurrency=kind)
        return make_plan(desired, make_live(demo_org()), template=T24_4).operations[1].estimate_seconds

    assert est(RegionConcurrencyType.PARALLEL) == 2 * 150
    assert est(RegionConcurrencyType.SEQUENTIAL) == 2 * 2 * 150


def test_preferences_follow_the_wave_and_region_order() -> None:
    desired = make_desired(ous=["/Security"], region_concurrency=RegionConcurrencyType.SEQUENTIAL,
                           region_order=["us-west-2", "us-east-1"],
                           waves=[wave("all", rest=True, max_concurrent="25%", failure_tolerance=1)])
    op = make_plan(desired, make_live(demo_org()), template=T24_4).operations[1]
    p = op.preferences
    assert p.region_concurrency_type is RegionConcurrencyType.SEQUENTIAL
    assert p.region_order == ("us-west-2", "us-east-1")
    assert (p.max_concurrent_percentage, p.max_concurrent_count) == (25, None)
    assert (p.failure_tolerance_count, p.failure_tolerance_percentage) == (1, None)


def test_plan_and_operation_ids_are_deterministic_and_valid() -> None:
    desired = make_desired(organization=True, waves=[wave("a", sample=2), wave("b", rest=True)])
    one = make_plan(desired, make_live(demo_org()), template=T24_4, created_at="x")
    two = make_plan(desired, make_live(demo_org()), template=T24_4, created_at="x")
    assert one == two
    assert re.fullmatch(r"[0-9a-f]{16}", one.plan_id)
    for i, op in enumerate(one.operations, start=1):
        assert op.operation_id == f"clumio-org-{one.plan_id}-{i:03d}"
        assert re.fullmatch(r"[a-zA-Z0-9][-a-zA-Z0-9]*", op.operation_id)
    assert list(one.changes) == sorted(one.changes, key=lambda c: c.key)


def test_plan_id_changes_when_the_world_moves() -> None:
    desired = make_desired(ous=["/Workloads"])
    b = OrgBuilder()
    b.ou("/Workloads", "ou-fake-workload")
    b.account("333300000001", "/Workloads")
    before = make_plan(desired, make_live(b.build()), template=T24_4)
    b.account("333300000009", "/Workloads")
    after = make_plan(desired, make_live(b.build()), template=T24_4)
    assert before.plan_id != after.plan_id
    assert before.live_fingerprint != after.live_fingerprint


def test_connection_status_does_not_move_the_fingerprint() -> None:
    from reconciler.core.live import ConnectionStatus

    org = demo_org()
    desired = make_desired(ous=["/Security"])
    live = deployed(desired, org, T24_4)
    fp = make_plan(desired, live, template=T24_4).live_fingerprint
    conn = connection("222200000001", "us-east-1", ConnectionStatus.CONNECTING)
    live = replace(live, connections={**live.connections, ("222200000001", "us-east-1"): conn})
    assert make_plan(desired, live, template=T24_4).live_fingerprint == fp


def test_estimate_sums_waves_and_adds_the_clumio_connect_wait() -> None:
    desired = make_desired(ous=["/Security"], waves=[wave("a", accounts=["222200000001"]), wave("b", rest=True)])
    plan = make_plan(desired, make_live(demo_org()), template=T24_4)
    assert plan.estimate_seconds == sum(op.estimate_seconds for op in plan.operations) + 2 * 30
