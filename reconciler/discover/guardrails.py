"""Read the guardrails through the GuardrailReader port: the SCPs attached to every targeted account and to each OU
and root above it, each policy in force described once, and the Control Tower landing zone.

Two ways to learn the attachments (docs/reference/guardrails.md §1), chosen per run by what costs fewer calls:

- **By policy** (started with the org walk: it needs no tree): ListPolicies, then ListTargetsForPolicy for every
  SCP but FullAWSAccess, all in parallel. AWS attaches FullAWSAccess everywhere and a target always holds at least
  one SCP, so a needed target no other SCP names holds FullAWSAccess alone; the few that another SCP names are
  listed with ListPoliciesForTarget on the lanes (or, when FullAWSAccess's own target list — one chain, as long as
  the org — takes no more rounds than those listings, that list is paged: fewer calls and no longer a wait). The
  root is listed too: an empty root means SCPs are not in force.
- **Per target** (the fallback, and the cheaper way for a few targets): one ListPoliciesForTarget per target.

By-policy reads stop, and the per-target reads take over, as soon as the listings they made plus one per SCP not yet
listed reach the per-target count; a caller not allowed ListPolicies/ListTargetsForPolicy falls back the same way.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from reconciler.core.errors import ProviderError
from reconciler.core.guardrails import Guardrails, LandingZone, ScpPolicy
from reconciler.core.live import OrgTree
from reconciler.core.ports import GuardrailReader

log = logging.getLogger(__name__)

# Organizations throttles per account (TooManyRequestsException); botocore's adaptive retries absorb bursts, and a
# pool this small keeps the burst rate modest. Every ListTargetsForPolicy, ListPoliciesForTarget and DescribePolicy
# runs on these lanes; ListPolicies and Control Tower's two calls run on one lane of their own each.
WORKERS = 8
FULL_ACCESS = "p-FullAWSAccess"  # the id AWS gives its managed SCP in every organization
PAGE_SIZE = 20  # ListTargetsForPolicy / ListPoliciesForTarget MaxResults (botocore's model: 1–20)


def guardrail_targets(tree: OrgTree, accounts: Iterable[str]) -> list[str]:
    """The accounts, then every OU and root on their paths, each once (the management account is exempt from
    SCPs and left out)."""
    chosen = sorted(a for a in set(accounts) if a in tree.accounts and a != tree.management_account)
    nodes: set[str] = set()
    for account in chosen:
        nodes.update(tree.ancestors(account))
    return [*chosen, *sorted(nodes)]


@dataclass(frozen=True)
class _ByPolicy:
    """What the by-policy reads found: each listed SCP's targets, whether FullAWSAccess exists (its targets are
    not listed but inferred), and the policies described on the way."""

    targets: Mapping[str, tuple[str, ...]]
    full_access: bool
    described: Mapping[str, ScpPolicy]


class _Abandoned(Exception):
    """The by-policy reads would cost more than the per-target ones: stop them."""


class GuardrailRead:
    """The guardrail reads of one run. Made before the org walk ends, it starts the reads that need no tree (the
    SCPs by policy, and Control Tower); :meth:`finish` ends them once the tree and the targeted accounts are known.
    ``targets`` is the per-target listing count when the caller already knows it (apply's recheck)."""

    def __init__(self, reader: GuardrailReader, targets: int | None = None) -> None:
        self.reader = reader
        self._lock = threading.Lock()
        self._limit = targets
        self._listed = 0  # by-policy listings so far (ListPolicies and ListTargetsForPolicy pages)
        self._unstarted = 0  # SCPs whose listing has not sent its first page yet
        self._stop = False
        self._lanes = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="guardrails")
        self._side = ThreadPoolExecutor(max_workers=2, thread_name_prefix="guardrails-start")
        self._zone: Future[tuple[LandingZone | None, str | None]] = self._side.submit(_landing_zone, reader)
        self._by_policy: Future[_ByPolicy] = self._side.submit(self._read_by_policy)

    # -- the budget: by-policy only while it can still cost fewer listings than one per target ------------------
    def _over(self) -> bool:
        with self._lock:
            if not self._stop and self._limit is not None:
                self._stop = self._listed + self._unstarted + 1 >= self._limit  # +1: the root's own listing
            return self._stop

    def _page_sent(self, first: bool) -> None:
        with self._lock:
            self._listed += 1
            self._unstarted -= 1 if first else 0

    # -- by policy ---------------------------------------------------------------------------------------------
    def _read_by_policy(self) -> _ByPolicy:
        if self._limit is not None and self._limit <= 2:
            raise _Abandoned  # by policy costs at least ListPolicies and the root's listing
        try:
            ids = self.reader.scp_ids()
            listed = [p for p in ids if p != FULL_ACCESS]
            with self._lock:
                self._listed += max(1, math.ceil(len(ids) / PAGE_SIZE))
                self._unstarted = len(listed)
            if self._over():
                raise _Abandoned
            chains = {p: self._lanes.submit(self._policy_targets, p) for p in listed}
            targets = {p: chain.result() for p, chain in chains.items()}
        except BaseException:
            with self._lock:
                self._stop = True  # the other listings end at their next page
            raise
        # Described at once, while the org walk may still run: FullAWSAccess, and every SCP attached somewhere.
        described = [p for p in ids if p == FULL_ACCESS or targets.get(p)]
        policies = {p.id: p for p in self._lanes.map(self.reader.describe_policy, described)}
        return _ByPolicy(targets, FULL_ACCESS in ids, policies)

    def _policy_targets(self, policy_id: str, budgeted: bool = True) -> tuple[str, ...]:
        found: list[str] = []
        token: str | None = None
        first = True
        while True:
            if budgeted and self._over():
                raise _Abandoned
            page, token = self.reader.policy_targets_page(policy_id, token)
            self._page_sent(first)
            first = False
            found.extend(page)
            if token is None:
                return tuple(found)

    # -- the end, once the tree is known ------------------------------------------------------------------------
    def finish(self, tree: OrgTree, accounts: Iterable[str]) -> Guardrails:
        """Everything the guardrail check needs for ``accounts``. A caller that may not read policies (or Control
        Tower) gets a Guardrails saying so; the plan goes on without that check."""
        targets = guardrail_targets(tree, accounts)
        with self._lock:
            self._limit = len(targets)
        attached: dict[str, tuple[str, ...]] = {}
        policies: dict[str, ScpPolicy] = {}
        note = None
        try:
            if targets:
                attached, policies = self._attachments(tree, targets)
        except ProviderError as error:
            attached, policies = {}, {}
            note = f"service control policies not checked: {error.message}"
        zone, zone_note = self._zone.result()
        self.close()
        log.debug("guardrails: %d targets, %d distinct policies, landing zone %s", len(targets), len(policies),
                  zone.version if zone else None)
        return Guardrails(attached, policies, note, zone, zone_note)

    def _attachments(self, tree: OrgTree, targets: list[str]
                     ) -> tuple[dict[str, tuple[str, ...]], dict[str, ScpPolicy]]:
        try:
            found = self._by_policy.result()
        except _Abandoned:
            log.debug("guardrails: per target, cheaper for %d targets", len(targets))
            return _per_target(self.reader, tree.root_id, targets, self._lanes)
        except ProviderError as error:
            log.debug("guardrails: per target, by policy failed: %s", error.message)
            return _per_target(self.reader, tree.root_id, targets, self._lanes)
        log.debug("guardrails: by policy (%d SCPs listed, %d listings)", len(found.targets), self._listed)
        return self._from_policies(found, tree, targets)

    def _from_policies(self, found: _ByPolicy, tree: OrgTree, targets: list[str]
                       ) -> tuple[dict[str, tuple[str, ...]], dict[str, ScpPolicy]]:
        needed = set(targets)
        others: dict[str, list[str]] = {t: [] for t in targets}
        for policy, on in found.targets.items():
            for target in on:
                if target in needed:
                    others[target].append(policy)
        root = tree.root_id
        on_root = self._lanes.submit(self.reader.policies_for_target, root)
        # Targets another SCP names may or may not keep FullAWSAccess: ask them on the lanes, or page FullAWSAccess's
        # own target list (as long as the org, one chain) when that chain is no longer than those listings take.
        unsure = [t for t in targets if t != root and others[t]] if found.full_access else []
        org_pages = math.ceil((len(tree.accounts) + len(tree.ous) + 1) / PAGE_SIZE)
        full: Future[tuple[str, ...]] | None = None
        asked: dict[str, Future[tuple[str, ...]]] = {}
        if unsure and org_pages <= math.ceil(len(unsure) / WORKERS):
            full = self._lanes.submit(self._policy_targets, FULL_ACCESS, False)
        else:
            asked = {t: self._lanes.submit(self.reader.policies_for_target, t) for t in unsure}
        root_ids = on_root.result()
        if not root_ids:  # SCPs are not in force (§1)
            return {root: ()}, {}
        holds_full = set(full.result()) if full is not None else None
        attached: dict[str, tuple[str, ...]] = {root: root_ids}
        for target in targets:
            if target == root:
                continue
            if target in asked:
                attached[target] = asked[target].result()
            elif holds_full is not None:
                attached[target] = tuple(sorted([*others[target], *([FULL_ACCESS] if target in holds_full else [])]))
            else:
                held = others[target] or ([FULL_ACCESS] if found.full_access else [])
                attached[target] = tuple(sorted(held))
        return attached, _described(self.reader, attached, found.described, self._lanes)

    def close(self) -> None:
        """Stop any by-policy read still running (the plan did not need it) and release the lanes."""
        with self._lock:
            self._stop = True
        self._side.shutdown(wait=True)
        self._lanes.shutdown(wait=True)


