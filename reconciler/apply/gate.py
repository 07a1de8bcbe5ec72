"""The wave gate: after a wave's operations, prove in Clumio that every (account, region) it created or updated is
``connected`` at the desired template version before the next wave starts (reference/clumio-api.md §3.3, §7)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

from reconciler.apply.model import Failure, FailureStatus, GateResult
from reconciler.apply.runtime import Runtime
from reconciler.core.errors import ReconcilerError, Resumable
from reconciler.core.keys import InstanceKey
from reconciler.core.live import Connection, ConnectionStatus
from reconciler.core.ports import Clumio
from reconciler.plan.coverage import stack_name_from_arn, stack_set_of_stack

log = logging.getLogger(__name__)

# Accounts per list call: the filter travels in the query string, so keep it well under URL limits.
ACCOUNTS_PER_CALL = 100


class ConnectionGate:
    """Polls Clumio connections in batches until every expected one is connected at its version, or time runs out."""

    def __init__(self, clumio: Clumio, runtime: Runtime,
                 moved: Mapping[tuple[str, str], str | None] | None = None) -> None:
        """``moved``: (account, region) → the stack ARN its connection came from before the plan moved it onto the
        StackSet (None: Terraform's module, no stack); those pairs pass only once Clumio shows the takeover."""
        self.clumio = clumio
        self.runtime = runtime
        self.timing = runtime.timing
        self.moved = dict(moved or {})

    def verify(self, wave: str, keys: Iterable[InstanceKey], versions: Mapping[str, str | None],
               bound: float) -> GateResult:
        """``versions`` maps StackSet → the Clumio template version its instances must report (None: any)."""
        expected: dict[tuple[str, str], str | None] = {}
        for key in sorted(set(keys)):
            want = versions.get(key.stack_set)
            # Two StackSets never cover one (account, region) (the management StackSet only the management account).
            expected[(key.account, key.region)] = want
        if not expected:
            return GateResult(0, 0)
        started = self.timing.now()
        intervals = self.timing.poll_intervals()
        pending = dict(expected)
        last_seen: dict[tuple[str, str], Connection] = {}
        while True:
            seen = self._read(pending)
            last_seen.update(seen)
            for pair, want in list(pending.items()):
                conn = seen.get(pair)
                if conn is not None and _satisfied(conn, want) and self._taken_over(pair, conn):
                    del pending[pair]
            connected = len(expected) - len(pending)
            self.runtime.progress.gate_polled(wave, connected, len(expected))
            elapsed = self.timing.now() - started
            if not pending or elapsed >= bound:
                missing = tuple(_why(pair, expected[pair], last_seen.get(pair), elapsed, self.moved)
                                for pair in sorted(pending))
                return GateResult(len(expected), connected, missing, elapsed)
            self.timing.sleep(min(intervals.next(), max(1.0, bound - elapsed)))

    def _read(self, pending: Mapping[tuple[str, str], str | None]) -> dict[tuple[str, str], Connection]:
        accounts = sorted({a for a, _ in pending})
        regions = sorted({r for _, r in pending})
        found: dict[tuple[str, str], Connection] = {}
        for start in range(0, len(accounts), ACCOUNTS_PER_CALL):
            batch = accounts[start:start + ACCOUNTS_PER_CALL]
            try:
                rows = self.clumio.list_connections(batch, regions)
            except ReconcilerError as exc:
                if isinstance(exc, Resumable):
                    raise  # a revoked token or a vanished endpoint: stop (exit 4) rather than fail the wave
                # A Clumio hiccup must not fail a wave whose stacks deployed fine: try again next poll.
                log.warning("Clumio connections read failed (%s); retrying", exc.message)
                continue
            for conn in rows:
                found[(conn.account, conn.region)] = conn
        return found


    def _taken_over(self, pair: tuple[str, str], conn: Connection) -> bool:
        return pair not in self.moved or taken_over(conn, self.moved[pair])


def taken_over(conn: Connection, old_stack_arn: str | None) -> bool:
    """Whether Clumio shows a moved connection running through the StackSet now (docs/reference/brownfield.md §6):
    the old stack reported as retired, or a StackSet instance's stack in place of the old one, or a connection group
    (what a StackSet deployment belongs to). Which of these Clumio fills is not documented (clumio-api.md §9.3), so
    any one is evidence; none means the old stack must stay."""
    if old_stack_arn and conn.retired_stack_arn == old_stack_arn:
        return True
    if conn.stack_arn != old_stack_arn and stack_set_of_stack(stack_name_from_arn(conn.stack_arn)) is not None:
        return True
    return conn.connection_group_id is not None


def _satisfied(conn: Connection, want: str | None) -> bool:
    if conn.status is not ConnectionStatus.CONNECTED:
        return False
    return want is None or conn.installed_template_version == want


def _why(pair: tuple[str, str], want: str | None, conn: Connection | None, elapsed: float,
         moved: Mapping[tuple[str, str], str | None]) -> Failure:
    account, region = pair
    after = f"after {int(elapsed)}s"
    if conn is None:
        reason = f"no Clumio connection {account}_{region} {after}"
    elif conn.status is not ConnectionStatus.CONNECTED:
        reason = f"Clumio connection is {conn.status.value} {after}"
    elif not _satisfied(conn, want):
        reason = f"Clumio connection reports template {conn.installed_template_version or '?'}, expected {want}"
    else:
        stack = stack_name_from_arn(moved.get(pair))
        reason = (f"Clumio connection {conn.id} still runs through "
                  f"{'stack ' + stack if stack else 'its Terraform-made roles'} {after}: the StackSet has not taken "
                  "it over; keep the old " + ("stack" if stack else "roles") + " (backups run on it)")
    return Failure(account, region, reason, status=FailureStatus.NOT_CONNECTED)
