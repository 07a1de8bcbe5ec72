"""Diff of desired StackSets and instances against live: what changes, and the reason a reviewer reads."""

from __future__ import annotations

from dataclasses import replace

import pytest

from reconciler.core.desired import Desired, StackSetSpec
from reconciler.core.errors import ReconcilerError
from reconciler.core.live import ConnectionStatus, Live, StackInstanceDetailedStatus, StackInstanceStatus
from reconciler.core.plan import Action
from reconciler.plan.build import make_plan
from reconciler.state.model import StackSetRecord, State
from tests.fakes import (
    MANAGEMENT,
    REGIONS,
    connection,
    demo_org,
    instance,
    live_stack_set,
    make_desired,
    make_live,
    make_template,
)

T24_3, T24_4 = make_template("24.3"), make_template("24.4")


def deployed(desired, template=T24_4, *, skip=(), stack_set=None, **ss_overrides):
    """A live world where every targeted instance exists and is CURRENT (minus ``skip`` keys)."""
    from reconciler.plan.expand import expand

    org = demo_org()
    exp = expand(desired, org)
    insts = [instance(k.stack_set, k.account, k.region) for k in exp.targets if (k.account, k.region) not in skip]
    conns = [connection(k.account, k.region, version=template.version) for k in exp.targets
             if (k.account, k.region) not in skip]  # no instance, no stack: no connection either
    ss = stack_set or live_stack_set(desired, template, **ss_overrides)
    return make_live(org, stack_sets=[ss], instances=insts, connections=conns, template=template)


def rows(plan, action=None):
    return {(c.key.account, c.key.region): c.reason for c in plan.changes if action is None or c.action is action}


def test_fresh_org_creates_the_stack_set_and_every_instance() -> None:
    desired = make_desired(ous=["/Security"])
    plan = make_plan(desired, make_live(demo_org()), template=T24_4)
    assert [(s.stack_set, s.action) for s in plan.stack_set_changes] == [("clumio-org", Action.ADD)]
    assert rows(plan, Action.ADD) == {(a, r): "new account in /Security"
                                      for a in ("222200000001", "222200000002") for r in REGIONS}
    assert plan.summary() == {"add": 5, "change": 0, "remove": 0, "skipped": 0}


def test_no_changes_when_live_matches_desired() -> None:
    desired = make_desired(organization=True)
    plan = make_plan(desired, deployed(desired), template=T24_4)
    assert plan.empty and plan.operations == () and not plan.warnings


def test_only_missing_instances_are_added_after_a_partial_rollout() -> None:
    desired = make_desired(ous=["/Security"])
    live = deployed(desired, skip={("222200000002", "us-west-2")})
    plan = make_plan(desired, live, template=T24_4)
    assert rows(plan) == {("222200000002", "us-west-2"): "new region us-west-2"}


def test_newer_clumio_template_updates_the_stack_set_and_every_instance() -> None:
    desired = make_desired(ous=["/Security"])
    plan = make_plan(desired, deployed(desired, T24_3), template=T24_4)
    (ss,) = plan.stack_set_changes
    assert ss.action is Action.CHANGE
    assert [(p.name, p.before.split()[0], p.after.split()[0]) for p in ss.properties] == [("template", "24.3", "24.4")]
    assert set(rows(plan, Action.CHANGE).values()) == {"template 24.3 → 24.4"}
    assert len(plan.changes) == 4


def test_pinned_version_holds_the_stack_set_when_live_runs_the_pin() -> None:
    desired = make_desired(ous=["/Security"], template_version="24.3")
    plan = make_plan(desired, deployed(desired, T24_3), template=T24_4)
    assert plan.empty


def test_pinned_version_updates_when_latest_is_the_pin() -> None:
    desired = make_desired(ous=["/Security"], template_version="24.4")
    plan = make_plan(desired, deployed(desired, T24_3), template=T24_4)
    assert len(rows(plan, Action.CHANGE)) == 4


def test_pinned_version_not_offered_is_an_error_naming_both_versions() -> None:
    desired = make_desired(ous=["/Security"], template_version="23.9")
    with pytest.raises(ReconcilerError, match=r"pinned version 23.9 is not offered by Clumio \(latest is 24.4\)"):
        make_plan(desired, deployed(desired, T24_3), template=T24_4)


