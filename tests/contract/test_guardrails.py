"""Contract: the sandbox's SCP and Control Tower APIs (docs/reference/guardrails.md §1, §4, §6), the AWS provider over
them, and the sandbox's own denial rule against the plan's evaluator (two implementations, one answer)."""

from __future__ import annotations

import copy
import json
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
import yaml
from botocore.exceptions import ClientError

from reconciler.core.guardrails import Verdict
from reconciler.core.keys import InstanceKey
from reconciler.core.ports import GuardrailsUnreadable
from reconciler.discover.guardrails import read_guardrails
from reconciler.plan.guardrails.evaluate import evaluate
from reconciler.plan.guardrails.template import required_actions
from reconciler.providers.aws.guardrails import AwsGuardrailReader
from reconciler.sandbox import codec
from reconciler.sandbox.clock import VirtualClock
from reconciler.sandbox.scp_denial import scp_failure
from reconciler.sandbox.template import render_clumio_template
from reconciler.sandbox.world import World
from tests.contract.sandbox_helpers import APP_ONE, OTHER, ROOT, world_spec

WORLD = Path(str(files("reconciler.examples") / "sandbox" / "guardrails.yaml"))
SCP = "SERVICE_CONTROL_POLICY"
ROOT_G = "r-g4rd"  # the guardrails world's root
DENY_IAM = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Deny", "Action": "iam:CreateRole", "Resource": "*"}]})


@pytest.fixture
def plain(sandbox_factory: Any) -> Any:
    """A world without guardrails: the SCP policy type is not enabled."""
    spec = world_spec()
    spec["stacksets"] = {"trusted_access": True, "delegated_admins": [OTHER]}
    return sandbox_factory(spec)


@pytest.fixture
def guarded(sandbox_factory: Any) -> Any:
    return sandbox_factory(WORLD)


def _ids(client: Any, target: str) -> list[str]:
    return [p["Id"] for p in client.list_policies_for_target(TargetId=target, Filter=SCP)["Policies"]]


def test_enabling_scps_attaches_full_access_everywhere_and_a_user_can_set_guardrails(plain: Any) -> None:
    """§1, §6: EnablePolicyType attaches FullAWSAccess to every target; Create/Attach/Detach/DeletePolicy as in AWS."""
    org = plain.client("organizations")
    assert _ids(org, APP_ONE) == []
    root = org.enable_policy_type(RootId=ROOT, PolicyType=SCP)["Root"]
    assert root["PolicyTypes"] == [{"Type": SCP, "Status": "ENABLED"}]
    assert org.list_roots()["Roots"][0]["PolicyTypes"] == [{"Type": SCP, "Status": "ENABLED"}]
    assert _ids(org, APP_ONE) == ["p-FullAWSAccess"] and _ids(org, ROOT) == ["p-FullAWSAccess"]
    created = org.create_policy(Content=DENY_IAM, Description="no roles", Name="NoRoles", Type=SCP)["Policy"]
    pid = created["PolicySummary"]["Id"]
    org.attach_policy(PolicyId=pid, TargetId=APP_ONE)
    assert _ids(org, APP_ONE) == ["p-FullAWSAccess", pid]
    assert json.loads(org.describe_policy(PolicyId=pid)["Policy"]["Content"]) == json.loads(DENY_IAM)
    targets = org.list_targets_for_policy(PolicyId=pid)["Targets"]
    assert [(t["TargetId"], t["Type"]) for t in targets] == [(APP_ONE, "ACCOUNT")]
    with pytest.raises(ClientError) as in_use:
        org.delete_policy(PolicyId=pid)
    assert in_use.value.response["Error"]["Code"] == "PolicyInUseException"
    org.detach_policy(PolicyId=pid, TargetId=APP_ONE)
    with pytest.raises(ClientError) as last:
        org.detach_policy(PolicyId="p-FullAWSAccess", TargetId=APP_ONE)
    assert last.value.response["Error"]["Code"] == "ConstraintViolationException"
    org.delete_policy(PolicyId=pid)
    with pytest.raises(ClientError) as gone:
        org.describe_policy(PolicyId=pid)
    assert gone.value.response["Error"]["Code"] == "PolicyNotFoundException"


