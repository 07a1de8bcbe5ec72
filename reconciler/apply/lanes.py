"""The operations of one wave, one lane per StackSet: inside a lane one after another (one operation at a time per
StackSet, §A9), lanes side by side (different StackSets do not wait for each other)."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

from reconciler.apply.context import ApplyRun, Running
from reconciler.apply.model import OperationOutcome
from reconciler.apply.operation import complete, run_operation, start
from reconciler.core.plan import Operation

Results = list[tuple[Operation, OperationOutcome]]


def lanes_by_stack_set(ops: Sequence[Operation]) -> list[list[Operation]]:
    """One lane per StackSet, in plan order inside each lane."""
    lanes: dict[str, list[Operation]] = {}
    for op in ops:
        lanes.setdefault(op.stack_set, []).append(op)
    return list(lanes.values())


def run_lanes(run: ApplyRun, lanes: Sequence[Sequence[Operation]]) -> Results:
    """After a failed operation no new one starts; running ones are followed to their end. Results in completion
    order."""
    if len(lanes) == 1:
        results: Results = []
        for op in lanes[0]:
            outcome = run_operation(run, op)
            results.append((op, outcome))
            if not outcome.ok:
                break
        return results
    return _side_by_side(run, [deque(lane) for lane in lanes])


def _side_by_side(run: ApplyRun, queues: list[deque[Operation]]) -> Results:
    timing = run.timing
    active: dict[int, Running] = {}
    results: Results = []
    broken = False
    intervals = timing.poll_intervals()
    while True:
        for lane, queue in enumerate(queues):
            while not broken and lane not in active and queue:
                op = queue.popleft()
                started = start(run, op)
                if isinstance(started, OperationOutcome):
                    results.append((op, started))
                    broken = not started.ok
                else:
                    active[lane] = started
                    intervals.reset(timing.poll_seconds)
        if not active:
            return results
        timing.sleep(intervals.next())
        for lane, running in list(active.items()):
            view = run.waiter.describe(running.port, running.op.stack_set, running.op.operation_id)
            if view.status.finished:
                del active[lane]
                outcome = complete(run, running, view)
                results.append((running.op, outcome))
                broken = broken or not outcome.ok
            else:
                run.waiter.check_bound(running.op.stack_set, running.op.operation_id, view, running.started,
                                       timing.own_wait_seconds)
