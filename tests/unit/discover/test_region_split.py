"""How discovery splits ListStackInstances by region: from what the StackSet will list, never from accounts it
will not (the management account, accounts outside its OUs)."""

from __future__ import annotations

from dataclasses import replace

from reconciler.core.live import (
    Account,
    AccountState,
    LiveStackSet,
    OrganizationalUnit,
    OrgTree,
    PermissionModel,
    StackSetDriftDetails,
)
from reconciler.discover.live import known_per_region, listed_per_region, split_by_region

REGIONS = tuple(f"r{i}" for i in range(8))


def _tree(members: int, *, suspended: int = 0, outside: int = 0) -> OrgTree:
    ous = {"ou-a": OrganizationalUnit("ou-a", "A", "r-1"), "ou-b": OrganizationalUnit("ou-b", "B", "r-1")}
    accounts = {"900000000000": Account("900000000000", "management", AccountState.ACTIVE, "r-1")}
    for i in range(members):
        state = AccountState.SUSPENDED if i < suspended else AccountState.ACTIVE
        accounts[f"{100000000000 + i}"] = Account(f"{100000000000 + i}", f"a{i}", state, "ou-a")
    for i in range(outside):
        accounts[f"{200000000000 + i}"] = Account(f"{200000000000 + i}", f"b{i}", AccountState.ACTIVE, "ou-b")
    return OrgTree("o-1", "900000000000", "r-1", ous, accounts)


def _stack_set(ous: tuple[str, ...] = ("r-1",), model: PermissionModel = PermissionModel.SERVICE_MANAGED,
               drift_total: int | None = None) -> LiveStackSet:
    drift = None if drift_total is None else StackSetDriftDetails("IN_SYNC", "COMPLETED", None,
                                                                  total_count=drift_total)
    return LiveStackSet("clumio-org", "id", "ACTIVE", model, "", "", {}, organizational_unit_ids=ous,
                        regions=REGIONS, drift=drift)


def test_800_accounts_by_8_regions_splits_although_the_org_has_801() -> None:
    # 800 members + the management account: counting the management account made 8 × 9 = 72 pages look dearer
    # than one 65-page listing, so 64 pages went in one chain. The StackSet lists 800 per region: 64 pages either way.
    tree = _tree(800, suspended=8)
    per_region = listed_per_region(_stack_set(), tree)
    assert per_region == 800
    assert split_by_region(REGIONS, per_region)
    assert not split_by_region(REGIONS, len(tree.accounts))  # what the old estimate decided


def test_only_the_accounts_under_the_stack_sets_ous_count() -> None:
    tree = _tree(30, outside=2000)
    assert listed_per_region(_stack_set(ous=("ou-a",)), tree) == 30
    assert not split_by_region(REGIONS, 30)  # 8 one-page chains would cost 8 pages where one listing costs 3
    assert listed_per_region(_stack_set(), tree) == 2030


def test_what_describe_stack_set_tells_decides_without_the_tree() -> None:
    assert known_per_region(_stack_set()) is None  # no drift detection yet: the tree must tell
    assert known_per_region(_stack_set(drift_total=16_000)) == 2000
    assert known_per_region(_stack_set(drift_total=0)) is None
    assert known_per_region(replace(_stack_set(), permission_model=PermissionModel.SELF_MANAGED)) == 1
