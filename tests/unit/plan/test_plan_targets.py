"""The StackSet's OU cover: exclusion-safe by default, the fewest OUs, and the live OU list narrowed when wider."""

from __future__ import annotations

from reconciler.core.desired import StackSetSpec
from reconciler.core.plan import AccountFilterType, Action, OperationKind, OuTargetStatus
from reconciler.plan.build import make_plan
from reconciler.plan.expand import expand
from tests.fakes import (
    MANAGEMENT,
    REGIONS,
    OrgBuilder,
    demo_org,
    instance,
    live_stack_set,
    make_desired,
    make_live,
    make_template,
)

T = make_template("24.4")


def skips(exp) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {s.account: s.reason for s in exp.skipped}


def test_whole_org_with_an_excluded_ou_never_targets_the_root() -> None:
    org = demo_org()
    exp = expand(make_desired(organization=True, exclude_ous=["/Sandbox"]), org)
    assert org.root_id not in exp.cover.ous
    # the fewest OUs under the root that hold no exclusion: /Security and /Workloads (not its children)
    assert exp.cover.ous == ("ou-fake-security", "ou-fake-workload")
    assert exp.anchors["333300000011"] == "ou-fake-workload"  # three levels down, through the outermost clean OU


def test_account_directly_under_the_root_is_skipped_with_the_reason_and_ways_out() -> None:
    exp = expand(make_desired(organization=True, exclude_ous=["/Sandbox"]), demo_org())
    reason = skips(exp)["666600000001"]
    assert "666600000001" not in exp.accounts
    assert "reachable only through /, which holds the excluded /Sandbox" in reason
    for way in ("move the account into an OU", "drop the exclusion", "auto_deployment_reach: any"):
        assert way in reason


def test_accepting_the_leak_deploys_through_the_root_and_lists_what_auto_deployment_reaches() -> None:
    org = demo_org()
    exp = expand(make_desired(organization=True, exclude_ous=["/Sandbox"], reach="any"), org)
    assert exp.anchors["666600000001"] == org.root_id
    (leak,) = exp.cover.leaks
    assert leak.ou_id == org.root_id and leak.excluded_ous == ("/Sandbox",)
    assert leak.accounts == ("555500000001",)  # the excluded account there now (the management account is not one)
    assert exp.anchors["222200000001"] == "ou-fake-security"  # everything else still through clean OUs


def test_nested_exclusion_splits_its_parent_into_clean_siblings() -> None:
    b = OrgBuilder()
    for path in ("/W/A/X", "/W/A/Y", "/W/B"):
        b.ou(path)
    b.account("200000000001", "/W/A/X")
    b.account("200000000002", "/W/A/Y")
    b.account("200000000003", "/W/B")
    b.account("200000000004", "/W/A")  # directly in an OU that has the excluded child
    b.account("200000000005", "/W")
    org = b.build()
    exp = expand(make_desired(ous=["/W"], exclude_ous=["/W/A/Y"]), org)
    assert exp.cover.ous == tuple(sorted((b.ou("/W/A/X"), b.ou("/W/B"))))
    assert set(exp.accounts) == {"200000000001", "200000000003"}
    reasons = skips(exp)
    assert "/W/A, which holds the excluded /W/A/Y" in reasons["200000000004"]
    assert "/W, which holds the excluded /W/A/Y" in reasons["200000000005"]
    assert "excluded" in reasons["200000000002"]


def test_duplicate_ou_names_at_different_paths_are_told_apart() -> None:
    b = OrgBuilder()
    prod_a, prod_b = b.ou("/A/Prod"), b.ou("/B/Prod")
    b.account("300000000001", "/A/Prod")
    b.account("300000000002", "/B/Prod")
    org = b.build()
    exp = expand(make_desired(ous=["/A/Prod", "/B"], exclude_ous=["/B/Prod"]), org)
    assert exp.cover.ous == (prod_a,)
    assert exp.anchors == {"300000000001": prod_a}
    assert prod_b not in exp.cover.ous
    plan = make_plan(make_desired(ous=["/A/Prod", "/B"], exclude_ous=["/B/Prod"]), make_live(org), template=T)
    assert plan.targets is not None
    assert [(o.path, o.status) for o in plan.targets.ous] == [("/A/Prod", OuTargetStatus.ADD)]


