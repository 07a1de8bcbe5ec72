"""Table tests of the SCP evaluator: what the plan says for one (account, region) given the policies on its path."""

from __future__ import annotations

import json
from typing import Any

import pytest

from reconciler.core.guardrails import Guardrails, GuardrailSource, ScpPolicy, Verdict
from reconciler.core.keys import InstanceKey
from reconciler.plan.guardrails.evaluate import evaluate
from reconciler.plan.guardrails.match import UNKNOWN, Tri, match, match_arn
from reconciler.plan.guardrails.template import required_actions
from reconciler.sandbox.template import render_clumio_template
from tests.worlds import ROOT, demo_org

STACK_SET = "clumio-org"
TREE = demo_org()
PROD = "ou-fake-prodwork"
WORKLOADS = "ou-fake-workload"
DATA = "ou-fake-proddata"
PROD_ACCOUNT = "333300000001"
DATA_ACCOUNT = "333300000011"
ACTIONS = required_actions(render_clumio_template("24.4"), {}, STACK_SET)

FULL = ScpPolicy("p-FullAWSAccess", "FullAWSAccess", json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}), True)


def scp(pid: str, name: str, *statements: dict[str, Any]) -> ScpPolicy:
    return ScpPolicy(pid, name, json.dumps({"Version": "2012-10-17", "Statement": list(statements)}))


REGION_DENY = scp("p-regiondeny1", "RegionDeny", {
    "Effect": "Deny",
    "NotAction": ["iam:*", "organizations:*", "route53:*", "cloudfront:*", "support:*", "sts:*"],
    "Resource": "*",
    "Condition": {"StringNotEquals": {"aws:RequestedRegion": ["us-east-1", "eu-west-1"]}}})
REGION_DENY_NO_IAM_EXEMPTION = scp("p-regiondeny2", "RegionDenyStrict", {
    "Effect": "Deny", "Action": "*", "Resource": "*",
    "Condition": {"StringNotEquals": {"aws:RequestedRegion": ["eu-west-1"]}}})
IAM_DENY = scp("p-iamdeny0001", "DenyIamOutsidePipeline", {
    "Effect": "Deny", "Action": ["iam:CreateRole", "iam:PutRolePolicy"], "Resource": "*",
    "Condition": {"ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/Pipeline*"}}})
IAM_DENY_EXEMPT_EXEC = scp("p-iamdeny0002", "DenyIamExceptStackSets", {
    "Effect": "Deny", "Action": ["iam:CreateRole", "iam:PutRolePolicy"], "Resource": "*",
    "Condition": {"ArnNotLike": {"aws:PrincipalArn": ["arn:aws:iam::*:role/Pipeline*",
                                                        "arn:aws:iam::*:role/stacksets-exec-*"]}}})
IAM_DENY_ONE_EXEC_HASH = scp("p-iamdeny0003", "DenyIamExceptOneRole", {
    "Effect": "Deny", "Action": "iam:CreateRole", "Resource": "*",
    "Condition": {"ArnNotEquals": {"aws:PrincipalArn": "arn:aws:iam::*:role/stacksets-exec-0123abcd"}}})
TAG_EXEMPT = scp("p-tagexempt01", "DenyIamUnlessTagged", {
    "Effect": "Deny", "Action": "iam:*", "Resource": "*",
    "Condition": {"StringNotEquals": {"aws:PrincipalTag/team": "platform"}}})
SOURCE_IP = scp("p-sourceip001", "DenyOutsideOffice", {
    "Effect": "Deny", "Action": "*", "Resource": "*",
    "Condition": {"NotIpAddress": {"aws:SourceIp": "192.0.2.0/24"}}})
ALLOW_EC2_ONLY = scp("p-allowlist01", "AllowEc2AndCfn", {
    "Effect": "Allow", "Action": ["ec2:*", "cloudformation:*", "sns:*", "events:*"], "Resource": "*"})
ALLOW_IAM = scp("p-allowiam001", "AllowIam", {"Effect": "Allow", "Action": "iam:*", "Resource": "*"})
PROTECT_ROLE = scp("p-protect0001", "ProtectAdminRole", {
    "Effect": "Deny", "Action": "iam:*", "Resource": "arn:aws:iam::*:role/OrganizationAccountAccessRole"})
DENY_SNS_TOPIC_NAME = scp("p-snsname0001", "DenyClumioTopics", {
    "Effect": "Deny", "Action": "sns:CreateTopic", "Resource": "arn:aws:sns:*:*:Clumio*"})


def world(*attachments: tuple[str, ScpPolicy]) -> Guardrails:
    """FullAWSAccess on every node (as AWS attaches it), plus the given (target, policy) pairs."""
    targets = [ROOT, *TREE.ous, *TREE.accounts]
    attached: dict[str, list[str]] = {t: [FULL.id] for t in targets}
    policies = {FULL.id: FULL}
    for target, policy in attachments:
        attached.setdefault(target, []).append(policy.id)
        policies[policy.id] = policy
    return Guardrails({t: tuple(p) for t, p in attached.items()}, policies)


