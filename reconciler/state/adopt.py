"""What ``clumio-org import`` records in state for a Clumio StackSet that already runs, without touching AWS
(Live → state records; docs/reference/brownfield.md §4).

Adopting changes nothing in AWS: the StackSet keeps its template, parameters and instances. State gets the live
template version and hash, the non-secret parameters, and no secret fingerprints — the deployed ClumioToken and
RoleExternalId cannot be read back (NoEcho), and without fingerprints apply never decides they rotated: it sends them
as UsePreviousValue until ``--rotate-credentials`` says otherwise.
"""

from __future__ import annotations

from dataclasses import replace

from reconciler.core.live import ConnectionStatus, Live, LiveStackSet
from reconciler.core.template import SECRET_PARAMETERS
from reconciler.state.model import InstanceRecord, StackSetRecord, State


def adopt(state: State, live: Live, ss: LiveStackSet, now: str) -> State:
    """``state`` with the StackSet and every instance it has now recorded as they are."""
    record = StackSetRecord(
        template_version=ss.template_version or "unknown",
        template_sha256=ss.template_sha256,
        parameters={k: v for k, v in sorted(ss.parameters.items()) if k not in SECRET_PARAMETERS},
        secret_fingerprints={}, permission_model=ss.permission_model.value, updated_at=now)
    adopted = state.with_stack_set(ss.name, record)
    instances = dict(adopted.instances)
    version = record.template_version
    for key, inst in live.instances.items():
        if key.stack_set != ss.name:
            continue
        conn = live.connections.get((key.account, key.region))
        instances[key] = InstanceRecord(
            status=inst.status.value, last_operation_id=inst.last_operation_id, template_version=version,
            connected=None if conn is None else conn.status is ConnectionStatus.CONNECTED, updated_at=now)
    return replace(adopted, instances=instances)
