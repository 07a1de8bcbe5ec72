"""Discovery: read the organization, the StackSets and Clumio through the ports into one Live snapshot (read only).

Independent reads run at the same time, and each read costs the fewest calls its API allows: the Organizations tree
once, one DescribeStackSet per StackSet, ListStackInstances at 100 a page (per region in parallel when that costs no
extra pages; never per instance), one page of recent operations, and Clumio connections in `$in` batches.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from types import MappingProxyType
from typing import Any, Protocol, TypeVar

from reconciler.core.desired import CallAs, Desired
from reconciler.core.errors import ReconcilerError
from reconciler.core.guardrails import Guardrails
from reconciler.core.keys import InstanceKey
from reconciler.core.live import (
    ClumioTemplateInfo,
    Connection,
    Live,
    LiveInstance,
    LiveStackSet,
    OperationStatus,
    OperationView,
    OrgTree,
    PermissionModel,
)
from reconciler.core.ports import Clumio, OrgReader, StackSetReads
from reconciler.discover.existing import discover_other_stack_sets
from reconciler.discover.guardrails import GuardrailRead, start_guardrail_read

log = logging.getLogger(__name__)

T = TypeVar("T")

WORKERS = 8
INSTANCE_PAGE_SIZE = 100  # ListStackInstances MaxResults
ACTIVE_OPERATION = (OperationStatus.RUNNING, OperationStatus.STOPPING, OperationStatus.QUEUED)


class PortSet(Protocol):
    """What discovery needs: the ports of ``reconciler.providers.factory.Ports`` (or test fakes)."""

    @property
    def org(self) -> OrgReader: ...
    @property
    def stacksets(self) -> StackSetReads: ...
    @property
    def clumio(self) -> Clumio: ...
    @property
    def management_stacksets(self) -> StackSetReads: ...


def stack_set_ports(desired: Desired, ports: PortSet) -> dict[str, StackSetReads]:
    """The StackSets the desired state manages, each with the port that reaches it: the service-managed one, and the
    management account's self-managed one when onboarding it is asked for."""
    found: dict[str, StackSetReads] = {desired.stack_set.name: ports.stacksets}
    if desired.management_account.onboard:
        found[desired.management_account.stack_set_name] = ports.management_stacksets
    return found


def _running(operations: Iterable[OperationView]) -> OperationView | None:
    """The operation holding the StackSet now: RUNNING/STOPPING first, else the oldest QUEUED one."""
    active = [op for op in operations if op.status in ACTIVE_OPERATION]
    if not active:
        return None
    running = [op for op in active if op.status is not OperationStatus.QUEUED]
    pool = running or active
    return min(pool, key=lambda op: (op.created.timestamp() if op.created else float("inf"), op.operation_id))


def split_by_region(regions: Sequence[str], accounts: int, page_size: int = INSTANCE_PAGE_SIZE) -> bool:
    """Whether listing instances region by region (in parallel) costs no more than 5% extra calls over one listing.

    Per region the last page is partial, so a split costs up to one page per region more; with ``accounts`` the
    instances each region will list (:func:`listed_per_region`), split only when that stays within 5% (always true
    at thousands of accounts, where it turns hundreds of sequential pages into a few parallel chains).
    """
    if len(regions) < 2 or accounts <= 0:
        return False
    split = len(regions) * math.ceil(accounts / page_size)
    single = math.ceil(len(regions) * accounts / page_size)
    return split <= 1.05 * single


def listed_per_region(stack_set: LiveStackSet, tree: OrgTree) -> int:
    """How many instances each region of ``stack_set`` will list: the accounts its targets hold. That is every
    account under its OUs (the whole org when it names none), suspended ones included (they keep an instance,
    SKIPPED_SUSPENDED_ACCOUNT, §A7), less the management account, where a service-managed StackSet never deploys."""
    roots = stack_set.organizational_unit_ids or (tree.root_id,)
    held: set[str] = set()
    for root in roots:
        held |= tree.accounts_under(root)
    held.discard(tree.management_account)
    return len(held)


def known_per_region(stack_set: LiveStackSet) -> int | None:
    """What AWS itself says each region holds, without the org tree: one for the self-managed StackSet (the
    management account alone), AWS's own count from the last drift detection (TotalStackInstancesCount ÷ regions)
    when there was one, else None (the tree must tell)."""
    if stack_set.permission_model is PermissionModel.SELF_MANAGED:
        return 1
    total = stack_set.drift.total_count if stack_set.drift is not None else 0
    if total > 0 and stack_set.regions:
        return math.ceil(total / len(stack_set.regions))
    return None


