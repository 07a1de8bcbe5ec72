"""Simulated time for the sandbox: a virtual clock for tests and benchmarks, a scaled wall clock for the server."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

# A fixed, believable start so simulated timestamps are stable across runs and readable in demos.
DEFAULT_START = datetime(2026, 1, 5, 9, 0, 0, tzinfo=UTC)


class VirtualClock:
    """Time that moves only when told to: tests advance it, so a 2,000-account rollout takes no real time."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or DEFAULT_START
        if self._now.tzinfo is None:
            raise ValueError("VirtualClock needs a timezone-aware start")
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> datetime:
        """Move time forward by ``seconds`` (never backward) and return the new now."""
        if seconds < 0:
            raise ValueError("time only moves forward")
        with self._lock:
            self._now = self._now + timedelta(seconds=seconds)
            return self._now

    def sleep(self, seconds: float) -> None:
        """A sleeper for the tool under test (``reconciler.core.clock.Clock``): sleeping advances the clock."""
        self.advance(seconds)

    def set(self, when: datetime) -> datetime:
        """Jump to ``when`` if it is later than now; earlier times are ignored (time never goes back)."""
        with self._lock:
            if when > self._now:
                self._now = when
            return self._now


class ScaledClock:
    """Wall time since construction multiplied by ``time_scale``, counted from a fixed start.

    At ``time_scale=60`` a 150-second stack instance deploys in 2.5 real seconds, which makes demos watchable.
    """

    def __init__(self, time_scale: float = 1.0, start: datetime | None = None) -> None:
        if time_scale <= 0:
            raise ValueError("time_scale must be positive")
        self.time_scale = time_scale
        self._start = start or DEFAULT_START
        self._t0 = time.monotonic()
        self._offset = 0.0

    def now(self) -> datetime:
        elapsed = (time.monotonic() - self._t0) * self.time_scale + self._offset
        return self._start + timedelta(seconds=elapsed)

    def advance(self, seconds: float) -> datetime:
        """Skip ahead (e.g. from the control API) on top of the scaled wall time."""
        if seconds < 0:
            raise ValueError("time only moves forward")
        self._offset += seconds
        return self.now()
