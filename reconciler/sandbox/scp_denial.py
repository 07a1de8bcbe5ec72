"""The sandbox's own rule for which stack instances a service control policy makes fail
(docs/reference/guardrails.md §6); the policies themselves and their API are in ``reconciler.sandbox.policies``.

Deliberately independent of ``reconciler.plan.guardrails`` (see ``reconciler.sandbox.policies``).
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import yaml

from reconciler.sandbox.policies import Policy, PolicyStore
from reconciler.sandbox.template import _CfnLoader as CfnLoader

if TYPE_CHECKING:
    from reconciler.sandbox.organizations import Organization
    from reconciler.sandbox.stacksets import StackSet

# Calls a stack's create makes per resource type (the sandbox's own short list).
_CALLS = {
    "AWS::IAM::Role": ("iam:CreateRole", "iam:PutRolePolicy", "iam:TagRole"),
    "AWS::SNS::Topic": ("sns:CreateTopic",),
    "AWS::SNS::Subscription": ("sns:Subscribe",),
    "AWS::Events::Rule": ("events:PutRule", "events:PutTargets"),
    "AWS::KMS::Key": ("kms:CreateKey",),
}
_GLOBAL = ("iam", "organizations", "route53", "cloudfront", "support")


@lru_cache(maxsize=16)
def _resources(body: str) -> tuple[tuple[str, str, str], ...]:
    """(logical id, type, properties as JSON) of every unconditional resource (conditional ones are off with the
    default parameters, which is what the sandbox's worlds deploy)."""
    doc = json.loads(body) if body.lstrip().startswith("{") else yaml.load(body, Loader=CfnLoader)  # noqa: S506
    out = []
    for logical, decl in (doc.get("Resources") or {}).items():
        if isinstance(decl, dict) and "Condition" not in decl:
            out.append((str(logical), str(decl.get("Type")), json.dumps(decl.get("Properties") or {})))
    return tuple(out)


def exec_role_name(account: str) -> str:
    """The execution role the sandbox's StackSets "creates" in each account: stacksets-exec-<32 hex>."""
    return "stacksets-exec-" + hashlib.md5(account.encode()).hexdigest()  # noqa: S324 - a name, not security


def _sub(value: Any, account: str, region: str, params: dict[str, str]) -> str:
    if isinstance(value, str):
        return value
    text = value.get("Fn::Sub") if isinstance(value, dict) else None
    if not isinstance(text, str):
        return "*unnamed*"
    text = text.replace("${AWS::Region}", region).replace("${AWS::AccountId}", account)
    for key, given in params.items():
        text = text.replace("${" + key + "}", given)
    while "${" in text:  # NoEcho parameters stay out of names a status reason prints
        start = text.index("${")
        end = text.find("}", start)
        text = text[:start] + "x" + (text[end + 1:] if end >= 0 else "")
    return text


def _calls(body: str, stack_set: str, account: str, region: str,
           params: dict[str, str]) -> list[tuple[str, str, str, str]]:
    """(logical id, type, action, resource ARN) for every call the stack makes, stack first."""
    calls = [("", "", "cloudformation:CreateStack",
              f"arn:aws:cloudformation:{region}:{account}:stack/StackSet-{stack_set}-0000/*")]
    for logical, kind, props_json in _resources(body):
        props = json.loads(props_json)
        if kind == "AWS::IAM::Role":
            arn = f"arn:aws:iam::{account}:role/{_sub(props.get('RoleName'), account, region, params)}"
        elif kind == "AWS::SNS::Topic":
            arn = f"arn:aws:sns:{region}:{account}:{_sub(props.get('TopicName'), account, region, params)}"
        else:
            arn = f"arn:aws:{kind.split('::')[1].lower() if '::' in kind else 'x'}:{region}:{account}:{logical}"
        calls += [(str(logical), kind, action, arn) for action in _CALLS.get(kind, ())]
    return calls


def _matches(patterns: Any, value: str, *, case: bool = False) -> bool:
    items = [patterns] if isinstance(patterns, str) else list(patterns or [])
    if case:
        return any(fnmatch.fnmatchcase(value, p) for p in items)
    return any(fnmatch.fnmatchcase(value.lower(), str(p).lower()) for p in items)


def _condition(block: dict[str, Any], context: dict[str, str]) -> bool:
    """Every condition holds. Keys this sandbox does not model make the statement not apply (documented)."""
    for operator, pairs in block.items():
        for key, values in pairs.items():
            lowered = key.lower()
            if lowered.startswith("aws:principaltag/"):
                value = None  # the sandbox's execution roles carry no tags
            elif lowered in context:
                value = context[lowered]
            else:
                return False
            negated = "Not" in operator
            if value is None:
                if not negated:
                    return False
                continue
            hit = _matches(values, value, case=True) if ("Like" in operator or operator.startswith("Arn")) else \
                value in ([values] if isinstance(values, str) else values)
            if hit == negated:
                return False
    return True


def _statements(store: PolicyStore, target: str) -> list[tuple[Policy, dict[str, Any]]]:
    out: list[tuple[Policy, dict[str, Any]]] = []
    for pid in store.attachments(target):
        policy = store.policies[pid]
        try:
            doc = json.loads(policy.content)
        except ValueError:
            continue
        statements = doc.get("Statement")
        for st in [statements] if isinstance(statements, dict) else statements or []:
            out.append((policy, st))
    return out


def _covers(st: dict[str, Any], action: str, resource: str, context: dict[str, str]) -> bool:
    if "Action" in st:
        if not _matches(st["Action"], action):
            return False
    elif _matches(st.get("NotAction"), action):
        return False
    if "NotResource" in st:
        if _matches(st["NotResource"], resource, case=True):
            return False
    elif not _matches(st.get("Resource", "*"), resource, case=True):
        return False
    return _condition(st.get("Condition") or {}, context)


def scp_failure(org: Organization, store: PolicyStore, stack_set: StackSet, account: str, region: str,
                params: dict[str, str]) -> str | None:
    """AWS's status reason when an SCP denies a call the stack makes in (account, region), else None."""
    if not store.enabled or account == org.management_account or account not in org.accounts:
        return None
    role = exec_role_name(account) if stack_set.service_managed else (stack_set.execution_role_name or
                                                                      "AWSCloudFormationStackSetExecutionRole")
    declared = stack_set.template.parameters
    params = {k: v for k, v in params.items() if k in declared and not declared[k].no_echo}
    chain = [*reversed(org.ancestors(org.accounts[account].parent_id)), account]
    for logical, kind, action, resource in _calls(stack_set.template_body, stack_set.name, account, region, params):
        service = action.split(":", 1)[0]
        context = {"aws:requestedregion": "us-east-1" if service in _GLOBAL else region,
                   "aws:principalarn": f"arn:aws:iam::{account}:role/{role}"}
        explicit = any(st.get("Effect") == "Deny" and _covers(st, action, resource, context)
                       for node in chain for _, st in _statements(store, node))
        implicit = not explicit and any(
            not any(st.get("Effect") == "Allow" and _covers(st, action, resource, context)
                    for _, st in _statements(store, node)) for node in chain)
        if explicit or implicit:
            why = ("with an explicit deny in a service control policy" if explicit else
                   f"because no service control policy allows the {action} action")
            message = (f"User: arn:aws:sts::{account}:assumed-role/{role}/{stack_set.id[-12:]} is not authorized to "
                       f"perform: {action} on resource: {resource} {why}")
            if not logical:
                return message
            request_id = hashlib.md5(resource.encode()).hexdigest()  # noqa: S324 - an id, not security
            return (f"ResourceLogicalId:{logical}, ResourceType:{kind}, ResourceStatusReason:{message} (Service: "
                    f"{service.capitalize()}, Status Code: 403, Request ID: {request_id})")
    return None