class _OneStackSetRead:
    """Reads of one StackSet: describe first (it tells which regions hold instances), then instances and operations
    side by side. The instance listing starts as soon as its split is known: at once when DescribeStackSet tells
    (one region, the self-managed StackSet, a drift detection's count), else when the org walk ends."""

    def __init__(self, name: str, port: StackSetReads, pool: ThreadPoolExecutor, tree: Future[OrgTree]) -> None:
        self.name = name
        self.port = port
        self.pool = pool
        self.tree = tree

    def run(self) -> tuple[LiveStackSet | None, list[LiveInstance], OperationView | None]:
        live = self.port.describe_stack_set(self.name)
        if live is None:
            return None, [], None
        operations = self.pool.submit(self.port.recent_operations, self.name)
        # DescribeStackSet.Regions lists every region the StackSet has instances in. Without regions (an empty
        # StackSet) or with one, a single listing is as cheap and needs nothing else.
        regions = list(live.regions)
        split = False
        if len(regions) >= 2:
            per_region = known_per_region(live)
            if per_region is None:
                per_region = listed_per_region(live, self.tree.result())
            split = split_by_region(regions, per_region)
        instances = self.port.list_instances(self.name, regions if split else None)
        return live, instances, _running(operations.result())


def _guardrails(desired: Desired, read: GuardrailRead | None, tree: OrgTree) -> Guardrails:
    """The guardrails of the accounts the config targets: started with the org walk (the SCPs by policy need no
    tree), finished beside the StackSets once the tree is known."""
    from reconciler.plan.expand import expand

    if read is None:
        return Guardrails(scp_note="guardrails not checked: no policy reader", control_tower_note=None)
    try:
        accounts = list(expand(desired, tree).accounts)
    except ReconcilerError:
        read.close()
        return Guardrails(scp_note="guardrails not checked: the targets do not resolve (see preflight)")
    return read.finish(tree, accounts)


CONNECTION_LANES = 8  # Clumio listings in flight at once (as many as the Clumio client's own LIST_WORKERS)
ACCOUNTS_PER_LISTING = 100  # account ids per `$in` filter: the client's own batch, so no page more than before


class _ConnectionReads:
    """The Clumio connections of the organization's accounts, listed while the org walk still runs: each time the
    walk has found another 100 accounts their listing starts, on lanes of its own; :meth:`finish` lists the rest
    once the tree is known and returns every connection. The same filters and pages as one listing after the walk
    (100 accounts per filter), started up to a whole walk earlier."""

    def __init__(self, clumio: Clumio) -> None:
        self.clumio = clumio
        self._lock = threading.Lock()
        self._waiting: list[str] = []
        self._sent: set[str] = set()
        self._reads: list[Future[list[Connection]]] = []
        self._lanes = ThreadPoolExecutor(max_workers=CONNECTION_LANES, thread_name_prefix="discover-clumio")

    def found(self, accounts: Sequence[str]) -> None:
        with self._lock:
            self._waiting.extend(a for a in accounts if a not in self._sent)
            self._sent.update(accounts)
            while len(self._waiting) >= ACCOUNTS_PER_LISTING:
                batch, self._waiting = self._waiting[:ACCOUNTS_PER_LISTING], self._waiting[ACCOUNTS_PER_LISTING:]
                self._reads.append(self._lanes.submit(self.clumio.list_connections, sorted(batch)))

    def finish(self, tree: OrgTree) -> list[Connection]:
        self.found(list(tree.accounts))  # any the walk did not report (a tree read earlier reports them at once)
        with self._lock:
            rest, self._waiting = self._waiting, []
            if rest:
                self._reads.append(self._lanes.submit(self.clumio.list_connections, sorted(rest)))
            reads = list(self._reads)
        try:
            return [c for read in reads for c in read.result()]
        finally:
            self.close()

    def close(self) -> None:
        self._lanes.shutdown(wait=True, cancel_futures=True)


