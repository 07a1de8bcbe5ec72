"""The plan on in-memory fakes with guardrails: rows named "will fail", warn/skip/refuse, unreadable policies,
Control Tower's governed regions, and the cost of reading them."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path

import pytest

from reconciler.core.desired import GuardrailsSpec
from reconciler.core.guardrails import GuardrailMode, LandingZone, ScpPolicy
from reconciler.core.ports import ClumioTemplate
from reconciler.discover.observe import observe
from reconciler.files.planfile import read_plan, write_plan
from reconciler.plan.build import make_plan
from reconciler.plan.guardrails.check import GuardrailRefused
from reconciler.render.json import render_plan_json
from reconciler.render.markdown import render_plan_markdown
from reconciler.render.text import render_plan
from reconciler.sandbox.template import render_clumio_template
from tests.fakes import FakeGuardrails, FakePorts, demo_org, fake_ports, make_desired

FULL = ScpPolicy("p-FullAWSAccess", "FullAWSAccess", json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}), True)
REGION_DENY = ScpPolicy("p-region00001", "OnlyUsEast1", json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Deny", "NotAction": ["iam:*", "sts:*"], "Resource": "*",
    "Condition": {"StringNotEquals": {"aws:RequestedRegion": ["us-east-1"]}}}]}))
IAM_DENY = ScpPolicy("p-iamdeny0001", "NoIamOutsidePipeline", json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Deny", "Action": ["iam:CreateRole"], "Resource": "*",
    "Condition": {"ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/Pipeline"}}}]}))
TREE = demo_org()
PROD = "ou-fake-prodwork"


def guarded_ports(**extra: list[str]) -> FakePorts:
    attachments: dict[str, list[str]] = {n: [FULL.id] for n in [TREE.root_id, *TREE.ous, *TREE.accounts]}
    for target, ids in extra.items():
        attachments[target] = attachments[target] + ids
    ports = fake_ports(TREE)
    body = render_clumio_template("24.4")
    ports.clumio.template = ClumioTemplate("24.4", body, hashlib.sha256(body.encode()).hexdigest())
    ports.guardrails = FakeGuardrails(attachments, [FULL, REGION_DENY, IAM_DENY])
    return ports


def plan_for(ports: FakePorts, mode: GuardrailMode = GuardrailMode.WARN):  # type: ignore[no-untyped-def]
    desired = replace(make_desired(ous=["/Workloads"]), guardrails=GuardrailsSpec(mode))
    live, template = observe(desired, ports)
    return make_plan(desired, live, template=template)


def test_plan_names_the_pairs_an_ou_region_deny_and_an_account_iam_deny_fail() -> None:
    plan = plan_for(guarded_ports(**{PROD: [REGION_DENY.id], "444400000001": [IAM_DENY.id]}))
    failing = {(f.key.account, f.key.region): f.reason for f in plan.guardrails.findings}
    # /Workloads/Prod (and its child Data) lose us-west-2; 444400000001 loses both regions; Dev's other is suspended.
    assert set(failing) == {("333300000001", "us-west-2"), ("333300000002", "us-west-2"),
                            ("333300000011", "us-west-2"), ("444400000001", "us-east-1"),
                            ("444400000001", "us-west-2")}
    assert failing[("333300000001", "us-west-2")] == (
        "will fail: SCP p-region00001 (OnlyUsEast1) on /Workloads/Prod denies cloudformation:CreateStack in us-west-2")
    assert failing[("444400000001", "us-east-1")] == (
        "will fail: SCP p-iamdeny0001 (NoIamOutsidePipeline) on account 444400000001 denies iam:CreateRole")
    # warn: the pairs stay in the plan, and every output names them
    assert len(plan.changes) == 8
    text = render_plan(plan)
    assert "Guardrails: 5 will fail, 0 unknown. (guardrails.on_deny: warn)" in text
    assert "333300000011  us-west-2       will fail: SCP p-region00001" in text
    # the counts open the summary, before the waves
    summary = text.split("\n\n")[1]
    assert "  Guardrails: 5 will fail, 0 unknown. (listed below)" in summary
    markdown = render_plan_markdown(plan)
    assert "> Guardrails: 5 will fail, 0 unknown. (`guardrails.on_deny: warn`): see **Guardrails** below." in markdown
    assert markdown.index("see **Guardrails** below") < markdown.index("#### Waves") < markdown.index(
        "#### Guardrails")
    data = json.loads(render_plan_json(plan))
    assert data["guardrails"]["summary"] == {"will_fail": 5, "unknown": 0, "skipped": 0}


def test_skip_leaves_the_denied_pairs_out_of_changes_and_operations(tmp_path: Path) -> None:
    plan = plan_for(guarded_ports(**{PROD: [REGION_DENY.id]}), GuardrailMode.SKIP)
    keys = {(c.key.account, c.key.region) for c in plan.changes}
    assert keys == {("333300000001", "us-east-1"), ("333300000002", "us-east-1"), ("333300000011", "us-east-1"),
                    ("444400000001", "us-east-1"), ("444400000001", "us-west-2")}
    reached = {(k.account, k.region) for op in plan.operations for k in op.instances}
    assert ("333300000001", "us-west-2") not in reached
    assert plan.guardrails.counts() == {"will_fail": 3, "unknown": 0, "skipped": 3}
    assert "[skipped]" in render_plan(plan)
    path = tmp_path / "plan.json"
    write_plan(plan, path)
    assert read_plan(path).guardrails == plan.guardrails


def test_refuse_stops_the_plan_naming_each_pair() -> None:
    with pytest.raises(GuardrailRefused) as caught:
        plan_for(guarded_ports(**{"444400000001": [IAM_DENY.id]}), GuardrailMode.REFUSE)
    assert "444400000001/us-east-1: will fail: SCP p-iamdeny0001" in caught.value.message
    assert caught.value.hint and "on_deny: skip" in caught.value.hint


def test_a_caller_that_cannot_read_policies_is_told_and_the_plan_goes_on() -> None:
    ports = guarded_ports(**{PROD: [REGION_DENY.id]})
    ports.guardrails.denied = True
    plan = plan_for(ports)
    assert plan.guardrails.findings == ()
    assert any(w.startswith("service control policies not checked: AWS denied organizations:ListPoliciesForTarget")
               for w in plan.warnings)
    assert len(plan.changes) == 8


def test_ungoverned_control_tower_region_is_named_with_the_ous() -> None:
    ports = guarded_ports()
    ports.guardrails.zone = LandingZone("arn:aws:controltower:us-east-1:111111111111:landingzone/1", "3.3",
                                        "ACTIVE", ("us-east-1",))
    plan = plan_for(ports)
    note = next(w for w in plan.warnings if w.startswith("Control Tower"))
    assert "does not govern region us-west-2 (governed: us-east-1)" in note
    assert "/Workloads/Dev, /Workloads/Prod, /Workloads/Prod/Data" in note


def test_reads_cost_a_listing_per_policy_and_one_describe_per_distinct_policy() -> None:
    ports = guarded_ports(**{PROD: [REGION_DENY.id], "444400000001": [IAM_DENY.id]})
    plan_for(ports)
    calls = ports.guardrails.calls
    # By policy: ListPolicies, the targets of each SCP but FullAWSAccess, then FullAWSAccess's own targets (one page
    # for this org: fewer calls than asking /Prod and 444400000001 one by one) and the root (SCPs in force?).
    assert [c for c in calls if c[0] == "ListPolicies"] == [("ListPolicies", "")]
    assert sorted(p for op, p in calls if op == "ListTargetsForPolicy") == [
        "p-FullAWSAccess", "p-iamdeny0001", "p-region00001"]
    assert [t for op, t in calls if op == "ListPoliciesForTarget"] == [TREE.root_id]
    described = [p for op, p in calls if op == "DescribePolicy"]
    assert sorted(described) == ["p-FullAWSAccess", "p-iamdeny0001", "p-region00001"]


def test_the_json_plan_with_guardrails_matches_its_schema() -> None:
    import jsonschema

    schema = json.loads((Path(__file__).parents[3] / "schemas" / "plan.schema.json").read_text())
    plan = plan_for(guarded_ports(**{PROD: [REGION_DENY.id]}), GuardrailMode.SKIP)
    data = json.loads(render_plan_json(plan))
    jsonschema.Draft202012Validator(schema).validate(data)
    assert data["guardrails"]["findings"][0] == {
        "stack_set": "clumio-org", "account": "333300000001", "region": "us-west-2", "verdict": "will fail",
        "reason": "will fail: SCP p-region00001 (OnlyUsEast1) on /Workloads/Prod denies cloudformation:CreateStack "
                  "in us-west-2",
        "source": "scp", "policy_id": "p-region00001", "policy_name": "OnlyUsEast1", "target": "/Workloads/Prod",
        "action": "cloudformation:CreateStack", "skipped": True}


CONFIG = """version: 1
organization: {id: o-fake000001, management_account: "111111111111", home_region: us-east-1}
clumio: {api_url: https://us-west-2.api.clumio.com}
targets: {organization: true}
regions: [us-east-1]
guardrails:
  on_deny: {mode}
"""


def test_on_deny_is_read_from_the_config_and_a_wrong_value_names_its_line(tmp_path: Path) -> None:
    from reconciler.core.errors import ConfigError
    from reconciler.files.config import load_desired

    good = tmp_path / "good.yaml"
    good.write_text(CONFIG.replace("{mode}", "skip"))
    assert load_desired(good).guardrails.on_deny is GuardrailMode.SKIP
    bad = tmp_path / "bad.yaml"
    bad.write_text(CONFIG.replace("{mode}", "ignore"))
    with pytest.raises(ConfigError) as caught:
        load_desired(bad)
    assert f"{bad}:7" in caught.value.message and "on_deny" in caught.value.message
