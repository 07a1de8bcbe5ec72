"""Version drift: a StackSet's Clumio template behind the desired (or latest) version, parameters that moved."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from typing import Protocol

from reconciler.core.desired import Desired
from reconciler.core.live import Live, LiveStackSet, PermissionModel
from reconciler.drift.model import Category, Finding, Severity

SECRET_PARAMETERS = frozenset({"ClumioToken", "RoleExternalId"})
_VERSION = re.compile(r"""["']?ClumioTemplateVersion["']?\s*:\s*["']?([0-9A-Za-z._-]+)""")


class StackSetRecordLike(Protocol):
    @property
    def template_version(self) -> str: ...
    @property
    def template_sha256(self) -> str: ...
    @property
    def parameters(self) -> Mapping[str, str]: ...


class StateLike(Protocol):
    """What drift reads from ``reconciler.state.model.State``: what clumio-org itself last applied."""

    @property
    def stack_sets(self) -> Mapping[str, StackSetRecordLike]: ...


def template_version_of(body: str) -> str | None:
    """``Metadata.ClumioTemplateVersion`` of a template body (YAML or JSON), without parsing the whole template."""
    match = _VERSION.search(body)
    return match.group(1) if match else None


def version_findings(desired: Desired, live: Live, names: Sequence[str], state: StateLike | None) -> list[Finding]:
    findings: list[Finding] = []
    for name in names:
        ss = live.stack_sets.get(name)
        if ss is None:
            continue  # membership reports the missing StackSet
        record = state.stack_sets.get(name) if state is not None else None
        findings += _template_findings(desired, live, ss, record)
        findings += _parameter_findings(desired, ss, record)
        findings += _setting_findings(desired, ss)
    return findings


def _template_findings(desired: Desired, live: Live, ss: LiveStackSet,
                       record: StackSetRecordLike | None) -> list[Finding]:
    running = template_version_of(ss.template_body) or "unknown"
    pin = desired.clumio.template_version
    latest = live.clumio_template.version if live.clumio_template is not None else None
    details: list[tuple[str, str]] = [("running_version", running), ("desired_version", pin)]
    if latest:
        details.append(("latest_version", latest))
    if pin == "latest":
        if latest and running != latest:
            return [Finding(Category.VERSION, Severity.WARNING,
                            f"update available: Clumio template {latest} (StackSet runs {running})",
                            stack_set=ss.name, details=tuple(details))]
    elif running != pin:
        return [Finding(Category.VERSION, Severity.WARNING,
                        f"template {running} differs from the pinned version {pin}",
                        stack_set=ss.name, details=tuple(details))]
    if record is not None and record.template_sha256:
        body_sha = hashlib.sha256(ss.template_body.encode()).hexdigest()
        if body_sha != record.template_sha256.removeprefix("sha256:"):
            details.append(("applied_sha256", record.template_sha256))
            details.append(("live_sha256", body_sha))
            return [Finding(Category.VERSION, Severity.WARNING,
                            "template body differs from the one clumio-org applied (changed outside clumio-org?)",
                            stack_set=ss.name, details=tuple(details))]
    return []


def _parameter_findings(desired: Desired, ss: LiveStackSet, record: StackSetRecordLike | None) -> list[Finding]:
    findings: list[Finding] = []
    for key, want in sorted(desired.stack_set.template_parameters().items()):
        if key in SECRET_PARAMETERS:
            continue
        have = ss.parameters.get(key)
        if have == want or (have is None and want == ""):
            continue
        details: list[tuple[str, str]] = [("parameter", key), ("live", _show(have)), ("desired", _show(want))]
        if record is not None and key in record.parameters and record.parameters[key] != have:
            details.append(("applied", _show(record.parameters[key])))
            details.append(("note", "changed outside clumio-org since the last apply"))
        findings.append(Finding(Category.VERSION, Severity.WARNING,
                                f"parameter {key} is {_show(have)}, desired {_show(want)}",
                                stack_set=ss.name, details=tuple(details)))
    return findings


def _setting_findings(desired: Desired, ss: LiveStackSet) -> list[Finding]:
    if ss.permission_model is not PermissionModel.SERVICE_MANAGED or ss.name != desired.stack_set.name:
        return []
    want = desired.stack_set.auto_deployment
    if ss.auto_deployment is None or ss.auto_deployment == want:
        return []
    return [Finding(Category.VERSION, Severity.WARNING,
                    f"auto-deployment is {'on' if ss.auto_deployment else 'off'}, desired {'on' if want else 'off'}",
                    stack_set=ss.name,
                    details=(("setting", "AutoDeployment.Enabled"), ("live", str(ss.auto_deployment)),
                             ("desired", str(want))))]


def _show(value: str | None) -> str:
    if value is None:
        return "(unset)"
    return f'"{value}"'
