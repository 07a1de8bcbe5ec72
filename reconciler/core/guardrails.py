"""Guardrails: the service control policies and the Control Tower landing zone that decide, before wave 1, where a
stack instance will fail (docs/reference/guardrails.md).

Discovery reads them into :class:`Guardrails`; the pure evaluator (``reconciler.plan.guardrails``) turns them into a
:class:`GuardrailFinding` per (StackSet, account, region) that will fail or cannot be told; the plan carries the
findings, and ``guardrails.on_deny`` (:class:`GuardrailMode`) decides whether they only warn, are skipped, or refuse
the plan.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

from reconciler.core.keys import InstanceKey

SCP_TYPE = "SERVICE_CONTROL_POLICY"
CONTROL_TOWER_POLICY_PREFIX = "aws-guardrails-"  # the SCPs Control Tower attaches for its preventive controls


class GuardrailMode(enum.Enum):
    """``guardrails.on_deny``: what the plan does with an (account, region) a guardrail denies."""

    WARN = "warn"  # plan it anyway and name it ("will fail: …")
    SKIP = "skip"  # leave the pair out of the plan (and out of drift), with the reason
    REFUSE = "refuse"  # refuse to plan until the guardrail or the config changes


@dataclass(frozen=True)
class ScpPolicy:
    """One SCP as DescribePolicy returns it: id (``p-…``), name, JSON content, and whether AWS manages it
    (FullAWSAccess)."""

    id: str
    name: str
    content: str
    aws_managed: bool = False


@dataclass(frozen=True)
class LandingZone:
    """A Control Tower landing zone (GetLandingZone): its version, status and the regions it governs
    (``manifest.governedRegions``)."""

    arn: str
    version: str
    status: str
    governed_regions: tuple[str, ...]


@dataclass(frozen=True)
class Guardrails:
    """What discovery read about the organization's guardrails.

    ``attachments`` maps every target read (the root, each OU on a targeted account's path, each targeted account) to
    the SCP ids attached to it directly; inheritance is the evaluator's job. ``policies`` holds each distinct policy
    once. ``scp_note`` says why SCPs were not read (the caller may not read policies): the check is then skipped,
    never guessed. ``landing_zone`` is None when the organization has no Control Tower landing zone (or it could not
    be read: ``control_tower_note`` says which).
    """

    attachments: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    policies: Mapping[str, ScpPolicy] = field(default_factory=dict)
    scp_note: str | None = None
    landing_zone: LandingZone | None = None
    control_tower_note: str | None = None

    @property
    def scp_readable(self) -> bool:
        return self.scp_note is None


class Verdict(enum.Enum):
    """How an (account, region) stands against the guardrails. Only the two that matter are recorded."""

    DENIED = "will fail"
    UNKNOWN = "unknown"


class GuardrailSource(enum.Enum):
    SCP = "scp"
    CONTROL_TOWER = "control-tower"


@dataclass(frozen=True)
class GuardrailFinding:
    """One (StackSet, account, region) a guardrail denies (or may deny), with what a reviewer needs to fix it.

    ``reason`` is the whole sentence ("SCP p-… (name) on /Workloads denies iam:CreateRole"); ``target`` is where the
    policy is attached (an OU path, ``/`` for the root, or the account id). ``skipped`` is True when
    ``guardrails.on_deny: skip`` left the pair out of the plan.
    """

    key: InstanceKey
    verdict: Verdict
    reason: str
    source: GuardrailSource = GuardrailSource.SCP
    policy_id: str | None = None
    policy_name: str | None = None
    target: str | None = None
    action: str | None = None
    skipped: bool = False


@dataclass(frozen=True)
class GuardrailReport:
    """The guardrail part of a plan: the mode it was made under, every finding (sorted by key), and notes (policies
    not readable, regions Control Tower does not govern …)."""

    mode: GuardrailMode = GuardrailMode.WARN
    findings: tuple[GuardrailFinding, ...] = ()
    notes: tuple[str, ...] = ()
    checked: bool = True

    def counts(self) -> dict[str, int]:
        denied = sum(1 for f in self.findings if f.verdict is Verdict.DENIED)
        return {"will_fail": denied, "unknown": len(self.findings) - denied,
                "skipped": sum(1 for f in self.findings if f.skipped)}

    @property
    def skipped_keys(self) -> frozenset[InstanceKey]:
        return frozenset(f.key for f in self.findings if f.skipped)

