"""Expand the desired targets over the Organizations tree into stack instances, each assigned to its rollout wave."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from reconciler.core.desired import Desired, WaveSpec
from reconciler.core.errors import ConfigError
from reconciler.core.keys import InstanceKey
from reconciler.core.live import AccountState, OrgTree
from reconciler.core.plan import Skip
from reconciler.plan.targets import Cover, compute_cover

DEFAULT_WAVE = "all"
IMPLICIT_REST_WAVE = "rest"

_STATE_REASONS = {
    AccountState.SUSPENDED: "account is SUSPENDED: StackSets would only record SKIPPED_SUSPENDED_ACCOUNT",
    AccountState.CLOSED: "account is CLOSED",
    AccountState.PENDING_CLOSURE: "account is PENDING_CLOSURE",
    AccountState.PENDING_ACTIVATION: "account is PENDING_ACTIVATION (not ready yet)",
}


@dataclass(frozen=True)
class Expansion:
    """What the desired targets mean in this organization, right now.

    ``targets`` maps every stack instance of the service-managed StackSet to its wave; ``accounts`` maps every
    targeted account to its wave. ``anchors`` names, per targeted account, the OU (or root) that operations put in
    ``DeploymentTargets.OrganizationalUnitIds`` for it: its OU in the StackSet's cover (``cover``), so the StackSet's
    own OU list, which auto-deployment watches, never reaches an account the file does not want.
    ``management_keys`` are the self-managed StackSet's instances when ``management_account.onboard`` is set.
    ``reached`` is every account the targets name, skipped ones included (the live fingerprint covers them).
    """

    targets: dict[InstanceKey, str]
    accounts: dict[str, str]
    skipped: tuple[Skip, ...]
    management_keys: dict[InstanceKey, str]
    waves: tuple[WaveSpec, ...]
    anchors: dict[str, str]
    reached: frozenset[str]
    warnings: tuple[str, ...] = ()
    cover: Cover = field(default_factory=lambda: Cover((), {}))

    def wave_index(self, name: str | None) -> int:
        for i, spec in enumerate(self.waves):
            if spec.name == name:
                return i
        return len(self.waves)


def _resolve_ou(org: OrgTree, ref: str, desired: Desired, key: str) -> str:
    ou_id = org.resolve_ou(ref)
    if ou_id is None:
        raise ConfigError(
            f"{desired.where(key)}: OU {ref!r} is not in organization {org.org_id}",
            hint="use an OU id (ou-…, r-…) or a path such as /Workloads/Prod; `aws organizations "
            "list-organizational-units-for-parent` lists them",
        )
    return ou_id


@dataclass(frozen=True)
class _Reach:
    """What the targets name, resolved against the tree: the accounts, the OUs targeted and excluded."""

    accounts: frozenset[str]
    targeted_ous: tuple[str, ...]
    excluded_ous: tuple[str, ...]
    excluded: frozenset[str]


def _reached_accounts(desired: Desired, org: OrgTree) -> _Reach:
    """Every account the targets name, the OUs they name, and the accounts the exclusions take out."""
    t = desired.targets
    target_ous: list[str] = [org.root_id] if t.organization else []
    target_ous += [_resolve_ou(org, ref, desired, f"targets.ous[{i}]") for i, ref in enumerate(t.ous)]
    reached: set[str] = set()
    for ou_id in target_ous:
        reached |= org.accounts_under(ou_id)
    for index, account in enumerate(t.accounts):
        if account not in org.accounts:
            raise ConfigError(
                f"{desired.where(f'targets.accounts[{index}]')}: account {account} is not in organization "
                f"{org.org_id}",
                hint="remove it, or invite the account into the organization first",
            )
        reached.add(account)
    excluded: set[str] = set(t.exclude_accounts)
    excluded_ous = tuple(_resolve_ou(org, ref, desired, f"targets.exclude.ous[{i}]")
                         for i, ref in enumerate(t.exclude_ous))
    for ou_id in excluded_ous:
        excluded |= org.accounts_under(ou_id)
    return _Reach(frozenset(reached), tuple(target_ous), excluded_ous, frozenset(excluded))


def _skip_reason(desired: Desired, org: OrgTree, account: str, excluded: set[str]) -> str | None:
    if account == org.management_account:
        reason = "management account: service-managed StackSets never deploy to it"
        if desired.management_account.onboard:
            reason += f" (onboarded through the self-managed StackSet {desired.management_account.stack_set_name})"
        return reason
    state = org.accounts[account].state
    if state is not AccountState.ACTIVE:
        return _STATE_REASONS.get(state, f"account is {state.value}")
    if account in excluded:
        if account in desired.targets.exclude_accounts:
            return "excluded by targets.exclude.accounts"
        return "excluded: in an OU listed in targets.exclude.ous"
    return None


def effective_waves(desired: Desired) -> tuple[WaveSpec, ...]:
    """The configured waves, or one wave ``all`` taking every account when none are configured."""
    return desired.rollout.waves or (WaveSpec(name=DEFAULT_WAVE, rest=True),)


def _shrunk(spec: WaveSpec, org: OrgTree, target_set: set[str], skips: Mapping[str, str]) -> list[str]:
    """Warnings for a wave that loses accounts it names (directly or through an OU) to a skip reason."""
    out: list[str] = []
    for account in spec.accounts:
        if account in org.accounts and account not in target_set:
            why = skips.get(account, "not targeted by targets")
            out.append(f"wave {spec.name!r} names account {account}, which gets no stack instance: {why}")
    for ref in spec.ous:
        ou_id = org.resolve_ou(ref)
        if ou_id is None:
            continue
        lost = sorted(a for a in org.accounts_under(ou_id) if a not in target_set)
        if not lost:
            continue
        reasons = sorted({skips.get(a, "not targeted by targets").split(":")[0] for a in lost})
        kept = len(org.accounts_under(ou_id)) - len(lost)
        out.append(f"wave {spec.name!r} names {ref}: {len(lost)} of its accounts get no stack instance "
                   f"({'; '.join(reasons)}); {kept} remain")
    return out


def assign_waves(desired: Desired, org: OrgTree, accounts: Iterable[str], waves: tuple[WaveSpec, ...],
                 skips: Mapping[str, str] | None = None
                 ) -> tuple[dict[str, str], tuple[WaveSpec, ...], list[str]]:
    """Account → wave name. Waves claim in order: first every wave's account ids and OUs (an account belongs to the
    first wave that names it), then, still in order, ``sample: N`` (the first N unassigned accounts by id) and
    ``rest``. An account id listed in two waves is an error; accounts no wave takes go to an implicit last wave."""
    targeted = sorted(set(accounts))
    target_set = set(targeted)
    assigned: dict[str, str] = {}
    warnings: list[str] = []
    listed_in: dict[str, str] = {}
    for spec in waves:
        for account in spec.accounts:
            if account in listed_in and listed_in[account] != spec.name:
                raise ConfigError(
                    f"rollout.waves: account {account} is listed in waves {listed_in[account]!r} and {spec.name!r}",
                    hint="list each account in one wave only",
                )
            listed_in[account] = spec.name
    for spec in waves:
        warnings += _shrunk(spec, org, target_set, skips or {})
    for spec in waves:
        for account in spec.accounts:
            if account in target_set:
                assigned.setdefault(account, spec.name)
            elif account not in org.accounts:
                warnings.append(f"wave {spec.name!r} lists account {account}, which is not in the organization")
        for position, ref in enumerate(spec.ous):
            index = desired.rollout.waves.index(spec) if spec in desired.rollout.waves else None
            key = f"rollout.waves[{index}].ous[{position}]" if index is not None else f"wave {spec.name} ous"
            ou_id = _resolve_ou(org, ref, desired, key)
            for account in sorted(org.accounts_under(ou_id) & target_set):
                assigned.setdefault(account, spec.name)
    for spec in waves:
        if spec.sample is not None:
            free = [a for a in targeted if a not in assigned][: spec.sample]
            assigned.update(dict.fromkeys(free, spec.name))
        if spec.rest:
            assigned.update({a: spec.name for a in targeted if a not in assigned})
    left = [a for a in targeted if a not in assigned]
    if left:
        last = waves[-1]
        waves = (*waves, replace(last, name=IMPLICIT_REST_WAVE, accounts=(), ous=(), sample=None, rest=True))
        assigned.update(dict.fromkeys(left, IMPLICIT_REST_WAVE))
        warnings.append(f"{len(left)} targeted account(s) are in no wave; they go to an implicit last wave "
                        f"{IMPLICIT_REST_WAVE!r} (add a wave with `rest: true` to say so)")
    return assigned, waves, warnings


def expand(desired: Desired, org: OrgTree) -> Expansion:
    """Desired × OrgTree → the stack instances the plan wants, in waves, with every skipped account and why.

    The StackSet's OU cover (plan/targets.py) decides which OU each account is deployed through; an account no
    exclusion-safe OU reaches is skipped with the reason and the ways out."""
    reach = _reached_accounts(desired, org)
    skipped: list[Skip] = []
    eligible: list[str] = []
    for account in sorted(reach.accounts):
        reason = _skip_reason(desired, org, account, set(reach.excluded))
        if reason is None:
            eligible.append(account)
        else:
            skipped.append(Skip(account=account, reason=reason, stack_set=desired.stack_set.name))
    cover = compute_cover(desired, org, eligible, reach.targeted_ous, reach.excluded_ous)
    skipped += [Skip(account=a, reason=r, stack_set=desired.stack_set.name) for a, r in cover.unreachable.items()]
    skipped.sort(key=lambda s: s.account)
    kept = dict(cover.anchors)
    waves = effective_waves(desired)
    account_waves, waves, warnings = assign_waves(desired, org, kept, waves, {s.account: s.reason for s in skipped})
    regions = sorted(desired.regions)
    name = desired.stack_set.name
    targets = {InstanceKey(name, account, region): account_waves[account]
               for account in sorted(kept) for region in regions}
    management_keys: dict[InstanceKey, str] = {}
    if desired.management_account.onboard:
        mgmt = org.management_account
        wave_name = next((w.name for w in waves if mgmt in w.accounts), waves[-1].name)
        mgmt_name = desired.management_account.stack_set_name
        management_keys = {InstanceKey(mgmt_name, mgmt, region): wave_name for region in regions}
    return Expansion(
        targets=targets,
        accounts={a: account_waves[a] for a in sorted(kept)},
        skipped=tuple(skipped),
        management_keys=management_keys,
        waves=waves,
        anchors=kept,
        reached=reach.accounts,
        warnings=tuple(warnings),
        cover=cover,
    )
