"""The sandbox's service control policies: the Organizations policy API, and its own rule for which stack instances
an SCP makes fail (docs/reference/guardrails.md §6).

Deliberately independent of ``reconciler.plan.guardrails``: this side works on concrete values (the execution role
is ``stacksets-exec-<md5 of the account>``, role names resolved with the real parameters) and a smaller rule set, so
contract tests compare two implementations instead of one with itself.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import yaml

from reconciler.sandbox.api import AwsFault
from reconciler.sandbox.organizations import PAGE_MAX, Organization
from reconciler.sandbox.template import _CfnLoader as CfnLoader

if TYPE_CHECKING:
    from reconciler.sandbox.stacksets import StackSet

SCP = "SERVICE_CONTROL_POLICY"
FULL_ACCESS_ID = "p-FullAWSAccess"
FULL_ACCESS = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*",
                                                                   "Resource": "*"}]})
MAX_CONTENT = 5120  # SCP document size quota (characters)
POLICY_OPERATIONS = frozenset({
    "ListPoliciesForTarget", "ListPolicies", "DescribePolicy", "ListTargetsForPolicy", "CreatePolicy",
    "UpdatePolicy", "AttachPolicy", "DetachPolicy", "DeletePolicy", "EnablePolicyType", "DisablePolicyType"})
_WRITES = frozenset({"CreatePolicy", "UpdatePolicy", "AttachPolicy", "DetachPolicy", "DeletePolicy",
                     "EnablePolicyType", "DisablePolicyType"})
# Calls a stack's create makes per resource type (the sandbox's own short list).
_CALLS = {
    "AWS::IAM::Role": ("iam:CreateRole", "iam:PutRolePolicy", "iam:TagRole"),
    "AWS::SNS::Topic": ("sns:CreateTopic",),
    "AWS::SNS::Subscription": ("sns:Subscribe",),
    "AWS::Events::Rule": ("events:PutRule", "events:PutTargets"),
    "AWS::KMS::Key": ("kms:CreateKey",),
}
_GLOBAL = ("iam", "organizations", "route53", "cloudfront", "support")


@dataclass(slots=True)
class Policy:
    id: str
    name: str
    description: str
    content: str
    aws_managed: bool = False


@dataclass(slots=True)
class PolicyStore:
    """SCPs and where they are attached. With the policy type enabled, a root, OU or account never touched keeps
    FullAWSAccess (AWS attaches it to everything when SCPs are enabled, new accounts and OUs included)."""

    enabled: bool = False
    policies: dict[str, Policy] = field(default_factory=dict)
    attached: dict[str, list[str]] = field(default_factory=dict)  # target -> policy ids (explicitly set)
    delegated_reads: bool = False  # a delegation policy lets StackSets delegated admins read policies
    seq: int = 0

    def attachments(self, target: str) -> list[str]:
        if not self.enabled:
            return []
        return self.attached.get(target, [FULL_ACCESS_ID])

    def enable(self) -> None:
        self.enabled = True
        self.policies.setdefault(FULL_ACCESS_ID, Policy(FULL_ACCESS_ID, "FullAWSAccess",
                                                        "Allows access to every operation", FULL_ACCESS, True))


def seed_policies(org: Organization, spec: dict[str, Any] | None) -> PolicyStore:
    """The world file's ``guardrails`` section: policies by name, attached to ``/Paths``, OU ids, ``root`` or
    account ids."""
    store = PolicyStore()
    if not spec:
        return store
    store.enable()
    store.delegated_reads = bool(spec.get("delegated_admin_can_read", False))
    names: dict[str, str] = {}
    for entry in spec.get("policies") or []:
        store.seq += 1
        pid = entry.get("id") or f"p-{hashlib.sha256(entry['name'].encode()).hexdigest()[:8]}"
        content = entry["content"] if isinstance(entry["content"], str) else json.dumps(entry["content"])
        store.policies[pid] = Policy(pid, entry["name"], entry.get("description", ""), content)
        names[entry["name"]] = pid
    for target, policy_names in (spec.get("attachments") or {}).items():
        node = org.root_id if target == "root" else (target if target in org.accounts else org.resolve_ou(target))
        ids = [names.get(n, n) for n in policy_names]
        missing = [i for i in ids if i not in store.policies]
        if missing:
            raise AwsFault("ValidationError", f"guardrails.attachments.{target}: no policy {missing[0]}")
        store.attached[node] = [FULL_ACCESS_ID, *ids] if spec.get("keep_full_access", True) else ids
    return store


# --- the API ---------------------------------------------------------------------------------------------------

def _page(items: list[Any], params: dict[str, Any], key: str) -> dict[str, Any]:
    start = int(str(params.get("NextToken") or "polpage-0").removeprefix("polpage-") or 0)
    size = params.get("MaxResults") or PAGE_MAX
    if not 1 <= size <= PAGE_MAX:
        raise AwsFault("InvalidInputException", f"MaxResults must be between 1 and {PAGE_MAX}.")
    out: dict[str, Any] = {key: items[start:start + size]}
    if start + size < len(items):
        out["NextToken"] = f"polpage-{start + size}"
    return out


def _summary(org: Organization, policy: Policy) -> dict[str, Any]:
    arn = (f"arn:aws:organizations::aws:policy/service_control_policy/{policy.id}" if policy.aws_managed else
           f"arn:aws:organizations::{org.management_account}:policy/{org.id}/service_control_policy/{policy.id}")
    return {"Id": policy.id, "Arn": arn, "Name": policy.name, "Description": policy.description, "Type": SCP,
            "AwsManaged": policy.aws_managed}


def _policy(store: PolicyStore, policy_id: str) -> Policy:
    policy = store.policies.get(policy_id)
    if policy is None:
        raise AwsFault("PolicyNotFoundException", "We can't find a policy with the PolicyId that you specified.")
    return policy


def _target(org: Organization, target: str) -> str:
    if target in org.accounts or target in org.units:
        return target
    raise AwsFault("TargetNotFoundException", "We can't find a root, OU, account, or policy with the TargetId "
                                              "that you specified.")


def _check_type(params: dict[str, Any], key: str = "Filter") -> bool:
    kind = params.get(key)
    if kind not in (SCP, "TAG_POLICY", "BACKUP_POLICY", "AISERVICES_OPT_OUT_POLICY", "RESOURCE_CONTROL_POLICY",
                    "DECLARATIVE_POLICY_EC2", "CHATBOT_POLICY", "SECURITYHUB_POLICY"):
        raise AwsFault("InvalidInputException", f"You specified an invalid value for {key}.")
    return kind == SCP


def handle_policies(org: Organization, store: PolicyStore, operation: str, params: dict[str, Any],
                    caller: str) -> dict[str, Any]:
    """One Organizations policy call. Reads need the management account (or a delegated admin when the world's
    delegation policy allows it); writes need the management account."""
    allowed = caller == org.management_account or (
        operation not in _WRITES and store.delegated_reads and caller in org.delegated_admins)
    if not allowed:
        raise AwsFault("AccessDeniedException", "You don't have permissions to access this resource.")
    if operation == "ListPoliciesForTarget":
        target = _target(org, params["TargetId"])
        ids = store.attachments(target) if _check_type(params) else []
        return _page([_summary(org, store.policies[i]) for i in ids], params, "Policies")
    if operation == "ListPolicies":
        found = sorted(store.policies.values(), key=lambda p: p.id) if _check_type(params) and store.enabled else []
        return _page([_summary(org, p) for p in found], params, "Policies")
    if operation == "DescribePolicy":
        policy = _policy(store, params["PolicyId"])
        return {"Policy": {"PolicySummary": _summary(org, policy), "Content": policy.content}}
    if operation == "ListTargetsForPolicy":
        pid = _policy(store, params["PolicyId"]).id
        nodes = [n for n in [org.root_id, *sorted(n for n in org.units if n != org.root_id), *sorted(org.accounts)]
                 if pid in store.attachments(n)]
        return _page([_target_shape(org, n) for n in nodes], params, "Targets")
    return _write(org, store, operation, params)


def _target_shape(org: Organization, node: str) -> dict[str, Any]:
    if node in org.accounts:
        return {"TargetId": node, "Arn": org.account_arn(node), "Name": org.accounts[node].name, "Type": "ACCOUNT"}
    kind = "ROOT" if node == org.root_id else "ORGANIZATIONAL_UNIT"
    return {"TargetId": node, "Arn": org.ou_arn(node), "Name": org.units[node].name, "Type": kind}


def _content(params: dict[str, Any]) -> str:
    content = str(params["Content"])
    if len(content) > MAX_CONTENT:
        raise AwsFault("ConstraintViolationException", "The provided policy document exceeds the maximum size.")
    try:
        json.loads(content)
    except ValueError:
        raise AwsFault("MalformedPolicyDocumentException", "The provided policy document doesn't meet the "
                                                           "requirements of the specified policy type.") from None
    return content


def _write(org: Organization, store: PolicyStore, operation: str, params: dict[str, Any]) -> dict[str, Any]:
    if operation == "EnablePolicyType":
        if params["RootId"] != org.root_id:
            raise AwsFault("RootNotFoundException", "We can't find a root with the RootId that you specified.")
        _check_type(params, "PolicyType")
        if store.enabled:
            raise AwsFault("PolicyTypeAlreadyEnabledException", "The specified policy type is already enabled.")
        store.enable()
        return {"Root": root_shape(org, store)}
    if operation == "DisablePolicyType":
        if not store.enabled:
            raise AwsFault("PolicyTypeNotEnabledException", "This operation can be performed only for enabled "
                                                            "policy types.")
        store.enabled = False
        store.attached.clear()
        return {"Root": root_shape(org, store)}
    if not store.enabled and operation in ("AttachPolicy", "CreatePolicy"):
        raise AwsFault("PolicyTypeNotEnabledException", "This operation can be performed only for enabled policy "
                                                        "types.")
    if operation == "CreatePolicy":
        _check_type(params, "Type")
        if any(p.name == params["Name"] for p in store.policies.values()):
            raise AwsFault("DuplicatePolicyException", "A policy with the same name already exists.")
        store.seq += 1
        pid = "p-" + hashlib.sha256(f"{org.id}/{params['Name']}/{store.seq}".encode()).hexdigest()[:8]
        policy = Policy(pid, params["Name"], params.get("Description", ""), _content(params))
        store.policies[pid] = policy
        return {"Policy": {"PolicySummary": _summary(org, policy), "Content": policy.content}}
    if operation == "UpdatePolicy":
        policy = _policy(store, params["PolicyId"])
        if policy.aws_managed:
            raise AwsFault("ConstraintViolationException", "You cannot change an AWS managed policy.")
        policy.name = params.get("Name", policy.name)
        policy.description = params.get("Description", policy.description)
        if "Content" in params:
            policy.content = _content(params)
        return {"Policy": {"PolicySummary": _summary(org, policy), "Content": policy.content}}
    if operation == "AttachPolicy":
        policy, target = _policy(store, params["PolicyId"]), _target(org, params["TargetId"])
        current = store.attachments(target)
        if policy.id in current:
            raise AwsFault("DuplicatePolicyAttachmentException", "The selected policy is already attached to the "
                                                                 "specified target.")
        store.attached[target] = [*current, policy.id]
        return {}
    if operation == "DetachPolicy":
        policy, target = _policy(store, params["PolicyId"]), _target(org, params["TargetId"])
        current = store.attachments(target)
        if policy.id not in current:
            raise AwsFault("PolicyNotAttachedException", "The policy isn't attached to the specified target.")
        if len(current) == 1:
            raise AwsFault("ConstraintViolationException", "You cannot remove the last service control policy "
                                                           "from a target (MIN_POLICY_TYPE_ATTACHMENT_LIMIT_EXCEEDED).")
        store.attached[target] = [p for p in current if p != policy.id]
        return {}
    if operation == "DeletePolicy":
        policy = _policy(store, params["PolicyId"])
        if policy.aws_managed:
            raise AwsFault("ConstraintViolationException", "You cannot delete an AWS managed policy.")
        nodes = [org.root_id, *org.units, *org.accounts]
        if any(policy.id in store.attachments(n) for n in nodes):
            raise AwsFault("PolicyInUseException", "The policy is attached to one or more entities. You must "
                                                   "detach it from all roots, OUs, and accounts before deleting it.")
        del store.policies[policy.id]
        return {}
    raise AwsFault("InvalidAction", f"The sandbox does not implement organizations:{operation}.")


def root_shape(org: Organization, store: PolicyStore) -> dict[str, Any]:
    types = [{"Type": SCP, "Status": "ENABLED"}] if store.enabled else []
    return {"Id": org.root_id, "Arn": org.ou_arn(org.root_id), "Name": "Root", "PolicyTypes": types}


# --- the denial rule ---------------------------------------------------------------------------------------------

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
