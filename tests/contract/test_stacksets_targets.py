"""Contract: which accounts a service-managed StackSet reaches (reference/aws-stacksets.md §A1, §A3, §A7, §B)."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.contract.sandbox_helpers import (
    APP_ONE,
    APP_TWO,
    DEEP,
    MANAGEMENT,
    NESTED,
    OTHER,
    OU_APPS,
    OU_EMPTY,
    OU_NESTED,
    OU_OTHER,
    ROOT,
    ROOT_ACCOUNT,
    SUSPENDED,
    create_clumio_stack_set,
    deploy,
    detailed,
    instances,
    wait_for_operation,
    world_spec,
)


@pytest.fixture
def world(sandbox_factory):
    sandbox = sandbox_factory(world_spec())
    return sandbox, create_clumio_stack_set(sandbox)


def test_ou_target_reaches_accounts_in_every_nested_ou(world):
    """§A1/§B: a parent OU target includes all child OUs recursively (moto stops at one level, §C)."""
    sandbox, cf = world
    deploy(sandbox, cf, [OU_APPS], ["us-east-1"])
    accounts = {account for account, _ in instances(cf)}
    assert accounts == {APP_ONE, APP_TWO, NESTED, SUSPENDED, DEEP}


def test_management_account_never_receives_a_service_managed_instance(world):
    """§A1: CloudFormation never deploys to the management account, even when the root is targeted."""
    sandbox, cf = world
    deploy(sandbox, cf, [ROOT], ["us-east-1"])
    accounts = {account for account, _ in instances(cf)}
    assert MANAGEMENT not in accounts
    assert {ROOT_ACCOUNT, OTHER, DEEP} <= accounts


def test_suspended_account_is_skipped_without_a_stack_id(world):
    """§A7: suspended targets end OUTDATED / SKIPPED_SUSPENDED_ACCOUNT, no StackId, AWS's StatusReason."""
    sandbox, cf = world
    deploy(sandbox, cf, [OU_NESTED], ["us-east-1"])
    summary = instances(cf)[(SUSPENDED, "us-east-1")]
    assert summary["Status"] == "OUTDATED"
    assert summary["StackInstanceStatus"]["DetailedStatus"] == "SKIPPED_SUSPENDED_ACCOUNT"
    assert "StackId" not in summary
    assert "This account is suspended" in summary["StatusReason"]
    assert "RetainStacks" in summary["StatusReason"]


def test_suspended_accounts_do_not_fail_the_operation(world):
    """§A7: since June 2023 suspended targets are skipped and no longer count as failures."""
    sandbox, cf = world
    op = deploy(sandbox, cf, [OU_NESTED], ["us-east-1"])
    assert op["Status"] == "SUCCEEDED"
    assert op["StatusDetails"]["FailedStackInstancesCount"] == 0


def test_organizational_unit_id_is_the_ou_named_in_the_targets(world):
    """§A7: OrganizationalUnitId is the OU named in DeploymentTargets, possibly an ancestor of the account."""
    sandbox, cf = world
    deploy(sandbox, cf, [OU_APPS], ["us-east-1"])
    assert instances(cf)[(DEEP, "us-east-1")]["OrganizationalUnitId"] == OU_APPS


def test_intersection_deploys_only_listed_accounts_inside_the_ous(world):
    """§A3: INTERSECTION = only the listed Accounts that are inside the OUs."""
    sandbox, cf = world
    deploy(sandbox, cf, [OU_APPS], ["us-east-1"],
           targets={"Accounts": [NESTED, OTHER], "AccountFilterType": "INTERSECTION"})
    assert {a for a, _ in instances(cf)} == {NESTED}


def test_difference_deploys_everything_in_the_ous_except_listed_accounts(world):
    """§A3: DIFFERENCE = every account in the OUs except the listed ones (e.g. suspended accounts)."""
    sandbox, cf = world
    deploy(sandbox, cf, [OU_APPS], ["us-east-1"],
           targets={"Accounts": [SUSPENDED], "AccountFilterType": "DIFFERENCE"})
    assert {a for a, _ in instances(cf)} == {APP_ONE, APP_TWO, NESTED, DEEP}


