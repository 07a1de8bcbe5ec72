"""Read the guardrails through the GuardrailReader port: the SCPs attached to every targeted account and to each OU
and root above it, each distinct policy described once, and the Control Tower landing zone.

Cost (docs/reference/guardrails.md §1): one ListPoliciesForTarget per target (more only past 20 policies on one
target) plus one DescribePolicy per distinct policy, plus ListLandingZones (and GetLandingZone when there is one).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

from reconciler.core.errors import ProviderError
from reconciler.core.guardrails import Guardrails, LandingZone, ScpPolicy
from reconciler.core.live import OrgTree
from reconciler.core.ports import GuardrailReader

log = logging.getLogger(__name__)

# Organizations throttles per account (TooManyRequestsException); botocore's adaptive retries absorb bursts, and a
# pool this small keeps the burst rate modest.
WORKERS = 8


def guardrail_targets(tree: OrgTree, accounts: Iterable[str]) -> list[str]:
    """The accounts, then every OU and root on their paths, each once (the management account is exempt from
    SCPs and left out)."""
    chosen = sorted(a for a in set(accounts) if a in tree.accounts and a != tree.management_account)
    nodes: set[str] = set()
    for account in chosen:
        nodes.update(tree.ancestors(account))
    return [*chosen, *sorted(nodes)]


def _scps(reader: GuardrailReader, root: str, targets: list[str],
          pool: ThreadPoolExecutor) -> tuple[dict[str, tuple[str, ...]], dict[str, ScpPolicy]]:
    # The root first: with the SCP policy type enabled it always holds one (§1), so none there means SCPs are not in
    # force and the other listings are not needed.
    on_root = reader.policies_for_target(root)
    if not on_root:
        return {root: ()}, {}
    rest = [t for t in targets if t != root]
    attached = {root: on_root, **dict(zip(rest, pool.map(reader.policies_for_target, rest), strict=True))}
    distinct = sorted({p for ids in attached.values() for p in ids})
    policies = {p.id: p for p in pool.map(reader.describe_policy, distinct)}
    return attached, policies


def _landing_zone(reader: GuardrailReader) -> tuple[LandingZone | None, str | None]:
    try:
        return reader.landing_zone(), None
    except ProviderError as error:
        return None, f"Control Tower not checked: {error.message}"


def read_guardrails(reader: GuardrailReader | None, tree: OrgTree, accounts: Iterable[str]) -> Guardrails:
    """Everything the guardrail check needs for ``accounts``. A caller that may not read policies (or Control Tower)
    gets a Guardrails saying so; the plan goes on without that check."""
    if reader is None:
        return Guardrails(scp_note="guardrails not checked: no policy reader", control_tower_note=None)
    targets = guardrail_targets(tree, accounts)
    with ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="guardrails") as pool:
        zone_f = pool.submit(_landing_zone, reader)
        try:
            attached, policies = _scps(reader, tree.root_id, targets, pool) if targets else ({}, {})
            note = None
        except ProviderError as error:
            attached, policies = {}, {}
            note = f"service control policies not checked: {error.message}"
        zone, zone_note = zone_f.result()
    log.debug("guardrails: %d targets, %d distinct policies, landing zone %s", len(targets), len(policies),
              zone.version if zone else None)
    return Guardrails(attached, policies, note, zone, zone_note)
