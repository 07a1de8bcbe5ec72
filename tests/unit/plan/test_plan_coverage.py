"""Brownfield plans: every desired (account, region) is classified, and none that already has Clumio gets a second
deployment (docs/reference/brownfield.md)."""

from __future__ import annotations

from dataclasses import replace

from reconciler.core.coverage import Coverage
from reconciler.core.live import Connection, ConnectionStatus, OtherClumioStackSet
from reconciler.core.plan import Action, OperationKind
from reconciler.plan.build import make_plan
from reconciler.plan.coverage import stack_name_of, stack_set_of_stack
from reconciler.plan.planfile import plan_from_json, plan_to_json
from reconciler.render.text import render_plan
from tests.worlds import REGIONS, demo_org, instance, live_stack_set, make_desired, make_live, make_template

T = make_template("24.4")
SEC1, SEC2, PROD1 = "222200000001", "222200000002", "333300000001"
UUID = "0a1b2c3d-0000-4000-8000-00000000abcd"


def own_stack(account: str, region: str, name: str = "ClumioService") -> Connection:
    return Connection(f"{account}_{region}", account, region, ConnectionStatus.CONNECTED, "24.3",
                      stack_arn=f"arn:aws:cloudformation:{region}:{account}:stack/{name}/{UUID}")


def console_stack_set(desired, accounts, name="ClumioManual") -> OtherClumioStackSet:
    ss = live_stack_set(desired, make_template("24.3"), name=name, description="made in the console")
    insts = {(a, r): instance(name, a, r) for a in accounts for r in REGIONS}
    return OtherClumioStackSet(ss, "24.3", insts)


def added(plan) -> set[tuple[str, str]]:
    return {(c.key.account, c.key.region) for c in plan.changes if c.action is Action.ADD}


def test_pairs_with_their_own_stack_or_another_stack_set_get_no_second_deployment() -> None:
    desired = make_desired(ous=["/Security", "/Workloads/Prod"])
    live = make_live(demo_org(), connections=[own_stack(SEC1, "us-east-1")])
    live = replace(live, other_clumio_stack_sets={"ClumioManual": console_stack_set(desired, [PROD1])})
    plan = make_plan(desired, live, template=T)
    assert (SEC1, "us-east-1") not in added(plan) and (SEC1, "us-west-2") in added(plan)
    assert not {(PROD1, r) for r in REGIONS} & added(plan)
    classes = {(r.account, r.region): r.coverage for r in plan.coverage}
    assert classes == {(SEC1, "us-east-1"): Coverage.OUTSIDE_STACK_SET,
                       (PROD1, "us-east-1"): Coverage.OTHER_STACK_SET, (PROD1, "us-west-2"): Coverage.OTHER_STACK_SET}
    assert dict(plan.coverage_counts) == {"new": 7, "managed": 0, "other-stackset": 2, "outside-stackset": 1,
                                         "move": 0}
    # PROD1 is covered in every region: skipped with the reason, and named in no operation.
    assert any(s.account == PROD1 and "StackSet ClumioManual" in s.reason for s in plan.skipped)
    for op in plan.operations:
        assert all(k.account != PROD1 for k in op.instances)
        if op.kind is OperationKind.CREATE_STACK_INSTANCES and op.targets and op.targets.account_filter_type:
            reached = set(op.targets.accounts)
            assert (PROD1 in reached) == (op.targets.account_filter_type.value == "DIFFERENCE")


def test_plan_text_gives_the_reason_the_way_forward_and_the_counts() -> None:
    desired = make_desired(ous=["/Security"])
    live = make_live(demo_org(), connections=[own_stack(SEC2, "us-west-2"),
                                              Connection(f"{SEC1}_us-east-1", SEC1, "us-east-1",
                                                         ConnectionStatus.CONNECTED, "24.4")])
    text = render_plan(make_plan(desired, live, template=T))
    assert f"= {SEC2}/us-west-2  outside-stackset: Clumio connection {SEC2}_us-west-2 (connected) comes from its " \
           "own stack ClumioService" in text
    assert f"= {SEC1}/us-east-1  outside-stackset: Clumio connection {SEC1}_us-east-1 (connected) has no " \
           "CloudFormation stack (Terraform" in text
    assert "way forward: left alone, backups keep running" in text
    assert "Existing Clumio: 2 new, 0 managed, 0 covered by another Clumio StackSet, 2 connected outside any " \
           "StackSet." in text


