"""What clumio-org last applied, as plan and drift read it: the read-only view of the state they need.

``reconciler.state.model.State`` satisfies these protocols as it is, so plan and drift take the state without
importing the state package (which does I/O); tests may pass any object of the same shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from reconciler.core.keys import InstanceKey


class RecordedStackSet(Protocol):
    """What clumio-org last deployed to one StackSet (``reconciler.state.model.StackSetRecord``)."""

    @property
    def template_version(self) -> str: ...
    @property
    def template_sha256(self) -> str: ...
    @property
    def parameters(self) -> Mapping[str, str]: ...
    @property
    def secret_fingerprints(self) -> Mapping[str, str]: ...


class Recorded(Protocol):
    """What clumio-org last applied (``reconciler.state.model.State``): its serial and lineage, each StackSet's
    record, and the instances it recorded as applied."""

    @property
    def serial(self) -> int: ...
    @property
    def lineage(self) -> str: ...
    @property
    def stack_sets(self) -> Mapping[str, RecordedStackSet]: ...
    @property
    def instances(self) -> Mapping[InstanceKey, object]: ...
