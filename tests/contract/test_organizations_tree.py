"""Contract: the sandbox's Organizations API (reference/aws-stacksets.md §A1, §B)."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.contract.sandbox_helpers import (
    APP_ONE,
    APP_TWO,
    DEEP,
    MANAGEMENT,
    NESTED,
    ORG_ID,
    OTHER,
    OU_APPS,
    OU_DEEP,
    OU_NESTED,
    ROOT,
    SUSPENDED,
    world_spec,
)

STACKSETS = "member.org.stacksets.cloudformation.amazonaws.com"


@pytest.fixture
def sandbox(sandbox_factory):
    return sandbox_factory(world_spec())


def test_describe_organization_names_the_management_account_from_any_member(sandbox):
    """§B: DescribeOrganization works from any member; MasterAccountId is the management account; FeatureSet ALL."""
    org = sandbox.client("organizations", account=APP_ONE).describe_organization()["Organization"]
    assert (org["Id"], org["MasterAccountId"], org["FeatureSet"]) == (ORG_ID, MANAGEMENT, "ALL")


def test_list_roots_returns_the_single_root(sandbox):
    """§B: ListRoots returns the single root r-…."""
    assert [r["Id"] for r in sandbox.client("organizations").list_roots()["Roots"]] == [ROOT]


def test_accounts_for_parent_lists_direct_children_only(sandbox):
    """§B: ListAccountsForParent returns only accounts directly under the OU, not in child OUs."""
    org = sandbox.client("organizations")
    assert {a["Id"] for a in org.list_accounts_for_parent(ParentId=OU_APPS)["Accounts"]} == {APP_ONE, APP_TWO}
    assert [o["Id"] for o in org.list_organizational_units_for_parent(ParentId=OU_APPS)["OrganizationalUnits"]] \
        == [OU_NESTED]
    children = org.list_children(ParentId=OU_NESTED, ChildType="ORGANIZATIONAL_UNIT")["Children"]
    assert children == [{"Id": OU_DEEP, "Type": "ORGANIZATIONAL_UNIT"}]


def test_list_parents_walks_upward(sandbox):
    """§B: ListParents(ChildId) walks up: account → OU → … → ROOT."""
    org = sandbox.client("organizations")
    assert org.list_parents(ChildId=DEEP)["Parents"] == [{"Id": OU_DEEP, "Type": "ORGANIZATIONAL_UNIT"}]
    assert org.list_parents(ChildId=OU_APPS)["Parents"] == [{"Id": ROOT, "Type": "ROOT"}]


def test_accounts_carry_both_status_and_state(sandbox):
    """§B: Status (retired 2026-09-09) and State are both returned; a suspended account says SUSPENDED."""
    account = sandbox.client("organizations").describe_account(AccountId=SUSPENDED)["Account"]
    assert (account["Status"], account["State"]) == ("SUSPENDED", "SUSPENDED")
    assert account["Paths"] == [f"{ORG_ID}/{ROOT}/{OU_APPS}/{OU_NESTED}/{SUSPENDED}/"]


def test_list_calls_page_at_most_twenty_with_next_token(sandbox):
    """§B: MaxResults is 1–20; keep following NextToken (the paginator gives every account)."""
    org = sandbox.client("organizations")
    with pytest.raises(ClientError) as error:
        org.list_accounts(MaxResults=21)
    assert error.value.response["Error"]["Code"] == "InvalidInputException"
    first = org.list_accounts(MaxResults=3)
    assert len(first["Accounts"]) == 3 and first["NextToken"]
    every = [a["Id"] for page in org.get_paginator("list_accounts").paginate(PaginationConfig={"PageSize": 2})
             for a in page["Accounts"]]
    assert len(every) == 8 and MANAGEMENT in every and NESTED in every


def test_trusted_access_and_delegated_admins_are_listed(sandbox):
    """§A1: StackSets trusted access and the registered delegated admin are visible to the management account."""
    org = sandbox.client("organizations")
    principals = [p["ServicePrincipal"] for p in org.list_aws_service_access_for_organization()[
        "EnabledServicePrincipals"]]
    assert STACKSETS in principals
    admins = org.list_delegated_administrators(ServicePrincipal=STACKSETS)["DelegatedAdministrators"]
    assert [a["Id"] for a in admins] == [OTHER]


def test_register_delegated_administrator_for_stack_sets(sandbox):
    """§A1: the management account registers a delegated admin for the StackSets principal (moto cannot, §C)."""
    org = sandbox.client("organizations")
    org.register_delegated_administrator(AccountId=APP_ONE, ServicePrincipal=STACKSETS)
    admins = org.list_delegated_administrators(ServicePrincipal=STACKSETS)["DelegatedAdministrators"]
    assert {a["Id"] for a in admins} == {OTHER, APP_ONE}
    with pytest.raises(ClientError) as error:
        org.register_delegated_administrator(AccountId=APP_ONE, ServicePrincipal=STACKSETS)
    assert error.value.response["Error"]["Code"] == "AccountAlreadyRegisteredException"


def test_delegated_admin_may_read_the_tree_but_other_members_may_not(sandbox):
    """§B: list calls work from the management account or a delegated admin."""
    assert sandbox.client("organizations", account=OTHER).list_roots()["Roots"]
    with pytest.raises(ClientError) as error:
        sandbox.client("organizations", account=APP_ONE).list_roots()
    assert error.value.response["Error"]["Code"] == "AccessDeniedException"


def test_sts_and_ec2_answer_as_the_caller(sandbox):
    """STS GetCallerIdentity/AssumeRole and EC2 DescribeRegions (enabled regions of the caller)."""
    sts = sandbox.client("sts")
    assert sts.get_caller_identity()["Account"] == MANAGEMENT
    creds = sts.assume_role(RoleArn=f"arn:aws:iam::{APP_ONE}:role/OrganizationAccountAccessRole",
                            RoleSessionName="clumio-org")["Credentials"]
    import boto3

    assumed = boto3.client("sts", endpoint_url=sandbox.aws_url, region_name="us-east-1",
                           aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                           aws_session_token=creds["SessionToken"])
    assert assumed.get_caller_identity()["Account"] == APP_ONE
    regions = [r["RegionName"] for r in sandbox.client("ec2").describe_regions()["Regions"]]
    assert regions == ["eu-west-1", "us-east-1", "us-west-2"]
    role = sandbox.client("iam").get_role(RoleName="AWSCloudFormationStackSetAdministrationRole")["Role"]
    assert role["Arn"].endswith(":role/AWSCloudFormationStackSetAdministrationRole")


def test_an_empty_page_with_a_next_token_is_not_the_end(sandbox_factory):
    """§B: list calls can return an empty page with a NextToken; keep looping until NextToken is null."""
    sandbox = sandbox_factory(world_spec(faults={"empty_first_pages": True}))
    org = sandbox.client("organizations")
    first = org.list_accounts_for_parent(ParentId=OU_APPS)
    assert first["Accounts"] == [] and first["NextToken"]
    every = [a["Id"] for page in org.get_paginator("list_accounts_for_parent").paginate(ParentId=OU_APPS)
             for a in page["Accounts"]]
    assert sorted(every) == [APP_ONE, APP_TWO]
