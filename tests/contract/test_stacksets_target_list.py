"""Contract: what changes a StackSet's OU list and an instance's OrganizationalUnitId (docs/reference/targets.md)."""

from __future__ import annotations

from tests.contract.sandbox_helpers import (
    APP_ONE,
    APP_TWO,
    DEEP,
    NESTED,
    OTHER,
    OU_APPS,
    OU_DEEP,
    OU_EMPTY,
    OU_NESTED,
    ROOT,
    SUSPENDED,
    create_clumio_stack_set,
    deploy,
    instances,
    wait_for_operation,
    world_spec,
)

REGIONS = ["us-east-1", "us-west-2"]


def ou_list(cf) -> list[str]:  # type: ignore[no-untyped-def]
    return sorted(cf.describe_stack_set(StackSetName="clumio")["StackSet"].get("OrganizationalUnitIds", []))


def watched(cf) -> list[str]:  # type: ignore[no-untyped-def]
    pages = cf.list_stack_set_auto_deployment_targets(StackSetName="clumio")["Summaries"]
    return sorted(s["OrganizationalUnitId"] for s in pages)


def delete(sandbox, cf, targets, retain=False):  # type: ignore[no-untyped-def]
    op = cf.delete_stack_instances(StackSetName="clumio", Regions=REGIONS, DeploymentTargets=targets,
                                   RetainStacks=retain)["OperationId"]
    return wait_for_operation(sandbox, cf, op)


def retain_suspended(sandbox, cf, ou):  # type: ignore[no-untyped-def]
    """T4/§A4: a suspended account's stack cannot be deleted (the delete would fail the operation): retain it first,
    as the plan does before a NONE delete."""
    op = delete(sandbox, cf, {"OrganizationalUnitIds": [ou], "Accounts": [SUSPENDED],
                              "AccountFilterType": "INTERSECTION"}, retain=True)
    assert op["Status"] == "SUCCEEDED"


def test_t1_the_described_ou_list_is_the_list_auto_deployment_watches(sandbox_factory):
    """T1: OrganizationalUnitIds and ListStackSetAutoDeploymentTargets name the same OUs."""
    sandbox = sandbox_factory(world_spec())
    cf = create_clumio_stack_set(sandbox)
    deploy(sandbox, cf, [OU_NESTED], REGIONS)
    deploy(sandbox, cf, [OU_EMPTY], REGIONS)
    assert ou_list(cf) == watched(cf) == sorted([OU_NESTED, OU_EMPTY])


def test_t1_an_account_joining_below_a_listed_ou_is_deployed_whatever_filter_was_used(sandbox_factory):
    """T1/§A3: the filter of the create does not bind auto-deployment; a grandchild OU counts (child OUs)."""
    sandbox = sandbox_factory(world_spec())
    cf = create_clumio_stack_set(sandbox)
    deploy(sandbox, cf, [OU_APPS], REGIONS, targets={"Accounts": [APP_ONE], "AccountFilterType": "INTERSECTION"})
    result = sandbox.world.apply_event("move-account", {"account": OTHER, "ou": OU_DEEP})
    wait_for_operation(sandbox, cf, result["operations"][0])
    assert {(OTHER, r) for r in REGIONS} <= set(instances(cf))
    assert (APP_TWO, "us-east-1") not in instances(cf)  # the account there before stays out until it moves


def test_t3_a_none_delete_naming_the_ou_removes_it_from_the_list(sandbox_factory):
    """T3: "Deleting stacks from a top-level OU removes that OU as a StackSet target"."""
    sandbox = sandbox_factory(world_spec())
    cf = create_clumio_stack_set(sandbox)
    deploy(sandbox, cf, [OU_APPS], REGIONS)
    retain_suspended(sandbox, cf, OU_APPS)
    delete(sandbox, cf, {"OrganizationalUnitIds": [OU_APPS], "AccountFilterType": "NONE"})
    assert ou_list(cf) == watched(cf) == []
    assert instances(cf) == {}


def test_t3_a_filtered_delete_is_read_as_leaving_the_ou_in_place(sandbox_factory):
    """T3 (undocumented; the safe reading): INTERSECTION/DIFFERENCE deletes do not take the OU off the list."""
    sandbox = sandbox_factory(world_spec())
    cf = create_clumio_stack_set(sandbox)
    deploy(sandbox, cf, [OU_APPS], REGIONS)
    delete(sandbox, cf, {"OrganizationalUnitIds": [OU_APPS], "Accounts": [APP_ONE],
                         "AccountFilterType": "INTERSECTION"})
    assert ou_list(cf) == [OU_APPS]
    delete(sandbox, cf, {"OrganizationalUnitIds": [OU_APPS], "Accounts": [APP_TWO], "AccountFilterType": "DIFFERENCE"})
    assert ou_list(cf) == [OU_APPS]


def test_t3_a_delete_naming_an_ou_reaches_accounts_deployed_through_another_ou(sandbox_factory):
    """T3 (the documented "specified target OUs and their child OUs", read as every account under it): deleting the
    root reaches instances whose OrganizationalUnitId is a child OU."""
    sandbox = sandbox_factory(world_spec())
    cf = create_clumio_stack_set(sandbox)
    deploy(sandbox, cf, [OU_NESTED], REGIONS)
    deploy(sandbox, cf, [ROOT], REGIONS, targets={"Accounts": [OTHER], "AccountFilterType": "INTERSECTION"})
    assert instances(cf)[(NESTED, "us-east-1")]["OrganizationalUnitId"] == OU_NESTED
    retain_suspended(sandbox, cf, ROOT)
    delete(sandbox, cf, {"OrganizationalUnitIds": [ROOT], "AccountFilterType": "NONE"})
    assert ou_list(cf) == [OU_NESTED]
    assert instances(cf) == {}


def test_t4_create_naming_another_ou_keeps_an_existing_instances_ou(sandbox_factory):
    """T4 (undocumented; the reading): CreateStackInstances over an existing instance does not re-target it, but
    the named OU joins the list (T2)."""
    sandbox = sandbox_factory(world_spec())
    cf = create_clumio_stack_set(sandbox)
    deploy(sandbox, cf, [ROOT], REGIONS, targets={"Accounts": [DEEP], "AccountFilterType": "INTERSECTION"})
    deploy(sandbox, cf, [OU_DEEP], REGIONS)
    assert instances(cf)[(DEEP, "us-east-1")]["OrganizationalUnitId"] == ROOT
    assert ou_list(cf) == sorted([ROOT, OU_DEEP])


def test_t4_a_none_delete_over_a_suspended_account_fails_unless_it_was_retained_first(sandbox_factory):
    """T4/§D5: the stack in a suspended account cannot be deleted, so the plan removes it with RetainStacks before
    the NONE delete that drops the OU."""
    sandbox = sandbox_factory(world_spec())
    cf = create_clumio_stack_set(sandbox)
    deploy(sandbox, cf, [OU_NESTED], REGIONS)
    op = delete(sandbox, cf, {"OrganizationalUnitIds": [OU_NESTED], "AccountFilterType": "NONE"})
    assert op["Status"] == "FAILED"
    assert (SUSPENDED, "us-east-1") in instances(cf)
