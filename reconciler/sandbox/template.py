"""CloudFormation templates in the sandbox: parsing (with short tags) and the Clumio org template per version."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from reconciler.sandbox.api import AwsFault

# The template's asset blocks; EC2MSSQL and the Iceberg types add no resources to the sandbox's template but stay
# listed in its ClumioAssetTypes (clumio-api.md §5: a valid asset type is never dropped).
ASSET_TYPES = ("EBS", "RDS", "S3", "DynamoDB", "EC2MSSQL", "IcebergOnGlue", "IcebergOnS3Tables")
DEFAULT_ASSET_TYPES = ("EBS", "RDS", "S3")
# Clumio names EC2/EBS and EBS interchangeably in requests (clumio-api.md §5); the template block is "EBS".
_ASSET_ALIASES = {"EC2/EBS": "EBS", "EBS": "EBS", "RDS": "RDS", "S3": "S3", "DYNAMODB": "DynamoDB",
                  "EC2MSSQL": "EC2MSSQL", "ICEBERGONGLUE": "IcebergOnGlue", "ICEBERGONS3TABLES": "IcebergOnS3Tables"}
MAX_BODY_BYTES = 51_200  # TemplateBody limit (aws-stacksets.md §A2)


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader that understands CloudFormation's short-form intrinsic tags (!Ref, !Sub, !GetAtt …)."""


def _cfn_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "Condition":
        return {"Condition": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


_CfnLoader.add_multi_constructor("!", _cfn_tag)


@dataclass(frozen=True)
class TemplateParameter:
    name: str
    no_echo: bool
    default: str | None
    allowed_values: tuple[str, ...]


@dataclass(frozen=True)
class ParsedTemplate:
    """What the sandbox needs from a template: its parameters and the Clumio version it declares, if any."""

    parameters: dict[str, TemplateParameter]
    resources: dict[str, str]  # logical id -> resource type
    clumio_version: str | None
    asset_types: tuple[str, ...]


def parse_template(body: str) -> ParsedTemplate:
    """Parse a YAML or JSON template as CloudFormation would; raise ValidationError like AWS does."""
    if len(body.encode()) > MAX_BODY_BYTES:
        raise AwsFault("ValidationError", f"1 validation error detected: Value at 'templateBody' failed to satisfy "
                                          f"constraint: Member must have length less than or equal to "
                                          f"{MAX_BODY_BYTES}")
    return _parse_cached(body)


def load_template_document(body: str) -> dict[str, Any]:
    """A YAML or JSON template as a dict (short-form tags expanded); format errors as CloudFormation words them."""
    try:
        doc = json.loads(body) if body.lstrip().startswith("{") else yaml.load(body, Loader=_CfnLoader)  # noqa: S506
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        kind = "JSON" if body.lstrip().startswith("{") else "YAML"
        raise AwsFault("ValidationError", f"Template format error: {kind} not well-formed.{where}") from None
    if not isinstance(doc, dict):
        raise AwsFault("ValidationError", "Template format error: unsupported structure.")
    if not isinstance(doc.get("Resources"), dict) or not doc["Resources"]:
        raise AwsFault("ValidationError", "Template format error: At least one Resources member must be defined.")
    return doc


@lru_cache(maxsize=64)
def _parse_cached(body: str) -> ParsedTemplate:
    doc = load_template_document(body)
    resources_ = doc["Resources"]
    if "Transform" in doc:
        raise AwsFault("ValidationError", "StackSets with SERVICE_MANAGED permission model do not support "
                                          "macros or transforms in the template.")
    params: dict[str, TemplateParameter] = {}
    for name, decl in (doc.get("Parameters") or {}).items():
        decl = decl if isinstance(decl, dict) else {}
        no_echo = str(decl.get("NoEcho", "false")).lower() == "true"
        default = decl.get("Default")
        params[name] = TemplateParameter(name, no_echo, None if default is None else str(default),
                                         tuple(str(v) for v in decl.get("AllowedValues", ())))
    meta: dict[str, Any] = doc["Metadata"] if isinstance(doc.get("Metadata"), dict) else {}
    version = meta.get("ClumioTemplateVersion")
    types = {n: str(r.get("Type", "")) for n, r in resources_.items() if isinstance(r, dict)}
    return ParsedTemplate(params, types, None if version is None else str(version),
                          tuple(meta.get("ClumioAssetTypes") or ()))


def resolve_parameters(template: ParsedTemplate, given: dict[str, str]) -> dict[str, str]:
    """Check passed parameters against the template (declared, allowed, all required present)."""
    unknown = sorted(set(given) - set(template.parameters))
    if unknown:
        raise AwsFault("ValidationError", f"Parameters: [{', '.join(unknown)}] do not exist in the template")
    missing = sorted(n for n, p in template.parameters.items() if p.default is None and n not in given)
    if missing:
        raise AwsFault("ValidationError", f"Parameters: [{', '.join(missing)}] must have values")
    values = {n: p.default for n, p in template.parameters.items() if p.default is not None}
    values.update(given)
    for name, value in values.items():
        allowed = template.parameters[name].allowed_values
        if allowed and value not in allowed:
            raise AwsFault("ValidationError", f"Parameter '{name}' must be one of AllowedValues")
    return values


def normalise_asset_types(asset_types: list[str] | tuple[str, ...] | None) -> tuple[str, ...]:
    """Request asset type names (EC2/EBS, RDS, S3, DynamoDB …) → the template's block names, in a stable order."""
    if not asset_types:
        return DEFAULT_ASSET_TYPES
    chosen = {_ASSET_ALIASES.get(a.upper()) for a in asset_types}
    return tuple(a for a in ASSET_TYPES if a in chosen)


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split("."))


def render_clumio_template(version: str, asset_types: list[str] | tuple[str, ...] | None = None) -> str:
    """The Clumio organization CloudFormation template for ``version`` with only the chosen asset blocks."""
    chosen = normalise_asset_types(asset_types)
    source = (resources.files("reconciler.sandbox") / "templates" / "clumio-org.yaml").read_text(encoding="utf-8")
    out: list[str] = []
    keep: list[bool] = []
    for line in source.splitlines():
        marker = line.strip()
        if marker.startswith("#@asset "):
            keep.append(marker.split(" ", 1)[1] in chosen)
        elif marker.startswith("#@since "):
            keep.append(_version_key(version) >= _version_key(marker.split(" ", 1)[1]))
        elif marker == "#@end":
            keep.pop()
        elif all(keep):
            out.append(line)
    text = "\n".join(out) + "\n"
    return text.replace("{{VERSION}}", version).replace("{{ASSET_TYPES}}", json.dumps(list(chosen)))