def test_excluded_account_inside_a_clean_ou_is_left_out_with_difference_and_noted() -> None:
    desired = make_desired(ous=["/Workloads/Prod"], exclude_accounts=["333300000002"])
    plan = make_plan(desired, make_live(demo_org()), template=T)
    (op,) = [o for o in plan.operations if o.kind is OperationKind.CREATE_STACK_INSTANCES]
    assert op.targets.account_filter_type is AccountFilterType.DIFFERENCE
    assert op.targets.accounts == ("333300000002",)
    assert plan.targets is not None and plan.targets.ous[0].excluded == ("333300000002",)
    assert any("left that OU and came back" in n for n in plan.targets.notes)


def test_more_than_fifty_clean_ous_are_covered_each_once_in_chunks_of_fifty() -> None:
    b = OrgBuilder()
    for i in range(60):
        b.account(f"4000000000{i:02d}", f"/Teams/T{i:02d}")
    b.account("499999999999", "/Teams/Quarantine")
    org = b.build()
    desired = make_desired(ous=["/Teams"], exclude_ous=["/Teams/Quarantine"], regions=["us-east-1"])
    exp = expand(desired, org)
    assert len(exp.cover.ous) == 60 and b.ou("/Teams") not in exp.cover.ous
    plan = make_plan(desired, make_live(org), template=T)
    creates = [op for op in plan.operations if op.kind is OperationKind.CREATE_STACK_INSTANCES]
    assert [len(op.targets.organizational_unit_ids) for op in creates] == [50, 10]
    assert all(op.targets.account_filter_type is AccountFilterType.NONE for op in creates)
    assert sum(len(op.instances) for op in creates) == 60


def test_auto_deployment_off_cannot_leak_so_the_root_may_be_named() -> None:
    org = demo_org()
    desired = make_desired(organization=True, exclude_ous=["/Sandbox"],
                           stack_set=StackSetSpec(auto_deployment=False))
    exp = expand(desired, org)
    assert exp.anchors["666600000001"] == org.root_id and exp.cover.leaks == ()


def _deployed_under_root(desired, org):  # type: ignore[no-untyped-def]
    """A StackSet an earlier version left targeting the root: every instance records r-fake."""
    exp = expand(make_desired(organization=True, exclude_ous=["/Sandbox"], reach="any"), org)
    insts = [instance("clumio-org", k.account, k.region, ou=org.root_id) for k in exp.targets]
    insts += [instance("clumio-org", "555500000001", r, ou=org.root_id) for r in REGIONS]  # leaked by auto-deploy
    ss = live_stack_set(desired, T, organizational_unit_ids=(org.root_id,))
    return make_live(org, stack_sets=[ss], instances=insts)


def test_a_live_root_target_is_narrowed_and_the_plan_says_what_moves_and_what_it_assumes() -> None:
    org = demo_org()
    desired = make_desired(organization=True, exclude_ous=["/Sandbox"])
    plan = make_plan(desired, _deployed_under_root(desired, org), template=T)
    assert plan.targets is not None
    status = {o.ou_id: o.status for o in plan.targets.ous}
    assert status[org.root_id] is OuTargetStatus.REMOVE
    assert status["ou-fake-security"] is OuTargetStatus.ADD and status["ou-fake-workload"] is OuTargetStatus.ADD
    assert plan.targets.assumptions and any("NONE" in a for a in plan.targets.assumptions)
    first = plan.operations[0]
    assert first.kind is OperationKind.DELETE_STACK_INSTANCES and first.retain_stacks is False
    assert first.targets.organizational_unit_ids == (org.root_id,)
    assert first.targets.account_filter_type is AccountFilterType.NONE
    removed = {c.key for c in plan.changes if c.action is Action.REMOVE}
    added = {c.key for c in plan.changes if c.action is Action.ADD}
    assert {k.account for k in removed} == {"222200000001", "222200000002", "333300000001", "333300000002",
                                          "333300000011", "444400000001", "555500000001", "666600000001"}
    assert "555500000001" not in {k.account for k in added} and "666600000001" not in {k.account for k in added}
    assert set(first.instances) == removed  # the NONE delete reaches every instance under the root
    creates = [op for op in plan.operations if op.kind is OperationKind.CREATE_STACK_INSTANCES]
    assert {ou for op in creates for ou in op.targets.organizational_unit_ids} == {"ou-fake-security",
                                                                                   "ou-fake-workload"}