def test_policy_listings_page_at_most_20(guarded: Any) -> None:
    """§1: ListPoliciesForTarget takes MaxResults 1–20 and pages with NextToken."""
    org = guarded.client("organizations")
    first = org.list_policies_for_target(TargetId="ou-g4rd-apps0001", Filter=SCP, MaxResults=1)
    assert len(first["Policies"]) == 1 and first["NextToken"]
    second = org.list_policies_for_target(TargetId="ou-g4rd-apps0001", Filter=SCP, MaxResults=1,
                                          NextToken=first["NextToken"])
    assert "NextToken" not in second
    with pytest.raises(ClientError) as bad:
        org.list_policies_for_target(TargetId=APP_ONE, Filter=SCP, MaxResults=21)
    assert bad.value.response["Error"]["Code"] in ("InvalidInputException", "ParamValidation")


def test_a_delegated_admin_may_not_read_policies_and_the_plan_says_so(plain: Any) -> None:
    """§1: without a delegation policy a StackSets delegated admin gets AccessDenied; the provider raises
    GuardrailsUnreadable and discovery turns it into a note."""
    plain.client("organizations").enable_policy_type(RootId=ROOT, PolicyType=SCP)
    reader = AwsGuardrailReader(plain.client("organizations", account=OTHER),
                                plain.client("controltower", account=OTHER))
    with pytest.raises(GuardrailsUnreadable):
        reader.policies_for_target(APP_ONE)
    tree = _tree(plain)
    found = read_guardrails(reader, tree, [APP_ONE])
    assert found.scp_note is not None and "AWS denied organizations:ListPoliciesForTarget" in found.scp_note
    assert found.control_tower_note is not None and "Control Tower not checked" in found.control_tower_note


def test_control_tower_landing_zone_in_botocore_shapes(guarded: Any, plain: Any) -> None:
    """§4: ListLandingZones → GetLandingZone; manifest.governedRegions; no landing zone → an empty list."""
    ct = guarded.client("controltower")
    zones = ct.list_landing_zones()["landingZones"]
    assert len(zones) == 1 and zones[0]["arn"].startswith("arn:aws:controltower:us-east-1:999999999999:")
    zone = ct.get_landing_zone(landingZoneIdentifier=zones[0]["arn"])["landingZone"]
    assert (zone["version"], zone["status"]) == ("3.3", "ACTIVE")
    assert zone["manifest"]["governedRegions"] == ["eu-west-1", "us-east-1"]
    with pytest.raises(ClientError) as missing:
        ct.get_landing_zone(landingZoneIdentifier="arn:aws:controltower:us-east-1:1:landingzone/NOPE")
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert plain.client("controltower").list_landing_zones()["landingZones"] == []
    with pytest.raises(ClientError) as denied:
        guarded.client("controltower", account="555555555555").list_landing_zones()
    assert denied.value.response["Error"]["Code"] == "AccessDeniedException"
    assert not {m for m in codec.UNKNOWN_MEMBERS if m[0] in ("controltower", "organizations")}


def test_the_provider_reads_what_the_world_attached(guarded: Any) -> None:
    """§1: the provider's reads (one listing per target, one describe per policy) see the world's guardrails."""
    reader = AwsGuardrailReader(guarded.client("organizations"), guarded.client("controltower"))
    found = read_guardrails(reader, _tree(guarded), ["111111111111", "555555555555"])
    assert found.attachments["ou-g4rd-apps0001"] == ("p-9a66de9b", "p-FullAWSAccess")
    assert found.attachments["555555555555"] == ("p-FullAWSAccess", "p-e18fd797")
    assert {p.name for p in found.policies.values()} == {"FullAWSAccess", "OnlyUsEast1AndEuWest1",
                                                          "NoIamOutsidePipeline"}
    assert found.landing_zone is not None and found.landing_zone.governed_regions == ("eu-west-1", "us-east-1")


