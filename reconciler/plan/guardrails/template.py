"""The IAM actions a stack of the Clumio template makes the StackSets execution role call, read from the template
Clumio serves (docs/reference/guardrails.md §3).

CloudFormation creates each resource with the caller's credentials — in a stack instance, the execution role's — so
every create call of every resource is subject to the target account's SCPs. The table below lists, per resource
type, the calls its create handler makes for the properties the template uses (the resource type schemas'
``handlers.create.permissions``), each with the ARN the call names as far as the template tells it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from reconciler.plan.guardrails.match import UNKNOWN

# Services with one global endpoint in us-east-1: their calls carry aws:RequestedRegion us-east-1 whatever region
# the stack is in (IAM User Guide, "AWS: Denies access to AWS based on the requested Region").
GLOBAL_SERVICES = frozenset({"iam", "organizations", "route53", "cloudfront", "waf", "globalaccelerator",
                             "support", "budgets", "importexport"})
GLOBAL_REGION = "us-east-1"


@dataclass(frozen=True)
class RequiredAction:
    """One call a stack makes: ``iam:CreateRole`` on ``arn:aws:iam::{account}:role/ClumioIAMRole-{region}-…``.

    ``resource`` is a template with ``{account}`` and ``{region}`` and :data:`UNKNOWN` for parts the template leaves
    to parameters or CloudFormation. ``logical_id`` names the template resource it comes from ("" for the stack).
    """

    action: str
    resource: str
    logical_id: str = ""

    @property
    def service(self) -> str:
        return self.action.split(":", 1)[0].lower()

    def requested_region(self, region: str) -> str:
        return GLOBAL_REGION if self.service in GLOBAL_SERVICES else region

    def resource_in(self, account: str, region: str) -> str:
        return self.resource.replace("{account}", account).replace("{region}", region)


# libyaml's parser when PyYAML has it (the same documents, ~10× faster: 13 → 1.3 ms for the sandbox's 10 KB
# template, more for Clumio's own), else PyYAML's own; the constructor is SafeLoader's either way.
_SafeBase: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _CfnLoader(_SafeBase):  # type: ignore[valid-type,misc]
    """SafeLoader that reads CloudFormation's short-form tags (!Ref, !Sub, !If …) into their long form."""