def test_a_live_ou_inside_the_cover_is_harmless_and_kept() -> None:
    org = demo_org()
    desired = make_desired(ous=["/Workloads"])
    exp = expand(desired, org)
    insts = [instance("clumio-org", k.account, k.region, ou="ou-fake-workload") for k in exp.targets]
    ss = live_stack_set(desired, T, organizational_unit_ids=("ou-fake-prodwork", "ou-fake-workload"))
    plan = make_plan(desired, make_live(org, stack_sets=[ss], instances=insts), template=T)
    assert plan.empty
    assert plan.targets is not None
    assert {o.ou_id: o.status for o in plan.targets.ous} == {"ou-fake-workload": OuTargetStatus.KEEP,
                                                             "ou-fake-prodwork": OuTargetStatus.KEEP}


def test_management_account_is_never_a_leak() -> None:
    exp = expand(make_desired(organization=True, exclude_ous=["/Sandbox"], reach="any"), demo_org())
    assert all(MANAGEMENT not in leak.accounts for leak in exp.cover.leaks)


def test_a_removal_says_its_clumio_connection_is_left_unlinked() -> None:
    from tests.fakes import connection

    org = demo_org()
    wide = make_desired(ous=["/Security", "/Sandbox"])
    exp = expand(wide, org)
    live = make_live(org, stack_sets=[live_stack_set(wide, T)],
                     instances=[instance("clumio-org", k.account, k.region) for k in exp.targets],
                     connections=[connection(k.account, k.region) for k in exp.targets])
    plan = make_plan(make_desired(ous=["/Security"]), live, template=T)
    assert any("leave their Clumio connection unlinked (555500000001_us-east-1, 555500000001_us-west-2)" in w
               for w in plan.warnings)


def test_a_canary_wave_that_loses_named_accounts_says_so() -> None:
    from tests.fakes import wave

    desired = make_desired(organization=True, exclude_ous=["/Sandbox"],
                           waves=[wave("canary", accounts=["555500000001", "444400000002", "222200000001"]),
                                  wave("rest", rest=True)])
    plan = make_plan(desired, make_live(demo_org()), template=T)
    shrunk = [w for w in plan.warnings if w.startswith("wave 'canary' names account")]
    assert len(shrunk) == 2
    assert any("555500000001" in w and "excluded" in w for w in shrunk)
    assert any("444400000002" in w and "SUSPENDED" in w for w in shrunk)
    (canary,) = [w for w in plan.waves if w.name == "canary"]
    assert canary.accounts == ("222200000001",)


def test_targets_are_in_the_markdown_and_the_json_plan() -> None:
    import json

    import jsonschema

    from reconciler.render.json import render_plan_json
    from reconciler.render.markdown import render_plan_markdown
    from tests.unit.plan.test_plan_file import SCHEMA

    org = demo_org()
    desired = make_desired(organization=True, exclude_ous=["/Sandbox"], reach="any")
    plan = make_plan(desired, make_live(org), template=T)
    md = render_plan_markdown(plan)
    assert "StackSet targets (clumio-org; auto-deployment on, reach any)" in md
    assert "accepted leak /: auto-deployment deploys to every account that joins it" in md
    data = json.loads(render_plan_json(plan))
    jsonschema.validate(data, SCHEMA)
    assert set(data["targets"]["desired_ous"]) == {org.root_id, "ou-fake-security", "ou-fake-workload"}
    assert data["targets"]["leaks"][0]["excluded_ous"] == ["/Sandbox"]