def replace_allow(guardrails: Guardrails, target: str, *policies: ScpPolicy) -> Guardrails:
    attached = dict(guardrails.attachments)
    attached[target] = tuple(p.id for p in policies)
    return Guardrails(attached, {**guardrails.policies, **{p.id: p for p in policies}})


def verdict(guardrails: Guardrails, account: str, region: str) -> tuple[str | None, str | None]:
    found = evaluate(TREE, guardrails, [InstanceKey(STACK_SET, account, region)], ACTIONS)
    if not found:
        return None, None
    return found[0].verdict.value, found[0].reason


CASES = [
    # (name, guardrails, account, region, expected verdict, expected text in the reason)
    ("full access only", world(), PROD_ACCOUNT, "us-west-2", None, None),
    ("region deny on the OU blocks a region outside the list",
     world((PROD, REGION_DENY)), PROD_ACCOUNT, "us-west-2", "will fail",
     "SCP p-regiondeny1 (RegionDeny) on /Workloads/Prod denies cloudformation:CreateStack in us-west-2"),
    ("region deny lets an allowed region through (IAM exempted by NotAction)",
     world((PROD, REGION_DENY)), PROD_ACCOUNT, "eu-west-1", None, None),
    ("region deny without an IAM exemption fails IAM calls, which go to us-east-1",
     world((PROD, REGION_DENY_NO_IAM_EXEMPTION)), PROD_ACCOUNT, "eu-west-1", "will fail",
     "denies iam:CreateRole"),
    ("region deny is inherited from an ancestor OU",
     world((WORKLOADS, REGION_DENY)), DATA_ACCOUNT, "ap-south-1", "will fail", "on /Workloads denies"),
    ("region deny on the root reaches every account",
     world((ROOT, REGION_DENY)), "555500000001", "ap-south-1", "will fail", "on / denies"),
    ("region deny on a sibling OU does not reach",
     world(("ou-fake-security", REGION_DENY)), PROD_ACCOUNT, "ap-south-1", None, None),
    ("IAM deny on the account with a pipeline-only exemption",
     world((PROD_ACCOUNT, IAM_DENY)), PROD_ACCOUNT, "us-east-1", "will fail",
     "SCP p-iamdeny0001 (DenyIamOutsidePipeline) on account 333300000001 denies iam:CreateRole"),
    ("IAM deny with an aws:PrincipalArn exemption for stacksets-exec-*",
     world((PROD_ACCOUNT, IAM_DENY_EXEMPT_EXEC)), PROD_ACCOUNT, "us-east-1", None, None),
    ("an exemption for one exact execution role hash cannot be told",
     world((PROD_ACCOUNT, IAM_DENY_ONE_EXEC_HASH)), PROD_ACCOUNT, "us-east-1", "unknown", "aws:PrincipalArn"),
    ("a PrincipalTag exemption does not cover the untagged execution role",
     world((PROD, TAG_EXEMPT)), PROD_ACCOUNT, "us-east-1", "will fail", "denies iam:CreateRole"),
    ("an unknown condition key is reported as unknown",
     world((PROD, SOURCE_IP)), PROD_ACCOUNT, "us-east-1", "unknown", "aws:SourceIp"),
    ("a sure deny wins over an unknown one",
     world((PROD, SOURCE_IP), (PROD_ACCOUNT, IAM_DENY)), PROD_ACCOUNT, "us-east-1", "will fail", "iam:CreateRole"),
    ("allow list missing IAM at one OU level",
     replace_allow(world(), WORKLOADS, ALLOW_EC2_ONLY), DATA_ACCOUNT, "us-east-1", "will fail",
     "no SCP on /Workloads allows iam:CreateRole"),
    ("allow list complete at that level",
     replace_allow(world(), WORKLOADS, ALLOW_EC2_ONLY, ALLOW_IAM), DATA_ACCOUNT, "us-east-1", None, None),
    ("allow list missing at the account level",
     replace_allow(world(), DATA_ACCOUNT, ALLOW_IAM), DATA_ACCOUNT, "us-east-1", "will fail",
     "no SCP on account 333300000011 allows cloudformation:CreateStack"),
    ("a deny on one protected role does not touch the Clumio roles",
     world((ROOT, PROTECT_ROLE)), PROD_ACCOUNT, "us-east-1", None, None),
    ("a deny on Clumio-named topics matches the template's topic name",
     world((PROD, DENY_SNS_TOPIC_NAME)), PROD_ACCOUNT, "us-east-1", "will fail", "denies sns:CreateTopic"),
    ("the management account is never bound by SCPs",
     world((ROOT, REGION_DENY)), "111111111111", "ap-south-1", None, None),
]


