"""Submitting one StackSet operation exactly once: deterministic id, OperationInProgress waited out, StaleRequest and
throttling left to the retry policy (retry.py), OperationIdAlreadyExists followed (reference/aws-stacksets.md §A4,
§A9, §D1, §D6)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from reconciler.apply.wait import OperationWaiter
from reconciler.core.errors import ProviderError
from reconciler.core.live import OperationStatus
from reconciler.core.plan import Operation
from reconciler.core.ports import OperationIdAlreadyExists, OperationInProgress, StackSets

log = logging.getLogger(__name__)

ACTIVE_STATUSES = (OperationStatus.RUNNING, OperationStatus.STOPPING, OperationStatus.QUEUED)


class Submission:
    """How a submit ended: ``followed`` is True when AWS already had our id (a retry after a lost response, or a
    re-run after a crash) — the operation is ours and we follow it instead of starting a second one."""

    def __init__(self, operation_id: str, followed: bool) -> None:
        self.operation_id = operation_id
        self.followed = followed


class Submitter:
    """Sends one operation call until AWS has it, never twice under two ids.

    Why each branch exists: OperationInProgress is not retried by botocore and re-sending blindly is how Terraform
    ended up waiting on its own operation (PR #41388) — so we wait for the *named* operation to finish, bounded, and
    if the name is our own id we follow it. StaleRequest and throttling clear by themselves: the waiter's retry
    policy (retry.py) backs them off.
    """

    def __init__(self, waiter: OperationWaiter) -> None:
        self.waiter = waiter
        self.runtime = waiter.runtime
        self.timing = waiter.timing

    def submit(self, port: StackSets, op: Operation, call: Callable[[], str]) -> Submission:
        retries = 0
        started = self.timing.now()
        while True:
            try:
                returned = self.waiter.retry.call(call, f"{op.kind.value} {op.operation_id}")
                if returned and returned != op.operation_id:
                    log.warning("AWS returned operation id %s for %s", returned, op.operation_id)
                return Submission(returned or op.operation_id, followed=False)
            except OperationIdAlreadyExists:
                return Submission(op.operation_id, followed=True)
            except OperationInProgress as exc:
                running = exc.running_operation_id or self._find_running(port, op.stack_set)
                if running == op.operation_id:
                    return Submission(op.operation_id, followed=True)
                spent = self.timing.now() - started
                left = self.timing.foreign_wait_seconds - spent
                if left <= 0:
                    raise ProviderError(
                        f"StackSet {op.stack_set} stayed busy with another operation for {int(spent)}s; "
                        f"{op.operation_id} was not submitted",
                        hint="find the running operation with `aws cloudformation list-stack-set-operations "
                             f"--stack-set-name {op.stack_set}`, let it finish (or stop it), then re-run apply",
                    ) from exc
                if running:
                    self.runtime.progress.operation_waiting(op, f"waiting for operation {running} already running on "
                                                        f"StackSet {op.stack_set}")
                    self.waiter.wait(port, op.stack_set, running, bound=left)
                else:
                    self.timing.sleep(self.timing.backoff(retries, base=self.timing.poll_seconds, cap=120.0))
                    retries += 1

    def _find_running(self, port: StackSets, stack_set: str) -> str | None:
        """AWS did not name the running operation: find it in ListStackSetOperations (eventually consistent, so
        not finding one only means we back off and try again)."""
        try:
            views = port.list_operations(stack_set)
        except ProviderError:
            return None
        running = [v for v in views if v.status in ACTIVE_STATUSES]
        return running[0].operation_id if running else None
