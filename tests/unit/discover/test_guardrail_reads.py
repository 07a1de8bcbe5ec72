"""The SCP reads by policy and per target see the same guardrails: the plan's findings are the same either way,
a caller not allowed ListPolicies falls back to the per-target reads, and each way costs the calls it says
(docs/reference/guardrails.md §1)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace

import pytest

from reconciler.core.desired import GuardrailsSpec
from reconciler.core.guardrails import GuardrailMode, ScpPolicy
from reconciler.core.live import OrgTree
from reconciler.core.ports import ClumioTemplate
from reconciler.discover.guardrails import read_guardrails
from reconciler.discover.observe import observe
from reconciler.plan.build import make_plan
from reconciler.sandbox.template import render_clumio_template
from tests.fakes import FakeGuardrails, fake_ports, make_desired
from tests.worlds import OrgBuilder, demo_org

FULL = ScpPolicy("p-FullAWSAccess", "FullAWSAccess", json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}), True)
REGION_DENY = ScpPolicy("p-region00001", "OnlyUsEast1", json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Deny", "NotAction": ["iam:*", "sts:*"], "Resource": "*",
    "Condition": {"StringNotEquals": {"aws:RequestedRegion": ["us-east-1"]}}}]}))
ONLY_S3 = ScpPolicy("p-onlys30001", "AllowS3Only", json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
IAM_DENY = ScpPolicy("p-iamdeny0001", "NoIam", json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Deny", "Action": "iam:CreateRole", "Resource": "*"}]}))
UNUSED = ScpPolicy("p-unused00001", "AttachedNowhere", IAM_DENY.content)
TREE = demo_org()
PROD, DEV, SANDBOX = "ou-fake-prodwork", "ou-fake-devwork1", "ou-fake-sandbox1"
POLICIES = [FULL, REGION_DENY, ONLY_S3, IAM_DENY, UNUSED]
# Organization-wide: 8 active member accounts, the root and 6 OUs.
TARGETS = 8 + 1 + 6


def attachments(**extra: list[str]) -> dict[str, list[str]]:
    """FullAWSAccess everywhere, then the named targets' own SCPs; ``replace_<target>`` drops FullAWSAccess there."""
    found: dict[str, list[str]] = {n: [FULL.id] for n in [TREE.root_id, *TREE.ous, *TREE.accounts]}
    for target, ids in extra.items():
        if target.startswith("replace_"):
            found[target.removeprefix("replace_")] = ids
        else:
            found[target] = found[target] + ids
    return found


WORLDS = {
    "a deny on one OU": attachments(**{PROD: [REGION_DENY.id]}),
    "an allow-list OU without FullAWSAccess": attachments(**{f"replace_{DEV}": [ONLY_S3.id]}),
    "several, on OUs and an account": attachments(**{PROD: [REGION_DENY.id], f"replace_{DEV}": [ONLY_S3.id],
                                                     "555500000001": [IAM_DENY.id]}),
    "SCPs not enabled": {},
}


def findings(world: dict[str, list[str]], **fake: bool) -> tuple[list[tuple[str, str, str]], FakeGuardrails]:
    ports = fake_ports(TREE)
    body = render_clumio_template("24.4")
    ports.clumio.template = ClumioTemplate("24.4", body, hashlib.sha256(body.encode()).hexdigest())
    ports.guardrails = FakeGuardrails(world, POLICIES if world else [], **fake)
    desired = replace(make_desired(organization=True), guardrails=GuardrailsSpec(GuardrailMode.WARN))
    live, template = observe(desired, ports)
    plan = make_plan(desired, live, template=template)
    assert not [w for w in plan.warnings if "not checked" in w]
    return [(f.key.account, f.key.region, f.reason) for f in plan.guardrails.findings], ports.guardrails


def listed(fake: FakeGuardrails, operation: str) -> list[str]:
    return sorted(target for op, target in fake.calls if op == operation)


@pytest.mark.parametrize("world", sorted(WORLDS))
def test_the_plan_names_the_same_pairs_read_by_policy_or_per_target(world: str) -> None:
    by_policy, fake = findings(WORLDS[world])
    per_target, fallback = findings(WORLDS[world], by_policy_denied=True)
    assert by_policy == per_target
    assert bool(by_policy) is (world != "SCPs not enabled")
    if world == "SCPs not enabled":  # the root alone tells, either way
        assert listed(fake, "ListPoliciesForTarget") == listed(fallback, "ListPoliciesForTarget") == [TREE.root_id]
    else:
        assert len(listed(fake, "ListPoliciesForTarget")) < len(listed(fallback, "ListPoliciesForTarget"))


def test_an_allow_list_ou_fails_everything_the_template_needs_there() -> None:
    found, _ = findings(WORLDS["an allow-list OU without FullAWSAccess"])
    assert {account for account, _, _ in found} == {"444400000001"}
    assert all("no SCP on /Workloads/Dev allows" in reason for _, _, reason in found)