def _tree(sandbox: Any) -> Any:
    from reconciler.providers.aws.organizations import AwsOrgReader

    return AwsOrgReader(sandbox.client("organizations"), sandbox.client("sts"), sandbox.client("ec2"),
                        sandbox.client("iam")).read_tree()


# --- two implementations, one answer --------------------------------------------------------------------------

def _statement(**kwargs: Any) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [kwargs]}


POLICY_WORLDS = {
    "region deny on an OU": ({"/Apps": [_statement(
        Effect="Deny", NotAction=["iam:*", "sts:*"], Resource="*",
        Condition={"StringNotEquals": {"aws:RequestedRegion": ["us-east-1"]}})]}, True),
    "strict region deny (IAM not exempt)": ({"/Apps/Nested": [_statement(
        Effect="Deny", Action="*", Resource="*",
        Condition={"StringNotEquals": {"aws:RequestedRegion": ["eu-west-1"]}})]}, True),
    "IAM deny with a stacksets-exec exemption": ({"root": [_statement(
        Effect="Deny", Action="iam:*", Resource="*",
        Condition={"ArnNotLike": {"aws:PrincipalArn": ["arn:aws:iam::*:role/stacksets-exec-*"]}})]}, True),
    "IAM deny on one account": ({"555555555555": [_statement(Effect="Deny", Action="iam:CreateRole",
                                                             Resource="*")]}, True),
    "deny on Clumio-named topics": ({"/Other": [_statement(Effect="Deny", Action="sns:CreateTopic",
                                                           Resource="arn:aws:sns:*:*:Clumio*")]}, True),
    "allow list without IAM on an OU": ({"/Other": [_statement(
        Effect="Allow", Action=["cloudformation:*", "sns:*", "events:*"], Resource="*")]}, False),
    "tag exemption the untagged role lacks": ({"/Apps": [_statement(
        Effect="Deny", Action="events:*", Resource="*",
        Condition={"StringNotEquals": {"aws:PrincipalTag/team": "platform"}})]}, True),
}


@pytest.mark.parametrize("name", sorted(POLICY_WORLDS))
def test_the_sandbox_fails_exactly_what_the_evaluator_names(name: str) -> None:
    """§2, §6: for every account and region of the world, the sandbox's denial rule (concrete values, its own
    parser) and the plan's evaluator (families, three-valued) agree on what will fail."""
    attachments, keep_full = POLICY_WORLDS[name]
    spec = yaml.safe_load(WORLD.read_text())
    spec["guardrails"] = {"keep_full_access": keep_full, "policies": [], "attachments": {}}
    for n, (target, docs) in enumerate(attachments.items()):
        spec["guardrails"]["policies"].append({"name": f"policy-{n}", "content": docs[0]})
        spec["guardrails"]["attachments"][target] = [f"policy-{n}"]
    world = World.from_spec(copy.deepcopy(spec), VirtualClock())
    body = render_clumio_template("24.4")
    world.engine  # noqa: B018 - built
    from reconciler.sandbox.stacksets import StackSet
    from reconciler.sandbox.template import parse_template

    stack_set = StackSet("clumio-org", "clumio-org:1", world.org.management_account, "us-east-1", None, body,
                         parse_template(body), {}, [], [], "SERVICE_MANAGED", {"Enabled": True}, False, None, None)
    members = [a for a in world.org.accounts if a != world.org.management_account]
    regions = ["eu-west-1", "us-east-1", "us-west-2"]
    sandbox_says = {(a, r) for a in members for r in regions
                    if scp_failure(world.org, world.policies, stack_set, a, r, {}) is not None}

    from tests.fakes import FakeGuardrails

    fake = FakeGuardrails(
        {n: world.policies.attachments(n) for n in [world.org.root_id, *world.org.units, *members]},
        [_to_scp(p) for p in world.policies.policies.values()])
    tree = _tree_of(world)
    guardrails = read_guardrails(fake, tree, members)
    actions = required_actions(body, {}, "clumio-org")
    findings = evaluate(tree, guardrails, [InstanceKey("clumio-org", a, r) for a in members for r in regions],
                        actions)
    evaluator_says = {(f.key.account, f.key.region) for f in findings if f.verdict is Verdict.DENIED}
    assert not [f for f in findings if f.verdict is Verdict.UNKNOWN]
    assert evaluator_says == sandbox_says
    exempt = name == "IAM deny with a stacksets-exec exemption"
    assert bool(sandbox_says) is not exempt


