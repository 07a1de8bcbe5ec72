"""Contract: a model-driven shape check of every response the sandbox's real World gives, over every operation it
serves — no member botocore's output shape lacks (unknown), none it requires left out (missing)
(docs/reference/sandbox-fidelity.md §5).

The wire layer records both while it serialises (``protocols.UNKNOWN_MEMBERS`` / ``MISSING_MEMBERS``); here one
scenario calls every served operation with boto3 and the two sets must stay empty.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest

from reconciler.sandbox import protocols
from reconciler.sandbox.server import RunningSandbox, start_in_thread
from reconciler.sandbox.stacksets_api import WRITES
from reconciler.sandbox.stacksets_reads import READS
from tests.conftest import build_world
from tests.contract.test_wire_world import _deploy

STACKSETS_PRINCIPAL = "member.org.stacksets.cloudformation.amazonaws.com"
ORGANIZATIONS = {
    "DescribeOrganization", "ListRoots", "ListOrganizationalUnitsForParent", "ListAccountsForParent", "ListChildren",
    "ListParents", "ListAccounts", "DescribeAccount", "DescribeOrganizationalUnit",
    "ListAWSServiceAccessForOrganization", "EnableAWSServiceAccess", "ListDelegatedAdministrators",
    "RegisterDelegatedAdministrator", "DeregisterDelegatedAdministrator",
}
POLICIES = {
    "EnablePolicyType", "CreatePolicy", "ListPolicies", "DescribePolicy", "UpdatePolicy", "AttachPolicy",
    "ListPoliciesForTarget", "ListTargetsForPolicy", "DetachPolicy", "DeletePolicy", "DisablePolicyType",
}
S3 = {
    "CreateBucket", "HeadBucket", "ListBuckets", "PutBucketVersioning", "GetBucketVersioning", "PutObject",
    "GetObject", "HeadObject", "ListObjectsV2", "ListObjectVersions", "CreateMultipartUpload", "UploadPart",
    "CompleteMultipartUpload", "AbortMultipartUpload", "DeleteObject", "DeleteBucket",
}


class Recorder:
    """boto3 clients that remember which operations answered."""

    def __init__(self, sandbox: RunningSandbox) -> None:
        self.sandbox = sandbox
        self.called: set[tuple[str, str]] = set()
        self._clients: dict[str, Any] = {}

    def _answered(self, service: str) -> Any:
        def record(model: Any, http_response: Any, **_: Any) -> None:
            if http_response.status_code < 300:
                self.called.add((service, model.name))

        return record

    def __call__(self, service: str) -> Any:
        if service not in self._clients:
            client = self.sandbox.client(service)
            client.meta.events.register("after-call.*.*", self._answered(service))
            self._clients[service] = client
        return self._clients[service]


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    sandbox = start_in_thread(build_world())
    try:
        yield Recorder(sandbox)
    finally:
        sandbox.stop()


def _stacksets(aws: Recorder) -> None:
    sandbox, cf = aws.sandbox, aws("cloudformation")
    first = _deploy(sandbox, ["ou-d3m0-workload"], ["us-east-1"])
    sandbox.world.clock.advance(6 * 3600)
    instance = cf.list_stack_instances(StackSetName="clumio")["Summaries"][0]
    account, region = instance["Account"], instance["Region"]
    cf.describe_stack_set(StackSetName="clumio")
    cf.list_stack_sets(Status="ACTIVE")
    cf.describe_stack_instance(StackSetName="clumio", StackInstanceAccount=account, StackInstanceRegion=region)
    cf.describe_stack_set_operation(StackSetName="clumio", OperationId=first)
    cf.list_stack_set_operations(StackSetName="clumio")
    cf.list_stack_set_operation_results(StackSetName="clumio", OperationId=first)
    cf.list_stack_set_auto_deployment_targets(StackSetName="clumio")
    cf.get_template_summary(StackSetName="clumio")
    sandbox.world.apply_event("drift-stack", {"account": account, "region": region})
    drift = cf.detect_stack_set_drift(StackSetName="clumio")["OperationId"]
    sandbox.world.clock.advance(3600)
    cf.list_stack_instance_resource_drifts(StackSetName="clumio", StackInstanceAccount=account,
                                           StackInstanceRegion=region, OperationId=drift)
    cf.create_stack_instances(StackSetName="clumio", Regions=["us-west-2"],
                              DeploymentTargets={"OrganizationalUnitIds": ["ou-d3m0-security"]})
    sandbox.world.clock.advance(6 * 3600)
    cf.update_stack_set(StackSetName="clumio", UsePreviousTemplate=True, Capabilities=["CAPABILITY_NAMED_IAM"],
                        Parameters=[{"ParameterKey": "ClumioToken", "UsePreviousValue": True},
                                    {"ParameterKey": "RoleExternalId", "UsePreviousValue": True}])
    sandbox.world.clock.advance(6 * 3600)
    cf.update_stack_instances(StackSetName="clumio", Regions=["us-east-1"],
                              DeploymentTargets={"OrganizationalUnitIds": ["ou-d3m0-workload"]})
    sandbox.world.clock.advance(6 * 3600)
    stopping = cf.delete_stack_instances(StackSetName="clumio", Regions=["us-east-1"], RetainStacks=False,
                                         DeploymentTargets={"OrganizationalUnitIds": ["ou-d3m0-workload"]})
    cf.stop_stack_set_operation(StackSetName="clumio", OperationId=stopping["OperationId"])
    cf.create_stack_set(StackSetName="scratch", PermissionModel="SELF_MANAGED",
                        TemplateBody='{"Resources": {"Queue": {"Type": "AWS::SQS::Queue"}}}')
    cf.delete_stack_set(StackSetName="scratch")


def _organizations(aws: Recorder) -> None:
    org = aws("organizations")
    root = org.list_roots()["Roots"][0]["Id"]
    org.describe_organization()
    ou = org.list_organizational_units_for_parent(ParentId=root)["OrganizationalUnits"][0]["Id"]
    org.describe_organizational_unit(OrganizationalUnitId=ou)
    account = org.list_accounts_for_parent(ParentId=ou)["Accounts"][0]["Id"]
    org.list_children(ParentId=root, ChildType="ORGANIZATIONAL_UNIT")
    org.list_parents(ChildId=account)
    org.list_accounts()
    org.describe_account(AccountId=account)
    org.enable_aws_service_access(ServicePrincipal=STACKSETS_PRINCIPAL)
    org.list_aws_service_access_for_organization()
    org.register_delegated_administrator(AccountId=account, ServicePrincipal=STACKSETS_PRINCIPAL)
    org.list_delegated_administrators(ServicePrincipal=STACKSETS_PRINCIPAL)
    org.deregister_delegated_administrator(AccountId=account, ServicePrincipal=STACKSETS_PRINCIPAL)


def _guardrails(aws: Recorder) -> None:
    org = aws("organizations")
    root = org.list_roots()["Roots"][0]["Id"]
    org.enable_policy_type(RootId=root, PolicyType="SERVICE_CONTROL_POLICY")
    document = '{"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "sns:*", "Resource": "*"}]}'
    policy = org.create_policy(Name="no-sns", Description="shapes", Type="SERVICE_CONTROL_POLICY",
                               Content=document)["Policy"]["PolicySummary"]["Id"]
    org.list_policies(Filter="SERVICE_CONTROL_POLICY")
    org.describe_policy(PolicyId=policy)
    org.update_policy(PolicyId=policy, Description="shapes, updated")
    org.attach_policy(PolicyId=policy, TargetId="ou-d3m0-security")
    org.list_policies_for_target(TargetId="ou-d3m0-security", Filter="SERVICE_CONTROL_POLICY")
    org.list_targets_for_policy(PolicyId=policy)
    org.detach_policy(PolicyId=policy, TargetId="ou-d3m0-security")
    org.delete_policy(PolicyId=policy)
    org.disable_policy_type(RootId=root, PolicyType="SERVICE_CONTROL_POLICY")
    aws("controltower").list_landing_zones()


def _identity(aws: Recorder) -> None:
    aws("sts").get_caller_identity()
    aws("sts").assume_role(RoleArn="arn:aws:iam::300000000001:role/OrganizationAccountAccessRole",
                           RoleSessionName="shapes")
    aws("iam").get_role(RoleName="AWSCloudFormationStackSetAdministrationRole")
    aws("ec2").describe_regions()


def _s3(aws: Recorder) -> None:
    s3 = aws("s3")
    s3.create_bucket(Bucket="shapes")
    s3.head_bucket(Bucket="shapes")
    s3.put_bucket_versioning(Bucket="shapes", VersioningConfiguration={"Status": "Enabled"})
    s3.get_bucket_versioning(Bucket="shapes")
    s3.put_object(Bucket="shapes", Key="state.json", Body=b"{}")
    s3.get_object(Bucket="shapes", Key="state.json", Range="bytes=0-0")
    s3.head_object(Bucket="shapes", Key="state.json")
    upload = s3.create_multipart_upload(Bucket="shapes", Key="big")["UploadId"]
    etag = s3.upload_part(Bucket="shapes", Key="big", UploadId=upload, PartNumber=1, Body=io.BytesIO(b"x"))["ETag"]
    s3.complete_multipart_upload(Bucket="shapes", Key="big", UploadId=upload,
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
    aborted = s3.create_multipart_upload(Bucket="shapes", Key="gone")["UploadId"]
    s3.abort_multipart_upload(Bucket="shapes", Key="gone", UploadId=aborted)
    s3.list_objects_v2(Bucket="shapes")
    s3.list_object_versions(Bucket="shapes")
    s3.list_buckets()
    s3.delete_object(Bucket="shapes", Key="big")
    bare = "shapes-empty"
    s3.create_bucket(Bucket=bare)
    s3.delete_bucket(Bucket=bare)


def test_every_served_operation_answers_only_and_all_the_members_its_shape_names(recorder: Recorder) -> None:
    protocols.UNKNOWN_MEMBERS.clear()
    protocols.MISSING_MEMBERS.clear()
    for scenario in (_stacksets, _organizations, _guardrails, _identity, _s3):
        scenario(recorder)
    served = ({("cloudformation", name) for name in {*READS, *WRITES}}
              | {("organizations", name) for name in ORGANIZATIONS | POLICIES} | {("s3", name) for name in S3}
              | {("controltower", "ListLandingZones")}
              | {("sts", "GetCallerIdentity"), ("sts", "AssumeRole"), ("iam", "GetRole"), ("ec2", "DescribeRegions")})
    assert served - recorder.called == set(), "an operation the sandbox serves is not shape-checked"
    assert not protocols.UNKNOWN_MEMBERS, sorted(protocols.UNKNOWN_MEMBERS)
    assert not protocols.MISSING_MEMBERS, sorted(protocols.MISSING_MEMBERS)
