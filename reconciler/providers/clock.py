"""The system clock behind core.clock.Clock: the one place the product reads the wall clock and sleeps."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta


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