def test_parameter_change_updates_instances_and_names_the_parameter() -> None:
    spec = StackSetSpec(permissions_boundary_arn="arn:aws:iam::1:policy/b")
    desired = make_desired(ous=["/Security"], stack_set=spec)
    live = deployed(make_desired(ous=["/Security"]))
    plan = make_plan(desired, live, template=T24_4)
    (ss,) = plan.stack_set_changes
    assert [(p.name, p.before, p.after) for p in ss.properties] == [
        ("parameters.PermissionsBoundaryARN", "", "arn:aws:iam::1:policy/b")]
    assert set(rows(plan).values()) == {"parameters PermissionsBoundaryARN"}


def test_rotated_secret_shows_as_sensitive_change_when_state_has_fingerprints() -> None:
    desired = make_desired(ous=["/Security"])
    state = State(lineage="l", serial=3, stack_sets={"clumio-org": StackSetRecord(
        "24.4", T24_4.sha256, secret_fingerprints={"ClumioToken": "sha256:" + "a" * 64})})
    plan = make_plan(desired, deployed(desired), template=T24_4, state=state,
                     secret_fingerprints={"ClumioToken": "sha256:" + "b" * 64})
    (ss,) = plan.stack_set_changes
    assert [(p.name, p.before, p.after) for p in ss.properties] == [
        ("parameters.ClumioToken", "(sensitive)", "(sensitive)")]
    assert len(plan.changes) == 4
    assert plan.state_serial == 3 and plan.state_lineage == "l"


def test_secrets_are_assumed_unchanged_without_state() -> None:
    desired = make_desired(ous=["/Security"])
    plan = make_plan(desired, deployed(desired), template=T24_4,
                     secret_fingerprints={"ClumioToken": "sha256:" + "b" * 64})
    assert plan.empty


def test_description_and_tags_change_the_stack_set_without_instance_rows() -> None:
    desired = make_desired(ous=["/Security"], stack_set=StackSetSpec(description="new", tags=(("team", "x"),)))
    plan = make_plan(desired, deployed(make_desired(ous=["/Security"])), template=T24_4)
    (ss,) = plan.stack_set_changes
    assert {p.name for p in ss.properties} == {"description", "tags"}
    assert plan.changes == ()
    (op,) = plan.operations
    assert op.kind.value == "UpdateStackSet" and op.targets is None  # one whole-set update


def test_auto_deployment_change_is_a_property_change() -> None:
    desired = make_desired(ous=["/Security"], stack_set=StackSetSpec(auto_deployment=False))
    plan = make_plan(desired, deployed(make_desired(ous=["/Security"])), template=T24_4)
    assert [(p.name, p.before, p.after) for p in plan.stack_set_changes[0].properties] == [
        ("auto_deployment", "true", "false")]


@pytest.mark.parametrize(("status", "detailed", "expected"), [
    (StackInstanceStatus.OUTDATED, StackInstanceDetailedStatus.FAILED, "repair: OUTDATED (FAILED): boom"),
    (StackInstanceStatus.OUTDATED, StackInstanceDetailedStatus.CANCELLED, "repair: OUTDATED (CANCELLED): boom"),
])
def test_unhealthy_instances_are_repaired_with_status_and_reason(status, detailed, expected) -> None:
    desired = make_desired(ous=["/Security"])
    live = deployed(desired)
    key = next(iter(live.instances))
    inst = instance(key.stack_set, key.account, key.region, status, detailed, "boom")
    live = replace(live, instances={**live.instances, key: inst})
    plan = make_plan(desired, live, template=T24_4)
    assert rows(plan, Action.CHANGE) == {(key.account, key.region): expected}


def test_inoperable_instance_is_not_scheduled_but_explained_as_manual_work() -> None:
    desired = make_desired(ous=["/Security"])
    live = deployed(desired)
    key = next(iter(live.instances))
    inst = instance(key.stack_set, key.account, key.region, StackInstanceStatus.INOPERABLE,
                    StackInstanceDetailedStatus.INOPERABLE, "delete failed")
    live = replace(live, instances={**live.instances, key: inst})
    plan = make_plan(desired, live, template=T24_4)
    assert plan.empty and not plan.operations
    (warning,) = [w for w in plan.warnings if "INOPERABLE" in w]
    assert warning.startswith(f"{key.account}/{key.region}: INOPERABLE (delete failed)")
    assert "DeleteStackInstances RetainStacks=true" in warning


def _with_suspended_instance(desired: Desired) -> Live:
    live = deployed(desired)
    inst = instance("clumio-org", "444400000002", "us-east-1", StackInstanceStatus.OUTDATED,
                    StackInstanceDetailedStatus.SKIPPED_SUSPENDED_ACCOUNT, "This account is suspended.")
    live = replace(live, instances={**live.instances, inst.key: inst})
    return live


