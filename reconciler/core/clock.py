"""Where a run's time comes from: one clock, one time type (timezone-aware UTC datetimes).

Apply measures elapsed seconds as differences of ``now()``; drift compares ``now()`` with AWS's and Clumio's
timestamps. The CLI hands the system clock (reconciler.providers.clock) to the use cases; tests and benchmarks
hand in the sandbox's virtual clock, so waiting takes no real time.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """Timezone-aware UTC."""
        ...

    def sleep(self, seconds: float) -> None: ...
