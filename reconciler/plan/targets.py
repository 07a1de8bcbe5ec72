"""Targets: the StackSet's own OU cover — the list auto-deployment watches — chosen so that it never reaches an
account the file does not want, and diffed against the live list (docs/reference/targets.md)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from reconciler.core.desired import AutoDeploymentReach, Desired
from reconciler.core.keys import InstanceKey
from reconciler.core.live import AccountState, Live, LiveInstance, OrgTree
from reconciler.core.plan import Action, Change, Leak, OuTarget, OuTargetStatus, TargetsPlan

WAYS_OUT = ("move the account into an OU the file targets, drop the exclusion, turn stack_set.auto_deployment off, "
            "or set targets.auto_deployment_reach: any to deploy it and accept that auto-deployment reaches "
            "every new account there")


@dataclass(frozen=True)
class Cover:
    """The desired OU list and, per desired account, the OU operations name for it.

    ``ous`` are the fewest OUs whose whole subtree is desired (never an excluded OU or an ancestor of one, never an
    OU only partly targeted), plus the parent OUs of accounts deployed under an accepted leak. ``unreachable`` maps
    a desired account no such OU reaches to the reason (the plan skips it); ``excluded_inside`` maps a cover OU to
    the accounts excluded by id inside it (operations leave them out with DIFFERENCE).
    """

    ous: tuple[str, ...]
    anchors: Mapping[str, str]
    unreachable: Mapping[str, str] = field(default_factory=dict)
    leaks: tuple[Leak, ...] = ()
    excluded_inside: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


class Scope:
    """Which OUs are wholly desired: inside a targeted OU (the root with ``organization: true``), not inside an
    excluded one, and holding no excluded OU below them. Memoised per node: 10,000 accounts share a few hundred."""

    def __init__(self, org: OrgTree, targeted: Iterable[str], excluded: Iterable[str]) -> None:
        self.org = org
        self.targeted = frozenset(targeted)
        self.excluded = frozenset(excluded)
        # An excluded OU and every OU above it: targeting one would let auto-deployment into the exclusion.
        self.holds_excluded: dict[str, set[str]] = {}
        for ou in sorted(self.excluded):
            for node in self.chain(ou):
                self.holds_excluded.setdefault(node, set()).add(ou)
        self._in_scope: dict[str, bool] = {}

    def chain(self, node: str) -> list[str]:
        """``node`` and the OUs above it, nearest first, ending with the root."""
        out = [node]
        while node != self.org.root_id and node in self.org.ous:
            node = self.org.ous[node].parent_id
            out.append(node)
        return out

    def in_scope(self, node: str) -> bool:
        if node not in self._in_scope:
            verdict = False
            for up in self.chain(node):
                if up in self.excluded:
                    break
                if up in self.targeted:
                    verdict = True
                    break
            self._in_scope[node] = verdict
        return self._in_scope[node]

    def clean(self, node: str) -> bool:
        return node not in self.holds_excluded and self.in_scope(node)

    def outermost_clean(self, account: str) -> str | None:
        """The highest OU above ``account`` whose whole subtree is desired (clean OUs are closed downwards, so the
        clean part of the chain is a prefix)."""
        best: str | None = None
        for node in self.org.ancestors(account):
            if not self.clean(node):
                break
            best = node
        return best


def _unreachable_reason(scope: Scope, account: str) -> str:
    org = scope.org
    parent = org.accounts[account].parent_id
    where = org.path_of(parent)
    if scope.in_scope(parent):
        held = ", ".join(sorted(org.path_of(ou) for ou in scope.holds_excluded.get(parent, ())))
        return (f"not deployed: reachable only through {where}, which holds the excluded {held}; targeting {where} "
                f"would let auto-deployment deploy to every account that joins {held} (ways out: {WAYS_OUT})")
    return (f"not deployed: targeted by id, but {where} is not wholly targeted; targeting {where} would let "
            f"auto-deployment deploy to every account that joins it (ways out: {WAYS_OUT}, or target {where} in "
            "targets.ous)")


def _leak(scope: Scope, ou: str, desired: frozenset[str]) -> Leak:
    org = scope.org
    under = org.accounts_under(ou)
    others = sorted(a for a in under if a not in desired and a != org.management_account
                    and org.accounts[a].state is AccountState.ACTIVE)
    excluded = sorted(org.path_of(e) for e in scope.excluded if ou in scope.chain(e))
    return Leak(ou, org.path_of(ou), tuple(excluded), tuple(others))


def compute_cover(desired: Desired, org: OrgTree, accounts: Iterable[str], targeted: Iterable[str],
                  excluded_ous: Iterable[str]) -> Cover:
    """The OU cover for the desired ``accounts`` (ACTIVE, not excluded, not the management account).

    With auto-deployment off nothing can leak, so an account no clean OU holds is deployed through its parent OU.
    """
    scope = Scope(org, targeted, excluded_ous)
    wanted = frozenset(accounts)
    reach = desired.targets.auto_deployment_reach
    auto = desired.stack_set.auto_deployment
    anchors: dict[str, str] = {}
    unreachable: dict[str, str] = {}
    leak_ous: set[str] = set()
    for account in sorted(wanted):
        ou = scope.outermost_clean(account)
        if ou is not None:
            anchors[account] = ou
            continue
        parent = org.accounts[account].parent_id
        if not auto or reach is AutoDeploymentReach.ANY:
            anchors[account] = parent
            if auto:
                leak_ous.add(parent)
        else:
            unreachable[account] = _unreachable_reason(scope, account)
    ous = tuple(sorted(set(anchors.values())))
    inside: dict[str, tuple[str, ...]] = {}
    excluded_ids = sorted(a for a in desired.targets.exclude_accounts if a in org.accounts)
    for ou in ous:
        held = tuple(a for a in excluded_ids if ou in scope.chain(org.accounts[a].parent_id))
        if held:
            inside[ou] = held
    leaks = tuple(_leak(scope, ou, wanted) for ou in sorted(leak_ous))
    return Cover(ous, anchors, unreachable, leaks, inside)


# --- the live OU list against the cover --------------------------------------------------------------------------

ASSUME_NONE_DELETE = ("DeleteStackInstances naming an OU with AccountFilterType NONE removes that OU from the "
                      "StackSet's targets (AWS documents it for a top-level OU); a delete with an account filter is "
                      "assumed to leave the OU in place (not documented)")
ASSUME_DELETE_REACH = ("a delete naming an OU reaches every account under it and its child OUs, whichever OU their "
                       "instance records (documented), so desired instances there are deleted and created again "
                       "under their cover OU")
ASSUME_CREATE_KEEPS_OU = ("CreateStackInstances is assumed not to change the OrganizationalUnitId of an instance "
                          "that exists (not documented), so no call re-targets an instance in place")


def live_ou_list(stack_set_ous: Iterable[str], instance_ous: Iterable[str | None]) -> tuple[str, ...]:
    """The StackSet's live OU list: DescribeStackSet ``OrganizationalUnitIds`` (the list auto-deployment watches,
    the same ListStackSetAutoDeploymentTargets pages through), else the OUs its instances record."""
    listed = sorted(set(stack_set_ous))
    if listed:
        return tuple(listed)
    return tuple(sorted({ou for ou in instance_ous if ou}))


def widening(org: OrgTree, scope: Scope, live_ous: Iterable[str], cover: Cover) -> tuple[str, ...]:
    """Live OUs that must leave the list: not in the cover, still in the organization, and not wholly desired
    (auto-deployment there would reach accounts the file does not want). A live OU whose whole subtree is desired
    stays: it reaches nothing the cover does not, and removing it would only churn instances."""
    wanted = set(cover.ous)
    out = []
    for ou in live_ous:
        if ou in wanted or (ou != org.root_id and ou not in org.ous):
            continue
        if scope.clean(ou):
            continue
        out.append(ou)
    return tuple(sorted(out))


def scope_for(desired: Desired, org: OrgTree) -> Scope:
    targeted = [org.root_id] if desired.targets.organization else []
    targeted += [ou for ou in (org.resolve_ou(ref) for ref in desired.targets.ous) if ou]
    excluded = [ou for ou in (org.resolve_ou(ref) for ref in desired.targets.exclude_ous) if ou]
    return Scope(org, targeted, excluded)


@dataclass(frozen=True)
class Narrowing:
    """How the plan narrows a live OU list wider than the cover: the OUs a NONE delete drops, the desired instances
    that delete reaches (deleted, then created again under their cover OU), and every instance it reaches."""

    ous: tuple[str, ...] = ()
    moved: frozenset[InstanceKey] = frozenset()
    reached: frozenset[InstanceKey] = frozenset()


def _path(org: OrgTree, ou: str) -> str:
    if ou != org.root_id and ou not in org.ous:
        return f"{ou} (not in the organization)"
    return org.path_of(ou)


def targets_plan(desired: Desired, org: OrgTree, cover: Cover, live_ous: tuple[str, ...], narrowing: Narrowing,
                 created: Iterable[str], kept_suspended: Iterable[InstanceKey],
                 leaked: Iterable[InstanceKey] = ()) -> TargetsPlan:
    """The plan's targets section: every OU of the cover and of the live list, with its status and why."""
    counts: dict[str, int] = {}
    for ou in cover.anchors.values():
        counts[ou] = counts.get(ou, 0) + 1
    creating = {cover.anchors[a] for a in created if a in cover.anchors}
    live = set(live_ous)
    rows: list[OuTarget] = []
    notes: list[str] = []
    for ou in cover.ous:
        excluded = cover.excluded_inside.get(ou, ())
        if ou in live:
            rows.append(OuTarget(ou, _path(org, ou), OuTargetStatus.KEEP, counts.get(ou, 0), excluded))
        else:
            note = ("CreateStackInstances names it" if ou in creating else
                    "no instance to create names it yet: AWS adds an OU to the list when a create names it")
            rows.append(OuTarget(ou, _path(org, ou), OuTargetStatus.ADD if ou in creating else OuTargetStatus.KEEP,
                                 counts.get(ou, 0), excluded, note))
        for account in excluded:
            notes.append(f"{account} is excluded by id inside {_path(org, ou)}: operations leave it out (DIFFERENCE), "
                         "but auto-deployment would deploy to it if it left that OU and came back")
    moved_accounts = {k.account for k in narrowing.moved}
    for ou in live_ous:
        if ou in cover.ous:
            continue
        if ou in narrowing.ous:
            under = org.accounts_under(ou)
            moved = len({a for a in moved_accounts if a in under})
            rows.append(OuTarget(ou, _path(org, ou), OuTargetStatus.REMOVE, 0, (),
                                 "auto-deployment there would reach accounts the file does not want; "
                                 f"DeleteStackInstances (NONE) drops it; {moved} desired account(s) under it are "
                                 "deleted and created again under their cover OU"))
        else:
            rows.append(OuTarget(ou, _path(org, ou), OuTargetStatus.KEEP, 0, (),
                                 "not in the cover, but everything under it is desired: kept"))
    assumptions = (ASSUME_NONE_DELETE, ASSUME_DELETE_REACH, ASSUME_CREATE_KEEPS_OU) if narrowing.ous else ()
    return TargetsPlan(
        stack_set=desired.stack_set.name, auto_deployment=desired.stack_set.auto_deployment,
        reach=desired.targets.auto_deployment_reach.value, ous=tuple(sorted(rows, key=lambda r: r.path)),
        live_ous=live_ous, leaks=cover.leaks, kept_suspended=tuple(sorted(kept_suspended)), notes=tuple(notes),
        assumptions=assumptions, leaked=tuple(sorted(leaked)),
    )