def _to_scp(policy: Any) -> Any:
    from reconciler.core.guardrails import ScpPolicy

    return ScpPolicy(policy.id, policy.name, policy.content, policy.aws_managed)


def _tree_of(world: World) -> Any:
    from reconciler.core.live import Account, AccountState, OrganizationalUnit, OrgTree

    org = world.org
    ous = {i: OrganizationalUnit(i, u.name, u.parent_id or org.root_id) for i, u in org.units.items()
           if i != org.root_id}
    accounts = {i: Account(i, a.name, AccountState(a.state), a.parent_id) for i, a in org.accounts.items()}
    return OrgTree(org.id, org.management_account, org.root_id, ous, accounts)


def test_a_user_sets_guardrails_with_the_aws_cli(plain: Any) -> None:
    """§4, §6: with the real AWS CLI a user enables SCPs, creates an SCP and attaches it, as in a real organization;
    Control Tower answers the CLI too."""
    from tests.contract.awscli_runner import aws_cli

    def aws(*args: str) -> Any:
        result = aws_cli(plain, *args)
        assert result.returncode == 0, result.stderr
        return result.json()

    root = aws("organizations", "enable-policy-type", "--root-id", ROOT, "--policy-type", SCP)["Root"]
    assert root["PolicyTypes"][0]["Status"] == "ENABLED"
    created = aws("organizations", "create-policy", "--name", "NoRoles", "--type", SCP, "--description",
                  "no IAM roles", "--content", DENY_IAM)["Policy"]["PolicySummary"]
    aws("organizations", "attach-policy", "--policy-id", created["Id"], "--target-id", APP_ONE)
    listed = aws("organizations", "list-policies-for-target", "--target-id", APP_ONE, "--filter", SCP)
    assert [p["Name"] for p in listed["Policies"]] == ["FullAWSAccess", "NoRoles"]
    assert aws("controltower", "list-landing-zones")["landingZones"] == []


# --- Reading SCPs by policy (§1): ListPolicies, ListTargetsForPolicy ------------------------------------------

def _every_page(call: Any, key: str, **params: Any) -> tuple[list[Any], int]:
    items: list[Any] = []
    pages, token = 0, None
    while True:
        page = call(**params, **({"NextToken": token} if token else {}))
        pages += 1
        items.extend(page[key])
        token = page.get("NextToken")
        if not token:
            return items, pages


def test_full_access_is_attached_to_every_root_ou_and_account_and_pages_by_policy(guarded: Any) -> None:
    """§1: with SCPs enabled AWS attaches FullAWSAccess to the root, every OU and every account, and "every root, OU,
    and account must have at least one SCP attached" (Organizations API Reference, DetachPolicy). ListPolicies and
    ListTargetsForPolicy take MaxResults 1–20 (botocore's organizations model) and page with NextToken."""
    org = guarded.client("organizations")
    targets, pages = _every_page(org.list_targets_for_policy, "Targets", PolicyId="p-FullAWSAccess", MaxResults=3)
    everything = {ROOT_G, "ou-g4rd-apps0001", "ou-g4rd-nested01", "ou-g4rd-other001", "999999999999",
                  "111111111111", "222222222222", "333333333333", "555555555555", "666666666666"}
    assert {t["TargetId"] for t in targets} == everything and pages == 4
    assert {t["Type"] for t in targets if t["TargetId"] == ROOT_G} == {"ROOT"}
    assert {t["Type"] for t in targets if t["TargetId"].startswith("ou-")} == {"ORGANIZATIONAL_UNIT"}
    policies, pages = _every_page(org.list_policies, "Policies", Filter=SCP, MaxResults=1)
    assert sorted(p["Name"] for p in policies) == ["FullAWSAccess", "NoIamOutsidePipeline", "OnlyUsEast1AndEuWest1"]
    assert pages == 3 and [p["AwsManaged"] for p in policies if p["Id"] == "p-FullAWSAccess"] == [True]
    apps = next(p["Id"] for p in policies if p["Name"] == "OnlyUsEast1AndEuWest1")
    assert [t["TargetId"] for t in org.list_targets_for_policy(PolicyId=apps)["Targets"]] == ["ou-g4rd-apps0001"]


