"""Expansion of desired targets over the Organizations tree, and wave assignment."""

from __future__ import annotations

import pytest

from reconciler.core.errors import ConfigError
from reconciler.core.keys import InstanceKey
from reconciler.plan.expand import expand
from tests.fakes import MANAGEMENT, REGIONS, OrgBuilder, demo_org, make_desired, wave


def test_nested_ou_accounts_are_targeted_recursively() -> None:
    exp = expand(make_desired(ous=["/Workloads"]), demo_org())
    assert set(exp.accounts) == {"333300000001", "333300000002", "333300000011", "444400000001"}
    assert InstanceKey("clumio-org", "333300000011", "us-west-2") in exp.targets  # 3 levels down
    assert len(exp.targets) == 4 * len(REGIONS)


def test_ou_ids_and_paths_name_the_same_ou() -> None:
    by_path = expand(make_desired(ous=["/workloads/prod"]), demo_org())
    by_id = expand(make_desired(ous=["ou-fake-prodwork"]), demo_org())
    assert by_path.targets == by_id.targets


def test_suspended_account_is_skipped_with_its_reason() -> None:
    exp = expand(make_desired(ous=["/Workloads/Dev"]), demo_org())
    assert list(exp.accounts) == ["444400000001"]
    reasons = {s.account: s.reason for s in exp.skipped}
    assert "SUSPENDED" in reasons["444400000002"]


def test_management_account_in_a_targeted_ou_is_skipped_never_targeted() -> None:
    exp = expand(make_desired(organization=True), demo_org())
    assert MANAGEMENT not in exp.accounts
    assert all(k.account != MANAGEMENT for k in exp.targets)
    reasons = {s.account: s.reason for s in exp.skipped}
    assert reasons[MANAGEMENT].startswith("management account")
    assert exp.management_keys == {}


def test_management_account_onboarding_adds_self_managed_keys() -> None:
    exp = expand(make_desired(organization=True, onboard_management=True), demo_org())
    assert set(exp.management_keys) == {InstanceKey("clumio-org-management", MANAGEMENT, r) for r in REGIONS}
    reasons = {s.account: s.reason for s in exp.skipped}
    assert "clumio-org-management" in reasons[MANAGEMENT]


def test_excluded_accounts_and_ous_are_skipped_with_reasons() -> None:
    exp = expand(make_desired(organization=True, exclude_accounts=["222200000002"], exclude_ous=["/Sandbox"]),
                 demo_org())
    reasons = {s.account: s.reason for s in exp.skipped}
    assert reasons["222200000002"] == "excluded by targets.exclude.accounts"
    assert "targets.exclude.ous" in reasons["555500000001"]
    assert "222200000002" not in exp.accounts and "555500000001" not in exp.accounts


def test_whole_org_targets_root_and_anchors_on_it() -> None:
    org = demo_org()
    exp = expand(make_desired(organization=True, ous=["/Security"]), org)
    # The outermost desired OU anchors every account, so operations name the root once.
    assert set(exp.anchors.values()) == {org.root_id}
    assert "666600000001" in exp.accounts  # directly under the root


def test_unknown_ou_is_a_config_error_with_hint() -> None:
    with pytest.raises(ConfigError) as err:
        expand(make_desired(ous=["/Nope"]), demo_org())
    assert "/Nope" in err.value.message and err.value.hint


def test_unknown_account_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="999999999999"):
        expand(make_desired(accounts=["999999999999"]), demo_org())


def test_waves_claim_ids_and_ous_in_order_then_sample_then_rest() -> None:
    waves = [wave("canary", accounts=["666600000001"]), wave("sample", sample=2), wave("prod", ous=["/Workloads/Prod"]),
             wave("rest", rest=True)]
    exp = expand(make_desired(organization=True, waves=waves), demo_org())
    by_wave: dict[str, list[str]] = {}
    for account, name in exp.accounts.items():
        by_wave.setdefault(name, []).append(account)
    assert by_wave["canary"] == ["666600000001"]
    # sample takes the first N unassigned accounts by id, after ids and OUs of every wave were claimed
    assert by_wave["sample"] == ["222200000001", "222200000002"]
    assert by_wave["prod"] == ["333300000001", "333300000002", "333300000011"]
    assert by_wave["rest"] == ["444400000001", "555500000001"]
    assert [w.name for w in exp.waves] == ["canary", "sample", "prod", "rest"]


def test_overlapping_ou_waves_give_the_account_to_the_earlier_wave() -> None:
    waves = [wave("prod", ous=["/Workloads/Prod"]), wave("workloads", ous=["/Workloads"]), wave("rest", rest=True)]
    exp = expand(make_desired(organization=True, waves=waves), demo_org())
    assert exp.accounts["333300000011"] == "prod"
    assert exp.accounts["444400000001"] == "workloads"


def test_account_listed_in_two_waves_is_rejected() -> None:
    waves = [wave("a", accounts=["222200000001"]), wave("b", accounts=["222200000001"])]
    with pytest.raises(ConfigError, match="listed in waves 'a' and 'b'"):
        expand(make_desired(organization=True, waves=waves), demo_org())


def test_accounts_in_no_wave_go_to_an_implicit_last_wave_with_a_warning() -> None:
    exp = expand(make_desired(ous=["/Security"], waves=[wave("one", accounts=["222200000001"])]), demo_org())
    assert exp.accounts["222200000002"] == "rest"
    assert exp.waves[-1].name == "rest"
    assert any("implicit last wave" in w for w in exp.warnings)


def test_no_waves_means_one_wave_taking_everything() -> None:
    exp = expand(make_desired(ous=["/Security"]), demo_org())
    assert set(exp.accounts.values()) == {"all"}


def test_explicit_account_outside_target_ous_is_skipped_with_the_ways_out() -> None:
    b = OrgBuilder()
    b.ou("/Team", "ou-fake-teamteam")
    b.account("777700000001", "/Team")
    exp = expand(make_desired(accounts=["777700000001"]), b.build())
    assert exp.anchors == {}
    (skip,) = exp.skipped[1:] if exp.skipped[0].account == MANAGEMENT else exp.skipped
    assert skip.account == "777700000001"
    assert "/Team is not wholly targeted" in skip.reason and "auto_deployment_reach: any" in skip.reason


def test_explicit_account_is_anchored_on_its_parent_when_auto_deployment_is_off() -> None:
    from reconciler.core.desired import StackSetSpec

    b = OrgBuilder()
    ou = b.ou("/Team", "ou-fake-teamteam")
    b.account("777700000001", "/Team")
    exp = expand(make_desired(accounts=["777700000001"], stack_set=StackSetSpec(auto_deployment=False)), b.build())
    assert exp.anchors == {"777700000001": ou}
    assert exp.cover.leaks == ()
