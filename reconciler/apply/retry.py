"""The one retry policy apply layers on top of botocore's, and why it exists.

botocore retries first: every AWS client is built in adaptive mode with 10 attempts (providers/aws/session.py), which
retries throttling, 5xx and transient network errors with exponential backoff (capped at 20 s) and client-side rate
limiting. That covers a burst; it gives up after roughly a minute. This policy then retries, for the calls apply makes
(submitting an operation, CreateStackSet, DescribeStackSetOperation, ListStackSetOperationResults), exactly two things:

- **throttling that outlasted botocore's attempts** — an account's CloudFormation request quota is shared by every CI
  job and console in it, and an hours-long rollout must not end (exit 1, half the waves done) because another job
  spent the quota for a minute;
- **StaleRequest** (reference/aws-stacksets.md §A9), which botocore never retries: it clears once the other caller's
  operation moves on.

Everything else goes up at once. OperationInProgress is not retried here: it is waited out for the *named* operation
(submit.py). Retrying is safe because every call retried is idempotent: a submission carries the deterministic
OperationId (a repeat that reached AWS answers OperationIdAlreadyExists and is followed), a throttled CreateStackSet
created nothing, and the rest are reads. Backoff is capped and jittered with an attempt limit (never forever on a fixed
interval, CfCT #231); the sleeps go through the injected clock.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from reconciler.apply.timing import Timing
from reconciler.core.errors import ProviderError, ReconcilerError
from reconciler.core.ports import StaleRequest

log = logging.getLogger(__name__)

T = TypeVar("T")

_THROTTLE_MARKERS = ("throttl", "rate exceeded", "too many requests", "requestlimitexceeded", "slow down")

GIVE_UP_HINT = ("AWS kept refusing the call; wait a few minutes and re-run apply — the same operation id is reused, "
                "so nothing runs twice")


def is_throttling(exc: BaseException) -> bool:
    """A throttling error that survived botocore's own retries (Throttling, "Rate exceeded", HTTP 429)."""
    if not isinstance(exc, ReconcilerError):
        return False
    text = f"{type(exc).__name__} {exc.message}".lower()
    return any(marker in text for marker in _THROTTLE_MARKERS)


def retry_reason(exc: BaseException) -> str | None:
    """Why the policy retries ``exc`` ("StaleRequest", "throttled"), or None when it must go up at once."""
    if isinstance(exc, StaleRequest):
        return "StaleRequest"
    if is_throttling(exc):
        return "throttled"
    return None


class RetryPolicy:
    """Calls ``call`` until it answers, retrying only what ``retry_reason`` names, at most ``timing.retry_attempts``
    times with ``timing.backoff`` between attempts; then one ProviderError saying what was refused and how often."""

    def __init__(self, timing: Timing) -> None:
        self.timing = timing

    def call(self, call: Callable[[], T], what: str) -> T:
        attempt = 0
        while True:
            try:
                return call()
            except ProviderError as exc:
                why = retry_reason(exc)
                if why is None:
                    raise
                if attempt >= self.timing.retry_attempts:
                    raise ProviderError(f"{what} was refused {attempt + 1} times ({why})",
                                        hint=GIVE_UP_HINT) from exc
                delay = self.timing.backoff(attempt)
                log.info("%s on %s; retrying in %.1fs", why, what, delay)
                self.timing.sleep(delay)
                attempt += 1