@pytest.mark.parametrize(("params", "code", "reason"), [
    ({"PolicyId": "p-FullAWSAccess", "MaxResults": 21}, "InvalidInputException", "MAX_VALUE_EXCEEDED"),
    ({"PolicyId": "p-FullAWSAccess", "MaxResults": 0}, "InvalidInputException", "MIN_VALUE_EXCEEDED"),
    ({"PolicyId": "p-FullAWSAccess", "NextToken": "not-a-token"}, "InvalidInputException", "INVALID_NEXT_TOKEN"),
    ({"PolicyId": "policy-1"}, "InvalidInputException", None),
    ({"PolicyId": "p-nosuchpol"}, "PolicyNotFoundException", None),
])
def test_a_bad_list_targets_for_policy_is_refused_as_aws_refuses_it(guarded: Any, params: dict[str, Any],
                                                                    code: str, reason: str | None) -> None:
    """Input checked against botocore's model first (docs/reference/sandbox-fidelity.md §1), then the policy."""
    from botocore.config import Config

    org = guarded.client("organizations", config=Config(parameter_validation=False))
    with pytest.raises(ClientError) as refused:
        org.list_targets_for_policy(**params)
    assert refused.value.response["Error"]["Code"] == code
    if reason:
        assert refused.value.response.get("Reason") == reason


def test_list_policies_needs_a_filter_and_a_valid_token(guarded: Any) -> None:
    from botocore.config import Config

    org = guarded.client("organizations", config=Config(parameter_validation=False))
    for params, reason in (({}, "INPUT_REQUIRED"), ({"Filter": SCP, "NextToken": "x"}, "INVALID_NEXT_TOKEN")):
        with pytest.raises(ClientError) as refused:
            org.list_policies(**params)
        assert (refused.value.response["Error"]["Code"], refused.value.response.get("Reason")) == (
            "InvalidInputException", reason)


class _NoListPolicies(AwsGuardrailReader):
    """A caller allowed ListPoliciesForTarget and DescribePolicy but not ListPolicies."""

    def scp_ids(self) -> tuple[str, ...]:
        raise GuardrailsUnreadable("AWS denied organizations:ListPolicies: not allowed")


@pytest.mark.parametrize("empty_first", [False, True])
def test_the_provider_reads_the_same_guardrails_by_policy_and_per_target(guarded: Any, empty_first: bool) -> None:
    """§1: both ways see what the world attached, with the empty first pages AWS documents for List* calls too."""
    guarded.world.empty_first_pages = empty_first
    clients = (guarded.client("organizations"), guarded.client("controltower"))
    tree = _tree(guarded)
    members = [a for a in tree.accounts if a != tree.management_account]
    by_policy = read_guardrails(AwsGuardrailReader(*clients), tree, members)
    per_target = read_guardrails(_NoListPolicies(*clients), tree, members)
    assert by_policy.scp_note is None and per_target.scp_note is None
    assert by_policy.attachments == per_target.attachments and by_policy.policies == per_target.policies
    assert by_policy.attachments["ou-g4rd-apps0001"] == ("p-9a66de9b", "p-FullAWSAccess")
    assert by_policy.attachments["555555555555"] == ("p-FullAWSAccess", "p-e18fd797")
    assert len(by_policy.attachments) == 5 + 3 + 1