def leak_of(org: OrgTree, cover: Cover, account: str) -> str | None:
    """The accepted-leak OU (its path) an account sits under, if any."""
    if account not in org.accounts or not cover.leaks:
        return None
    chain = set(org.ancestors(account))
    return next((leak.path for leak in cover.leaks if leak.ou_id in chain), None)


def narrowing_for(desired: Desired, live: Live, cover: Cover, targets: Mapping[InstanceKey, str],
                  instances: Iterable[LiveInstance]) -> Narrowing:
    """The live OUs to drop (wider than the cover, so auto-deployment would reach accounts the file does not want)
    and the instances a NONE delete naming them reaches. With auto-deployment off the OU list reaches nothing."""
    ss = live.stack_sets.get(desired.stack_set.name)
    if ss is None or not desired.stack_set.auto_deployment:
        return Narrowing()
    instances = list(instances)
    live_ous = live_ou_list(ss.organizational_unit_ids, (i.organizational_unit_id for i in instances))
    ous = widening(live.org, scope_for(desired, live.org), live_ous, cover)
    if not ous:
        return Narrowing()
    under: set[str] = set()
    for ou in ous:
        under |= live.org.accounts_under(ou)
    reached = frozenset(i.key for i in instances if i.key.account in under)
    moved = frozenset(k for k in reached if k in targets)
    return Narrowing(ous, moved, reached)


