"""Wire contract against the real World: boto3 sees the demo world's truth, page by page, with AWS's names.

The rollout below drives every StackSets, Organizations, STS, IAM and EC2 read the sandbox serves; afterwards no
member the World returned may be missing from botocore's output shapes (nothing silently dropped on the wire).
"""

from __future__ import annotations

from typing import Any

import pytest
import requests

from reconciler.sandbox import protocols
from reconciler.sandbox.worldfile import default_world_path, load_world_spec


def _spec_accounts(spec: dict[str, Any]) -> dict[str, str]:
    accounts = {spec["organization"]["management_account"]: spec["organization"]["management_account_name"]}

    def walk(node: dict[str, Any]) -> None:
        for account in node.get("accounts") or []:
            accounts[str(account["id"])] = account["name"]
        for child in node.get("ous") or []:
            walk(child)

    walk(spec)
    return accounts


def _clumio(sandbox: Any, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {sandbox.env()['CLUMIO_API_TOKEN']}",
               "Accept": "application/api.clumio.*=v1+json"}
    reply = requests.request(method, f"{sandbox.clumio_url}{path}", json=body, headers=headers, timeout=5)
    reply.raise_for_status()
    return dict(reply.json())


def _deploy(sandbox: Any, ous: list[str], regions: list[str]) -> str:
    """Create the Clumio StackSet from the Clumio template URL and deploy it; returns the operation id."""
    deployment = _clumio(sandbox, "PUT", "/connections/aws/org-deployment-parameters",
                         {"aws_org_id": sandbox.world.org.id})
    template = _clumio(sandbox, "POST", "/connections/aws/templates",
                       {"asset_types_enabled": ["EBS", "RDS"], "organization_template": True})
    cloudformation = sandbox.client("cloudformation")
    cloudformation.create_stack_set(
        StackSetName="clumio", TemplateURL=template["cloudformation_url"], PermissionModel="SERVICE_MANAGED",
        AutoDeployment={"Enabled": True, "RetainStacksOnAccountRemoval": False}, Capabilities=["CAPABILITY_NAMED_IAM"],
        Parameters=[{"ParameterKey": "ClumioToken", "ParameterValue": deployment["token"]},
                    {"ParameterKey": "RoleExternalId", "ParameterValue": deployment["external_id"]}])
    return str(cloudformation.create_stack_instances(
        StackSetName="clumio", DeploymentTargets={"OrganizationalUnitIds": ous}, Regions=regions,
        OperationPreferences={"MaxConcurrentPercentage": 100, "FailureTolerancePercentage": 100,
                              "RegionConcurrencyType": "PARALLEL"})["OperationId"])


def test_list_accounts_pages_give_every_account_of_the_world(sandbox: Any) -> None:
    expected = _spec_accounts(load_world_spec(default_world_path()))
    pages = list(sandbox.client("organizations").get_paginator("list_accounts").paginate())
    seen = {a["Id"]: a["Name"] for page in pages for a in page["Accounts"]}
    assert seen == expected
    assert len(pages) > 1  # Organizations pages at 20 at most


def test_list_stack_instances_pages_give_each_instance_once(sandbox: Any) -> None:
    _deploy(sandbox, ["ou-d3m0-workload"], ["us-east-1", "eu-west-1"])
    sandbox.world.clock.advance(6 * 3600)
    cloudformation = sandbox.client("cloudformation")
    pages = list(cloudformation.get_paginator("list_stack_instances").paginate(
        StackSetName="clumio", PaginationConfig={"PageSize": 7}))
    keys = [(s["Account"], s["Region"]) for page in pages for s in page["Summaries"]]
    world_keys = {(i.account, i.region) for i in sandbox.world.stack_set("clumio").instances}
    assert len(keys) == len(set(keys)) == len(world_keys)
    assert set(keys) == world_keys
    assert all(len(page["Summaries"]) <= 7 for page in pages) and len(pages) > 2


def test_filtered_stack_instance_listing_matches_the_world(sandbox: Any) -> None:
    _deploy(sandbox, ["ou-d3m0-workload"], ["us-east-1"])
    sandbox.world.clock.advance(6 * 3600)
    skipped = [{"Name": "DETAILED_STATUS", "Values": "SKIPPED_SUSPENDED_ACCOUNT"}]
    summaries = sandbox.client("cloudformation").list_stack_instances(StackSetName="clumio",
                                                                      Filters=skipped)["Summaries"]
    assert summaries, "the demo's suspended account is in Workloads"
    assert {s["StackInstanceStatus"]["DetailedStatus"] for s in summaries} == {"SKIPPED_SUSPENDED_ACCOUNT"}
    assert all("StackId" not in s for s in summaries)


