"""Find the Clumio StackSets this config does not manage, whatever their names (read only, through the ports).

A StackSet carries Clumio when its template declares ``ClumioTemplateVersion`` metadata and it takes the ClumioToken
and RoleExternalId parameters (docs/reference/brownfield.md §1). Costs: one ListStackSets per port, one
DescribeStackSet per StackSet, and ListStackInstances only for the Clumio ones.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

from reconciler.core.errors import EndpointUnreachable, ProviderError
from reconciler.core.live import OtherClumioStackSet
from reconciler.core.ports import StackSetReads

log = logging.getLogger(__name__)

WORKERS = 8


def _read(port: StackSetReads, name: str, label: str) -> OtherClumioStackSet | None:
    live = port.describe_stack_set(name)
    if live is None or not live.is_clumio:
        return None
    instances = {(i.key.account, i.key.region): i for i in port.list_instances(name)}
    return OtherClumioStackSet(live, live.template_version, instances, label)


def discover_other_stack_sets(ports: Iterable[tuple[str, StackSetReads]],
                              managed: Iterable[str]) -> dict[str, OtherClumioStackSet]:
    """Every Clumio StackSet the given ports reach besides the ``managed`` ones, by name. ``ports`` are
    (label, port) pairs: the configured one and, when it calls as a delegated admin, the caller's own (SELF)."""
    skip = set(managed)
    found: dict[str, OtherClumioStackSet] = {}
    with ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="discover-existing") as pool:
        for label, port in ports:
            try:
                names = [n for n in port.list_stack_sets() if n not in skip and n not in found]
            except EndpointUnreachable:
                raise  # not a missing permission: nothing else will answer either
            except ProviderError as error:
                # Seeing other StackSets only sharpens the plan; without the permission, say so and go on.
                log.warning("cannot list StackSets (%s): other Clumio StackSets are not looked for", error.message)
                continue
            for other in pool.map(lambda n, p=port, lb=label: _read(p, n, lb), names):
                if other is not None:
                    found[other.stack_set.name] = other
    return dict(sorted(found.items()))