def test_unlinked_connection_covers_nothing() -> None:
    desired = make_desired(ous=["/Security"])
    unlinked = replace(own_stack(SEC1, "us-east-1"), status=ConnectionStatus.UNLINKED)
    plan = make_plan(desired, make_live(demo_org(), connections=[unlinked]), template=T)
    assert (SEC1, "us-east-1") in added(plan) and plan.coverage == ()


def test_other_clumio_stack_set_outside_the_targets_is_named_in_a_warning() -> None:
    desired = make_desired(ous=["/Security"])
    live = replace(make_live(demo_org()),
                   other_clumio_stack_sets={"ClumioManual": console_stack_set(desired, ["444400000001"])})
    plan = make_plan(desired, live, template=T)
    assert plan.coverage == () and len(added(plan)) == 4
    assert any("Clumio StackSet ClumioManual (SERVICE_MANAGED, template 24.3, 2 instance(s) in us-east-1, "
               "us-west-2) is not managed by this config" in w and "clumio-org import --stack-set ClumioManual" in w
               for w in plan.warnings)


def test_coverage_survives_the_plan_file() -> None:
    desired = make_desired(ous=["/Security"])
    plan = make_plan(desired, make_live(demo_org(), connections=[own_stack(SEC1, "us-east-1")]), template=T)
    again = plan_from_json(plan_to_json(plan))
    assert again.coverage == plan.coverage and again.coverage_counts == plan.coverage_counts


def test_greenfield_plan_has_no_coverage_section() -> None:
    desired = make_desired(ous=["/Security"])
    plan = make_plan(desired, make_live(demo_org()), template=T)
    assert plan.coverage == () and plan.coverage_counts == ()
    assert "coverage" not in plan_to_json(plan) and "Existing Clumio" not in render_plan(plan)


def test_stack_names_tell_a_stack_set_instance_from_an_own_stack() -> None:
    assert stack_set_of_stack(f"StackSet-Clumio-Org-1-{UUID}") == "Clumio-Org-1"
    assert stack_set_of_stack("ClumioService") is None and stack_set_of_stack(None) is None
    assert stack_name_of(own_stack(SEC1, "us-east-1")) == "ClumioService"
    assert stack_name_of(Connection("x", SEC1, "us-east-1", ConnectionStatus.CONNECTED)) is None


def moving_desired(**kwargs):  # type: ignore[no-untyped-def]
    from reconciler.core.desired import ExistingConnections

    desired = make_desired(**kwargs)
    return replace(desired, targets=replace(desired.targets, existing_connections=ExistingConnections.MOVE))


def test_move_deploys_next_to_the_old_stack_and_lists_the_steps_in_order() -> None:
    desired = moving_desired(ous=["/Security"])
    terraform = Connection(f"{SEC2}_us-east-1", SEC2, "us-east-1", ConnectionStatus.CONNECTED, "24.3")
    live = make_live(demo_org(), connections=[own_stack(SEC1, "us-east-1"), terraform])
    plan = make_plan(desired, live, template=T)
    assert {(SEC1, "us-east-1"), (SEC2, "us-east-1")} <= added(plan)  # deployed, not skipped
    rows = {(r.account, r.region): r for r in plan.coverage}
    portal, tf = rows[(SEC1, "us-east-1")], rows[(SEC2, "us-east-1")]
    assert portal.coverage is tf.coverage is Coverage.MOVE
    assert portal.connection == f"{SEC1}_us-east-1" and portal.stack_arn and portal.stack_arn.endswith(UUID)
    assert tf.stack_arn is None and tf.by == "no CloudFormation stack"
    wave = portal.wave
    assert wave is not None and portal.steps[0].startswith(f"1. wave {wave}: CreateStackInstances")
    assert portal.steps[1].startswith(f"2. wave {wave}'s gate") and "ClumioService as its retired stack" in \
        portal.steps[1]
    assert "delete-stack --stack-name ClumioService --region us-east-1" in portal.steps[2]
    assert "terraform state rm" in tf.steps[2]
    assert dict(plan.coverage_counts)["move"] == 2 and dict(plan.coverage_counts)["outside-stackset"] == 0
    reasons = {c.reason for c in plan.changes if (c.key.account, c.key.region) in rows}
    assert reasons == {"moves its Clumio connection from stack ClumioService (kept connected)",
                       "moves its Clumio connection from Terraform's clumio_aws_connection (kept connected)"}
    # The plan file keeps every field apply's gate reads back.
    again = plan_from_json(plan_to_json(plan))
    assert again.coverage == plan.coverage