def left_connections(live: Live, changes: Iterable[Change], retain: Iterable[InstanceKey]) -> list[str]:
    """Removals whose stack is deleted leave their Clumio connection unlinked: say so, once."""
    changes, retain = list(changes), set(retain)
    re_created = {c.key for c in changes if c.action is Action.ADD}
    left = sorted(f"{c.key.account}_{c.key.region}" for c in changes
                  if c.action is Action.REMOVE and c.key not in retain and c.key not in re_created
                  and (c.key.account, c.key.region) in live.connections)
    if not left:
        return []
    shown = ", ".join(left[:5]) + (f" +{len(left) - 5}" if len(left) > 5 else "")
    return [f"{len(left)} removed stack instance(s) leave their Clumio connection unlinked ({shown}): clumio-org "
            "does not delete Clumio connections; drift notes them once, not as drift (delete them in Clumio when "
            "no longer needed)"]


# --- JSON (plan file and --format json; schemas/plan.schema.json "targets") ----------------------------------------

def targets_to_json(t: TargetsPlan | None) -> dict[str, Any] | None:
    if t is None:
        return None
    return {
        "stack_set": t.stack_set, "auto_deployment": t.auto_deployment, "auto_deployment_reach": t.reach,
        "desired_ous": list(t.desired_ous), "live_ous": list(t.live_ous),
        "ous": [{"ou_id": o.ou_id, "path": o.path, "status": o.status.value, "accounts": o.accounts,
                 "excluded": list(o.excluded), "note": o.note} for o in t.ous],
        "leaks": [{"ou_id": x.ou_id, "path": x.path, "excluded_ous": list(x.excluded_ous),
                   "accounts": list(x.accounts)} for x in t.leaks],
        "kept_suspended": [[k.account, k.region] for k in t.kept_suspended],
        "notes": list(t.notes), "assumptions": list(t.assumptions),
        "leaked": [[k.account, k.region] for k in t.leaked],
    }


def targets_from_json(data: dict[str, Any] | None) -> TargetsPlan | None:
    if data is None:
        return None
    name = data["stack_set"]
    return TargetsPlan(
        stack_set=name, auto_deployment=bool(data["auto_deployment"]), reach=data["auto_deployment_reach"],
        ous=tuple(OuTarget(o["ou_id"], o["path"], OuTargetStatus(o["status"]), int(o["accounts"]),
                           tuple(o["excluded"]), o["note"]) for o in data["ous"]),
        live_ous=tuple(data["live_ous"]),
        leaks=tuple(Leak(x["ou_id"], x["path"], tuple(x["excluded_ous"]), tuple(x["accounts"]))
                    for x in data["leaks"]),
        kept_suspended=tuple(InstanceKey(name, a, r) for a, r in data["kept_suspended"]),
        notes=tuple(data["notes"]), assumptions=tuple(data["assumptions"]),
        leaked=tuple(InstanceKey(name, a, r) for a, r in data.get("leaked", ())),
    )
