"""What a plan is made against: discovery, preflight on what it found, then Clumio's org template."""

from __future__ import annotations

from reconciler.core.desired import Desired
from reconciler.core.live import Live
from reconciler.core.ports import ClumioTemplate
from reconciler.discover.live import PortSet, discover
from reconciler.discover.preflight import preflight


def observe(desired: Desired, ports: PortSet) -> tuple[Live, ClumioTemplate]:
    """Read what a plan is made against: discovery, preflight on what it found, then Clumio's org template for the
    configured asset types. `plan` and `apply` without a plan file both start here."""
    live = discover(desired, ports, guardrails=True)
    preflight(desired, ports, live)
    return live, ports.clumio.org_template(desired.clumio.asset_types)
