"""State: what clumio-org last applied and the journal of the operations it ran, so apply can resume and plan can
tell a stale plan from a fresh one.

State is not the source of truth for what AWS runs — discovery is. It records what only the tool can know: the
Clumio template version and parameters it deployed, SHA-256 fingerprints of the NoEcho values it sent (never the
values), the last known status of every stack instance, and a journal entry per StackSet operation it submitted.
A state written by an apply that failed or was killed half way (journal entries SUBMITTED or RUNNING) is valid: the
next apply reads those entries to follow its own operation instead of submitting a second one.

Two numbers make a state safe to share (the Terraform convention users know):
- ``lineage`` is a UUID set once when the state is created; a state with another lineage is another deployment's
  state and is never written over it without ``--force``.
- ``serial`` goes up by one on every write; a plan records the serial it was made against, and a write carrying a
  serial lower than the stored one lost a race with another writer.

Timestamps are ISO 8601 UTC strings (``2026-01-31T12:00:00Z``); constructors also take aware datetimes.
The JSON form lives in :mod:`reconciler.state.codec`.
"""

from __future__ import annotations

import enum
import re
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from reconciler.core.keys import InstanceKey
from reconciler.core.secrets import Secret
from reconciler.core.template import SECRET_PARAMETERS

FORMAT_VERSION = 1

# Template parameters whose values are secrets (NoEcho): only their fingerprints may be stored.
_FINGERPRINT = re.compile(r"^sha256:[0-9a-f]{64}$")


def utc_now() -> str:
    """Now as the ISO 8601 UTC string state uses."""
    return _iso(datetime.now(UTC))


def format_time(value: datetime | str | None) -> str | None:
    """A datetime (naive means UTC) or an ISO string, as ``YYYY-MM-DDTHH:MM:SSZ``; None stays None."""
    if value is None or isinstance(value, str):
        return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return _iso(value.astimezone(UTC))


def _iso(value: datetime) -> str:
    # isoformat, not strftime: %Y does not zero-pad years before 1000 on every platform.
    return value.replace(microsecond=0, tzinfo=None).isoformat() + "Z"


def parse_time(value: str | None) -> datetime | None:
    """The aware datetime of a state timestamp (None for None)."""
    if value is None:
        return None
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _value(item: Any) -> Any:
    return item.value if isinstance(item, enum.Enum) else item


class JournalStatus(enum.Enum):
    """Where one submitted StackSet operation stands. SUBMITTED: the call was made (or is about to be: the entry is
    written first, so a crash between the two is found again by the operation's deterministic id); RUNNING: AWS
    reported it running; the rest are final, as DescribeStackSetOperation names them, plus SKIPPED (not run because
    an earlier wave spent its failure budget or the run was stopped)."""

    SUBMITTED = "SUBMITTED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    STOPPED = "STOPPED"
    SKIPPED = "SKIPPED"

    @property
    def finished(self) -> bool:
        return self not in (JournalStatus.SUBMITTED, JournalStatus.RUNNING)


@dataclass(frozen=True)
class StackSetRecord:
    """What the tool last deployed to one StackSet.

    ``parameters`` are the non-secret template parameters; ClumioToken and RoleExternalId are refused here and kept
    only as ``secret_fingerprints`` (``{"ClumioToken": "sha256:…"}``) so a rotation shows without storing a value.
    """

    template_version: str
    template_sha256: str
    parameters: dict[str, str] = field(default_factory=dict)
    secret_fingerprints: dict[str, str] = field(default_factory=dict)
    permission_model: str = "SERVICE_MANAGED"
    updated_at: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "permission_model", _value(self.permission_model))
        object.__setattr__(self, "updated_at", format_time(self.updated_at))
        object.__setattr__(self, "parameters", dict(self.parameters))
        object.__setattr__(self, "secret_fingerprints", {
            name: value.fingerprint() if isinstance(value, Secret) else value
            for name, value in self.secret_fingerprints.items()
        })
        for name, value in self.parameters.items():
            if name in SECRET_PARAMETERS or isinstance(value, Secret):
                raise ValueError(f"parameter {name} is a secret: store its fingerprint in secret_fingerprints")
        for name, value in self.secret_fingerprints.items():
            if not isinstance(value, str) or not _FINGERPRINT.match(value):
                raise ValueError(f"secret_fingerprints[{name!r}] is not a sha256:<hex> fingerprint")