def test_a_full_rollout_returns_only_members_botocore_knows(sandbox: Any) -> None:
    protocols.UNKNOWN_MEMBERS.clear()
    operation = _deploy(sandbox, ["ou-d3m0-workload", "ou-d3m0-security"], ["us-east-1", "us-west-2"])
    sandbox.world.clock.advance(6 * 3600)
    cloudformation = sandbox.client("cloudformation")
    cloudformation.describe_stack_set(StackSetName="clumio")
    cloudformation.list_stack_sets(Status="ACTIVE")
    cloudformation.describe_stack_set_operation(StackSetName="clumio", OperationId=operation)
    cloudformation.list_stack_set_operations(StackSetName="clumio")
    cloudformation.list_stack_set_operation_results(StackSetName="clumio", OperationId=operation)
    instance = cloudformation.list_stack_instances(StackSetName="clumio")["Summaries"][0]
    requests.post(f"{sandbox.aws_url}/_sandbox/events/drift-stack",
                  json={"account": instance["Account"], "region": instance["Region"]}, timeout=5)
    drift = cloudformation.detect_stack_set_drift(StackSetName="clumio")["OperationId"]
    sandbox.world.clock.advance(3600)
    cloudformation.describe_stack_set_operation(StackSetName="clumio", OperationId=drift)
    cloudformation.describe_stack_instance(StackSetName="clumio", StackInstanceAccount=instance["Account"],
                                           StackInstanceRegion=instance["Region"])
    drifts = cloudformation.list_stack_instance_resource_drifts(
        StackSetName="clumio", StackInstanceAccount=instance["Account"], StackInstanceRegion=instance["Region"],
        OperationId=drift)["Summaries"]
    organizations = sandbox.client("organizations")
    root = organizations.list_roots()["Roots"][0]["Id"]
    organizations.describe_organization()
    ou = organizations.list_organizational_units_for_parent(ParentId=root)["OrganizationalUnits"][0]["Id"]
    organizations.describe_organizational_unit(OrganizationalUnitId=ou)
    organizations.list_accounts_for_parent(ParentId=ou)
    organizations.list_children(ParentId=root, ChildType="ORGANIZATIONAL_UNIT")
    organizations.list_parents(ChildId=instance["Account"])
    organizations.describe_account(AccountId=instance["Account"])
    organizations.list_aws_service_access_for_organization()
    organizations.list_delegated_administrators(ServicePrincipal="member.org.stacksets.cloudformation.amazonaws.com")
    sandbox.client("sts").get_caller_identity()
    sandbox.client("sts").assume_role(RoleArn=f"arn:aws:iam::{instance['Account']}:role/OrganizationAccountAccessRole",
                                      RoleSessionName="wire")
    sandbox.client("iam").get_role(RoleName="AWSCloudFormationStackSetAdministrationRole")
    sandbox.client("ec2").describe_regions()
    cloudformation.delete_stack_instances(StackSetName="clumio", DeploymentTargets={"OrganizationalUnitIds": [ou]},
                                          Regions=["us-east-1"], RetainStacks=False)
    assert "MODIFIED" in {d["StackResourceDriftStatus"] for d in drifts}
    unknown = set(protocols.UNKNOWN_MEMBERS)
    assert unknown == set()


@pytest.mark.parametrize(("call", "code", "status"), [
    (lambda cf: cf.describe_stack_set(StackSetName="nope"), "StackSetNotFoundException", 404),
    (lambda cf: cf.describe_stack_set_operation(StackSetName="clumio", OperationId="nope"),
     "OperationNotFoundException", 404),
    (lambda cf: cf.create_stack_instances(StackSetName="clumio", DeploymentTargets={
        "OrganizationalUnitIds": ["ou-d3m0-security"]}, Regions=["us-east-1"]), "OperationInProgressException", 409),
])
def test_world_faults_reach_boto3_with_aws_codes(sandbox: Any, call: Any, code: str, status: int) -> None:
    from botocore.exceptions import ClientError

    _deploy(sandbox, ["ou-d3m0-workload"], ["us-east-1"])
    with pytest.raises(ClientError) as caught:
        call(sandbox.client("cloudformation"))
    assert caught.value.response["Error"]["Code"] == code
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