def _described(reader: GuardrailReader, attached: Mapping[str, tuple[str, ...]], known: Mapping[str, ScpPolicy],
               pool: ThreadPoolExecutor) -> dict[str, ScpPolicy]:
    """Each policy in force on the targets once: from what was described already, else one DescribePolicy."""
    distinct = sorted({p for ids in attached.values() for p in ids})
    missing = [p for p in distinct if p not in known]
    fresh = {p.id: p for p in pool.map(reader.describe_policy, missing)}
    return {p: known.get(p) or fresh[p] for p in distinct}


def _per_target(reader: GuardrailReader, root: str, targets: list[str],
                pool: ThreadPoolExecutor) -> tuple[dict[str, tuple[str, ...]], dict[str, ScpPolicy]]:
    # The root first: with the SCP policy type enabled it always holds one (§1), so none there means SCPs are not in
    # force and the other listings are not needed.
    on_root = reader.policies_for_target(root)
    if not on_root:
        return {root: ()}, {}
    rest = [t for t in targets if t != root]
    attached = {root: on_root, **dict(zip(rest, pool.map(reader.policies_for_target, rest), strict=True))}
    return attached, _described(reader, attached, {}, pool)


def _landing_zone(reader: GuardrailReader) -> tuple[LandingZone | None, str | None]:
    try:
        return reader.landing_zone(), None
    except ProviderError as error:
        return None, f"Control Tower not checked: {error.message}"


def start_guardrail_read(reader: GuardrailReader | None) -> GuardrailRead | None:
    """Start the reads that need no org tree (discovery calls it before the walk ends)."""
    return GuardrailRead(reader) if reader is not None else None


def read_guardrails(reader: GuardrailReader | None, tree: OrgTree, accounts: Iterable[str]) -> Guardrails:
    """Everything the guardrail check needs for ``accounts``, the tree already known (apply's recheck)."""
    if reader is None:
        return Guardrails(scp_note="guardrails not checked: no policy reader", control_tower_note=None)
    accounts = list(accounts)
    read = GuardrailRead(reader, targets=len(guardrail_targets(tree, accounts)))
    return read.finish(tree, accounts)