@pytest.mark.parametrize(("name", "guardrails", "account", "region", "expected", "text"), CASES,
                         ids=[c[0] for c in CASES])
def test_evaluator_table(name: str, guardrails: Guardrails, account: str, region: str, expected: str | None,
                         text: str | None) -> None:
    got, reason = verdict(guardrails, account, region)
    assert got == expected, reason
    if text is not None:
        assert reason is not None and text in reason


def test_no_scp_on_the_root_means_scps_are_not_enabled() -> None:
    assert evaluate(TREE, Guardrails({}, {}), [InstanceKey(STACK_SET, PROD_ACCOUNT, "us-east-1")], ACTIONS) == []


def test_unreadable_policy_content_is_unknown_not_allowed() -> None:
    broken = ScpPolicy("p-broken00001", "Broken", "{not json")
    got, reason = verdict(world((PROD, broken)), PROD_ACCOUNT, "us-east-1")
    assert got == "unknown" and reason is not None and "p-broken00001" in reason


def test_control_tower_region_deny_is_named_as_control_tower() -> None:
    ct = scp("p-ctregion001", "aws-guardrails-RegionDeny", json.loads(REGION_DENY.content)["Statement"][0])
    found = evaluate(TREE, world((PROD, ct)), [InstanceKey(STACK_SET, PROD_ACCOUNT, "ap-south-1")], ACTIONS)
    assert found[0].source is GuardrailSource.CONTROL_TOWER
    assert found[0].verdict is Verdict.DENIED
    assert found[0].reason.startswith("will fail: region blocked by Control Tower")


def test_template_actions_follow_its_resources_and_conditions() -> None:
    names = [a.action for a in ACTIONS]
    assert names[:2] == ["cloudformation:CreateStack", "cloudformation:DescribeStacks"]
    assert {"iam:CreateRole", "iam:PutRolePolicy", "iam:TagRole", "sns:CreateTopic", "events:PutRule",
            "events:PutTargets", "iam:PassRole"} <= set(names)
    # PermissionsBoundaryARN defaults to "" and the topic key is not created by default.
    assert "iam:PutRolePermissionsBoundary" not in names and "kms:CreateKey" not in names
    with_key = required_actions(render_clumio_template("24.4"), {"CreateClumioInventoryTopicEncryptionKey": "True",
                                                                 "PermissionsBoundaryARN": "arn:aws:iam::1:policy/b"},
                                STACK_SET)
    assert {"kms:CreateKey", "iam:PutRolePermissionsBoundary"} <= {a.action for a in with_key}


@pytest.mark.parametrize(("pattern", "family", "expected"), [
    ("arn:aws:iam::*:role/stacksets-exec-*", f"arn:aws:iam::1:role/stacksets-exec-{UNKNOWN}", Tri.YES),
    ("arn:aws:iam::*:role/Pipeline*", f"arn:aws:iam::1:role/stacksets-exec-{UNKNOWN}", Tri.NO),
    ("arn:aws:iam::*:role/stacksets-exec-ab12", f"arn:aws:iam::1:role/stacksets-exec-{UNKNOWN}", Tri.MAYBE),
    ("arn:aws:iam::*:role/*-exec-*", f"arn:aws:iam::1:role/stacksets-exec-{UNKNOWN}", Tri.YES),
    ("arn:aws:iam::222:role/*", f"arn:aws:iam::1:role/x{UNKNOWN}", Tri.NO),
])
def test_arn_families(pattern: str, family: str, expected: Tri) -> None:
    assert match_arn(pattern, family) is expected


def test_action_wildcards_are_case_insensitive() -> None:
    assert match("IAM:Create*", "iam:CreateRole", ignore_case=True) is Tri.YES
    assert match("iam:Delete*", "iam:CreateRole", ignore_case=True) is Tri.NO


@pytest.mark.parametrize(("pattern", "value", "wildcards", "expected"), [
    ("a*b*c", "axxbyyc", True, Tri.YES), ("a*b*c", "axxbyy", True, Tri.NO), ("*a", "bba", True, Tri.YES),
    ("a*a", "a", True, Tri.NO), ("*", "", True, Tri.YES), ("?", "", True, Tri.NO), ("a?c", "abc", True, Tri.YES),
    ("**b", "ab", True, Tri.YES), ("*ab*ab", "abxabab", True, Tri.YES), ("", "", True, Tri.YES),
    ("a*", "ab", False, Tri.NO), ("a*", "a*", False, Tri.YES), ("a?", "a?", False, Tri.YES),
])
def test_wildcards_on_a_plain_value_say_yes_or_no(pattern: str, value: str, wildcards: bool, expected: Tri) -> None:
    assert match(pattern, value, wildcards=wildcards) is expected
    # The same answer as for the value with an unknown run after it (a family), once that run is closed off.
    if expected is Tri.YES and wildcards:
        assert match(pattern + "*", value + UNKNOWN) is Tri.YES
