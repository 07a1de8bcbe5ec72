"""The inputs of one apply run besides the plan: the ports it calls and the settings it runs with."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from reconciler.core.ports import Clumio, StackSets


class ApplyPorts(Protocol):
    """The three ports apply uses (reconciler.providers.factory.Ports satisfies it)."""

    @property
    def stacksets(self) -> StackSets: ...
    @property
    def management_stacksets(self) -> StackSets: ...
    @property
    def clumio(self) -> Clumio: ...


@dataclass(frozen=True)
class ApplyOptions:
    """Settings of one run. ``management_stack_set`` names the self-managed StackSet (its calls use CallAs=SELF)."""

    org_id: str
    asset_types: tuple[str, ...]
    verify_connections_seconds: float = 900.0
    rotate_credentials: bool = False
    management_stack_set: str | None = None
