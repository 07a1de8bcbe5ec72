"""The desired set of stack instances drift compares against: PLAN's expansion when present, else a stand-in."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Protocol

from reconciler.core.desired import Desired
from reconciler.core.keys import InstanceKey
from reconciler.core.live import AccountState, OrgTree
from reconciler.core.plan import Skip


class ExpansionLike(Protocol):
    """What drift reads from ``reconciler.plan.expand.Expansion``."""

    @property
    def targets(self) -> Mapping[InstanceKey, str]: ...
    @property
    def skipped(self) -> tuple[Skip, ...]: ...
    @property
    def management_keys(self) -> Collection[InstanceKey]: ...


@dataclass(frozen=True)
class _Expansion:
    targets: Mapping[InstanceKey, str]
    skipped: tuple[Skip, ...]
    management_keys: tuple[InstanceKey, ...]


def expand_desired(desired: Desired, org: OrgTree) -> ExpansionLike:
    """``reconciler.plan.expand.expand`` — the one definition of "which instances should exist" — or, while that
    module is absent, the same rules restated here (OUs recursively, minus exclusions, the management account and
    non-ACTIVE accounts)."""
    try:
        from reconciler.plan.expand import expand
    except ImportError:
        return _expand_standin(desired, org)
    result: ExpansionLike = expand(desired, org)
    return result


def _expand_standin(desired: Desired, org: OrgTree) -> _Expansion:
    t = desired.targets
    accounts: set[str] = set()
    if t.organization:
        accounts |= org.accounts_under(org.root_id)
    for ref in t.ous:
        ou = org.resolve_ou(ref)
        if ou is not None:
            accounts |= org.accounts_under(ou)
    accounts |= {a for a in t.accounts if a in org.accounts}
    for ref in t.exclude_ous:
        ou = org.resolve_ou(ref)
        if ou is not None:
            accounts -= org.accounts_under(ou)
    accounts -= set(t.exclude_accounts)
    skipped: list[Skip] = []
    if org.management_account in accounts:
        accounts.discard(org.management_account)
        skipped.append(Skip(org.management_account, "management account", desired.stack_set.name))
    for account in sorted(accounts):
        state = org.accounts[account].state
        if state is not AccountState.ACTIVE:
            accounts.discard(account)
            skipped.append(Skip(account, state.value, desired.stack_set.name))
    targets = {InstanceKey(desired.stack_set.name, a, r): "default" for a in sorted(accounts) for r in desired.regions}
    management: tuple[InstanceKey, ...] = ()
    if desired.management_account.onboard:
        management = tuple(InstanceKey(desired.management_account.stack_set_name, org.management_account, r)
                           for r in desired.regions)
    return _Expansion(targets, tuple(skipped), management)