def test_suspended_accounts_instances_are_kept_as_information_not_a_change() -> None:
    desired = make_desired(ous=["/Workloads/Dev"])
    plan = make_plan(desired, _with_suspended_instance(desired), template=T24_4)
    assert plan.changes == () and plan.operations == () and plan.empty
    assert plan.targets is not None
    assert [k.account for k in plan.targets.kept_suspended] == ["444400000002"]


def test_template_update_with_a_suspended_account_removes_nothing() -> None:
    desired = make_desired(ous=["/Workloads/Dev"])
    live = _with_suspended_instance(desired)
    plan = make_plan(desired, live, template=make_template("24.5"))
    assert {c.action for c in plan.changes} == {Action.CHANGE}
    assert "444400000002" not in {c.key.account for c in plan.changes}
    assert [op.kind.value for op in plan.operations] == ["UpdateStackSet"]


def test_instances_of_suspended_accounts_are_removed_retaining_stacks() -> None:
    desired = make_desired(ous=["/Workloads/Dev"], suspended="remove")
    live = deployed(desired)
    inst = instance("clumio-org", "444400000002", "us-east-1", StackInstanceStatus.OUTDATED,
                    StackInstanceDetailedStatus.SKIPPED_SUSPENDED_ACCOUNT, "This account is suspended.")
    live = replace(live, instances={**live.instances, inst.key: inst})
    plan = make_plan(desired, live, template=T24_4)
    (removal,) = plan.changes
    assert removal.action is Action.REMOVE and "SUSPENDED" in removal.reason and "RetainStacks" in removal.reason
    (op,) = plan.operations
    assert op.kind.value == "DeleteStackInstances" and op.retain_stacks is True


def test_instances_no_longer_targeted_are_removed_without_retaining() -> None:
    wide = make_desired(ous=["/Security", "/Sandbox"])
    plan = make_plan(make_desired(ous=["/Security"]), deployed(wide), template=T24_4)
    assert {c.action for c in plan.changes} == {Action.REMOVE}
    assert {c.reason for c in plan.changes} == {"account is no longer targeted (now in /Sandbox)"}
    assert all(op.retain_stacks is False for op in plan.operations)


def test_clumio_connection_problems_are_informational_only() -> None:
    desired = make_desired(ous=["/Security"])
    live = deployed(desired)
    conn = connection("222200000001", "us-east-1", ConnectionStatus.CONNECTING)
    live = replace(live, connections={**live.connections, ("222200000001", "us-east-1"): conn})
    conn = connection("222200000002", "us-west-2", version="24.3")
    live = replace(live, connections={**live.connections, ("222200000002", "us-west-2"): conn})
    plan = make_plan(desired, live, template=T24_4)
    assert plan.empty
    assert "222200000001/us-east-1: Clumio connection connecting" in plan.warnings
    assert "222200000002/us-west-2: Clumio connection runs template 24.3, desired 24.4" in plan.warnings


def test_management_stack_set_is_planned_alongside_as_self_managed() -> None:
    desired = make_desired(organization=True, onboard_management=True)
    plan = make_plan(desired, deployed(make_desired(organization=True)), template=T24_4)
    (ss,) = plan.stack_set_changes
    assert ss.stack_set == "clumio-org-management" and ss.definition.permission_model.value == "SELF_MANAGED"
    role = "AWSCloudFormationStackSetAdministrationRole"
    assert ss.definition.administration_role_arn == f"arn:aws:iam::{MANAGEMENT}:role/{role}"
    assert {c.key.account for c in plan.changes} == {MANAGEMENT}
    kinds = [(op.kind.value, op.stack_set, op.accounts) for op in plan.operations]
    assert kinds == [("CreateStackSet", "clumio-org-management", ()),
                     ("CreateStackInstances", "clumio-org-management", (MANAGEMENT,))]


def test_existing_stack_set_with_other_permission_model_is_an_error() -> None:
    from reconciler.core.live import PermissionModel

    desired = make_desired(ous=["/Security"])
    live = deployed(desired, stack_set=live_stack_set(desired, T24_4, permission_model=PermissionModel.SELF_MANAGED))
    with pytest.raises(ReconcilerError, match="permission model SELF_MANAGED"):
        make_plan(desired, live, template=T24_4)


def test_plan_never_contains_secret_values() -> None:
    from reconciler.plan.planfile import plan_to_json
    from tests.fakes import FAKE_EXTERNAL_ID, FAKE_TOKEN

    desired = make_desired(organization=True, onboard_management=True)
    live = deployed(desired, T24_3)
    live = replace(live)
    text = str(plan_to_json(make_plan(desired, live, template=T24_4)))
    assert FAKE_TOKEN not in text and FAKE_EXTERNAL_ID not in text
