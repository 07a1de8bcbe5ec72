"""How apply waits: an injectable sleeper and clock, poll intervals from the environment, capped jittered backoff."""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from reconciler.core.settings import (
    DEFAULT_POLL_SECONDS,
    DEFAULT_WAIT_SECONDS,
    POLL_ENV,
    POLL_MAX_ENV,
    WAIT_ENV,
    Settings,
    parse_settings,
)

__all__ = ["POLL_ENV", "POLL_MAX_ENV", "WAIT_ENV", "PollIntervals", "Timing"]

# The environment settings are parsed once, in reconciler.core.settings; these names stay for importers.
DEFAULT_FOREIGN_WAIT_SECONDS = DEFAULT_WAIT_SECONDS
# Our own operations are never abandoned mid-way by a timeout shorter than a large rollout; the bound exists so a
# wedged StackSet cannot hold a CI job forever.
DEFAULT_OWN_WAIT_SECONDS = 24 * 3600.0


def system_sleep(seconds: float) -> None:
    time.sleep(seconds)


def system_now() -> float:
    return time.monotonic()


# What Timing.from_env uses when no sleeper/clock is passed. Tests and benchmarks that drive the CLI in-process
# replace these two with their virtual clock (the sandbox's VirtualClock), instead of sleeping for real.
default_sleep: Callable[[float], None] = system_sleep
default_now: Callable[[], float] = system_now


@dataclass(frozen=True)
class Timing:
    """Where apply's time comes from.

    ``sleep`` and ``now`` are injected: tests and benchmarks advance the sandbox's VirtualClock instead of sleeping,
    so a 2,000-account rollout runs in seconds. ``now`` returns seconds (any epoch; only differences matter).
    Poll intervals start at ``poll_seconds`` and grow by half each time up to ``poll_max_seconds`` — AWS asks for
    backoff, and DescribeStackSetOperation is cheap but rate-limited like every other call.
    """

    sleep: Callable[[float], None] = time.sleep
    now: Callable[[], float] = time.monotonic
    poll_seconds: float = DEFAULT_POLL_SECONDS
    poll_max_seconds: float = DEFAULT_POLL_SECONDS * 6
    foreign_wait_seconds: float = DEFAULT_FOREIGN_WAIT_SECONDS
    own_wait_seconds: float = DEFAULT_OWN_WAIT_SECONDS
    retry_attempts: int = 8
    rng: random.Random = field(default_factory=lambda: random.Random(), compare=False)

    @classmethod
    def from_env(cls, sleep: Callable[[float], None] | None = None,
                 now: Callable[[], float] | None = None) -> Timing:
        """The timing the environment's settings ask for (a bad value is an error naming the variable)."""
        return cls.from_settings(parse_settings(os.environ), sleep=sleep, now=now)

    @classmethod
    def from_settings(cls, settings: Settings, sleep: Callable[[float], None] | None = None,
                      now: Callable[[], float] | None = None) -> Timing:
        return cls(
            sleep=sleep or default_sleep,
            now=now or default_now,
            poll_seconds=settings.poll_seconds,
            poll_max_seconds=settings.poll_max_seconds,
            foreign_wait_seconds=settings.wait_seconds,
        )

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