def test_a_deny_on_one_ou_costs_nine_calls_instead_of_seventeen() -> None:
    _, fake = findings(WORLDS["a deny on one OU"])
    # ListPolicies; each SCP's target page (the unused SCP's empty one too); FullAWSAccess's one page (this org's 17
    # nodes) to tell whether /Prod, which another SCP names, keeps it; the root (SCPs in force?); the two SCPs in
    # force described. Per target it is 15 listings and the same two describes.
    assert listed(fake, "ListPolicies") == [""]
    assert listed(fake, "ListTargetsForPolicy") == sorted([FULL.id, REGION_DENY.id, ONLY_S3.id, IAM_DENY.id,
                                                           UNUSED.id])
    assert listed(fake, "ListPoliciesForTarget") == [TREE.root_id]
    assert listed(fake, "DescribePolicy") == sorted([FULL.id, REGION_DENY.id])
    assert len(fake.calls) == 9 + 1  # and ListLandingZones


def teams(count: int) -> OrgTree:
    """``count`` OUs under the root, one account in each."""
    b = OrgBuilder()
    for n in range(count):
        b.ou(f"/Team{n:02}", f"ou-fake-team{n:04}")
        b.account(f"7777000000{n:02}", f"/Team{n:02}")
    return b.build()


def test_in_a_bigger_org_the_targets_another_scp_names_are_listed_one_by_one() -> None:
    """Two OUs with a second SCP in a 62-node org: two listings on the lanes, not FullAWSAccess's four pages."""
    tree = teams(30)
    world = {n: [FULL.id] for n in [tree.root_id, *tree.ous, *tree.accounts]}
    world["ou-fake-team0003"] = [FULL.id, IAM_DENY.id]
    world["ou-fake-team0007"] = [ONLY_S3.id]
    fake = FakeGuardrails(world, [FULL, IAM_DENY, ONLY_S3])
    found = read_guardrails(fake, tree, list(tree.accounts))
    assert dict(found.attachments) == {t: tuple(sorted(world[t])) for t in found.attachments}
    assert listed(fake, "ListTargetsForPolicy") == sorted([IAM_DENY.id, ONLY_S3.id])
    assert listed(fake, "ListPoliciesForTarget") == sorted([tree.root_id, "ou-fake-team0003", "ou-fake-team0007"])


def test_a_caller_not_allowed_list_policies_is_read_per_target() -> None:
    found, fake = findings(WORLDS["a deny on one OU"], by_policy_denied=True)
    assert found
    assert listed(fake, "ListPolicies") == [""]
    assert len(listed(fake, "ListPoliciesForTarget")) == TARGETS
    assert listed(fake, "DescribePolicy") == sorted([FULL.id, REGION_DENY.id])


def test_a_caller_that_may_read_nothing_gets_the_note_not_a_traceback() -> None:
    fake = FakeGuardrails(WORLDS["a deny on one OU"], POLICIES, denied=True)
    found = read_guardrails(fake, TREE, ["333300000001"])
    assert found.scp_note == ("service control policies not checked: AWS denied "
                              "organizations:ListPoliciesForTarget: not allowed")
    assert found.attachments == {}


def test_many_targets_another_scp_names_page_full_access_once_instead() -> None:
    """When FullAWSAccess's target list (4 pages) is no longer than listing 30 OUs on 8 lanes, it is read."""
    tree = teams(30)
    world = {n: [FULL.id, IAM_DENY.id] if n.startswith("ou-") else [FULL.id]
             for n in [tree.root_id, *tree.ous, *tree.accounts]}
    fake = FakeGuardrails(world, [FULL, IAM_DENY])
    found = read_guardrails(fake, tree, list(tree.accounts))
    assert dict(found.attachments) == {t: tuple(sorted(world[t])) for t in found.attachments}
    assert len(found.attachments) == 30 + 30 + 1
    # 62 nodes with the management account: 4 pages of FullAWSAccess, 2 of the deny, instead of 30 listings.
    assert [op for op, _ in fake.calls].count("ListTargetsForPolicy") == 4 + 2
    assert listed(fake, "ListPoliciesForTarget") == [tree.root_id]


def test_a_few_targets_and_many_policies_are_read_per_target() -> None:
    """One account under an OU is three listings; listing the targets of five SCPs would cost more."""
    fake = FakeGuardrails(WORLDS["several, on OUs and an account"], POLICIES)
    found = read_guardrails(fake, TREE, ["555500000001"])
    assert found.attachments == {"555500000001": (FULL.id, IAM_DENY.id), SANDBOX: (FULL.id,),
                                 TREE.root_id: (FULL.id,)}
    assert listed(fake, "ListTargetsForPolicy") == []
    assert listed(fake, "ListPoliciesForTarget") == sorted(["555500000001", SANDBOX, TREE.root_id])