@dataclass(frozen=True)
class InstanceRecord:
    """The last known status of one stack instance (StackSet, account, region), as the tool last saw it.

    ``status`` is the StackInstanceStatus AWS reported (CURRENT, OUTDATED, INOPERABLE) or, before AWS showed the
    instance, the journal status of the operation that targets it. ``connected`` is Clumio's view (None: not
    checked yet).
    """

    status: str
    last_operation_id: str | None = None
    template_version: str | None = None
    connected: bool | None = None
    updated_at: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", _value(self.status))
        object.__setattr__(self, "updated_at", format_time(self.updated_at))


@dataclass(frozen=True)
class JournalFailure:
    """One failed (account, region) of an operation, with AWS's StatusReason."""

    account: str
    region: str
    reason: str


@dataclass(frozen=True)
class JournalEntry:
    """One StackSet operation of one plan: written when submitted and again when it finishes.

    ``operation_id`` is ``clumio-org-<plan_id>-<index:03d>``, so a re-run finds the operation it submitted before a
    crash. ``kind`` is the OperationKind value (``CreateStackInstances`` …); enums are accepted and stored by value.
    """

    plan_id: str
    operation_id: str
    index: int
    kind: str
    stack_set: str
    wave: str | None
    status: JournalStatus
    submitted_at: str | None = None
    finished_at: str | None = None
    failures: list[JournalFailure] = field(default_factory=list)

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", _value(self.kind))
        object.__setattr__(self, "status", JournalStatus(_value(self.status)))
        object.__setattr__(self, "submitted_at", format_time(self.submitted_at))
        object.__setattr__(self, "finished_at", format_time(self.finished_at))
        object.__setattr__(self, "failures", [
            item if isinstance(item, JournalFailure) else JournalFailure(**item) for item in self.failures
        ])


@dataclass(frozen=True)
class State:
    """Everything clumio-org remembers between runs (see the module docstring for lineage and serial).

    ``format_version`` is the format the state was read in (a format-0 file reads as 0 until a command writes it);
    it is always written as the current FORMAT_VERSION.
    Values are treated as immutable: the ``with_*`` helpers return a new State; a backend's ``write`` returns the
    state as stored (serial bumped), which is the one to keep writing from.
    ``last_apply`` is ``{"plan_id", "started_at", "finished_at", "outcome"}`` of the latest apply (outcome:
    ``succeeded``, ``failed``, ``interrupted`` or ``running`` while it goes).
    """

    lineage: str
    serial: int = 0
    format_version: int = FORMAT_VERSION
    stack_sets: dict[str, StackSetRecord] = field(default_factory=dict)
    instances: dict[InstanceKey, InstanceRecord] = field(default_factory=dict)
    journal: list[JournalEntry] = field(default_factory=list)
    last_apply: dict[str, Any] | None = None
    # (account, region)s a destroy under way removes: written before its first deletion, cleared when its Clumio
    # connections are gone, so a re-run deletes them even when the connections name no stack (clumio-api.md §3.3).
    offboarding: tuple[tuple[str, str], ...] = ()

    @classmethod
    def new(cls) -> State:
        """An empty state with a fresh lineage, serial 0 (the first write makes it 1)."""
        return cls(lineage=str(uuid.uuid4()))

    def with_stack_set(self, name: str, record: StackSetRecord) -> State:
        return replace(self, stack_sets={**self.stack_sets, name: record})

    def with_instance(self, key: InstanceKey, record: InstanceRecord) -> State:
        return replace(self, instances={**self.instances, key: record})

    def without_instance(self, key: InstanceKey) -> State:
        return replace(self, instances={k: v for k, v in self.instances.items() if k != key})

    def with_journal_entry(self, entry: JournalEntry) -> State:
        """The journal with ``entry`` added, or replacing the entry with the same operation id."""
        if self.journal_entry(entry.operation_id) is None:
            return replace(self, journal=[*self.journal, entry])
        return replace(self, journal=[entry if e.operation_id == entry.operation_id else e for e in self.journal])

    def with_last_apply(self, **last_apply: Any) -> State:
        """``last_apply`` merged with the given fields (datetimes become ISO strings)."""
        merged = dict(self.last_apply or {})
        merged.update({k: format_time(v) if isinstance(v, datetime) else v for k, v in last_apply.items()})
        return replace(self, last_apply=merged)

    def journal_entry(self, operation_id: str) -> JournalEntry | None:
        return next((e for e in self.journal if e.operation_id == operation_id), None)

    def unfinished_operations(self) -> list[JournalEntry]:
        """Journal entries SUBMITTED or RUNNING: operations a killed apply may have left running."""
        return [e for e in self.journal if not e.status.finished]

    def instance_counts(self) -> dict[str, int]:
        """Number of instances per last known status, sorted by status."""
        counts: dict[str, int] = {}
        for record in self.instances.values():
            counts[record.status] = counts.get(record.status, 0) + 1
        return dict(sorted(counts.items()))
