"""One run of a plan: what its steps share (plan, ports, journal, options, the runtime, the StackSet definitions)
and what they keep while it runs (the operations AWS is running for us, how many were submitted and followed)."""

from __future__ import annotations

from dataclasses import dataclass

from reconciler.apply.definitions import StackSetSource
from reconciler.apply.journal import Journal
from reconciler.apply.options import ApplyOptions, ApplyPorts
from reconciler.apply.progress import Progress
from reconciler.apply.runtime import Runtime
from reconciler.apply.submit import Submitter
from reconciler.apply.timing import Timing
from reconciler.apply.wait import OperationWaiter
from reconciler.core.plan import Operation, Plan
from reconciler.core.ports import StackSets


@dataclass(frozen=True)
class Running:
    """An operation AWS is running for us: which port to ask about it, and when we started following it."""

    op: Operation
    port: StackSets
    started: float


class ApplyRun:
    """Everything the executor's steps need, in one object. ``running`` holds the operations being waited for, so
    Ctrl-C can offer to stop them."""

    def __init__(self, plan: Plan, ports: ApplyPorts, journal: Journal, options: ApplyOptions,
                 runtime: Runtime) -> None:
        self.plan = plan
        self.ports = ports
        self.journal = journal
        self.options = options
        self.runtime = runtime
        self.waiter = OperationWaiter(runtime)
        self.submitter = Submitter(self.waiter)
        self.stack_sets = StackSetSource(plan, ports.clumio, journal, options)
        self.running: dict[str, Running] = {}
        self.submitted = 0
        self.followed = 0

    @property
    def timing(self) -> Timing:
        return self.runtime.timing

    @property
    def progress(self) -> Progress:
        return self.runtime.progress

    def port_for(self, stack_set: str) -> StackSets:
        if self.options.management_stack_set and stack_set == self.options.management_stack_set:
            return self.ports.management_stacksets
        return self.ports.stacksets
