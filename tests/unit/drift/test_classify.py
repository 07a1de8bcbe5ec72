"""Classification of drift on in-memory Desired × Live: every category, keyed and explained."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from reconciler.core.keys import InstanceKey
from reconciler.core.live import (
    Account,
    AccountState,
    ConnectionStatus,
    StackDriftStatus,
    StackInstanceDetailedStatus,
    StackInstanceStatus,
)
from reconciler.drift.classify import classify, information
from reconciler.drift.model import Category, Severity
from tests.fakes import connection, instance
from tests.unit.drift.conftest import NOW, World, healthy_world

SS = "clumio-org"
PROD = "333300000001"
KEY = InstanceKey(SS, PROD, "us-east-1")


def without_conn(world: World, key: InstanceKey) -> dict:
    return {k: v for k, v in world.live.connections.items() if k != (key.account, key.region)}


def only(findings, category):
    return [f for f in findings if f.category is category]


def test_a_healthy_org_has_no_findings(world: World) -> None:
    assert classify(world.inputs()) == ()


def test_account_missed_by_auto_deployment_is_a_membership_error(world: World) -> None:
    findings = classify(world.without_instance(KEY).with_live(connections=without_conn(world, KEY)).inputs())
    [f] = findings
    assert (f.category, f.severity, f.key) == (Category.MEMBERSHIP, Severity.ERROR, KEY)
    assert "auto-deployment did not reach this account in /Workloads/Prod" in f.reason


def test_account_targeted_but_not_under_a_stackset_ou_says_not_deployed(world: World) -> None:
    ss = replace(world.live.stack_sets[SS], organizational_unit_ids=())
    findings = classify(world.without_instance(KEY).with_live(stack_sets={SS: ss}).inputs())
    assert len(findings) == 2  # the membership finding, and the connection left without an instance
    assert "targeted but not deployed" in findings[0].reason


def test_missing_stackset_is_one_finding_not_one_per_instance(world: World) -> None:
    findings = classify(world.with_live(stack_sets={}, instances={}, connections={}).inputs())
    [f] = findings
    assert f.category is Category.MEMBERSHIP and f.stack_set == SS and f.account is None
    assert "does not exist" in f.reason and "8 stack instances" in f.reason


def test_instance_outside_the_desired_targets_is_membership(world: World) -> None:
    extra = instance(SS, "555500000001", "us-east-1")
    findings = classify(world.with_instance(extra).with_live(
        connections={**world.live.connections, ("555500000001", "us-east-1"): connection("555500000001",
                                                                                         "us-east-1")}).inputs())
    [f] = only(findings, Category.MEMBERSHIP)
    assert f.key == extra.key and "outside the desired targets" in f.reason and "/Sandbox" in f.reason
    assert not only(findings, Category.CLUMIO)


def test_instance_in_an_undesired_region_names_the_region(world: World) -> None:
    extra = instance(SS, PROD, "eu-west-1")
    [f] = only(classify(world.with_instance(extra).inputs()), Category.MEMBERSHIP)
    assert "eu-west-1" in f.reason and "not a desired region" in f.reason


def test_kept_suspended_account_is_information_not_drift(world: World) -> None:
    suspended = instance(SS, "444400000002", "us-east-1", StackInstanceStatus.OUTDATED,
                         StackInstanceDetailedStatus.SKIPPED_SUSPENDED_ACCOUNT, reason="This account is suspended.")
    inputs = world.with_instance(suspended).inputs()
    assert classify(inputs) == ()
    (note,) = information(inputs)
    assert "444400000002" in note and "not drift" in note and "suspended_accounts: remove" in note


def test_missing_instance_whose_connection_is_unlinked_was_deleted_out_of_band(world: World) -> None:
    conns = dict(world.live.connections)
    conns[(PROD, "us-east-1")] = connection(PROD, "us-east-1", ConnectionStatus.UNLINKED)
    findings = classify(world.without_instance(KEY).with_live(connections=conns).inputs())
    (missing,) = only(findings, Category.MEMBERSHIP)
    assert "deleted out of band" in missing.reason and "auto-deployment" not in missing.reason


def test_unlinked_connection_of_a_removed_instance_is_not_counted(world: World) -> None:
    conns = dict(world.live.connections)
    conns[("555500000001", "us-east-1")] = connection("555500000001", "us-east-1", ConnectionStatus.UNLINKED)
    inputs = world.with_live(connections=conns).inputs()
    assert classify(inputs) == ()
    assert any("555500000001_us-east-1" in n for n in information(inputs))


def test_suspended_account_with_an_instance_is_reported_once_as_membership() -> None:
    world = healthy_world(suspended="remove")
    suspended = instance(SS, "444400000002", "us-east-1", StackInstanceStatus.OUTDATED,
                         StackInstanceDetailedStatus.SKIPPED_SUSPENDED_ACCOUNT, reason="This account is suspended.")
    findings = classify(world.with_instance(suspended).inputs())
    assert [(f.category, f.key) for f in findings] == [(Category.MEMBERSHIP, suspended.key)]
    assert "SUSPENDED but still has a stack instance" in findings[0].reason
    assert "RetainStacks" in (findings[0].detail("hint") or "")
    assert findings[0].detail("status_reason") == "This account is suspended."


def test_closed_account_is_membership() -> None:
    world = healthy_world(suspended="remove")
    org = world.live.org
    accounts = dict(org.accounts)
    accounts[PROD] = replace(accounts[PROD], state=AccountState.CLOSED)
    org2 = type(org)(org.org_id, org.management_account, org.root_id, org.ous, accounts)
    findings = classify(world.with_live(org=org2).inputs())
    assert {f.key for f in only(findings, Category.MEMBERSHIP)} == {KEY, InstanceKey(SS, PROD, "us-west-2")}
    assert all("CLOSED" in f.reason for f in only(findings, Category.MEMBERSHIP))


def test_failed_outdated_inoperable_and_stale_skipped_instances_are_status_findings(world: World) -> None:
    failed = instance(SS, PROD, "us-east-1", StackInstanceStatus.OUTDATED, StackInstanceDetailedStatus.FAILED,
                      reason="Role already exists")
    outdated = instance(SS, PROD, "us-west-2", StackInstanceStatus.OUTDATED, StackInstanceDetailedStatus.CANCELLED,
                        reason="operation stopped")
    inoperable = instance(SS, "333300000002", "us-east-1", StackInstanceStatus.INOPERABLE,
                          StackInstanceDetailedStatus.INOPERABLE, reason="delete failed")
    # The account is ACTIVE again, yet its instance still says it was skipped: a real status to fix.
    skipped = instance(SS, "333300000011", "us-east-1", StackInstanceStatus.OUTDATED,
                       StackInstanceDetailedStatus.SKIPPED_SUSPENDED_ACCOUNT, reason="This account is suspended.")
    w = world
    for inst in (failed, outdated, inoperable, skipped):
        w = w.with_instance(inst)
    findings = only(classify(w.inputs()), Category.STATUS)
    by_key = {f.key: f for f in findings}
    assert set(by_key) == {failed.key, outdated.key, inoperable.key, skipped.key}
    assert by_key[failed.key].severity is Severity.ERROR
    assert by_key[failed.key].reason == "FAILED: Role already exists"
    assert by_key[inoperable.key].severity is Severity.ERROR and "INOPERABLE" in by_key[inoperable.key].reason
    assert by_key[outdated.key].severity is Severity.WARNING and by_key[outdated.key].reason.startswith("OUTDATED")
    assert by_key[skipped.key].reason.startswith("SKIPPED_SUSPENDED_ACCOUNT: This account is suspended.")


def test_instances_an_operation_is_working_on_are_not_drift(world: World) -> None:
    running = instance(SS, PROD, "us-east-1", StackInstanceStatus.OUTDATED, StackInstanceDetailedStatus.RUNNING)
    assert only(classify(world.with_instance(running).inputs()), Category.STATUS) == []


def test_latest_config_behind_clumio_reports_update_available() -> None:
    w = healthy_world(clumio_version="24.5")
    [f] = classify(w.inputs())
    assert (f.category, f.stack_set, f.account) == (Category.VERSION, SS, None)
    assert f.reason == "update available: Clumio template 24.5 (StackSet runs 24.4)"


def test_pinned_version_held_is_not_drift_even_when_clumio_has_a_newer_one() -> None:
    assert classify(healthy_world(template_version="24.4", clumio_version="24.5").inputs()) == ()


def test_stackset_off_its_pinned_version_is_version_drift() -> None:
    [f] = classify(healthy_world(template_version="24.3").inputs())
    assert f.category is Category.VERSION and "differs from the pinned version 24.3" in f.reason


def test_parameter_changed_by_hand_is_version_drift_and_secrets_are_never_compared(world: World) -> None:
    ss = world.live.stack_sets[SS]
    params = {**ss.parameters, "PermissionsBoundaryARN": "arn:aws:iam::1:policy/pb", "ClumioToken": "****"}
    [f] = classify(world.with_live(stack_sets={SS: replace(ss, parameters=params)}).inputs())
    assert f.category is Category.VERSION
    assert f.reason == 'parameter PermissionsBoundaryARN is "arn:aws:iam::1:policy/pb", desired ""'


def test_template_body_changed_outside_the_tool_is_found_through_state(world: World) -> None:
    class Record:
        template_version = "24.4"
        template_sha256 = "0" * 64
        parameters: dict[str, str] = {}

    class State:
        stack_sets = {SS: Record()}

    [f] = classify(world.inputs(state=State()))
    assert f.category is Category.VERSION and "changed outside clumio-org" in f.reason


def test_auto_deployment_turned_off_is_version_drift(world: World) -> None:
    ss = replace(world.live.stack_sets[SS], auto_deployment=False)
    [f] = classify(world.with_live(stack_sets={SS: ss}).inputs())
    assert f.reason == "auto-deployment is off, desired on"


def test_drifted_stack_lists_its_resources_and_the_check_age(world: World) -> None:
    drifted = replace(world.live.instances[KEY], drift_status=StackDriftStatus.DRIFTED,
                      last_drift_check=NOW - timedelta(hours=3))
    rows = {KEY: [{"LogicalResourceId": "ClumioIAMRole", "ResourceType": "AWS::IAM::Role",
                   "StackResourceDriftStatus": "MODIFIED"}]}
    [f] = classify(world.with_instance(drifted).inputs(resource_drifts=rows))
    assert (f.category, f.key) == (Category.RESOURCES, KEY)
    assert "1 resource(s) drifted" in f.reason and "3 h ago" in f.reason
    assert f.detail("resource ClumioIAMRole") == "AWS::IAM::Role MODIFIED"


def test_unlinked_connection_and_missing_connection_are_clumio_errors(world: World) -> None:
    conns = dict(world.live.connections)
    conns[(PROD, "us-east-1")] = connection(PROD, "us-east-1", ConnectionStatus.UNLINKED)
    del conns[(PROD, "us-west-2")]
    findings = only(classify(world.with_live(connections=conns).inputs()), Category.CLUMIO)
    reasons = {f.key: f.reason for f in findings}
    assert reasons == {KEY: "Clumio connection is unlinked",
                       InstanceKey(SS, PROD, "us-west-2"): "no Clumio connection although the stack instance "
                                                           "succeeded"}
    assert all(f.severity is Severity.ERROR for f in findings)


def test_connection_stuck_connecting_past_the_threshold(world: World) -> None:
    conns = dict(world.live.connections)
    conns[(PROD, "us-east-1")] = replace(connection(PROD, "us-east-1", ConnectionStatus.CONNECTING),
                                         created=NOW - timedelta(minutes=40))
    conns[(PROD, "us-west-2")] = replace(connection(PROD, "us-west-2", ConnectionStatus.CONNECTING),
                                         created=NOW - timedelta(minutes=5))
    [f] = only(classify(world.with_live(connections=conns).inputs()), Category.CLUMIO)
    assert f.key == KEY and "stuck connecting for 40 min (threshold 15 min)" in f.reason


def test_connection_without_an_instance_is_keyed_by_account_and_region(world: World) -> None:
    conns = {**world.live.connections, ("666600000001", "us-east-1"): connection("666600000001", "us-east-1")}
    [f] = classify(world.with_live(connections=conns).inputs())
    assert (f.category, f.stack_set, f.account, f.region) == (Category.CLUMIO, None, "666600000001", "us-east-1")
    assert f.severity is Severity.WARNING


def test_findings_come_worst_first(world: World) -> None:
    w = healthy_world(clumio_version="24.5").without_instance(KEY)
    w = w.with_live(connections=without_conn(w, KEY))
    findings = classify(w.inputs())
    assert [f.severity for f in findings] == sorted((f.severity for f in findings), key=lambda s: s.rank)
    assert findings[0].category is Category.MEMBERSHIP and findings[-1].category is Category.VERSION


def test_account_left_the_organization_but_its_instance_remains(world: World) -> None:
    gone = instance(SS, "999900000001", "us-east-1")
    [f] = only(classify(world.with_instance(gone).inputs()), Category.MEMBERSHIP)
    assert "no longer in the organization" in f.reason
    assert isinstance(world.live.org.accounts[PROD], Account)


def test_parameter_aws_reports_unset_is_compared_through_the_template_default(world: World) -> None:
    ss = world.live.stack_sets[SS]
    params = {k: v for k, v in ss.parameters.items() if k != "SendCFTDeploymentEventsToClumio"}
    assert classify(world.with_live(stack_sets={SS: replace(ss, parameters=params)}).inputs()) == ()


def test_onboarded_management_account_without_its_stackset_is_membership() -> None:
    w = healthy_world(onboard_management=True)
    [f] = classify(w.inputs())
    assert (f.category, f.stack_set, f.account) == (Category.MEMBERSHIP, "clumio-org-management", None)
    assert "2 stack instances are desired" in f.reason


def test_outdated_without_a_reason_says_what_it_means(world: World) -> None:
    stale = instance(SS, PROD, "us-east-1", StackInstanceStatus.OUTDATED, StackInstanceDetailedStatus.SUCCEEDED)
    [f] = only(classify(world.with_instance(stale).inputs()), Category.STATUS)
    assert f.reason == "OUTDATED: the last StackSet update did not reach this instance (run apply)"
