"""Drift findings: what moved away from the desired state, where, and how serious it is."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from reconciler.core.keys import InstanceKey

DRIFT_REPORT_FORMAT_VERSION = 1


class Category(enum.Enum):
    """The kinds of drift, in the order reports list them when severities tie.

    ``ignore`` is not drift of the org but of the ignore file: an entry past its expiry, so nothing is silenced
    forever. It counts like any other category.
    """

    MEMBERSHIP = "membership"
    STATUS = "status"
    VERSION = "version"
    RESOURCES = "resources"
    CLUMIO = "clumio"
    IGNORE = "ignore"

    @property
    def rank(self) -> int:
        return list(Category).index(self)

    @property
    def title(self) -> str:
        return {
            "membership": "Membership",
            "status": "Stack instance status",
            "version": "Template and parameters",
            "resources": "Resource drift",
            "clumio": "Clumio connections",
            "ignore": "Ignore file",
        }[self.value]


class Severity(enum.Enum):
    """How urgent a finding is. ``error``: backups are (or will be) missing for that account/region; ``warning``:
    protected today, but the org no longer matches what was reviewed; ``notice``: something to plan for (a newer
    Clumio template)."""

    ERROR = "error"
    WARNING = "warning"
    NOTICE = "notice"

    @property
    def rank(self) -> int:
        """0 is the worst; sort ascending for "worst first"."""
        return list(Severity).index(self)


@dataclass(frozen=True)
class Finding:
    """One thing that drifted, keyed as narrowly as it applies.

    An instance-level finding names (stack_set, account, region); an account-level one (an account the org
    suspended) leaves region empty; a StackSet-level one (its template is behind) names only the StackSet.
    ``reason`` is one line for humans; ``details`` holds the evidence (StatusReason, drifted resources, versions)
    as plain strings, so every renderer can show it and the JSON report stays schema-stable.
    """

    category: Category
    severity: Severity
    reason: str
    stack_set: str | None = None
    account: str | None = None
    region: str | None = None
    details: tuple[tuple[str, str], ...] = ()

    @property
    def key(self) -> InstanceKey | str | None:
        """The InstanceKey when the finding is about one stack instance, else the account or StackSet name."""
        if self.stack_set and self.account and self.region:
            return InstanceKey(self.stack_set, self.account, self.region)
        return self.account or self.stack_set

    @property
    def where(self) -> str:
        """``clumio-org/300000000001/us-east-1``, ``account 3200…``, or the StackSet name, for text output."""
        parts = [p for p in (self.stack_set, self.account, self.region) if p]
        return "/".join(parts) if parts else "(organization)"

    def sort_key(self) -> tuple[int, int, str, str, str, str]:
        return (self.severity.rank, self.category.rank, self.stack_set or "", self.account or "",
                self.region or "", self.reason)

    def detail(self, name: str) -> str | None:
        return dict(self.details).get(name)


@dataclass(frozen=True)
class IgnoredFinding:
    """A finding an ignore entry silenced, with the entry's reason, owner and expiry (shown, never hidden)."""

    finding: Finding
    entry_reason: str
    owner: str
    expires: str


@dataclass(frozen=True)
class Detection:
    """What the resource-drift numbers are based on: a detection this run started, or the last completed one.

    ``status`` is DriftDetectionStatus (COMPLETED, FAILED, PARTIAL_SUCCESS, …) or ``NOT_CHECKED`` when no detection
    ever completed. (``detect`` returns ``TIMED_OUT`` when it gave up waiting; the CLI then reports the last
    completed detection instead, with a note.)
    """

    stack_set: str
    started_here: bool
    status: str
    last_check: datetime | None
    age_seconds: float | None
    operation_id: str | None = None


@dataclass(frozen=True)
class DriftReport:
    """A drift run's result: findings (worst first), what the ignore file silenced, and the evidence it stood on.

    ``counted`` is the subset of findings that decide the exit code (``--fail-on`` narrows it); the others are
    still reported.
    """

    generated_at: datetime
    config_path: str
    findings: tuple[Finding, ...]
    ignored: tuple[IgnoredFinding, ...] = ()
    detections: tuple[Detection, ...] = ()
    fail_on: frozenset[Category] = field(default_factory=lambda: frozenset(Category))
    notes: tuple[str, ...] = ()
    format_version: int = DRIFT_REPORT_FORMAT_VERSION

    @property
    def counted(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.category in self.fail_on)

    @property
    def drifted(self) -> bool:
        return bool(self.counted)

    @property
    def exit_code(self) -> int:
        """0 no drift, 2 drift found — the same in every output format (1 is raised as an error before this)."""
        return 2 if self.drifted else 0

    def summary(self) -> Mapping[Category, int]:
        """Findings per category, every category present (0 for clean ones) in category order."""
        counts = {c: 0 for c in Category}
        for finding in self.findings:
            counts[finding.category] += 1
        return counts

    def categories_worst_first(self) -> list[Category]:
        """Categories with findings, ordered by their worst severity then category order; clean ones last."""
        worst: dict[Category, int] = {}
        for finding in self.findings:
            worst[finding.category] = min(worst.get(finding.category, 99), finding.severity.rank)
        return sorted(Category, key=lambda c: (worst.get(c, 99), c.rank))


def sort_findings(findings: list[Finding] | tuple[Finding, ...]) -> tuple[Finding, ...]:
    """Worst first; ties broken by category, then (StackSet, account, region) so reports diff cleanly."""
    return tuple(sorted(findings, key=Finding.sort_key))
