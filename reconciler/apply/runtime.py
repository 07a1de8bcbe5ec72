"""What every step of a run shares and nothing else: where time comes from, who watches, how calls are retried.

One object, handed to the waiter, the submitter, the gate and the executor's steps alike, so progress (and the
clock) reach every step through one place instead of being copied into each."""

from __future__ import annotations

from reconciler.apply.progress import Progress
from reconciler.apply.retry import RetryPolicy
from reconciler.apply.timing import Timing


class Runtime:
    def __init__(self, timing: Timing, progress: Progress, retry: RetryPolicy | None = None) -> None:
        self.timing = timing
        self.progress = progress
        self.retry = retry or RetryPolicy(timing)
