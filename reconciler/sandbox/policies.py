"""The sandbox's service control policies and the Organizations policy API; its own rule for which stack instances
an SCP makes fail (docs/reference/guardrails.md §6) is in ``reconciler.sandbox.scp_denial``.

Deliberately independent of ``reconciler.plan.guardrails``: this side works on concrete values (the execution role
is ``stacksets-exec-<md5 of the account>``, role names resolved with the real parameters) and a smaller rule set, so
contract tests compare two implementations instead of one with itself.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from reconciler.sandbox.api import AwsFault
from reconciler.sandbox.organizations import PAGE_MAX, Organization

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

# InvalidInputException's Reason for a NextToken no earlier answer gave (botocore's model of Organizations: the
# INVALID_NEXT_TOKEN member of InvalidInputExceptionReason, documented as "get the value for the NextToken parameter
# from the response to a previous call of the operation").
_BAD_TOKEN = ("You specified an invalid value for nextToken. You must get the value from the response to a "
              "previous call to the API.")

def _page(items: list[Any], params: dict[str, Any], key: str, empty_first: bool = False) -> dict[str, Any]:
    """One page of a policy listing: MaxResults 1–20, an opaque NextToken (a token this listing did not hand out is
    InvalidInputException), and — when the world asks for it — the empty first page with a NextToken that AWS
    documents for every Organizations List* call (aws-stacksets.md §B)."""
    size = params.get("MaxResults") or PAGE_MAX
    if not 1 <= size <= PAGE_MAX:
        raise AwsFault("InvalidInputException", f"MaxResults must be between 1 and {PAGE_MAX}.")
    token = str(params.get("NextToken") or "")
    if empty_first and not token and items:
        return {key: [], "NextToken": "polpage-0"}
    try:
        start = int(token.removeprefix("polpage-")) if token else 0
    except ValueError:
        start = -1
    if start < 0 or (token and not token.startswith("polpage-")):
        raise AwsFault("InvalidInputException", _BAD_TOKEN, fields={"Reason": "INVALID_NEXT_TOKEN"})
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
                    caller: str, empty_first: bool = False) -> dict[str, Any]:
    """One Organizations policy call. Reads need the management account (or a delegated admin when the world's
    delegation policy allows it); writes need the management account."""
    allowed = caller == org.management_account or (
        operation not in _WRITES and store.delegated_reads and caller in org.delegated_admins)
    if not allowed:
        raise AwsFault("AccessDeniedException", "You don't have permissions to access this resource.")
    if operation == "ListPoliciesForTarget":
        target = _target(org, params["TargetId"])
        ids = store.attachments(target) if _check_type(params) else []
        return _page([_summary(org, store.policies[i]) for i in ids], params, "Policies", empty_first)
    if operation == "ListPolicies":
        found = sorted(store.policies.values(), key=lambda p: p.id) if _check_type(params) and store.enabled else []
        return _page([_summary(org, p) for p in found], params, "Policies", empty_first)
    if operation == "DescribePolicy":
        policy = _policy(store, params["PolicyId"])
        return {"Policy": {"PolicySummary": _summary(org, policy), "Content": policy.content}}
    if operation == "ListTargetsForPolicy":
        pid = _policy(store, params["PolicyId"]).id
        nodes = [n for n in [org.root_id, *sorted(n for n in org.units if n != org.root_id), *sorted(org.accounts)]
                 if pid in store.attachments(n)]
        # Page the ids first: shaping every target for every page is quadratic over FullAWSAccess's whole org.
        page = _page(nodes, params, "Targets", empty_first)
        page["Targets"] = [_target_shape(org, n) for n in page["Targets"]]
        return page
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
    if operation in ("CreatePolicy", "UpdatePolicy"):
        return _edit(org, store, operation, params)
    return _attach_or_delete(org, store, operation, params)


def _edit(org: Organization, store: PolicyStore, operation: str, params: dict[str, Any]) -> dict[str, Any]:
    """CreatePolicy and UpdatePolicy."""
    if operation == "CreatePolicy":
        _check_type(params, "Type")
        if any(p.name == params["Name"] for p in store.policies.values()):
            raise AwsFault("DuplicatePolicyException", "A policy with the same name already exists.")
        store.seq += 1
        pid = "p-" + hashlib.sha256(f"{org.id}/{params['Name']}/{store.seq}".encode()).hexdigest()[:8]
        policy = Policy(pid, params["Name"], params.get("Description", ""), _content(params))
        store.policies[pid] = policy
        return {"Policy": {"PolicySummary": _summary(org, policy), "Content": policy.content}}
    policy = _policy(store, params["PolicyId"])  # UpdatePolicy
    if policy.aws_managed:
        raise AwsFault("ConstraintViolationException", "You cannot change an AWS managed policy.")
    policy.name = params.get("Name", policy.name)
    policy.description = params.get("Description", policy.description)
    if "Content" in params:
        policy.content = _content(params)
    return {"Policy": {"PolicySummary": _summary(org, policy), "Content": policy.content}}


def _attach_or_delete(org: Organization, store: PolicyStore, operation: str, params: dict[str, Any]
                      ) -> dict[str, Any]:
    """AttachPolicy, DetachPolicy and DeletePolicy."""
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