def discover(desired: Desired, ports: PortSet, *, connections: bool = True,
             stack_set_names: Iterable[str] | None = None, guardrails: bool = False) -> Live:
    """Everything the plan, apply and drift need to know about the world right now.

    ``stack_set_names`` narrows which managed StackSets are read (default: all the config manages);
    ``connections=False`` skips the Clumio connections listing (the latest template is still read);
    ``guardrails=True`` also reads the SCPs and the Control Tower landing zone of the targeted accounts.
    """
    targets = stack_set_ports(desired, ports)
    if stack_set_names is not None:
        wanted = set(stack_set_names)
        targets = {name: port for name, port in targets.items() if name in wanted}
    # The guardrail reads run on their own lanes (discover.guardrails.WORKERS), started before the org walk ends.
    guard_read = start_guardrail_read(getattr(ports, "guardrails", None)) if guardrails else None
    try:
        return _discover(desired, ports, targets, connections, stack_set_names, guardrails, guard_read)
    finally:
        if guard_read is not None:
            guard_read.close()


def _discover(desired: Desired, ports: PortSet, targets: dict[str, StackSetReads], connections: bool,
              stack_set_names: Iterable[str] | None, guardrails: bool, guard_read: GuardrailRead | None) -> Live:
    # Each StackSet read uses two workers (describe→instances, and its operations) on top of the org-level reads,
    # so the pool keeps every independent read in flight at once and no task ever waits for a free worker.
    clumio_reads = _ConnectionReads(ports.clumio) if connections else None
    with ThreadPoolExecutor(max_workers=WORKERS + 1 + 2 * len(targets), thread_name_prefix="discover") as pool:
        tree_f = pool.submit(ports.org.read_tree, clumio_reads.found if clumio_reads is not None else None)
        regions_f = pool.submit(ports.org.enabled_regions)
        template_f = pool.submit(ports.clumio.latest_template)
        sets_f: dict[str, Future[Any]] = {
            name: pool.submit(_OneStackSetRead(name, port, pool, tree_f).run) for name, port in targets.items()}
        others_f = pool.submit(discover_other_stack_sets, listing_ports(desired, ports),
                               stack_set_ports(desired, ports)) if stack_set_names is None else None
        try:
            tree: OrgTree = tree_f.result()
        except BaseException:
            if clumio_reads is not None:
                clumio_reads.close()
            raise
        conns_f = pool.submit(clumio_reads.finish, tree) if clumio_reads is not None else None
        guard_f = pool.submit(_guardrails, desired, guard_read, tree) if guardrails else None
        stack_sets: dict[str, LiveStackSet] = {}
        instances: dict[InstanceKey, LiveInstance] = {}
        running: dict[str, OperationView] = {}
        # Each StackSet's rows come sorted by key, whose first part is the StackSet name: taken in name order they
        # fill the dict already sorted, with no second copy of 170,000 entries.
        for name, future in sorted(sets_f.items()):
            live, rows, op = future.result()
            rows.sort(key=_key)  # in place, and linear on the sorted rows the port returns
            if live is not None:
                stack_sets[name] = live
            instances.update((row.key, row) for row in rows)
            if op is not None:
                running[name] = op
        template: ClumioTemplateInfo = template_f.result()
        enabled: frozenset[str] = regions_f.result()
        conns: list[Connection] = conns_f.result() if conns_f is not None else []
        others = others_f.result() if others_f is not None else {}
        found_guardrails: Guardrails | None = guard_f.result() if guard_f is not None else None
    log.debug("discovered %d accounts, %d StackSets, %d instances, %d connections",
              len(tree.accounts), len(stack_sets), len(instances), len(conns))
    return Live(
        org=tree,
        stack_sets=stack_sets,
        # Read-only views over dicts nothing else holds: Live keeps them as they are instead of copying them.
        instances=MappingProxyType(instances),
        connections=MappingProxyType(_by_key(conns)),
        clumio_template=template,
        enabled_regions=enabled,
        running_operations=running,
        other_clumio_stack_sets=others,
        guardrails=found_guardrails,
    )


def listing_ports(desired: Desired, ports: PortSet) -> list[tuple[str, StackSetReads]]:
    """Where other Clumio StackSets may live: the configured port, plus the caller's own account when the config
    calls as a delegated admin (a self-managed StackSet made there by hand)."""
    found: list[tuple[str, StackSetReads]] = [("service", ports.stacksets)]
    if desired.organization.call_as is CallAs.DELEGATED_ADMIN:
        found.append(("self", ports.management_stacksets))
    return found


def _key(row: LiveInstance) -> InstanceKey:
    return row.key


def _by_key(connections: Iterable[Connection]) -> dict[tuple[str, str], Connection]:
    return {(c.account, c.region): c for c in sorted(connections, key=lambda c: (c.account, c.region))}
