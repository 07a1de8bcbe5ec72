"""Where a run's time comes from: one clock, one time type (timezone-aware UTC datetimes).

Apply measures elapsed seconds as differences of ``now()``; drift compares ``now()`` with AWS's and Clumio's
timestamps. The CLI hands the system clock to the use cases; tests and benchmarks hand in the sandbox's virtual
clock, so waiting takes no real time.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """Timezone-aware UTC."""
        ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The wall clock at construction moved on by the monotonic clock: datetimes that read as UTC and never jump
    (an NTP step during a two-hour rollout changes no timeout)."""

    def __init__(self) -> None:
        self._wall = datetime.now(UTC)
        self._mono = time.monotonic()

    def now(self) -> datetime:
        return self._wall + timedelta(seconds=time.monotonic() - self._mono)

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

