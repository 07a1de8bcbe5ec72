"""How apply waits: on the run's injected clock (reconciler.core.clock), poll intervals from the settings, capped
jittered backoff."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from reconciler.core.clock import Clock
from reconciler.core.settings import DEFAULT_POLL_SECONDS, DEFAULT_WAIT_SECONDS, Settings
from reconciler.providers.clock import SystemClock

# Our own operations are never abandoned mid-way by a timeout shorter than a large rollout; the bound exists so a
# wedged StackSet cannot hold a CI job forever.
DEFAULT_OWN_WAIT_SECONDS = 24 * 3600.0


@dataclass(frozen=True)
class Timing:
    """Where apply's time comes from.

    ``clock`` is injected (the run's context holds it): tests and benchmarks hand in the sandbox's VirtualClock
    instead of sleeping, so a 2,000-account rollout runs in seconds. ``now()`` is that clock in seconds (only
    differences matter). Poll intervals start at ``poll_seconds`` and grow by half each time up to
    ``poll_max_seconds`` — AWS asks for backoff, and DescribeStackSetOperation is cheap but rate-limited like every
    other call.
    """

    clock: Clock = field(default_factory=SystemClock, compare=False)
    poll_seconds: float = DEFAULT_POLL_SECONDS
    poll_max_seconds: float = DEFAULT_POLL_SECONDS * 6
    foreign_wait_seconds: float = DEFAULT_WAIT_SECONDS
    own_wait_seconds: float = DEFAULT_OWN_WAIT_SECONDS
    retry_attempts: int = 8
    rng: random.Random = field(default_factory=lambda: random.Random(), compare=False)

    @classmethod
    def from_settings(cls, settings: Settings, clock: Clock | None = None) -> Timing:
        """The timing ``settings`` ask for, on ``clock`` (the system clock when none is given)."""
        return cls(
            clock=clock or SystemClock(),
            poll_seconds=settings.poll_seconds,
            poll_max_seconds=settings.poll_max_seconds,
            foreign_wait_seconds=settings.wait_seconds,
        )

    def now(self) -> float:
        """The clock's now in seconds since the epoch."""
        return self.clock.now().timestamp()

    def sleep(self, seconds: float) -> None:
        self.clock.sleep(seconds)

    def poll_intervals(self) -> PollIntervals:
        return PollIntervals(self.poll_seconds, self.poll_max_seconds)

    def backoff(self, attempt: int, base: float = 1.0, cap: float = 30.0) -> float:
        """Capped exponential backoff with "equal jitter": half fixed, half random, so retries spread out but
        never collapse to zero (StaleRequest and throttling clear only when the other caller moves on)."""
        ceiling = min(cap, base * 2.0 ** attempt)
        return ceiling / 2 + self.rng.uniform(0, ceiling / 2)


class PollIntervals:
    """1×, 1.5×, 2.25× … the base poll interval, capped."""

    def __init__(self, base: float, cap: float) -> None:
        self._next = base
        self._cap = max(base, cap)

    def next(self) -> float:
        value = self._next
        self._next = min(self._cap, self._next * 1.5)
        return value

    def reset(self, base: float) -> None:
        self._next = base