def test_union_is_rejected_on_create(world):
    """§A3: UNION is not supported by CreateStackInstances."""
    _, cf = world
    with pytest.raises(ClientError) as error:
        cf.create_stack_instances(StackSetName="clumio", Regions=["us-east-1"], DeploymentTargets={
            "OrganizationalUnitIds": [OU_APPS], "Accounts": [OTHER], "AccountFilterType": "UNION"})
    assert error.value.response["Error"]["Code"] == "ValidationError"


def test_create_with_ous_and_accounts_requires_a_filter_type(world):
    """§A3: for create, supplying both OUs and Accounts requires AccountFilterType."""
    _, cf = world
    with pytest.raises(ClientError) as error:
        cf.create_stack_instances(StackSetName="clumio", Regions=["us-east-1"], DeploymentTargets={
            "OrganizationalUnitIds": [OU_APPS], "Accounts": [APP_ONE]})
    assert "AccountFilterType" in error.value.response["Error"]["Message"]


@pytest.mark.parametrize("targets", [{"Accounts": [APP_ONE]}, None])
def test_accounts_alone_are_rejected_for_service_managed(world, targets):
    """§A3 (aws-cli #8248): SERVICE_MANAGED StackSets can only have OrganizationalUnit as target."""
    _, cf = world
    call = {"DeploymentTargets": targets} if targets else {"Accounts": [APP_ONE]}
    with pytest.raises(ClientError) as error:
        cf.create_stack_instances(StackSetName="clumio", Regions=["us-east-1"], **call)
    assert "can only have OrganizationalUnit as target" in error.value.response["Error"]["Message"]


def test_union_on_delete_adds_accounts_outside_the_ous(world):
    """§A3: UNION (the default on delete) = the OUs plus extra listed accounts from anywhere."""
    sandbox, cf = world
    deploy(sandbox, cf, [ROOT], ["us-east-1"])
    op_id = cf.delete_stack_instances(StackSetName="clumio", Regions=["us-east-1"], RetainStacks=True,
                                      DeploymentTargets={"OrganizationalUnitIds": [OU_NESTED],
                                                         "Accounts": [OTHER]})["OperationId"]
    wait_for_operation(sandbox, cf, op_id)
    left = {a for a, _ in instances(cf)}
    assert not left & {NESTED, SUSPENDED, DEEP, OTHER}
    assert {APP_ONE, APP_TWO, ROOT_ACCOUNT} <= left


def test_more_than_fifty_ous_per_call_is_rejected(world):
    """§A3/§A10: at most 50 OUs per operation."""
    _, cf = world
    ous = [f"ou-t3st-{i:08d}" for i in range(51)]
    with pytest.raises(ClientError) as error:
        cf.create_stack_instances(StackSetName="clumio", Regions=["us-east-1"],
                                  DeploymentTargets={"OrganizationalUnitIds": ous})
    assert error.value.response["Error"]["Code"] == "ValidationError"
    assert "50" in error.value.response["Error"]["Message"]


def test_empty_ou_target_succeeds_with_no_instances(world):
    """§D7 (pulumi-aws #2839): targeting an empty OU succeeds with 0 instances."""
    sandbox, cf = world
    op = deploy(sandbox, cf, [OU_EMPTY], ["us-east-1"])
    assert op["Status"] == "SUCCEEDED"
    assert instances(cf) == {}


def test_instances_span_every_account_region_pair(world):
    """§A4: CreateStackInstances creates an instance for every (account × region) pair."""
    sandbox, cf = world
    deploy(sandbox, cf, [OU_OTHER, OU_NESTED], ["us-east-1", "eu-west-1"])
    assert set(detailed(instances(cf))) == {(a, r) for a in (OTHER, NESTED, SUSPENDED, DEEP)
                                            for r in ("us-east-1", "eu-west-1")}
