"""What apply reports: per-operation outcomes, per-wave results, the run's result and failed accounts."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from reconciler.core.live import OperationStatus


class FailureStatus(enum.StrEnum):
    """Why an (account, region) counts as not done: its operation result FAILED, AWS CANCELLED it once the failure
    tolerance was exceeded (ListStackSetOperationResults, §A6), or the Clumio gate found it NOT_CONNECTED.
    A StrEnum so failures keep sorting (``order=True``) with their status as the last key."""

    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    NOT_CONNECTED = "NOT_CONNECTED"


@dataclass(frozen=True, order=True)
class Failure:
    """One (account, region) that did not end up done, and why (the operation result's StatusReason, or the Clumio
    gate's finding). ``stack_set`` says which StackSet it belongs to."""

    account: str
    region: str
    reason: str
    stack_set: str = ""
    status: FailureStatus = FailureStatus.FAILED

    def as_dict(self) -> dict[str, str]:
        return {"account": self.account, "region": self.region, "reason": self.reason}


@dataclass(frozen=True)
class OperationOutcome:
    """How one StackSet operation ended: its final status, every failed/cancelled (account, region), timing."""

    operation_id: str
    status: OperationStatus
    failures: tuple[Failure, ...] = ()
    status_reason: str | None = None
    seconds: float = 0.0
    instances: int = 0

    @property
    def ok(self) -> bool:
        return self.status is OperationStatus.SUCCEEDED


@dataclass(frozen=True)
class GateResult:
    """The Clumio verification after a wave: how many (account, region) are connected at the desired version."""

    expected: int
    connected: int
    missing: tuple[Failure, ...] = ()
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.missing


@dataclass
class WaveResult:
    """One wave as it ran (mutable while the wave is running, then only read)."""

    name: str
    operations: int = 0
    instances: int = 0
    failures: list[Failure] = field(default_factory=list)
    gate: GateResult | None = None
    seconds: float = 0.0
    over_budget: bool = False
    budget: int | None = None
    skipped_resumed: int = 0

    @property
    def failed_instances(self) -> int:
        return len({(f.account, f.region, f.stack_set) for f in self.failures})

    @property
    def failed_accounts(self) -> tuple[str, ...]:
        return tuple(sorted({f.account for f in self.failures}))

    @property
    def cancelled_only_accounts(self) -> tuple[str, ...]:
        """Accounts AWS only cancelled (collateral of another account's failure), never failed themselves."""
        failed = {f.account for f in self.failures if f.status is not FailureStatus.CANCELLED}
        return tuple(sorted({f.account for f in self.failures} - failed))


class Outcome(enum.Enum):
    """How a run ended; maps to the exit code shared by plan/apply/drift."""

    NOTHING_TO_DO = "nothing-to-do"
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # finished (or stopped at a wave gate) with failed accounts → exit 3
    INTERRUPTED = "interrupted"  # Ctrl-C → exit 130
    # Credentials expired or were revoked, an endpoint or the state backend went away → exit 4; the next run resumes
    SUSPENDED = "suspended"

    @property
    def exit_code(self) -> int:
        return {"nothing-to-do": 0, "succeeded": 0, "failed": 3, "interrupted": 130, "suspended": 4}[self.value]


@dataclass
class ApplyResult:
    """The whole run: waves in order, where it stopped (if it did), and every failure with its reason."""

    plan_id: str
    outcome: Outcome = Outcome.SUCCEEDED
    waves: list[WaveResult] = field(default_factory=list)
    stopped_before: str | None = None
    stop_reason: str | None = None
    operations_submitted: int = 0
    operations_followed: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def failures(self) -> list[Failure]:
        return sorted(f for w in self.waves for f in w.failures)