def test_the_default_leaves_connections_made_outside_alone() -> None:
    plan = make_plan(make_desired(ous=["/Security"]), make_live(demo_org(), connections=[own_stack(SEC1, "us-east-1")]),
                     template=T)
    assert (SEC1, "us-east-1") not in added(plan)
    assert [r.coverage for r in plan.coverage] == [Coverage.OUTSIDE_STACK_SET]


def test_a_move_a_guardrail_would_deny_is_listed_as_left_alone() -> None:
    from reconciler.plan.coverage import classify_coverage, not_moved

    live = make_live(demo_org(), connections=[own_stack(SEC1, "us-east-1")])
    key = next(k for k in [*make_plan(moving_desired(ous=["/Security"]), live, template=T).changes]
               if (k.key.account, k.key.region) == (SEC1, "us-east-1")).key
    rows, plain = classify_coverage(live, [key], move=True, waves={key: "rest"})
    assert plain == {Coverage.NEW: 0, Coverage.MANAGED: 0}
    assert rows[0].coverage is Coverage.MOVE and rows[0].wave == "rest"
    kept = not_moved(rows, live, [], "a guardrail would deny its stack")
    assert kept[0].coverage is Coverage.OUTSIDE_STACK_SET and kept[0].steps == ()
    assert kept[0].way_forward.startswith("left alone in this plan: a guardrail would deny its stack")


def test_move_plan_text_gives_the_steps_once_and_groups_the_connections() -> None:
    desired = moving_desired(ous=["/Security"])
    live = make_live(demo_org(), connections=[own_stack(a, r) for a in (SEC1, SEC2) for r in REGIONS])
    text = render_plan(make_plan(desired, live, template=T), color=False)
    assert f"Connections moved onto the StackSet ({2 * len(REGIONS)}, targets.existing_connections: move)" in text
    assert text.count("1. in the account's wave, CreateStackInstances deploys the StackSet's stack next to the old "
                      "one") == 1
    assert f"from stack ClumioService ({2 * len(REGIONS)}): {SEC1}/{REGIONS[0]}" in text
    assert f"{2 * len(REGIONS)} moving onto the StackSet." in text


def test_retired_stacks_are_named_until_clumio_stops_listing_them() -> None:
    from reconciler.plan.coverage import retired_stack_notes

    moved = [replace(own_stack(f"4444{i:08d}", "us-east-1"),
                     stack_arn=f"arn:aws:cloudformation:us-east-1:4444{i:08d}:stack/StackSet-clumio-org-{UUID}/{UUID}",
                     retired_stack_arn=f"arn:aws:cloudformation:us-east-1:4444{i:08d}:stack/ClumioService/{UUID}")
             for i in range(12)]
    live = make_live(demo_org(), connections=moved)
    notes = retired_stack_notes(live, [(c.account, c.region) for c in moved])
    assert len(notes) == 11 and notes[-1].startswith("… and 2 more Clumio connection(s) list a retired stack")
    assert notes[0].startswith("Clumio connection 444400000000_us-east-1 now runs through the StackSet and lists "
                               "stack ClumioService as retired: delete it (`aws cloudformation delete-stack "
                               "--stack-name ClumioService --region us-east-1` with credentials for account "
                               "444400000000)")
    assert retired_stack_notes(live, []) == ()  # pairs the config does not want are not its business
