"""Version drift: a StackSet's Clumio template behind the desired (or latest) version, parameters that moved."""

from __future__ import annotations

from collections.abc import Sequence

import yaml

from reconciler.core.desired import Desired
from reconciler.core.live import Live, LiveStackSet, PermissionModel
from reconciler.core.recorded import Recorded, RecordedStackSet
from reconciler.core.template import SECRET_PARAMETERS
from reconciler.drift.model import Category, Finding, Severity


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader that reads CloudFormation short tags (``!Ref``, ``!Sub`` …) as plain values."""


def _any_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> object:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    return loader.construct_mapping(node)  # type: ignore[arg-type]


_CfnLoader.add_multi_constructor("!", _any_tag)


def template_defaults(body: str) -> dict[str, str]:
    """``Parameters.<name>.Default`` of a template, as strings: a parameter AWS reports as unset takes these."""
    try:
        doc = yaml.load(body, Loader=_CfnLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError:
        return {}
    params = doc.get("Parameters") if isinstance(doc, dict) else None
    if not isinstance(params, dict):
        return {}
    return {name: str(spec["Default"]) for name, spec in params.items()
            if isinstance(spec, dict) and "Default" in spec}


def version_findings(desired: Desired, live: Live, names: Sequence[str], state: Recorded | None) -> list[Finding]:
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
                       record: RecordedStackSet | None) -> list[Finding]:
    running = ss.template_version or "unknown"
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
        body_sha = ss.template_sha256
        if body_sha != record.template_sha256.removeprefix("sha256:"):
            details.append(("applied_sha256", record.template_sha256))
            details.append(("live_sha256", body_sha))
            return [Finding(Category.VERSION, Severity.WARNING,
                            "template body differs from the one clumio-org applied (changed outside clumio-org?)",
                            stack_set=ss.name, details=tuple(details))]
    return []


def _parameter_findings(desired: Desired, ss: LiveStackSet, record: RecordedStackSet | None) -> list[Finding]:
    findings: list[Finding] = []
    defaults: dict[str, str] | None = None
    for key, want in sorted(desired.stack_set.template_parameters().items()):
        if key in SECRET_PARAMETERS:
            continue
        have = ss.parameters.get(key)
        if have is None:
            defaults = template_defaults(ss.template_body) if defaults is None else defaults
            have = defaults.get(key)
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
