"""The world as its service handlers see it: the state they read and change, typed, without importing world.py.

``world.World`` implements :class:`WorldState`; the handlers (``stacksets_api``, ``identity``, ``events`` …) take a
``WorldState``, so they depend on this leaf module and the world depends on them, never the other way round.
"""

from __future__ import annotations

import random
import threading
from typing import Any, Protocol

from reconciler.sandbox.api import Clock, ObjectStore
from reconciler.sandbox.clumio import ClumioService
from reconciler.sandbox.controltower import LandingZoneState
from reconciler.sandbox.organizations import Organization
from reconciler.sandbox.policies import PolicyStore
from reconciler.sandbox.stacksets import StackSetEngine


class WorldState(Protocol):
    """One organization, its StackSets and one Clumio tenant, plus the faults a world file or an event set."""

    lock: threading.RLock
    clock: Clock
    objects: ObjectStore
    org: Organization
    engine: StackSetEngine
    clumio: ClumioService
    policies: PolicyStore
    landing_zone: LandingZoneState | None
    enabled_regions: list[str]
    access_keys: dict[str, tuple[str, str, str]]  # issued key -> (account, role, session)
    expired_keys: set[str]  # access keys the expire-credentials event expired ("*": all)
    failing_accounts: dict[str, str]
    throttle_rate: float
    latency_ms: float
    empty_first_pages: bool
    connect_seconds: float
    s3_faults: list[dict[str, Any]]
    rng: random.Random

    def now_ts(self) -> float: ...

    def fetch_template_url(self, url: str) -> str:
        """A TemplateURL's body from the sandbox S3; raises AwsFault('ValidationError', …)."""
        ...