def _cfn_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if suffix in ("Ref", "Condition"):
        return {suffix: value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


_CfnLoader.add_multi_constructor("!", _cfn_tag)


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _load(body: str) -> dict[str, Any]:
    text = body.lstrip()
    doc = json.loads(body) if text.startswith("{") else yaml.load(body, Loader=_CfnLoader)  # noqa: S506
    return doc if isinstance(doc, dict) else {}


class _Conditions:
    """The template's Conditions, evaluated with the parameter values the StackSet sends (None: cannot tell)."""

    def __init__(self, doc: Mapping[str, Any], parameters: Mapping[str, str]) -> None:
        self.defs = _mapping(doc.get("Conditions"))
        values = {}
        for name, decl in (doc.get("Parameters") or {}).items():
            if isinstance(decl, dict) and "Default" in decl:
                values[name] = str(decl["Default"])
        values.update(parameters)
        self.values = values

    def _value(self, node: Any) -> str | None:
        if isinstance(node, (str, int, float, bool)):
            return str(node)
        if isinstance(node, dict) and "Ref" in node:
            return self.values.get(str(node["Ref"]))
        return None

    def truth(self, node: Any, depth: int = 0) -> bool | None:
        if depth > 20 or not isinstance(node, dict) or len(node) != 1:
            return None
        (op, arg), = node.items()
        if op == "Condition":
            return self.named(str(arg), depth + 1)
        if op == "Fn::Equals" and isinstance(arg, list) and len(arg) == 2:
            left, right = self._value(arg[0]), self._value(arg[1])
            return None if left is None or right is None else left == right
        parts = [self.truth(a, depth + 1) for a in arg] if isinstance(arg, list) else []
        if op == "Fn::Not" and len(parts) == 1:
            return None if parts[0] is None else not parts[0]
        if op == "Fn::And" and parts:
            return False if False in parts else (None if None in parts else True)
        if op == "Fn::Or" and parts:
            return True if True in parts else (None if None in parts else False)
        return None

    def named(self, name: str, depth: int = 0) -> bool | None:
        return self.truth(self.defs.get(name), depth) if name in self.defs else None


def _present(props: Mapping[str, Any], name: str, conditions: _Conditions) -> bool:
    """Whether a property is really sent: absent, or ``!If [cond, x, AWS::NoValue]`` with a false cond, is not."""
    value = props.get(name)
    if value is None:
        return False
    if isinstance(value, dict) and "Fn::If" in value and isinstance(value["Fn::If"], list):
        cond, yes, no = (value["Fn::If"] + [None, None, None])[:3]
        chosen = conditions.named(str(cond))
        if chosen is None:
            return True
        picked = yes if chosen else no
        return not (isinstance(picked, dict) and picked.get("Ref") == "AWS::NoValue")
    return True


def _name(value: Any) -> str:
    """A resource name as a family: literal text, ``${AWS::Region}``/``${AWS::AccountId}`` kept, the rest unknown."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Sub" in value:
        text = value["Fn::Sub"]
        text = text[0] if isinstance(text, list) and text else text
        if isinstance(text, str):
            out = text.replace("${AWS::Region}", "{region}").replace("${AWS::AccountId}", "{account}")
            while "${" in out:
                start = out.index("${")
                end = out.find("}", start)
                out = out[:start] + UNKNOWN + (out[end + 1:] if end >= 0 else "")
            return out
    return UNKNOWN


def _role_arn(value: Any, resources: Mapping[str, Any]) -> str:
    """A role ARN property: ``!GetAtt SomeRole.Arn`` of a role in the template gives that role's name."""
    if isinstance(value, dict) and isinstance(value.get("Fn::GetAtt"), list) and value["Fn::GetAtt"]:
        decl = resources.get(str(value["Fn::GetAtt"][0]))
        if isinstance(decl, dict) and decl.get("Type") == "AWS::IAM::Role":
            props = _mapping(decl.get("Properties"))
            return f"arn:aws:iam::{{account}}:role/{_name(props.get('RoleName'))}"
    return f"arn:aws:iam::{{account}}:role/{UNKNOWN}"


def _role(props: Mapping[str, Any], c: _Conditions, resources: Mapping[str, Any]) -> list[tuple[str, str]]:
    arn = f"arn:aws:iam::{{account}}:role/{_name(props.get('RoleName'))}"
    calls = [("iam:CreateRole", arn), ("iam:GetRole", arn)]
    if _present(props, "Policies", c):
        calls.append(("iam:PutRolePolicy", arn))
    if _present(props, "ManagedPolicyArns", c):
        calls.append(("iam:AttachRolePolicy", arn))
    if _present(props, "PermissionsBoundary", c):
        calls.append(("iam:PutRolePermissionsBoundary", arn))
    if _present(props, "Tags", c):
        calls.append(("iam:TagRole", arn))
    return calls


def _topic(props: Mapping[str, Any], c: _Conditions, resources: Mapping[str, Any]) -> list[tuple[str, str]]:
    arn = f"arn:aws:sns:{{region}}:{{account}}:{_name(props.get('TopicName'))}"
    calls = [("sns:CreateTopic", arn), ("sns:GetTopicAttributes", arn)]
    if _present(props, "Tags", c):
        calls.append(("sns:TagResource", arn))
    if _present(props, "KmsMasterKeyId", c):
        calls.append(("sns:SetTopicAttributes", arn))
    return calls


def _rule(props: Mapping[str, Any], c: _Conditions, resources: Mapping[str, Any]) -> list[tuple[str, str]]:
    arn = f"arn:aws:events:{{region}}:{{account}}:rule/{_name(props.get('Name'))}"
    calls = [("events:PutRule", arn), ("events:DescribeRule", arn)]
    targets = props.get("Targets")
    if _present(props, "Targets", c):
        calls.append(("events:PutTargets", arn))
        for target in targets if isinstance(targets, list) else []:
            if isinstance(target, dict) and "RoleArn" in target:
                calls.append(("iam:PassRole", _role_arn(target["RoleArn"], resources)))
    return calls


def _key(props: Mapping[str, Any], c: _Conditions, resources: Mapping[str, Any]) -> list[tuple[str, str]]:
    calls = [("kms:CreateKey", "*")]
    if _present(props, "Tags", c):
        calls.append(("kms:TagResource", f"arn:aws:kms:{{region}}:{{account}}:key/{UNKNOWN}"))
    return calls


_SIMPLE: dict[str, list[tuple[str, str]]] = {
    "AWS::SNS::Subscription": [("sns:Subscribe", f"arn:aws:sns:{{region}}:{{account}}:{UNKNOWN}")],
    "AWS::SNS::TopicPolicy": [("sns:SetTopicAttributes", f"arn:aws:sns:{{region}}:{{account}}:{UNKNOWN}")],
    "AWS::IAM::Policy": [("iam:PutRolePolicy", f"arn:aws:iam::{{account}}:role/{UNKNOWN}")],
    "AWS::IAM::ManagedPolicy": [("iam:CreatePolicy", f"arn:aws:iam::{{account}}:policy/{UNKNOWN}")],
    "AWS::SQS::Queue": [("sqs:CreateQueue", f"arn:aws:sqs:{{region}}:{{account}}:{UNKNOWN}")],
    "AWS::Lambda::Function": [("lambda:CreateFunction", f"arn:aws:lambda:{{region}}:{{account}}:function:{UNKNOWN}"),
                              ("iam:PassRole", f"arn:aws:iam::{{account}}:role/{UNKNOWN}")],
}
_BUILDERS = {"AWS::IAM::Role": _role, "AWS::SNS::Topic": _topic, "AWS::Events::Rule": _rule, "AWS::KMS::Key": _key}
_NO_CALLS = ("AWS::CloudFormation::WaitConditionHandle",)


def stack_actions(stack_set: str) -> list[RequiredAction]:
    """The stack itself: the execution role creates it in the target account and region (service-managed stacks are
    named ``StackSet-<name>-<id>``)."""
    arn = f"arn:aws:cloudformation:{{region}}:{{account}}:stack/StackSet-{stack_set}-{UNKNOWN}/{UNKNOWN}"
    return [RequiredAction("cloudformation:CreateStack", arn), RequiredAction("cloudformation:DescribeStacks", arn)]


def required_actions(body: str, parameters: Mapping[str, str], stack_set: str) -> tuple[RequiredAction, ...]:
    """Every call a stack of ``body`` makes the execution role send, in template order, each call once.

    A resource whose Condition is false for ``parameters`` is left out; one of a type this table does not know
    becomes ``<service>:*`` on an unknown resource, so any deny on that service reads as "unknown".
    """
    try:
        doc = _load(body)
    except (yaml.YAMLError, ValueError):
        doc = {}
    conditions = _Conditions(doc, parameters)
    found: list[RequiredAction] = list(stack_actions(stack_set))
    seen = {(a.action, a.resource) for a in found}
    resources = _mapping(doc.get("Resources"))
    for logical_id, decl in resources.items():
        if not isinstance(decl, dict):
            continue
        if "Condition" in decl and conditions.named(str(decl["Condition"])) is False:
            continue
        kind = str(decl.get("Type", ""))
        props = _mapping(decl.get("Properties"))
        if kind in _BUILDERS:
            calls = _BUILDERS[kind](props, conditions, resources)
        elif kind in _SIMPLE:
            calls = _SIMPLE[kind]
        elif kind in _NO_CALLS:
            calls = []
        else:
            service = kind.split("::")[1].lower() if kind.count("::") >= 2 else "cloudformation"
            calls = [(f"{service}:{UNKNOWN}", UNKNOWN)]
        for action, resource in calls:
            if (action, resource) not in seen:
                seen.add((action, resource))
                found.append(RequiredAction(action, resource, str(logical_id)))
    return tuple(found)
